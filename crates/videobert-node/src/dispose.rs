//! `dispose()` for the objects that hold native memory (the model keeps its own, which also waits
//! for the calls in flight: `session.rs`).

use std::sync::Arc;

use napi::bindgen_prelude::*;

use crate::errors::{coded, ErrorCode};

/// The contents of a native object until `dispose()` frees them; every use after that is a
/// `Disposed` error. Calls already running hold their own `Arc` and finish first.
pub(crate) struct Disposable<T> {
    value: std::sync::RwLock<Option<Arc<T>>>,
    /// What it is, for the error message ("token shard set", "codebook", …).
    what: &'static str,
}

impl<T> Disposable<T> {
    pub(crate) fn new(value: T, what: &'static str) -> Self {
        Self { value: std::sync::RwLock::new(Some(Arc::new(value))), what }
    }

    pub(crate) fn get(&self) -> Result<Arc<T>> {
        let value = self.value.read().unwrap_or_else(|p| p.into_inner());
        value.clone().ok_or_else(|| coded(ErrorCode::Disposed, format!("the {} was disposed (dispose()): load it again to use it", self.what)))
    }

    pub(crate) fn dispose(&self) {
        let taken = self.value.write().unwrap_or_else(|p| p.into_inner()).take();
        drop(taken);
        videobert_common::memory::release_free_memory();
    }

    pub(crate) fn is_disposed(&self) -> bool {
        self.value.read().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}
