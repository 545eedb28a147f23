//! Devices (videobert_core::device).

use napi_derive::napi;
use videobert_core as vb;

/// Whether this addon was built with CUDA support (`npm run build:cuda`, or the CUDA variant).
#[napi]
pub fn cuda_built() -> bool {
    vb::device::CUDA_BUILT
}
