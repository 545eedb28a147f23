//! `model.safetensors` of a checkpoint (the bytes of a file downloaded from a stranger) under a
//! valid tiny config: loading is an error or a model, never a panic or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use videobert_core::{CreateOptions, Session, VideoBertConfig};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::allow_caught_panics();
    let dir = common::scratch("checkpoint");
    std::fs::write(dir.join("config.json"), VideoBertConfig::tiny().to_json()).unwrap();
    std::fs::write(dir.join("model.safetensors"), data).unwrap();
    if let Ok(model) = Session::load(&dir, CreateOptions::default()) {
        assert_eq!(model.config, VideoBertConfig::tiny());
    }
});
