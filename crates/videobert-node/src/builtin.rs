//! The builtin frame descriptor (videobert_video::builtin) for frames decoded elsewhere.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use videobert_video as video;

use crate::{spawn_promise, to_napi_error};

/// Which builtin descriptor, and its grid and size.
#[napi(object)]
#[derive(Default)]
pub struct NativeBuiltinOptions {
    /// Regions per side. @default 2
    pub grid: Option<u32>,
    /// Feature size. @default the descriptor's own (44 for builtin, 68 for builtin_v2)
    pub feature_dim: Option<u32>,
    /// "builtin" or "builtin_v2" (with the glimpse). @default "builtin"
    pub extractor: Option<String>,
}

/// The builtin descriptor of consecutive RGB frames (`[n, height, width, 3]` bytes, packed) →
/// `[n, grid², featureDim]`. For frames you decoded yourself; motion uses the previous frame.
#[napi(ts_return_type = "Promise<Float32Array>")]
pub fn builtin_features<'e>(
    env: &'e Env,
    rgb: Uint8Array,
    num_frames: u32,
    width: u32,
    height: u32,
    options: Option<NativeBuiltinOptions>,
) -> Result<Object<'e>> {
    // The typed array holds a reference to its buffer, so JS cannot free it while we read it on
    // the worker thread (napi's typed arrays are Send); no copy of the frames is made.
    use video::builtin::{BuiltinOptions, BuiltinVersion};
    let o = options.unwrap_or_default();
    let version = match o.extractor.as_deref() {
        None => BuiltinVersion::V1,
        Some(name) => BuiltinVersion::from_name(name)
            .ok_or_else(|| to_napi_error(video::Error::config("extractor", format!("must be builtin or builtin_v2, got {name:?}"))))?,
    };
    let d = BuiltinOptions::of(version);
    let opts =
        BuiltinOptions { grid: o.grid.map(|g| g as usize).unwrap_or(d.grid), dim: o.feature_dim.map(|f| f as usize).unwrap_or(d.dim), size: width, version };
    spawn_promise(env, move || {
        Ok(Float32Array::new(video::builtin::features_of_frames(&rgb, num_frames as usize, width, height, opts).map_err(to_napi_error)?))
    })
}
