//! Node.js binding for videobert-core and videobert-video (napi-rs v3). Glue only: option
//! structs, conversion to the core types, and one background thread per heavy call so the event
//! loop (and libuv's 4-thread pool) is never blocked. One file per core module it binds:
//!
//! - `errors` (the `ErrorCode`s, the one conversion point), `threads`, `dispose`: the glue itself;
//! - `session` (the model), `config`, `checkpoint`, `device`, `distributed`: videobert-core;
//! - `tokenize`, `shards`, `codebook`, `vocab`, `builtin`, `encode`, `formats`, `subtitles`:
//!   videobert-video.

mod builtin;
mod checkpoint;
mod codebook;
mod config;
mod device;
mod dispose;
mod distributed;
mod encode;
mod errors;
mod formats;
mod session;
mod shards;
mod subtitles;
mod threads;
mod tokenize;
mod vocab;

pub(crate) use dispose::Disposable;
pub(crate) use errors::{sync, to_napi_error};
pub(crate) use threads::spawn_promise;
