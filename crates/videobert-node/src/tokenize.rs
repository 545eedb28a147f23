//! Video tokenization (videobert_video::segments, tokenize): one file, or a manifest into token
//! shards with progress and cancellation; the tokenizer's defaults.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use video::builtin::{BuiltinOptions, BuiltinVersion};
use video::segments::{TemporalPool, TokenizeOptions};
use videobert_video as video;

use crate::{spawn_promise, to_napi_error};

/// A cancellation flag shared with native work; `cancel()` makes the work stop at its next check
/// and reject with `Cancelled`. The TS layer wires an AbortSignal to it.
#[napi]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self { flag: Arc::new(AtomicBool::new(false)) }
    }

    #[napi]
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

fn flag(token: Option<&CancelToken>) -> Arc<AtomicBool> {
    token.map(|t| t.flag.clone()).unwrap_or_default()
}

/// How videos become segments (all optional).
#[napi(object)]
#[derive(Default)]
pub struct NativeTokenizeOptions {
    /// Sampled frames per second. @default 10
    pub fps: Option<f64>,
    /// Frames per segment. @default 16
    pub frames_per_segment: Option<u32>,
    /// Frames between segment starts. @default framesPerSegment
    pub stride: Option<u32>,
    /// Keep the last partial segment. @default false
    pub pad_last: Option<bool>,
    /// Temporal pooling: "mean" or "max". @default "mean"
    pub pool: Option<String>,
    /// Regions per side (R = grid²). @default 2
    pub grid: Option<u32>,
    /// Feature size F; the builtin descriptor's own size (44 for builtin, 68 for builtin_v2) or, for
    /// other sizes, a fixed random projection of it. Ignored by pretrained extractors (their width). @default the extractor's size
    pub feature_dim: Option<u32>,
    /// Side of the square frame fed to the extractor. @default 112
    pub frame_size: Option<u32>,
    /// Decoder threads per video. 0 = auto: the cores the video's decoder may use, or 4 frame threads per core (at most 16) for a video of at least 5·10⁸ pixels to decode (10 s of 1080p). @default 0
    pub threads: Option<u32>,
    /// Feature extractor: "builtin" (no weights: colour, shape and motion histograms per region),
    /// "builtin_v2" (the same and an object-centred glimpse of the moving object's shape), "backbone"
    /// (any network backboneWeights holds), or the network the weights must be: "resnet", "clip",
    /// "mobilenet_v2", "efficientnet_lite0". @default "builtin"
    pub extractor: Option<String>,
    /// Local weights of a ResNet or MobileNetV2 (torchvision names), an EfficientNet-Lite0
    /// (efficientnet_pytorch names) or a CLIP vision tower (Hugging Face / open_clip names):
    /// safetensors, or PyTorch `.pth` (zip or legacy format).
    pub backbone_weights: Option<String>,
    /// ResNet: input side per grid cell (the frame is decoded at grid × this), @default 112;
    /// MobileNetV2 and EfficientNet-Lite0: the frame's side, @default 224
    pub backbone_input: Option<u32>,
    /// The FNV-1a hash (16 hex digits) the weights file must have: a checkpoint's
    /// `video_tokenizer.json` records it, so new videos are tokenized by the very network its
    /// training data was; a file with another hash (retrained, re-downloaded under the same name) is
    /// an InvalidConfig error. Unset: any file.
    pub backbone_hash: Option<String>,
    /// The longest video accepted, in seconds from its first frame; a longer one (or one whose
    /// timestamps jump past it) is a Decode error. Infinity: no limit. @default 14400 (4 hours)
    pub max_duration: Option<f64>,
}

/// Options plus the backbone to load (loading reads the weights: done on the worker thread).
struct Planned {
    opts: TokenizeOptions,
    /// The weights, the input side, and the network family the extractor named (None: any).
    backbone: Option<(PathBuf, Option<u32>, Option<String>)>,
    /// The hash the weights must have (None: any).
    backbone_hash: Option<String>,
}

impl Planned {
    fn load(self) -> video::Result<TokenizeOptions> {
        let mut opts = self.opts;
        if let Some((path, input, family)) = self.backbone {
            let b = video::backbone::Backbone::load(&path, opts.builtin.grid, input)?;
            if let Some(f) = family.filter(|f| f != b.family()) {
                return Err(video::Error::config("extractor", format!("{f} asked for, but {} holds {} weights ({})", path.display(), b.family(), b.arch)));
            }
            if let Some(h) = self.backbone_hash.filter(|h| *h != b.weights_hash) {
                return Err(video::Error::config(
                    "backboneHash",
                    format!(
                        "{} has hash {}, but {h} was asked for (the weights this model's training data was tokenized with): give that file",
                        path.display(),
                        b.weights_hash
                    ),
                ));
            }
            opts.backbone = Some(b);
        }
        opts.validate()?;
        Ok(opts)
    }
}

fn tokenize_options(o: Option<NativeTokenizeOptions>) -> video::Result<Planned> {
    let o = o.unwrap_or_default();
    let families = video::backbone::FAMILIES;
    // the builtin descriptor named, or none (None: a pretrained extractor, or a name to refuse)
    let builtin = o.extractor.as_deref().and_then(BuiltinVersion::from_name);
    let backbone = match (o.extractor.as_deref(), o.backbone_weights) {
        (None, None) => None,
        (Some(_), None) if builtin.is_some() => None,
        (None | Some("backbone"), Some(w)) => Some((PathBuf::from(w), o.backbone_input, None)),
        (Some(f), Some(w)) if families.contains(&f) => Some((PathBuf::from(w), o.backbone_input, Some(f.to_string()))),
        (Some(e), None) if e == "backbone" || families.contains(&e) => {
            return Err(video::Error::config("backboneWeights", format!("the {e} extractor needs a weights file")))
        }
        (Some(_), Some(_)) if builtin.is_some() => {
            return Err(video::Error::config("backboneWeights", format!("only used with a pretrained extractor (backbone, {})", families.join(", "))))
        }
        (Some(other), _) => {
            return Err(video::Error::config("extractor", format!("must be builtin, builtin_v2, backbone, {}, got {other:?}", families.join(", "))))
        }
    };
    let d = TokenizeOptions::default();
    let len = o.frames_per_segment.map(|v| v as usize).unwrap_or(d.frames_per_segment);
    let pool = match o.pool.as_deref() {
        None | Some("mean") => TemporalPool::Mean,
        Some("max") => TemporalPool::Max,
        Some(other) => return Err(video::Error::config("pool", format!("must be mean or max, got {other:?}"))),
    };
    let t = TokenizeOptions {
        fps: o.fps.unwrap_or(d.fps),
        frames_per_segment: len,
        stride: o.stride.map(|v| v as usize).unwrap_or(len),
        pad_last: o.pad_last.unwrap_or(d.pad_last),
        pool,
        builtin: {
            // a pretrained extractor keeps the default descriptor's options (its width replaces `dim`)
            let version = builtin.unwrap_or(BuiltinVersion::V1);
            BuiltinOptions {
                grid: o.grid.map(|v| v as usize).unwrap_or(d.builtin.grid),
                dim: o.feature_dim.map(|v| v as usize).unwrap_or(version.raw_dim()),
                size: o.frame_size.unwrap_or(d.builtin.size),
                version,
            }
        },
        threads: o.threads.map(|v| v as usize).unwrap_or(0),
        cores: 0,
        backbone: None,
        max_duration: o.max_duration.unwrap_or(d.max_duration),
    };
    t.validate()?;
    if o.backbone_hash.is_some() && backbone.is_none() {
        return Err(video::Error::config("backboneHash", "only used with a pretrained extractor and its backboneWeights"));
    }
    Ok(Planned { opts: t, backbone, backbone_hash: o.backbone_hash })
}

/// One tokenized video: segment times and features.
#[napi(object)]
pub struct NativeTokenizedVideo {
    pub duration: f64,
    pub codec: String,
    pub source_width: u32,
    pub source_height: u32,
    /// Clockwise rotation applied from the display matrix.
    pub rotation: u32,
    /// Frames the decoder produced (disposable frames no sample time falls on are skipped undecoded).
    pub decoded_frames: u32,
    pub sampled_frames: u32,
    pub num_segments: u32,
    pub num_regions: u32,
    pub feature_dim: u32,
    /// `[S]` segment start / end seconds and real frame counts.
    pub starts: Float64Array,
    pub ends: Float64Array,
    pub frames: Uint32Array,
    /// `[S, R, F]` region features.
    pub regions: Float32Array,
    /// `[S, F]` segment features (mean of the regions).
    pub pooled: Float32Array,
}

/// Decode and tokenize one video file.
#[napi(ts_return_type = "Promise<NativeTokenizedVideo>")]
pub fn tokenize_file<'e>(env: &'e Env, path: String, options: Option<NativeTokenizeOptions>, cancel: Option<&CancelToken>) -> Result<Object<'e>> {
    let planned = tokenize_options(options).map_err(to_napi_error)?;
    let cancel = flag(cancel);
    spawn_promise(env, move || {
        let opts = planned.load().map_err(to_napi_error)?;
        let v = video::segments::tokenize_file(std::path::Path::new(&path), &opts, &cancel, |_| {}).map_err(to_napi_error)?;
        let s = &v.segments;
        Ok(NativeTokenizedVideo {
            duration: v.info.duration,
            codec: v.info.codec.clone(),
            source_width: v.info.source_width,
            source_height: v.info.source_height,
            rotation: v.info.rotation,
            decoded_frames: v.info.decoded_frames as u32,
            sampled_frames: v.info.sampled_frames as u32,
            num_segments: s.len() as u32,
            num_regions: opts.num_regions() as u32,
            feature_dim: opts.feature_dim() as u32,
            starts: Float64Array::new(s.iter().map(|x| x.start).collect()),
            ends: Float64Array::new(s.iter().map(|x| x.end).collect()),
            frames: Uint32Array::new(s.iter().map(|x| x.frames as u32).collect()),
            regions: Float32Array::new(s.iter().flat_map(|x| x.regions.iter().copied()).collect()),
            pooled: Float32Array::new(s.iter().flat_map(|x| x.pooled.iter().copied()).collect()),
        })
    })
}

#[napi(object)]
pub struct NativeManifestOptions {
    /// Output directory for the shards.
    pub out: String,
    pub tokenize: Option<NativeTokenizeOptions>,
    /// Videos decoded at once. @default all cores
    pub workers: Option<u32>,
    /// This job's part i of n: chunks c with c % n == i. @default [0, 1]
    pub shard: Option<Vec<u32>>,
    /// Videos per shard file. @default 256
    pub videos_per_shard: Option<u32>,
    /// Feature storage: "f16" or "f32". @default "f16"
    pub dtype: Option<String>,
    /// Codebook (safetensors) to assign visual words with.
    pub codebook: Option<String>,
    /// Subtitle files → captions: the most words of one caption. @default 16
    pub caption_words: Option<u32>,
    /// Subtitle files → captions: the longest silence (seconds) inside one merged caption. @default 1
    pub caption_gap: Option<f64>,
}

/// Counts of a `tokenizeManifest` run over this job's part of the manifest (`shard`): reported to
/// `onProgress` (at most ~10 times a second, and always at the end) and in the summary.
#[napi(object)]
#[derive(Clone, Copy)]
pub struct TokenizeProgress {
    pub videos_total: u32,
    pub videos_done: u32,
    /// Done by an earlier run with the same parameters (resumed).
    pub videos_skipped: u32,
    pub videos_failed: u32,
    pub segments: u32,
    /// Sampled frames so far.
    pub frames: f64,
    /// Frames decoded (counted when a video finishes; disposable frames no sample time falls on are
    /// skipped undecoded and not counted).
    pub decoded_frames: f64,
    pub seconds: f64,
}

impl From<&video::tokenize::Progress> for TokenizeProgress {
    fn from(p: &video::tokenize::Progress) -> Self {
        Self {
            videos_total: p.videos_total as u32,
            videos_done: p.videos_done as u32,
            videos_skipped: p.videos_skipped as u32,
            videos_failed: p.videos_failed as u32,
            segments: p.segments as u32,
            frames: p.frames as f64,
            decoded_frames: p.decoded_frames as f64,
            seconds: p.seconds,
        }
    }
}

/// A video that could not be tokenized.
#[napi(object)]
pub struct TokenizeFailure {
    pub id: String,
    pub path: String,
    pub code: String,
    pub message: String,
}

/// What `tokenizeManifest` did: the final counts, the failures of this job's chunks (including those
/// an earlier run recorded in chunks it reused) and the output directory.
#[napi(object)]
pub struct TokenizeSummary {
    pub progress: TokenizeProgress,
    pub failures: Vec<TokenizeFailure>,
    pub out: String,
    /// What reading this run's subtitle sources did, summed over its videos.
    pub subtitles: crate::subtitles::NativeAlignReport,
}

/// Tokenize a manifest (JSONL/CSV) or a list of files/directories into token shards.
#[napi(ts_return_type = "Promise<TokenizeSummary>")]
pub fn tokenize_manifest<'e>(
    env: &'e Env,
    manifest: Option<String>,
    paths: Option<Vec<String>>,
    options: NativeManifestOptions,
    on_progress: Option<ThreadsafeFunction<TokenizeProgress, (), TokenizeProgress, Status, false, true>>,
    cancel: Option<&CancelToken>,
) -> Result<Object<'e>> {
    let d = video::tokenize::ManifestOptions::default();
    let shard = match options.shard.as_deref() {
        None => (0, 1),
        Some([i, n]) => (*i as usize, *n as usize),
        Some(_) => return Err(to_napi_error(video::Error::config("shard", "expected [i, n]"))),
    };
    let dtype = match options.dtype.as_deref() {
        None | Some("f16") => video::shards::FeatureDType::F16,
        Some("f32") => video::shards::FeatureDType::F32,
        Some(o) => return Err(to_napi_error(video::Error::config("dtype", format!("must be f16 or f32, got {o:?}")))),
    };
    let planned = tokenize_options(options.tokenize).map_err(to_napi_error)?;
    let mut opts = video::tokenize::ManifestOptions {
        tokenize: TokenizeOptions::default(),
        out: PathBuf::from(options.out),
        workers: options.workers.map(|w| w as usize).unwrap_or(d.workers),
        shard,
        videos_per_shard: options.videos_per_shard.map(|v| v as usize).unwrap_or(d.videos_per_shard),
        dtype,
        codebook: options.codebook.map(PathBuf::from),
        captions: crate::subtitles::align_options(options.caption_words, options.caption_gap),
    };
    let cancel = flag(cancel);
    spawn_promise(env, move || {
        opts.tokenize = planned.load().map_err(to_napi_error)?;
        let entries = match (manifest, paths) {
            (Some(m), _) => video::manifest::read_manifest(std::path::Path::new(&m)),
            (None, Some(p)) => video::manifest::entries_from_paths(&p.into_iter().map(PathBuf::from).collect::<Vec<_>>()),
            (None, None) => Err(video::Error::input("input", "give a manifest or paths")),
        }
        .map_err(to_napi_error)?;
        let last = std::sync::Mutex::new(std::time::Instant::now() - std::time::Duration::from_secs(1));
        let report = |p: &video::tokenize::Progress| {
            if let Some(cb) = &on_progress {
                // At most ~10 reports a second, and always the final one.
                let mut t = last.lock().expect("progress lock");
                if t.elapsed().as_millis() >= 100 || p.videos_done == p.videos_total {
                    *t = std::time::Instant::now();
                    cb.call(TokenizeProgress::from(p), ThreadsafeFunctionCallMode::NonBlocking);
                }
            }
        };
        let s = video::tokenize::tokenize_manifest(&entries, &opts, &cancel, &report).map_err(to_napi_error)?;
        Ok(TokenizeSummary {
            progress: TokenizeProgress::from(&s.progress),
            failures: s
                .failures
                .into_iter()
                .map(|f| TokenizeFailure { id: f.id, path: f.path.display().to_string(), code: f.code, message: f.message })
                .collect(),
            out: s.out.display().to_string(),
            subtitles: s.subtitles.into(),
        })
    })
}

/// What each option of `tokenizeFile` / `tokenizeManifest`, `fitCodebook` and `trainVocab` is when
/// left out: the native defaults, for the TS layer and the CLI's help (one source).
#[napi(object)]
pub struct NativeTokenizeDefaults {
    pub fps: f64,
    pub frames_per_segment: u32,
    pub pool: String,
    pub grid: u32,
    pub feature_dim: u32,
    pub frame_size: u32,
    pub backbone_input: u32,
    /// Seconds (4 hours).
    pub max_duration: f64,
    pub videos_per_shard: u32,
    pub dtype: String,
    pub branching: u32,
    pub depth: u32,
    pub iterations: u32,
    pub sample: u32,
    pub standardize: bool,
    pub vocab_size: u32,
    pub min_frequency: u32,
    pub caption_words: u32,
    pub caption_gap: f64,
}

/// The name a unit enum has in JSON (its serde name, e.g. "mean", "f16").
fn name_of(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|j| j.as_str().map(String::from)).unwrap_or_default()
}

#[napi]
pub fn tokenize_defaults() -> NativeTokenizeDefaults {
    let t = TokenizeOptions::default();
    let m = video::tokenize::ManifestOptions::default();
    let k = video::kmeans::KMeansOptions::default();
    let v = video::vocab::VocabOptions::default();
    NativeTokenizeDefaults {
        fps: t.fps,
        frames_per_segment: t.frames_per_segment as u32,
        pool: name_of(&t.pool),
        grid: t.builtin.grid as u32,
        feature_dim: t.builtin.dim as u32,
        frame_size: t.builtin.size,
        backbone_input: video::backbone::DEFAULT_INPUT,
        max_duration: t.max_duration,
        videos_per_shard: m.videos_per_shard as u32,
        dtype: name_of(&m.dtype),
        branching: k.branching as u32,
        depth: k.depth as u32,
        iterations: k.iterations as u32,
        sample: video::codebook::DEFAULT_SAMPLE as u32,
        standardize: k.standardize,
        vocab_size: v.vocab_size as u32,
        min_frequency: v.min_frequency as u32,
        caption_words: m.captions.max_words as u32,
        caption_gap: m.captions.max_gap,
    }
}
