pub mod layers;
pub mod videobert;

pub use videobert::{Losses, LossTargets, ModelInputs, VideoBertModel};
