//! videobert-core: the VideoBERT model and its training in pure Rust on candle. It knows nothing of
//! video files: batches of features come in (from the TS layer, which reads the shards
//! videobert-video writes).
//!
//! - [`config`]: presets and validated JSON configs.
//! - [`kernels`]: fused CPU kernels with analytic backward passes, and the CUDA attention.
//! - [`model`]: the encoder with divided space-time attention and its pre-training heads.
//! - [`batch`]: host-side batches, validation and seeded masking.
//! - [`weights`]: the model's parameters — initialised, or loaded straight from tensors.
//! - [`train`]: the train step (forward, backward, clipping, AdamW from [`optim`]) and evaluation.
//! - [`infer`]: embeddings, classification, matching and masked-word predictions.
//! - [`checkpoint`]: save / load with full validation.
//! - [`session`]: `Session`, the composition the binding holds (weights + optimizer + threads).
//!
//! Modules depend one way: config ← kernels ← model ← batch ← weights ← train / infer ← session ← checkpoint.

pub use videobert_common::{error, fsio, rng};

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod device;
pub mod distributed;
pub mod generate;
pub mod infer;
pub mod kernels;
pub mod model;
pub mod optim;
pub mod session;
pub mod size;
pub mod train;
pub mod weights;

pub use batch::{Batch, MaskedBatch};
pub use candle_core::{self, DType, Device};
pub use config::{ClassifierPooling, Objective, PresetTraining, VideoBertConfig, VideoInput, VideoLoss, PRESETS};
pub use distributed::{Collective, DataParallel};
pub use error::{Error, Result};
pub use generate::{GenerateOptions, Generated, Search};
pub use infer::{Embeddings, MaskPrediction};
pub use optim::{AdamWConfig, LayerRates};
pub use session::{CreateOptions, Session};
pub use train::{StepMetrics, StepOptions};
