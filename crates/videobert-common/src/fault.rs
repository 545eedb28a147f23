//! Fault points: the places where the crash tests (`scripts/fault-injection.mjs`) kill the process
//! on purpose, to check that a checkpoint written there is either complete or ignored.
//!
//! `VIDEOBERT_FAULT_POINT=<point>@<n>` makes the n-th arrival at `<point>` in this process send
//! itself SIGKILL: no destructor, no flush, no `finally` — as when the machine kills it. Unset
//! (always, outside those tests), a fault point costs one check of a value read once.
//!
//! The points of [`crate::fsio::write_atomic_with`], for each file it writes (`model.safetensors`,
//! `optimizer.safetensors`, `config.json`, …):
//! - `<file>:half-written` — the temporary file is first cut to half its length, as a torn write
//!   leaves it;
//! - `<file>:before-rename` — the temporary file is complete and synced, not yet renamed;
//! - `<file>:after-rename` — the file is in place.
//!
//! The TypeScript checkpoint manager has its own points under the same variable (`checkpoint:*`,
//! `src/training/faults.ts`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The armed point and how many times it has been reached.
struct Armed {
    point: String,
    nth: u64,
    seen: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var("VIDEOBERT_FAULT_POINT").ok()?;
            let (point, nth) = spec.rsplit_once('@').unwrap_or((&spec, "1"));
            Some(Armed { point: point.to_string(), nth: nth.parse().ok()?, seen: AtomicU64::new(0) })
        })
        .as_ref()
}

/// Whether this arrival at `point` (`<subject>:<stage>`) is the one to die at; the caller may then
/// damage what a crash there would leave damaged, and call [`kill`].
pub fn reached(subject: &str, stage: &str) -> bool {
    let Some(a) = armed() else { return false };
    a.point.rsplit_once(':') == Some((subject, stage)) && a.seen.fetch_add(1, Ordering::SeqCst) + 1 == a.nth
}

/// Die here if this is the armed point's n-th arrival.
pub fn point(subject: &str, stage: &str) {
    if reached(subject, stage) {
        kill();
    }
}

/// SIGKILL this process (abort where there are no signals).
pub fn kill() -> ! {
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid with a valid signal number; it does not return on success.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}
