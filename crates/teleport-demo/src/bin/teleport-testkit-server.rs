//! `teleport-testkit-server`: the in-process Teleport of the tests as a
//! standalone server, for the container demo. It writes the plugin's identity
//! file, then (optionally) creates a demo access request every few seconds and
//! approves the previous one, printing what it does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use teleport_testkit::{IdentityRequest, Testkit, Verdict};

#[derive(Debug, Parser)]
#[command(
    name = "teleport-testkit-server",
    about = "A test Teleport auth server over mutual TLS (not for production)"
)]
struct Args {
    /// Address to serve gRPC on.
    #[arg(long, default_value = "0.0.0.0:3025")]
    listen: SocketAddr,
    /// Cluster name.
    #[arg(long, default_value = "demo.teleport.example")]
    cluster: String,
    /// Where to write the plugin's identity file.
    #[arg(long)]
    identity_out: PathBuf,
    /// Teleport user the identity is issued to.
    #[arg(long, default_value = "access-plugin")]
    user: String,
    /// Identity lifetime, in hours.
    #[arg(long, default_value_t = 24)]
    ttl_hours: u64,
    /// Create a demo request this often (seconds); 0 = never.
    #[arg(long, default_value_t = 0)]
    demo_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kit = Testkit::builder()
        .cluster_name(&args.cluster)
        .auth_listen(args.listen)
        .start()
        .await
        .context("cannot start the test Teleport")?;
    kit.issue_identity(
        &IdentityRequest::new(&args.user).ttl(Duration::from_secs(args.ttl_hours * 3600)),
    )?
    .write_identity_file(&args.identity_out)
    .with_context(|| format!("cannot write {}", args.identity_out.display()))?;
    println!(
        "test Teleport '{}' listening on {}; identity for '{}' written to {}",
        args.cluster,
        kit.auth_addr(),
        args.user,
        args.identity_out.display()
    );
    if args.demo_every == 0 {
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    let mut previous: Option<String> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(args.demo_every));
    for n in 1.. {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        if let Some(id) = previous.take() {
            kit.review(
                &id,
                "lead@example.com",
                Verdict::Approve,
                "approved by the demo",
            )?;
            println!("approved request {id}");
        }
        let request =
            kit.create_request(&format!("user{n}@example.com"), &["editor"], "demo request")?;
        let id = request.metadata.unwrap_or_default().name;
        println!("created request {id}");
        previous = Some(id);
    }
    Ok(())
}
