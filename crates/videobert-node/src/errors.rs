//! Errors: the one `ErrorCode` enum (generated into the `.d.ts`), and the one conversion from core
//! errors. Errors cross as `"<ErrorCode>: <message>"`; `src/native.ts` turns them into
//! `VideoBertError`s.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use videobert_core as vb;

/// Every error the native layer raises carries one of these codes.
#[napi(string_enum)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A config field is unknown, missing or out of range.
    InvalidConfig,
    /// The preset name does not exist.
    UnknownPreset,
    /// Batch data of the wrong length, a non-finite value or an out-of-range id.
    InvalidInput,
    /// A checkpoint directory that is missing, truncated, or does not match the config.
    Checkpoint,
    /// Reading or writing a file failed.
    Io,
    /// Training produced a non-finite loss or gradient.
    Numerical,
    /// FFmpeg cannot open or decode the file (corrupt, truncated, not a video).
    Decode,
    /// A readable media file without a video stream.
    NoVideoStream,
    /// A subtitle or transcript file (SubRip, WebVTT, recogniser JSON, an embedded track) that cannot
    /// be read: the message names the file and the line.
    Subtitles,
    /// Cancelled through an AbortSignal.
    Cancelled,
    /// The requested device (`cuda`, `cuda:N`) cannot be used: a binary without CUDA, no driver,
    /// or no GPU with that ordinal.
    DeviceUnavailable,
    /// Distributed training failed: the MPI or NCCL library is missing (the message names the package
    /// to install), the launch is inconsistent, a rank died or hangs (a collective timed out), or the
    /// ranks' parameters drifted apart.
    Distributed,
    /// A bug: an internal error or a panic in native code.
    Internal,
    /// The object was disposed (`dispose()`): its native memory is freed and it can no longer be used.
    Disposed,
    /// No prebuilt addon for this platform, or it failed to load (raised by the JS loader, before
    /// any native code runs; the message names the cause and how to build from source).
    NativeBinding,
}

impl ErrorCode {
    /// Every code, in declaration order (what `errorCodes()` gives the TS layer).
    const ALL: [ErrorCode; 15] = [
        ErrorCode::InvalidConfig,
        ErrorCode::UnknownPreset,
        ErrorCode::InvalidInput,
        ErrorCode::Checkpoint,
        ErrorCode::Io,
        ErrorCode::Numerical,
        ErrorCode::Decode,
        ErrorCode::NoVideoStream,
        ErrorCode::Subtitles,
        ErrorCode::Cancelled,
        ErrorCode::DeviceUnavailable,
        ErrorCode::Distributed,
        ErrorCode::Internal,
        ErrorCode::Disposed,
        ErrorCode::NativeBinding,
    ];
}

/// Every error code, in the order of the `ErrorCode` type: the TS layer's list (`ERROR_CODES`).
#[napi]
pub fn error_codes() -> Vec<ErrorCode> {
    ErrorCode::ALL.to_vec()
}

/// Errors cross as `"<ErrorCode>: <message>"` (a promise can only be rejected with napi's own
/// status codes); `src/native.ts` splits them back into a `VideoBertError`.
pub(crate) fn coded(code: ErrorCode, message: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("{code:?}: {message}"))
}

/// The one conversion point from core errors to JS errors (`vb::Error::code` names the code, one
/// of `ErrorCode`'s names).
pub(crate) fn to_napi_error(e: vb::Error) -> Error {
    debug_assert!(ErrorCode::ALL.iter().any(|c| format!("{c:?}") == e.code()), "unknown error code {}", e.code());
    Error::new(Status::GenericFailure, format!("{}: {e}", e.code()))
}

/// Backstop for synchronous exports: a panic becomes an `Internal` error.
pub(crate) fn sync<T>(work: impl FnOnce() -> vb::Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|_| coded(ErrorCode::Internal, "panic in native code"))?.map_err(to_napi_error)
}
