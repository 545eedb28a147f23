//! Presets and configs (videobert_core::config): the architecture presets, how each is pre-trained by
//! default, and config JSON validation.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use videobert_core as vb;

use crate::sync;

/// A built-in model size: `tiny` (tests), `small` (CPU), `base` and `large` (GPU).
#[napi(string_enum)]
pub enum PresetName {
    #[napi(value = "tiny")]
    Tiny,
    #[napi(value = "small")]
    Small,
    #[napi(value = "base")]
    Base,
    #[napi(value = "large")]
    Large,
}

/// Every preset name, smallest first (the core's `PRESETS`).
#[napi]
pub fn preset_names() -> Vec<String> {
    vb::PRESETS.iter().map(|s| s.to_string()).collect()
}

/// The config JSON of a preset: "tiny", "small", "base" or "large".
#[napi]
pub fn preset_config(name: String) -> Result<String> {
    sync(|| vb::VideoBertConfig::preset(&name).map(|c| c.to_json()))
}

/// How a preset is pre-trained when the caller gives no learning rate or batch size.
#[napi(object)]
pub struct PresetTraining {
    /// Peak learning rate.
    pub lr: f64,
    /// Samples per optimizer step.
    pub batch_size: u32,
}

/// The default pre-training settings of a preset (`videobert_core::PresetTraining`).
#[napi]
pub fn preset_training(name: String) -> Result<PresetTraining> {
    sync(|| vb::PresetTraining::of(&name).map(|t| PresetTraining { lr: t.lr, batch_size: t.batch_size as u32 }))
}

/// Validate a config JSON and return it with every field filled in.
#[napi]
pub fn normalize_config(config_json: String) -> Result<String> {
    sync(|| vb::VideoBertConfig::from_json(&config_json).map(|c| c.to_json()))
}
