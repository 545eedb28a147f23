#[cfg(feature = "cuda")]
pub mod cuda;
pub mod flash;
pub mod fused;
pub mod layers;
pub mod videobert;

pub use videobert::{LossTargets, Losses, ModelInputs, VideoBertModel};
