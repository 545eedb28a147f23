pub mod decoder;
pub mod layers;
pub mod videobert;

pub use videobert::{CaptionTargets, LossTargets, Losses, ModelInputs, VideoBertModel};
