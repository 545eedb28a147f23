//! Visual words on token shards (the original VideoBERT tokenization): fit a hierarchical k-means
//! codebook on a sample of a shard set's segment features, and add each segment's word id to the
//! shards in place. The k-means itself is in `kmeans`; the shard format in `shards`.

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::fsio::{fnv1a, write_atomic};
use crate::kmeans::{Codebook, KMeansOptions};
use crate::rng::Rng;
use crate::shards::{chunk_numbers, chunk_stem, read_chunk_index, IndexFile, TokenShards};

/// Segment features a codebook is fitted on by default (a seeded uniform sample of the shards).
pub const DEFAULT_SAMPLE: usize = 200_000;

/// Fit on up to `sample` segment features of a shard directory (a seeded uniform sample).
/// Returns the codebook and the number of vectors it was fitted on.
pub fn fit_on_shards(dir: &Path, sample: usize, opts: &KMeansOptions) -> Result<(Codebook, usize)> {
    let shards = TokenShards::open(dir)?;
    let dim = shards.params.feature_dim;
    let mut all: Vec<f32> = Vec::new();
    for i in 0..shards.len() {
        all.extend(shards.pooled(i)?);
    }
    let n = all.len() / dim;
    if n == 0 {
        return Err(Error::input(dir.display().to_string(), "no segments to fit a codebook on"));
    }
    let data = if n > sample {
        let mut rng = Rng::derive(opts.seed, &[0x5A3B]);
        let mut picks = rng.choose(&(0..n).collect::<Vec<_>>(), sample);
        picks.sort_unstable();
        picks.iter().flat_map(|&i| all[i * dim..(i + 1) * dim].iter().copied()).collect()
    } else {
        all
    };
    let used = data.len() / dim;
    Ok((Codebook::fit(&data, dim, opts)?, used))
}

/// Add visual words from `codebook` to every chunk of the shard directory `dir`, in place.
/// Idempotent: chunks already carrying this codebook's words are skipped, so an interrupted run
/// can simply be repeated. Returns the number of segments assigned.
pub fn assign_visual_words(dir: &Path, codebook: &Path) -> Result<usize> {
    let cb = Codebook::load(codebook)?;
    let index_path = dir.join("index.json");
    let text = std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
    let mut index: IndexFile = serde_json::from_str(&text).map_err(|e| Error::input(index_path.display().to_string(), format!("corrupt index: {e}")))?;
    if cb.dim != index.params.feature_dim {
        return Err(Error::config("codebook", format!("codebook dim {} != shard feature dim {}", cb.dim, index.params.feature_dim)));
    }
    let old_hash = index.params_hash.clone();
    index.params.codebook = Some(fnv1a(&std::fs::read(codebook).map_err(|e| Error::io(codebook, e))?));
    let new_hash = index.params.hash();
    let mut assigned = 0;
    for chunk in chunk_numbers(dir)? {
        let mut ci = read_chunk_index(dir, chunk)?.expect("listed above");
        if ci.params_hash == new_hash {
            continue;
        }
        if ci.params_hash != old_hash {
            return Err(Error::input(dir.display().to_string(), format!("{} was made with other parameters", chunk_stem(chunk))));
        }
        let st_path = dir.join(format!("{}.safetensors", chunk_stem(chunk)));
        let mut tensors = candle_core::safetensors::load(&st_path, &Device::Cpu)?;
        let pooled = tensors.get("pooled").ok_or_else(|| Error::input(st_path.display().to_string(), "tensor `pooled` missing"))?;
        let flat: Vec<f32> = pooled.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1()?;
        let words = cb.assign(&flat)?;
        assigned += words.len();
        let n = words.len();
        tensors.insert("visual_words".into(), Tensor::from_vec(words, n, &Device::Cpu)?);
        let mut list: Vec<(String, Tensor)> = tensors.into_iter().collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        let bytes = safetensors::serialize(list, None).map_err(|e| Error::io(&st_path, std::io::Error::other(e.to_string())))?;
        write_atomic(&st_path, &bytes)?;
        ci.params_hash = new_hash.clone();
        write_atomic(&dir.join(format!("{}.json", chunk_stem(chunk))), serde_json::to_string(&ci).expect("index serialises").as_bytes())?;
    }
    index.params_hash = new_hash;
    write_atomic(&index_path, serde_json::to_string_pretty(&index).expect("index serialises").as_bytes())?;
    Ok(assigned)
}
