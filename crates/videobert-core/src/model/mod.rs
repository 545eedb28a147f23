pub mod fused;
pub mod layers;
pub mod videobert;

pub use videobert::{LossTargets, Losses, ModelInputs, VideoBertModel};
