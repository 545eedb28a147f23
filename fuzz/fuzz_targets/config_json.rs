//! `config.json` (and every config given to the API): parsing, validation and the size check
//! never panic and never allocate what the config asks for.
#![no_main]
use libfuzzer_sys::fuzz_target;
use videobert_core::{size, VideoBertConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cfg) = VideoBertConfig::from_json(text) {
        let _ = size::parameter_count(&cfg);
        let _ = size::check_fits(&cfg, 4, 1 << 30);
    }
});
