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

    /// Chunks of the manifest not in the directory (a part of an array job not done yet).
    #[napi(getter)]
    pub fn missing_chunks(&self) -> Result<Vec<u32>> {
        Ok(self.inner.get()?.missing_chunks.iter().map(|&c| c as u32).collect())
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

/// What `checkShardSet` and `mergeShardSets` found in a shard directory (videobert_video::shard_set).
#[napi(object)]
pub struct NativeShardSetStatus {
    pub dir: String,
    /// Videos of the whole manifest (null: a set made before the count was recorded).
    pub manifest_videos: Option<u32>,
    /// Chunks the manifest makes (null when the manifest's size is not recorded).
    pub chunks_expected: Option<u32>,
    /// Complete chunks present, ascending.
    pub chunks_present: Vec<u32>,
    /// Chunks of the manifest not here, ascending (with `--shard i/n`, chunk c is part c mod n's).
    pub chunks_missing: Vec<u32>,
    /// Videos tokenized in the chunks present.
    pub videos: u32,
    /// Videos that failed in the chunks present.
    pub failed: u32,
    /// Every chunk of the manifest is here.
    pub complete: bool,
}

impl From<video::shard_set::SetStatus> for NativeShardSetStatus {
    fn from(s: video::shard_set::SetStatus) -> Self {
        let u = |v: Vec<usize>| v.into_iter().map(|c| c as u32).collect();
        Self {
            dir: s.dir.display().to_string(),
            complete: s.complete(),
            manifest_videos: s.manifest_videos.map(|v| v as u32),
            chunks_expected: s.chunks_expected.map(|v| v as u32),
            chunks_present: u(s.chunks_present),
            chunks_missing: u(s.chunks_missing),
            videos: s.videos as u32,
            failed: s.failed as u32,
        }
    }
}

/// Check a shard directory made in parts: every chunk of the manifest present, one set of parameters.
#[napi(ts_return_type = "Promise<NativeShardSetStatus>")]
pub fn check_shard_set(env: &Env, dir: String) -> Result<Object<'_>> {
    spawn_promise(env, move || video::shard_set::check(dir.as_ref()).map(NativeShardSetStatus::from).map_err(to_napi_error))
}

/// Gather the part directories into `out` (copies; idempotent), then check it.
#[napi(ts_return_type = "Promise<NativeShardSetStatus>")]
pub fn merge_shard_sets(env: &Env, parts: Vec<String>, out: String) -> Result<Object<'_>> {
    spawn_promise(env, move || {
        let parts: Vec<std::path::PathBuf> = parts.into_iter().map(Into::into).collect();
        video::shard_set::merge(&parts, out.as_ref()).map(NativeShardSetStatus::from).map_err(to_napi_error)
    })
}
