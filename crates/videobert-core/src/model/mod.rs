#[cfg(feature = "cuda")]
pub mod cuda;
pub mod decoder;
pub mod flash;
pub mod fused;
pub mod layers;
pub mod videobert;

pub use videobert::{CaptionTargets, LossTargets, Losses, ModelInputs, VideoBertModel};
