//! Crash-safe writes and content hashes.
//!
//! `write_atomic` is the one way files are written in place: the bytes go to a temporary name in
//! the same directory, are flushed to disk (`fsync`), renamed over the target, and the directory
//! entry is flushed too — a crash at any point leaves either the old file or the new one, never a
//! torn one. Readers can then treat "the file exists" as "the file is complete".

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fault;

/// The temporary name of `path` while this process writes it: `NAME.tmp.PID`, so that processes
/// writing the same file at once (the parts of an array job creating one `index.json`) never share
/// a temporary file — each renames a whole file of its own over the target.
fn tmp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp.{}", std::process::id()));
    path.with_file_name(name)
}

/// Write `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| std::fs::write(tmp, bytes).map_err(|e| Error::io(tmp, e)))
}

/// Like `write_atomic`, for writers that want a path (e.g. safetensors' `serialize_to_file`).
pub fn write_atomic_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = tmp_name(path);
    // A failed write (a full disk, say) leaves no half-written temporary file taking up the space.
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if fault::reached(file, "half-written") {
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&tmp) {
            let _ = f.metadata().and_then(|m| f.set_len(m.len() / 2));
        }
        fault::kill();
    }
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
    fault::point(file, "before-rename");
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    fault::point(file, "after-rename");
    // The rename itself is durable once the directory is synced (not possible on every platform).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// FNV-1a 64-bit hash of `bytes` as 16 hex digits: names inputs (a codebook, backbone weights) in
/// shard parameters, so that tokens made from other inputs are never mixed.
pub fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_whole_and_leave_no_temporary() {
        let dir = std::env::temp_dir().join(format!("vb-fsio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let err = write_atomic(&dir.join("missing/x"), b"x").unwrap_err();
        assert_eq!(err.code(), "Io");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fnv1a_is_the_reference_hash() {
        assert_eq!(fnv1a(b""), "cbf29ce484222325");
        assert_eq!(fnv1a(b"a"), "af63dc4c8601ec8c");
    }
}

/// The fault points of `write_atomic_with` (`crate::fault`), hit in a child process that is killed there.
#[cfg(all(test, unix))]
mod fault_tests {
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;

    use super::write_atomic;

    const CHILD_DIR: &str = "VIDEOBERT_FAULT_TEST_DIR";

    /// The process the test below kills: three atomic writes of one file. A no-op unless run by it.
    #[test]
    fn fault_child_writes_one_file_three_times() {
        let Ok(dir) = std::env::var(CHILD_DIR) else { return };
        for i in 1..=3 {
            write_atomic(&Path::new(&dir).join("a.json"), i.to_string().repeat(10).as_bytes()).unwrap();
        }
    }

    /// Run the child above in a fresh `dir` with `VIDEOBERT_FAULT_POINT=point`: its exit status and pid.
    fn run_child(point: &str, dir: &Path) -> (std::process::ExitStatus, u32) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fsio::fault_tests::fault_child_writes_one_file_three_times", "--test-threads=1"])
            .env("VIDEOBERT_FAULT_POINT", point)
            .env(CHILD_DIR, dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        (child.wait().unwrap(), pid)
    }

    #[test]
    fn the_nth_arrival_at_a_point_kills_the_process_there() {
        let dir = std::env::temp_dir().join(format!("vb-fault-{}", std::process::id()));
        // (point, a.json afterwards, the child's a.json.tmp.PID afterwards)
        let cases = [
            ("a.json:before-rename@2", Some("1111111111"), Some("2222222222")),
            ("a.json:after-rename@2", Some("2222222222"), None),
            ("a.json:half-written@3", Some("2222222222"), Some("33333")),
            ("a.json:half-written@1", None, Some("11111")),
        ];
        for (point, file, tmp) in cases {
            let (status, pid) = run_child(point, &dir);
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{point}: {status:?}");
            let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
            assert_eq!(read("a.json").as_deref(), file, "{point}");
            assert_eq!(read(&format!("a.json.tmp.{pid}")).as_deref(), tmp, "{point}");
        }
        // Unarmed (another point), the same child runs to the end.
        assert!(run_child("b.json:before-rename@1", &dir).0.success());
        assert_eq!(std::fs::read_to_string(dir.join("a.json")).unwrap(), "3333333333");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
