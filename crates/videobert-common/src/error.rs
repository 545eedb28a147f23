//! The one error type of the core. Every variant names what went wrong and where, so the binding
//! can map it to a stable `ErrorCode` without parsing messages.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration field is missing, unknown or out of range.
    #[error("invalid config field `{field}`: {reason}")]
    Config { field: String, reason: String },

    /// A preset name that does not exist.
    #[error("unknown preset `{name}` (expected one of: tiny, small, base, large)")]
    UnknownPreset { name: String },

    /// Batch data with the wrong length, a non-finite value or an out-of-range id.
    #[error("invalid input `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },

    /// A checkpoint directory that is missing, truncated or does not match the model.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    /// A file that FFmpeg cannot open or decode (corrupt, truncated, not a video container).
    #[error("cannot decode {path}: {reason}")]
    Decode { path: PathBuf, reason: String },

    /// A readable media file without a video stream (e.g. audio only).
    #[error("{path} has no video stream")]
    NoVideoStream { path: PathBuf },

    /// A subtitle or transcript file that cannot be read as one: the file and the line (1-based) where
    /// reading stopped.
    #[error("subtitles {path}:{line}: {reason}")]
    Subtitles { path: PathBuf, line: usize, reason: String },

    /// The caller cancelled the operation (AbortSignal).
    #[error("cancelled")]
    Cancelled,

    /// The requested compute device cannot be used: this build has no CUDA, or no driver or GPU
    /// answers for that ordinal.
    #[error("device `{device}` is unavailable: {reason}")]
    DeviceUnavailable { device: String, reason: String },

    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A numerical failure inside training (e.g. a non-finite loss).
    #[error("numerical error: {0}")]
    Numerical(String),

    /// Distributed training failed: the collective library is missing or cannot start, the launch
    /// is inconsistent, a rank died or hangs (a collective timed out), or the ranks' parameters drifted apart.
    #[error("distributed training: {0}")]
    Distributed(String),

    /// An error from the tensor library; these indicate a bug, not bad user input.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config { field: field.into(), reason: reason.into() }
    }
    pub fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), reason: reason.into() }
    }
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Checkpoint { path: path.into(), reason: reason.into() }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

impl Error {
    pub fn decode(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Decode { path: path.into(), reason: reason.into() }
    }
    pub fn subtitles(path: impl Into<PathBuf>, line: usize, reason: impl Into<String>) -> Self {
        Error::Subtitles { path: path.into(), line, reason: reason.into() }
    }
}

impl Error {
    /// The stable code of this error (the binding's `ErrorCode`, and `code` in failure reports).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config { .. } => "InvalidConfig",
            Error::UnknownPreset { .. } => "UnknownPreset",
            Error::InvalidInput { .. } => "InvalidInput",
            Error::Checkpoint { .. } => "Checkpoint",
            Error::Decode { .. } => "Decode",
            Error::NoVideoStream { .. } => "NoVideoStream",
            Error::Subtitles { .. } => "Subtitles",
            Error::Cancelled => "Cancelled",
            Error::DeviceUnavailable { .. } => "DeviceUnavailable",
            Error::Io { .. } => "Io",
            Error::Numerical(_) => "Numerical",
            Error::Distributed(_) => "Distributed",
            Error::Tensor(_) => "Internal",
        }
    }
}
