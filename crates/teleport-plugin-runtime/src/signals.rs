//! Graceful stop on SIGTERM / SIGINT, as the Go plugins do: the first signal starts a
//! graceful shutdown, a second SIGINT exits at once.

use tokio_util::sync::CancellationToken;

/// A token cancelled by SIGTERM or SIGINT (graceful stop); a second SIGINT exits at once.
/// Call from within the Tokio runtime.
pub fn stop_on_signals() -> CancellationToken {
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received; shutting down (interrupt again to force)"),
        }
        stop.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("second interrupt; exiting now");
            std::process::exit(130);
        }
    });
    token
}
