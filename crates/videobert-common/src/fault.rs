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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;

    use crate::fsio::write_atomic;

    const CHILD_DIR: &str = "VIDEOBERT_FAULT_TEST_DIR";

    /// The process the test below kills: three atomic writes of one file. A no-op unless run by it.
    #[test]
    fn fault_child_writes_one_file_three_times() {
        let Ok(dir) = std::env::var(CHILD_DIR) else { return };
        for i in 1..=3 {
            write_atomic(&Path::new(&dir).join("a.json"), i.to_string().repeat(10).as_bytes()).unwrap();
        }
    }

    /// Run the child above in a fresh `dir` with `VIDEOBERT_FAULT_POINT=point`.
    fn run_child(point: &str, dir: &Path) -> std::process::ExitStatus {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fault::tests::fault_child_writes_one_file_three_times", "--test-threads=1"])
            .env("VIDEOBERT_FAULT_POINT", point)
            .env(CHILD_DIR, dir)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
    }

    #[test]
    fn the_nth_arrival_at_a_point_kills_the_process_there() {
        let dir = std::env::temp_dir().join(format!("vb-fault-{}", std::process::id()));
        // (point, a.json afterwards, a.json.tmp afterwards)
        let cases = [
            ("a.json:before-rename@2", Some("1111111111"), Some("2222222222")),
            ("a.json:after-rename@2", Some("2222222222"), None),
            ("a.json:half-written@3", Some("2222222222"), Some("33333")),
            ("a.json:half-written@1", None, Some("11111")),
        ];
        for (point, file, tmp) in cases {
            let status = run_child(point, &dir);
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{point}: {status:?}");
            let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
            assert_eq!(read("a.json").as_deref(), file, "{point}");
            assert_eq!(read("a.json.tmp").as_deref(), tmp, "{point}");
        }
        // Unarmed (another point), the same child runs to the end.
        assert!(run_child("b.json:before-rename@1", &dir).success());
        assert_eq!(std::fs::read_to_string(dir.join("a.json")).unwrap(), "3333333333");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
