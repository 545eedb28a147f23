//! Devices (videobert_core::device).

use napi_derive::napi;
use videobert_core as vb;

/// Whether this addon was built with CUDA support (`npm run build:cuda`, or the CUDA variant).
#[napi]
pub fn cuda_built() -> bool {
    vb::device::CUDA_BUILT
}

/// Whether `name` is a device name the core reads ("cpu", "cuda", "cuda:N"); opens nothing.
#[napi]
pub fn is_device_name(name: String) -> bool {
    vb::device::parse_name(&name).is_ok()
}
