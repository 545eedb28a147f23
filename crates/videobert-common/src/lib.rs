//! videobert-common: the pieces the video crate and the model crate share, and nothing else — the
//! one error type (and its stable codes), the seeded RNG behind every reproducible choice, and
//! crash-safe file writes (with the fault points the crash tests kill the process at), and handing
//! freed memory back to the system.

pub mod error;
pub mod fault;
pub mod fsio;
pub mod memory;
pub mod rng;

pub use error::{Error, Result};
