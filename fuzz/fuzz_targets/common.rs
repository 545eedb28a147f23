//! A scratch directory per fuzzing process (inputs that must be files are written there).
use std::path::PathBuf;

pub fn scratch(name: &str) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let dir = base.join(format!("videobert-fuzz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// libfuzzer-sys aborts on every panic, even one the library catches and turns into an error (the
/// tokenizers crate panics on some malformed files; `TextTokenizer` catches that). Replace its hook
/// with a silent one: a panic that escapes the target still aborts (it cannot unwind out of
/// libFuzzer's C entry point), so real crashes are still found.
pub fn allow_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}
