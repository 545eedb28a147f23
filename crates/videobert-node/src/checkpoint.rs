//! The checkpoint's file names (videobert_core::checkpoint).

use napi_derive::napi;
use videobert_core as vb;

/// The names of the files the native `save` writes into a checkpoint directory (the TS layer's
/// `MODEL_FILE`, `OPTIMIZER_FILE`, `CONFIG_FILE`).
#[napi(object)]
pub struct CheckpointFileNames {
    pub model: String,
    pub optimizer: String,
    pub config: String,
}

#[napi]
pub fn checkpoint_file_names() -> CheckpointFileNames {
    use vb::checkpoint::{CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE};
    CheckpointFileNames { model: MODEL_FILE.into(), optimizer: OPTIMIZER_FILE.into(), config: CONFIG_FILE.into() }
}
