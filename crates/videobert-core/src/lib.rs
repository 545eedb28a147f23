//! videobert-core: VideoBERT pre-training in pure Rust on candle.
//!
//! - [`config`]: presets and validated JSON configs.
//! - [`model`]: the encoder with divided space-time attention and its pre-training heads.
//! - [`batch`]: host-side batches, validation and seeded masking.
//! - [`session`]: a model with its optimizer — the train step, evaluation.
//! - [`checkpoint`]: save / load with full validation.

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod kmeans;
pub mod manifest;
pub mod model;
pub mod optim;
pub mod rng;
pub mod session;
pub mod shards;
pub mod tokenize;
pub mod vocab;
pub mod video;

pub use batch::{Batch, MaskedBatch};
pub use candle_core::{self, DType, Device};
pub use config::{ClassifierPooling, VideoBertConfig, VideoInput, VideoLoss, PRESETS};
pub use error::{Error, Result};
pub use optim::AdamWConfig;
pub use session::{CreateOptions, Embeddings, MaskPrediction, StepMetrics, StepOptions, VideoBert};
