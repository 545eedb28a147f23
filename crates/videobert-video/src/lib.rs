//! videobert-video: everything between a video file and the token shards pre-training reads
//! (SPEC §2.1). It knows nothing of the model: the two meet only in the binding and the TS layer.
//!
//! - [`decode`] / [`encode`]: FFmpeg in-process (frames by timestamp, scaled and turned upright;
//!   RGB frames back into MPEG-4 or MJPEG files).
//! - [`formats`]: what the linked FFmpeg decodes (asked of FFmpeg), and the formats left out by name.
//! - [`builtin`] (with its object-centred shape block, [`glimpse`]) / [`backbone`]: frame features (a fixed descriptor, or a pretrained image network:
//!   ResNet, CLIP ViT, [`mobilenet`] V2, [`efficientnet_lite`] Lite0, from safetensors or PyTorch
//!   files read by [`torch_pth`]).
//! - [`segments`]: a video → segments of pooled region features.
//! - [`manifest`] → [`tokenize`] → [`shards`]: a dataset into resumable, mmap-able token shards;
//!   [`shard_set`] checks a set made in parts (array jobs) and merges part directories.
//! - [`kmeans`] (hierarchical k-means) and [`codebook`] (fitting / assigning visual words on shards).
//! - [`subtitles`]: SubRip, WebVTT and recogniser transcripts → timed captions (aligned by time).
//! - [`vocab`]: the WordPiece text tokenizer.
//!
//! Module dependencies run one way: decode/encode ← features ← segments ← shards ← tokenize and
//! codebook (kmeans beside them); manifest and vocab stand alone.

pub use videobert_common::{error, fsio, rng};
pub use videobert_common::{Error, Result};

pub mod backbone;
pub mod builtin;
pub mod codebook;
pub mod decode;
pub mod efficientnet_lite;
pub mod encode;
pub mod formats;
pub mod glimpse;
pub mod kmeans;
pub mod manifest;
pub mod mobilenet;
pub mod segments;
pub mod shard_set;
pub mod shards;
pub mod subtitles;
pub mod tokenize;
pub mod torch_pth;
pub mod vocab;

pub use decode::{decode_sampled, DecodeOptions, RgbFrame, VideoInfo};
pub use encode::{encode_rgb_frames, EncodeOptions, EncodedVideo, VideoCodec};
