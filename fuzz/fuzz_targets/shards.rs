//! A token shard set: the chunk index (JSON) and the chunk's safetensors, from one input (the first
//! 4 bytes say how long the JSON part is). Opening and reading every video is an error or data,
//! never a panic or an allocation sized by the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use videobert_video::shards::TokenShards;

#[path = "common.rs"]
mod common;

/// The set-level index of the seed shards (`scripts/fuzz-seeds.mjs` writes it; the fuzzed chunk
/// index must carry its parameter hash to get past the first check).
fn index() -> &'static str {
    static INDEX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/shards-index.json")).expect("run scripts/fuzz.sh (it writes the seeds)")
    })
}

fuzz_target!(|data: &[u8]| {
    common::allow_caught_panics();
    if data.len() < 4 {
        return;
    }
    let n = (u32::from_le_bytes(data[..4].try_into().unwrap()) as usize).min(data.len() - 4);
    let (json, st) = data[4..].split_at(n);
    let dir = common::scratch("shards");
    std::fs::write(dir.join("index.json"), index()).unwrap();
    std::fs::write(dir.join("shard-00000.json"), json).unwrap();
    std::fs::write(dir.join("shard-00000.safetensors"), st).unwrap();
    if let Ok(shards) = TokenShards::open(&dir) {
        for i in 0..shards.len() {
            let _ = shards.video(i);
            let _ = shards.regions(i);
            let _ = shards.pooled(i);
            let _ = shards.visual_words(i);
        }
    }
});
