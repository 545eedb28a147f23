//! Video tokenization (SPEC §2.1): decoding, frame features, segments.

pub mod backbone;
pub mod builtin;
pub mod decode;
pub mod encode;
pub mod segments;

pub use decode::{decode_sampled, DecodeOptions, RgbFrame, VideoInfo};
pub use encode::{encode_rgb_frames, EncodeOptions, EncodedVideo, VideoCodec};
