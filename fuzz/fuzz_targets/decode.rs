//! Demuxing, decoding, frame sampling and the builtin features of a video file (seeded with the
//! committed video fixtures): an error or tokens, never a panic, an abort or unbounded memory.
#![no_main]
use std::sync::atomic::AtomicBool;

use libfuzzer_sys::fuzz_target;
use videobert_video::segments::{tokenize_file, TokenizeOptions};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::allow_caught_panics();
    let path = common::scratch("decode").join("video.bin");
    std::fs::write(&path, data).unwrap();
    // A 2-minute bound instead of the default 4 hours: timestamps that jump far ahead are refused
    // by the same check, and each input stays fast (the fuzzer found such a file: 52 frames → 773 s).
    let opts = TokenizeOptions { fps: 4.0, frames_per_segment: 4, max_duration: 120.0, ..Default::default() };
    let _ = tokenize_file(&path, &opts, &AtomicBool::new(false), |_| {});
});
