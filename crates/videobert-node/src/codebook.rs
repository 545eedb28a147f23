//! Visual words (videobert_video::codebook, kmeans): fitting and assigning a codebook on shards,
//! and a loaded codebook.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use videobert_video as video;

use crate::{spawn_promise, to_napi_error, Disposable};

#[napi(object)]
pub struct NativeCodebookOptions {
    /// @default 12
    pub branching: Option<u32>,
    /// @default 4
    pub depth: Option<u32>,
    /// Lloyd iterations per node. @default 20
    pub iterations: Option<u32>,
    /// @default 0
    pub seed: Option<u32>,
    /// Segments sampled from the shards for fitting (all if fewer). @default 200000
    pub sample: Option<u32>,
    /// Fit on per-dimension standardised features ((x − mean) / std of the sample, stored in the
    /// codebook and applied when assigning), so that no feature dominates the distances by its
    /// scale alone; false fits on the raw features (codebooks before 2026-12-07). @default true
    pub standardize: Option<bool>,
}

/// A codebook `fitCodebook` fitted and saved: its number of visual words, the size of its vectors,
/// and how many segment features it was fitted on (all of the shards', or a sample of `sample`).
#[napi(object)]
pub struct CodebookInfo {
    pub words: u32,
    pub dim: u32,
    pub fitted_on: u32,
}

/// Fit a hierarchical k-means codebook on (a sample of) the segment features of a shard directory.
#[napi(ts_return_type = "Promise<CodebookInfo>")]
pub fn fit_codebook(env: &Env, shards: String, out: String, options: Option<NativeCodebookOptions>) -> Result<Object<'_>> {
    spawn_promise(env, move || {
        let o = options.unwrap_or(NativeCodebookOptions { branching: None, depth: None, iterations: None, seed: None, sample: None, standardize: None });
        let d = video::kmeans::KMeansOptions::default();
        let k = video::kmeans::KMeansOptions {
            branching: o.branching.map(|v| v as usize).unwrap_or(d.branching),
            depth: o.depth.map(|v| v as usize).unwrap_or(d.depth),
            iterations: o.iterations.map(|v| v as usize).unwrap_or(d.iterations),
            seed: o.seed.map(u64::from).unwrap_or(d.seed),
            standardize: o.standardize.unwrap_or(d.standardize),
        };
        let (cb, n) =
            video::codebook::fit_on_shards(std::path::Path::new(&shards), o.sample.map(|s| s as usize).unwrap_or(video::codebook::DEFAULT_SAMPLE), &k)
                .map_err(to_napi_error)?;
        cb.save(std::path::Path::new(&out)).map_err(to_napi_error)?;
        Ok(CodebookInfo { words: cb.num_words() as u32, dim: cb.dim as u32, fitted_on: n as u32 })
    })
}

/// Assign visual words to every segment of a shard directory, in place.
#[napi(ts_return_type = "Promise<number>")]
pub fn assign_codebook(env: &Env, shards: String, codebook: String) -> Result<Object<'_>> {
    spawn_promise(env, move || {
        let n = video::codebook::assign_visual_words(std::path::Path::new(&shards), std::path::Path::new(&codebook)).map_err(to_napi_error)?;
        Ok(n as u32)
    })
}

/// A loaded visual-word codebook.
#[napi]
pub struct NativeCodebook {
    inner: Disposable<video::kmeans::Codebook>,
}

#[napi]
impl NativeCodebook {
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

    /// Number of visual words (branching^depth).
    #[napi(getter)]
    pub fn num_words(&self) -> Result<u32> {
        Ok(self.inner.get()?.num_words() as u32)
    }

    /// Feature size the codebook was fitted on.
    #[napi(getter)]
    pub fn dim(&self) -> Result<u32> {
        Ok(self.inner.get()?.dim as u32)
    }

    /// Word ids of `[n, dim]` vectors (row-major), computed on all cores.
    #[napi(ts_return_type = "Promise<Uint32Array>")]
    pub fn assign<'e>(&self, env: &'e Env, data: Float32Array) -> Result<Object<'e>> {
        let data = data.to_vec();
        let inner = self.inner.get()?;
        spawn_promise(env, move || Ok(Uint32Array::new(inner.assign(&data).map_err(to_napi_error)?)))
    }
}

/// Load a codebook written by `fitCodebook`.
#[napi(ts_return_type = "Promise<NativeCodebook>")]
pub fn load_codebook(env: &Env, path: String) -> Result<Object<'_>> {
    spawn_promise(env, move || {
        Ok(NativeCodebook { inner: Disposable::new(video::kmeans::Codebook::load(std::path::Path::new(&path)).map_err(to_napi_error)?, "codebook") })
    })
}
