//! One thread of its own per heavy call, so that neither the event loop nor libuv's 4-thread pool is
//! ever blocked; a panic there becomes an `Internal` error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::*;

use crate::errors::{coded, ErrorCode};

/// Run `work` on a thread of its own (not one of libuv's 4) and settle a promise with its result.
/// A panic is caught here and becomes an `Internal` error: no panic crosses into Node.
pub(crate) fn spawn_promise<T, F>(env: &Env, work: F) -> Result<Object<'_>>
where
    T: ToNapiValue + Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    std::thread::Builder::new()
        .name("videobert-call".into())
        .spawn(move || {
            let out = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
                let msg = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or("unknown panic");
                Err(coded(ErrorCode::Internal, format!("panic in native code: {msg}")))
            });
            match out {
                Ok(value) => deferred.resolve(move |_| Ok(value)),
                Err(e) => deferred.reject(e),
            }
        })
        .map_err(|e| coded(ErrorCode::Internal, format!("cannot start a thread: {e}")))?;
    Ok(promise)
}
