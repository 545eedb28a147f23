//! Token shards: what `videobert tokenize` writes and the dataset reads.
//!
//! An output directory holds `index.json` (the tokenization parameters and their hash), and per
//! chunk of consecutive manifest entries `shard-NNNNN.safetensors` with
//! - `regions` `[S, R, F]` (f16 by default, or f32): temporally pooled region features,
//! - `pooled` `[S, F]`: their mean (the segment feature),
//! - `visual_words` `[S]` u32 (only with a codebook),
//!
//! for the S segments of all videos of the chunk, and `shard-NNNNN.json`: per video its id, path,
//! first segment, segment times, captions with the segments they overlap, label; and the chunk's
//! failures. The JSON is written last (temporary name, then rename): a chunk is complete iff its
//! JSON exists, which is what makes runs resumable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsio::{fnv1a, write_atomic};
use crate::manifest::ManifestEntry;
use crate::segments::{TemporalPool, TokenizeOptions, TokenizedVideo};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureDType {
    F16,
    F32,
}

/// Everything that changes the tokens. Two runs with equal params produce identical shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardParams {
    pub extractor: String,
    pub fps: f64,
    pub frames_per_segment: usize,
    pub stride: usize,
    pub pad_last: bool,
    pub pool: TemporalPool,
    pub grid: usize,
    pub feature_dim: usize,
    pub frame_size: u32,
    pub dtype: FeatureDType,
    /// Hash of the codebook file, when visual words were assigned.
    pub codebook: Option<String>,
    pub videos_per_shard: usize,
    /// How subtitle files became captions, when not the default (absent from older indexes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions: Option<crate::subtitles::AlignOptions>,
    /// A backbone's weights file (absolute, where it was when the shards were made) and input side:
    /// what a checkpoint needs to tokenize new videos as its data was. Not part of `hash` (the
    /// weights' own hash is, in `extractor`), so moving the file does not invalidate the shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone_weights: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone_input: Option<u32>,
}

impl ShardParams {
    pub fn new(t: &TokenizeOptions, dtype: FeatureDType, codebook: Option<String>, videos_per_shard: usize, captions: &crate::subtitles::AlignOptions) -> Self {
        Self {
            extractor: match &t.backbone {
                Some(b) => format!("backbone:{}:{}", b.arch, b.weights_hash),
                None => t.builtin.version.name().into(),
            },
            fps: t.fps,
            frames_per_segment: t.frames_per_segment,
            stride: t.stride,
            pad_last: t.pad_last,
            pool: t.pool,
            grid: t.builtin.grid,
            feature_dim: t.feature_dim(),
            frame_size: t.frame_size(),
            dtype,
            codebook,
            videos_per_shard,
            captions: (*captions != crate::subtitles::AlignOptions::default()).then_some(*captions),
            backbone_weights: t.backbone.as_ref().map(|b| b.path.clone()),
            backbone_input: t.backbone.as_ref().map(|b| b.input),
        }
    }

    pub fn num_regions(&self) -> usize {
        self.grid * self.grid
    }

    /// FNV-1a 64 of the canonical JSON.
    pub fn hash(&self) -> String {
        let hashed = Self { backbone_weights: None, backbone_input: None, ..self.clone() };
        fnv1a(serde_json::to_string(&hashed).expect("params serialise").as_bytes())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionSpan {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// First and last segment (inclusive, within the video) that overlap the caption; None if none.
    pub segments: Option<[usize; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoRecord {
    pub id: String,
    pub path: PathBuf,
    /// Index of the video's first segment in its shard.
    pub offset: usize,
    pub num_segments: usize,
    pub duration: f64,
    /// `[start, end]` seconds of each segment.
    pub segments: Vec<[f64; 2]>,
    pub captions: Vec<CaptionSpan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<serde_json::Value>,
    /// The manifest's other fields for this video (see `ManifestEntry::metadata`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub id: String,
    pub path: PathBuf,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkIndex {
    pub params_hash: String,
    pub chunk: usize,
    pub videos: Vec<VideoRecord>,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexFile {
    pub version: u32,
    pub params: ShardParams,
    pub params_hash: String,
    /// Videos of the whole manifest (every part of an array job): what a check counts the chunks
    /// against (`shard_set::check`). Absent in sets made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub videos: Option<usize>,
}

pub fn chunk_stem(chunk: usize) -> String {
    format!("shard-{chunk:05}")
}

/// Segments (inclusive range) overlapping `[start, end]`.
pub fn caption_segments(segments: &[[f64; 2]], start: f64, end: f64) -> Option<[usize; 2]> {
    let hits: Vec<usize> = segments.iter().enumerate().filter(|(_, s)| s[0] < end.max(start + 1e-9) && s[1] > start).map(|(i, _)| i).collect();
    Some([*hits.first()?, *hits.last()?])
}

/// A codebook lookup: a segment feature → its visual word.
pub type WordOf<'a> = dyn Fn(&[f32]) -> u32 + 'a;

/// Write one chunk: its tensors, then its JSON (which marks it complete).
pub fn write_chunk(
    dir: &Path,
    chunk: usize,
    params: &ShardParams,
    results: Vec<(ManifestEntry, Result<TokenizedVideo>)>,
    words: Option<&WordOf<'_>>,
) -> Result<ChunkIndex> {
    let (r, f) = (params.num_regions(), params.feature_dim);
    let mut regions: Vec<f32> = Vec::new();
    let mut pooled: Vec<f32> = Vec::new();
    let mut visual: Vec<u32> = Vec::new();
    let mut index = ChunkIndex { params_hash: params.hash(), chunk, videos: vec![], failures: vec![] };
    for (entry, result) in results {
        match result {
            Ok(v) => {
                let offset = pooled.len() / f;
                for s in &v.segments {
                    regions.extend_from_slice(&s.regions);
                    pooled.extend_from_slice(&s.pooled);
                    if let Some(w) = words {
                        visual.push(w(&s.pooled));
                    }
                }
                let times: Vec<[f64; 2]> = v.segments.iter().map(|s| [s.start, s.end]).collect();
                let captions = entry
                    .captions
                    .iter()
                    .map(|c| CaptionSpan { start: c.start, end: c.end, text: c.text.clone(), segments: caption_segments(&times, c.start, c.end) })
                    .collect();
                index.videos.push(VideoRecord {
                    id: entry.id,
                    path: entry.video,
                    offset,
                    num_segments: v.segments.len(),
                    duration: v.info.duration,
                    segments: times,
                    captions,
                    label: entry.label,
                    metadata: entry.metadata,
                });
            }
            Err(e) => index.failures.push(Failure { id: entry.id, path: entry.video, code: e.code().into(), message: e.to_string() }),
        }
    }
    let s = pooled.len() / f;
    let dev = Device::Cpu;
    let dtype = match params.dtype {
        FeatureDType::F16 => candle_core::DType::F16,
        FeatureDType::F32 => candle_core::DType::F32,
    };
    let mut tensors: Vec<(String, Tensor)> = vec![
        ("regions".into(), Tensor::from_vec(regions, (s, r, f), &dev)?.to_dtype(dtype)?),
        ("pooled".into(), Tensor::from_vec(pooled, (s, f), &dev)?.to_dtype(dtype)?),
    ];
    if words.is_some() {
        tensors.push(("visual_words".into(), Tensor::from_vec(visual, s, &dev)?));
    }
    let stem = chunk_stem(chunk);
    let st_path = dir.join(format!("{stem}.safetensors"));
    let bytes = safetensors::serialize(tensors, None).map_err(|e| Error::io(&st_path, std::io::Error::other(e.to_string())))?;
    write_atomic(&st_path, &bytes)?;
    write_atomic(&dir.join(format!("{stem}.json")), serde_json::to_string(&index).expect("index serialises").as_bytes())?;
    Ok(index)
}

/// Read a complete chunk's JSON, if there is one.
pub fn read_chunk_index(dir: &Path, chunk: usize) -> Result<Option<ChunkIndex>> {
    let path = dir.join(format!("{}.json", chunk_stem(chunk)));
    match std::fs::read_to_string(&path) {
        Ok(s) => serde_json::from_str(&s).map(Some).map_err(|e| Error::input(path.display().to_string(), format!("corrupt shard index: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Where a tensor's bytes lie in the mapped shard file (`start..end`, checked against the file at open).
struct TensorAt {
    f16: bool,
    start: usize,
    end: usize,
}

impl TensorAt {
    /// The bytes of elements `[first, first + n)` of `width` bytes each; a record pointing outside
    /// the tensor (a corrupt or hostile index) is a coded error, never a panic or a huge allocation.
    fn bytes<'m>(&self, map: &'m [u8], first: usize, n: usize, width: usize, what: &str) -> Result<&'m [u8]> {
        let range = first
            .checked_mul(width)
            .and_then(|a| n.checked_mul(width).and_then(|len| a.checked_add(len)).map(|b| (a, b)))
            .and_then(|(a, b)| Some((self.start.checked_add(a)?, self.start.checked_add(b)?)))
            .filter(|&(a, b)| b <= self.end && a <= b);
        match range {
            Some((a, b)) => Ok(&map[a..b]),
            None => Err(Error::input(
                what,
                format!("the shard index points past the tensor's data (elements {first}..{first}+{n} of {})", (self.end - self.start) / width),
            )),
        }
    }
}

struct OpenChunk {
    index: ChunkIndex,
    map: memmap2::Mmap,
    tensors: HashMap<String, TensorAt>,
}

/// Random access to a directory of token shards; tensors are memory-mapped, not read up front.
pub struct TokenShards {
    pub dir: PathBuf,
    pub params: ShardParams,
    chunks: Vec<OpenChunk>,
    /// (chunk, video within chunk) for each video, in manifest order.
    order: Vec<(usize, usize)>,
    /// Chunks of the manifest not in the directory (a part of an array job not done yet); empty
    /// when the manifest's size is not recorded (`shard_set::check` says more).
    pub missing_chunks: Vec<usize>,
}

/// The shard directory's `index.json`; a directory without one is named as not a shard set.
pub fn read_index(dir: &Path) -> Result<IndexFile> {
    let path = dir.join("index.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::input(dir.display().to_string(), "not a token-shard directory (no index.json): make one with `videobert tokenize`"))
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    serde_json::from_str(&text).map_err(|e| Error::input(path.display().to_string(), format!("corrupt index: {e}")))
}

/// The chunk numbers of the `shard-NNNNN.json` indexes in `dir`, ascending.
pub fn chunk_numbers(dir: &Path) -> Result<Vec<usize>> {
    let mut stems: Vec<usize> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("shard-")?.strip_suffix(".json")?.parse().ok()
        })
        .collect();
    stems.sort_unstable();
    Ok(stems)
}

impl TokenShards {
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let index = read_index(&dir)?;
        let stems = chunk_numbers(&dir)?;
        let expected = index.videos.map_or(0, |v| v.div_ceil(index.params.videos_per_shard));
        let missing_chunks = (0..expected).filter(|c| stems.binary_search(c).is_err()).collect();
        let mut chunks = Vec::new();
        let mut order = Vec::new();
        for chunk in stems {
            let ci = read_chunk_index(&dir, chunk)?.expect("listed above");
            if ci.params_hash != index.params_hash {
                return Err(Error::input(dir.display().to_string(), format!("{} was made with other parameters", chunk_stem(chunk))));
            }
            let st = dir.join(format!("{}.safetensors", chunk_stem(chunk)));
            let file = std::fs::File::open(&st).map_err(|e| Error::io(&st, e))?;
            // SAFETY: shards are written once (temporary name + rename) and never modified in place.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(&st, e))?;
            let (header_len, meta) =
                safetensors::SafeTensors::read_metadata(&map).map_err(|e| Error::input(st.display().to_string(), format!("corrupt shard: {e}")))?;
            let corrupt = |reason: String| Error::input(st.display().to_string(), format!("corrupt shard: {reason}"));
            let mut tensors = HashMap::new();
            for (name, info) in meta.tensors() {
                let (a, b) = info.data_offsets;
                let (start, end) =
                    (8 + header_len).checked_add(a).zip((8 + header_len).checked_add(b)).ok_or_else(|| corrupt(format!("tensor `{name}` offsets overflow")))?;
                if a > b || end > map.len() {
                    return Err(corrupt(format!("tensor `{name}` claims bytes {start}..{end} of a {}-byte file", map.len())));
                }
                let f16 = match info.dtype {
                    safetensors::Dtype::F16 => true,
                    safetensors::Dtype::F32 | safetensors::Dtype::U32 => false,
                    other => return Err(corrupt(format!("tensor `{name}` has dtype {other:?}"))),
                };
                tensors.insert(name, TensorAt { f16, start, end });
            }
            // Every record must lie inside its tensors (a corrupt or hostile index is refused here,
            // before anything sized by it is made — in Rust or by the caller).
            let (r, f) = (index.params.num_regions(), index.params.feature_dim);
            for rec in &ci.videos {
                if rec.segments.len() != rec.num_segments {
                    return Err(corrupt(format!("video '{}' has {} segment times for {} segments", rec.id, rec.segments.len(), rec.num_segments)));
                }
                for (name, per) in [("pooled", f), ("regions", r * f), ("visual_words", 1)] {
                    if let Some(t) = tensors.get(name) {
                        let width = if name == "visual_words" {
                            4
                        } else if t.f16 {
                            2
                        } else {
                            4
                        };
                        let first = rec.offset.checked_mul(per).ok_or_else(|| corrupt(format!("video '{}': offset {} overflows", rec.id, rec.offset)))?;
                        let n =
                            rec.num_segments.checked_mul(per).ok_or_else(|| corrupt(format!("video '{}': {} segments overflow", rec.id, rec.num_segments)))?;
                        t.bytes(&map, first, n, width, name).map_err(|e| corrupt(format!("video '{}': {e}", rec.id)))?;
                    }
                }
            }
            for v in 0..ci.videos.len() {
                order.push((chunks.len(), v));
            }
            chunks.push(OpenChunk { index: ci, map, tensors });
        }
        Ok(Self { dir, params: index.params, chunks, order, missing_chunks })
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn video(&self, i: usize) -> Result<&VideoRecord> {
        let &(c, v) = self.order.get(i).ok_or_else(|| Error::input("index", format!("{i} out of range ({} videos)", self.len())))?;
        Ok(&self.chunks[c].index.videos[v])
    }

    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.chunks.iter().flat_map(|c| c.index.failures.iter())
    }

    fn floats(&self, i: usize, name: &str, per_segment: usize) -> Result<Vec<f32>> {
        let &(c, v) = self.order.get(i).ok_or_else(|| Error::input("index", format!("{i} out of range ({} videos)", self.len())))?;
        let chunk = &self.chunks[c];
        let rec = &chunk.index.videos[v];
        let t = chunk.tensors.get(name).ok_or_else(|| Error::input(name, "tensor missing from shard"))?;
        let past = || Error::input(name, format!("video '{}': offset {} + {} segments overflow", rec.id, rec.offset, rec.num_segments));
        let (first, n) = (rec.offset.checked_mul(per_segment).ok_or_else(past)?, rec.num_segments.checked_mul(per_segment).ok_or_else(past)?);
        let map = &chunk.map[..];
        Ok(if t.f16 {
            t.bytes(map, first, n, 2, name)?.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
        } else {
            t.bytes(map, first, n, 4, name)?.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        })
    }

    /// `[num_segments, R, F]` region features of video `i`.
    pub fn regions(&self, i: usize) -> Result<Vec<f32>> {
        self.floats(i, "regions", self.params.num_regions() * self.params.feature_dim)
    }

    /// `[num_segments, F]` segment features of video `i`.
    pub fn pooled(&self, i: usize) -> Result<Vec<f32>> {
        self.floats(i, "pooled", self.params.feature_dim)
    }

    /// `[num_segments]` visual words of video `i` (shards made with a codebook).
    pub fn visual_words(&self, i: usize) -> Result<Option<Vec<u32>>> {
        let &(c, v) = self.order.get(i).ok_or_else(|| Error::input("index", format!("{i} out of range")))?;
        let chunk = &self.chunks[c];
        let rec = &chunk.index.videos[v];
        match chunk.tensors.get("visual_words") {
            Some(t) => Ok(Some(
                t.bytes(&chunk.map, rec.offset, rec.num_segments, 4, "visual_words")?
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            )),
            None => Ok(None),
        }
    }
}
