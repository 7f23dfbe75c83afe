//! glibc malloc tuning: the one place the runtime talks to the C allocator.
//!
//! Release binaries are static glibc, whose malloc by default keeps up to 8 arenas per
//! core, raises its mmap threshold after every large free (so big buffers such as a
//! catch-up listing end up in the heap and stay there) and only ever gives back the top
//! of each heap. After a burst of thousands of requests the freed memory then stayed
//! resident (settled RSS 32 → 54 MiB across two bursts in issue 16). So the plugin
//! (a) fixes the thresholds and caps the arenas at start, before any thread exists, and
//! (b) asks malloc to return free pages ([`release_free_memory`]) once the dispatcher has
//! been idle for a moment (see `app.rs`). Elsewhere (musl, other systems) both are no-ops.

/// Arenas: two cores' worth of tokio workers share them; per-thread caches (tcache)
/// keep the lock off the hot path, and fewer arenas fragment less.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENA_MAX: libc::c_int = 2;
/// Allocations from this size on get their own mapping and go back to the system when
/// freed. Setting it also stops glibc from raising it after each large free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 256 * 1024;
/// Free memory at the top of a heap beyond this is returned at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1024 * 1024;

/// Sets the allocator's limits. Call first thing in `main`, before any thread starts:
/// arenas already created are not merged.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        for (param, value) in [
            (libc::M_ARENA_MAX, ARENA_MAX),
            (libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        ] {
            // SAFETY: `mallopt` only changes malloc's parameters under its own lock; the
            // values are in the documented ranges, and a refusal (0) leaves the default.
            let accepted = unsafe { libc::mallopt(param, value) };
            if accepted == 0 {
                tracing::debug!(param, value, "malloc refused a tuning parameter");
            }
        }
    }
}

/// Returns free heap pages to the system (every arena, not only the top of each heap).
/// Costs a walk over the free lists: call it when idle, not per request.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` takes malloc's own locks and only releases pages that hold
        // no live allocation; no Rust object is touched.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
