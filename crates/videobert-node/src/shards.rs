//! Token shards (videobert_video::shards): random access to what `tokenizeManifest` wrote.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use videobert_video as video;

use crate::{spawn_promise, to_napi_error, Disposable};

/// Random access to a token-shard directory (memory-mapped).
#[napi]
pub struct NativeTokenShards {
    inner: Disposable<video::shards::TokenShards>,
}

#[napi]
impl NativeTokenShards {
    /// Free the native memory (and for shards, the mapped files) now instead of when the GC
    /// collects this object; later calls fail with `Disposed`. Idempotent.
    #[napi]
    pub fn dispose(&self) {
        self.inner.dispose();
    }

    /// Whether `dispose()` has been called.
    #[napi(getter)]
    pub fn disposed(&self) -> bool {
        self.inner.is_disposed()
    }

    /// Number of (successfully tokenized) videos.
    #[napi(getter)]
    pub fn length(&self) -> Result<u32> {
        Ok(self.inner.get()?.len() as u32)
    }

    /// The tokenization parameters (snake_case JSON, as in index.json).
    #[napi(getter)]
    pub fn params_json(&self) -> Result<String> {
        Ok(serde_json_string(&self.inner.get()?.params))
    }

    /// Video `i`'s record (id, path, segments, captions, label) as JSON.
    #[napi]
    pub fn video_json(&self, i: u32) -> Result<String> {
        self.inner.get()?.video(i as usize).map(serde_json_string).map_err(to_napi_error)
    }

    /// `[S, R, F]` region features of video `i`.
    #[napi]
    pub fn regions(&self, i: u32) -> Result<Float32Array> {
        self.inner.get()?.regions(i as usize).map(Float32Array::new).map_err(to_napi_error)
    }

    /// `[S, F]` segment features of video `i`.
    #[napi]
    pub fn pooled(&self, i: u32) -> Result<Float32Array> {
        self.inner.get()?.pooled(i as usize).map(Float32Array::new).map_err(to_napi_error)
    }

    /// `[S]` visual words of video `i`, or null for shards made without a codebook.
    #[napi]
    pub fn visual_words(&self, i: u32) -> Result<Option<Uint32Array>> {
        self.inner.get()?.visual_words(i as usize).map(|w| w.map(Uint32Array::new)).map_err(to_napi_error)
    }

    /// Failures recorded in the shards, as JSON lines.
    #[napi(getter)]
    pub fn failures_json(&self) -> Result<String> {
        Ok(self.inner.get()?.failures().map(|f| serde_json_string(f) + "\n").collect())
    }
}

fn serde_json_string<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("value serialises")
}

/// Open a token-shard directory.
#[napi(ts_return_type = "Promise<NativeTokenShards>")]
pub fn open_token_shards(env: &Env, dir: String) -> Result<Object<'_>> {
    spawn_promise(env, move || {
        Ok(NativeTokenShards { inner: Disposable::new(video::shards::TokenShards::open(&dir).map_err(to_napi_error)?, "token shard set") })
    })
}
