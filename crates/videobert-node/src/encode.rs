//! `encodeVideo`: RGB frames → a video file through the addon's own FFmpeg encoders.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use videobert_video as video;

use crate::{spawn_promise, to_napi_error};

/// Options for `encodeVideo`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct NativeEncodeOptions {
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Frames per second. @default 20
    pub frame_rate: Option<u32>,
    /// "mpeg4" (MPEG-4 Part 2) or "mjpeg" (Motion JPEG). @default "mpeg4"
    pub codec: Option<String>,
    /// Fixed quantiser from 1 (best) to 31, as FFmpeg's `-q:v`. @default 3
    pub quality: Option<u32>,
    /// Frames between key frames (mpeg4). @default the frame rate (one per second)
    pub gop: Option<u32>,
}

/// What `encodeVideo` wrote.
#[napi(object)]
pub struct NativeEncodedVideo {
    pub frames: u32,
    pub bytes: f64,
    /// The encoder's name, e.g. "mpeg4".
    pub codec: String,
    /// The container's name, e.g. "mp4".
    pub container: String,
}

/// Encode packed RGB24 frames (`[n, height, width, 3]` bytes) into `path`; the container follows
/// the extension (.mp4, .mov, .avi). Single-threaded: the same frames give the same file.
#[napi(ts_return_type = "Promise<NativeEncodedVideo>")]
pub fn encode_video<'e>(env: &'e Env, path: String, rgb: Uint8Array, options: NativeEncodeOptions) -> Result<Object<'e>> {
    let d = video::EncodeOptions::default();
    let frame_rate = options.frame_rate.unwrap_or(d.frame_rate);
    let opts = video::EncodeOptions {
        width: options.width,
        height: options.height,
        frame_rate,
        codec: video::VideoCodec::parse(options.codec.as_deref().unwrap_or("mpeg4")).map_err(to_napi_error)?,
        quality: options.quality.unwrap_or(d.quality),
        gop: options.gop.unwrap_or(frame_rate),
    };
    spawn_promise(env, move || {
        let v = video::encode_rgb_frames(std::path::Path::new(&path), &rgb, &opts).map_err(to_napi_error)?;
        Ok(NativeEncodedVideo { frames: v.frames as u32, bytes: v.bytes as f64, codec: v.codec, container: v.container })
    })
}
