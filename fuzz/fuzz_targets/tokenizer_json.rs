//! `tokenizer.json`: loading and encoding are an error or ids, never a panic or an allocation the
//! file asks for (its padding / truncation settings are ignored).
#![no_main]
use libfuzzer_sys::fuzz_target;
use videobert_video::vocab::TextTokenizer;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::allow_caught_panics();
    let path = common::scratch("tokenizer").join("tokenizer.json");
    std::fs::write(&path, data).unwrap();
    if let Ok(tok) = TextTokenizer::load(&path) {
        if let Ok(ids) = tok.encode("a red circle moves left, then a blue square", 16) {
            assert!(ids.len() <= 16);
            let _ = tok.decode(&ids);
        }
    }
});
