//! The kernels the model, the train step and the optimizer run on — a layer of their own, below
//! `model` (which calls them from its layers) and beside nothing of the model's: they know tensors
//! and shapes, not VideoBERT.
//!
//! - [`fused`]: CPU kernels with analytic backward passes (dense, LayerNorm, GELU, attention, whole
//!   encoder blocks, AdamW), the reason the CPU step is fast; the composed candle ops in
//!   `model/layers.rs` stay the reference they are tested against.
//! - [`flash`]: the tiled attention's launch geometry and tile loop, mirrored on the CPU.
//! - `cuda` (with the `cuda` feature): the fused attention on CUDA, forward and backward.

#[cfg(feature = "cuda")]
pub mod cuda;
pub mod flash;
pub mod fused;
