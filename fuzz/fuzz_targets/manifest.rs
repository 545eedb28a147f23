//! A manifest (JSON lines or CSV): parsing is an error or entries, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use videobert_video::manifest::read_manifest;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::allow_caught_panics();
    let dir = common::scratch("manifest");
    let (ext, body) = match data.first() {
        Some(b) if b % 2 == 0 => ("csv", &data[1..]),
        Some(_) => ("jsonl", &data[1..]),
        None => return,
    };
    let path = dir.join(format!("manifest.{ext}"));
    std::fs::write(&path, body).unwrap();
    let _ = read_manifest(&path);
});
