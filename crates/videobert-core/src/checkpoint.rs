//! Save and load: `model.safetensors` (parameters by name), `optimizer.safetensors` (AdamW moments
//! `<name>.exp_avg` / `<name>.exp_avg_sq`, with step, seed and hyper-parameters in the metadata) and
//! `config.json`. Each file is written to a temporary name and renamed into place.
//!
//! Loading checks every tensor: a missing name, an unknown name, a wrong shape or a truncated file is
//! a `Checkpoint` error naming the file and the tensor — never a half-loaded model.

use std::collections::HashMap;
use std::path::Path;

use candle_core::safetensors::Load;
use candle_core::{DType, Device, Shape, Tensor};
use safetensors::SafeTensors;

use crate::config::{ClassifierPooling, VideoBertConfig};
use crate::error::{Error, Result};
use crate::fsio::write_atomic_with as write_atomic;
use crate::optim::{AdamW, AdamWConfig, Moments};
use crate::session::{CreateOptions, Session};
use crate::weights::{TensorSource, Weights};

pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const CONFIG_FILE: &str = "config.json";

fn st_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::checkpoint(path, e.to_string())
}

/// A safetensors write's error: the file system's own (a full disk, no permission) is `Io`, the
/// rest `Checkpoint`.
fn write_err(path: &Path, e: safetensors::SafeTensorError) -> Error {
    match e {
        safetensors::SafeTensorError::IoError(io) => Error::io(path, io),
        other => st_err(path, other),
    }
}

impl Session {
    /// Write the checkpoint files into `dir` (created if needed).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;

        let model_path = dir.join(MODEL_FILE);
        let tensors: Vec<(String, Tensor)> = self.params().iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
        write_atomic(&model_path, |tmp| safetensors::serialize_to_file(tensors, None, tmp).map_err(|e| write_err(tmp, e)))?;

        let opt_path = dir.join(OPTIMIZER_FILE);
        let mut state = Vec::with_capacity(2 * self.params().len());
        for ((name, _), m) in self.params().iter().zip(&self.optimizer().moments) {
            state.push((format!("{name}.exp_avg"), m.exp_avg.clone()));
            state.push((format!("{name}.exp_avg_sq"), m.exp_avg_sq.clone()));
        }
        let c = self.optimizer().config;
        let meta: HashMap<String, String> = [
            ("step", self.optimizer().step.to_string()),
            ("seed", self.seed.to_string()),
            ("beta1", c.beta1.to_string()),
            ("beta2", c.beta2.to_string()),
            ("eps", c.eps.to_string()),
            ("weight_decay", c.weight_decay.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        write_atomic(&opt_path, |tmp| safetensors::serialize_to_file(state, Some(meta), tmp).map_err(|e| write_err(tmp, e)))?;

        let cfg_path = dir.join(CONFIG_FILE);
        write_atomic(&cfg_path, |tmp| std::fs::write(tmp, self.config.to_json()).map_err(|e| Error::io(tmp, e)))
    }

    /// Load a checkpoint directory. `opts.seed` and `opts.optimizer` are replaced by the saved ones
    /// when `optimizer.safetensors` exists; without it the optimizer starts fresh at step 0.
    pub fn load(dir: impl AsRef<Path>, mut opts: CreateOptions) -> Result<Self> {
        let dir = dir.as_ref();
        let config = read_config(dir)?;

        let opt_path = dir.join(OPTIMIZER_FILE);
        let opt_bytes = read_optional(&opt_path)?;
        let opt_st = match &opt_bytes {
            Some(bytes) => Some(parse(&opt_path, bytes)?),
            None => None,
        };
        let mut step = 0;
        if let Some((_, meta)) = &opt_st {
            let get = |k: &str| -> Result<String> { meta.get(k).cloned().ok_or_else(|| Error::checkpoint(&opt_path, format!("metadata `{k}` missing"))) };
            let num = |k: &str| -> Result<f64> { get(k)?.parse::<f64>().map_err(|e| Error::checkpoint(&opt_path, format!("metadata `{k}`: {e}"))) };
            step = get("step")?.parse().map_err(|e| Error::checkpoint(&opt_path, format!("metadata `step`: {e}")))?;
            opts.seed = get("seed")?.parse().map_err(|e| Error::checkpoint(&opt_path, format!("metadata `seed`: {e}")))?;
            opts.optimizer = AdamWConfig { beta1: num("beta1")?, beta2: num("beta2")?, eps: num("eps")?, weight_decay: num("weight_decay")? };
        }

        opts.optimizer.validate()?;
        let model_path = dir.join(MODEL_FILE);
        let model_bytes = read_optional(&model_path)?.ok_or_else(|| Error::checkpoint(&model_path, "file missing"))?;
        let (model_st, _) = parse(&model_path, &model_bytes)?;
        let source = Tensors { path: &model_path, st: &model_st, left_out: &[] };
        let weights = Weights::from_source(config, &source, opts.seed, opts.dtype, &opts.device)?;
        let optimizer = match opt_st {
            Some((st, _)) => {
                let mut moments = Vec::with_capacity(weights.params().len());
                let source = Tensors { path: &opt_path, st: &st, left_out: &[] };
                let mut expected = std::collections::HashSet::new();
                for (name, var) in weights.params() {
                    let [a, b] = [format!("{name}.exp_avg"), format!("{name}.exp_avg_sq")];
                    let get = |n: &str| source.required(n, var.shape(), opts.dtype, &opts.device);
                    moments.push(Moments { exp_avg: get(&a)?, exp_avg_sq: get(&b)? });
                    expected.extend([a, b]);
                }
                source.only(&expected)?;
                AdamW { config: opts.optimizer, step, moments }
            }
            None => AdamW::new(opts.optimizer, weights.params())?,
        };
        Session::from_parts(weights, optimizer, opts.seed, opts.num_threads)
    }
}

/// The validated `config.json` of a checkpoint directory.
fn read_config(dir: &Path) -> Result<VideoBertConfig> {
    if !dir.is_dir() {
        return Err(Error::checkpoint(dir, "not a checkpoint directory (missing or not a directory)"));
    }
    let path = dir.join(CONFIG_FILE);
    let len = std::fs::metadata(&path).map_err(|e| Error::checkpoint(&path, e.to_string()))?.len();
    if len > MAX_CONFIG_BYTES {
        return Err(Error::checkpoint(&path, format!("{len} bytes: a config.json is at most {MAX_CONFIG_BYTES} bytes")));
    }
    let json = std::fs::read_to_string(&path).map_err(|e| Error::checkpoint(&path, e.to_string()))?;
    VideoBertConfig::from_json(&json).map_err(|e| Error::checkpoint(&path, e.to_string()))
}

/// The largest `config.json` read (a real one is ~1 KB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A checkpoint file's bytes (`None` when it does not exist). A file larger than the memory limit
/// (`size::memory_limit`) is refused from its size, before it is read.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::checkpoint(path, e.to_string())),
    };
    let limit = crate::size::memory_limit();
    if len as u128 > limit {
        return Err(Error::checkpoint(path, format!("{len} bytes, more than the memory limit of {limit} bytes (VIDEOBERT_MEMORY_LIMIT overrides)")));
    }
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::checkpoint(path, e.to_string())),
    }
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(SafeTensors<'a>, HashMap<String, String>)> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| st_err(path, format!("corrupt safetensors: {e}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes).map_err(|e| st_err(path, format!("corrupt safetensors: {e}")))?;
    Ok((st, meta))
}

/// The tensors of one safetensors file, handed to the model as it is built (`Weights::from_source`);
/// names starting with `left_out` are not loaded (the initialiser makes them).
struct Tensors<'a> {
    path: &'a Path,
    st: &'a SafeTensors<'a>,
    left_out: &'static [&'static str],
}

impl Tensors<'_> {
    /// The tensor `name`, checked against `shape` and converted to `dtype`.
    fn required(&self, name: &str, shape: &Shape, dtype: DType, device: &Device) -> Result<Tensor> {
        let view = self.st.tensor(name).map_err(|_| Error::checkpoint(self.path, format!("tensor `{name}` missing")))?;
        if view.shape() != shape.dims() {
            return Err(Error::checkpoint(self.path, format!("tensor `{name}` has shape {:?}, the config needs {:?}", view.shape(), shape.dims())));
        }
        let t = view.load(device).map_err(|e| st_err(self.path, format!("tensor `{name}`: {e}")))?;
        if !matches!(t.dtype(), DType::F16 | DType::BF16 | DType::F32 | DType::F64) {
            return Err(Error::checkpoint(self.path, format!("tensor `{name}` has dtype {:?}", t.dtype())));
        }
        Ok(t.to_dtype(dtype)?)
    }

    /// Fails if the file holds a tensor outside `expected`.
    fn only(&self, expected: &std::collections::HashSet<String>) -> Result<()> {
        let mut unknown: Vec<String> = self.st.names().into_iter().filter(|n| !expected.contains(*n)).map(String::from).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort();
        Err(Error::checkpoint(self.path, format!("unknown tensor(s): {}", unknown.join(", "))))
    }
}

impl TensorSource for Tensors<'_> {
    fn tensor(&self, name: &str, shape: &Shape, dtype: DType, device: &Device) -> Result<Option<Tensor>> {
        if self.left_out.iter().any(|p| name.starts_with(p)) {
            return Ok(None);
        }
        self.required(name, shape, dtype, device).map(Some)
    }

    fn names(&self) -> Vec<String> {
        self.st.names().into_iter().filter(|n| !self.left_out.iter().any(|p| n.starts_with(p))).map(String::from).collect()
    }

    fn error(&self, reason: String) -> Error {
        Error::checkpoint(self.path, reason)
    }
}

/// Tensor names of the classification head (replaced, not loaded, by [`Session::for_classification`]).
pub const CLASSIFIER_PREFIX: &str = "heads.classifier.";
/// Tensor names of the caption decoder (replaced, not loaded, by [`Session::for_captioning`]).
pub const DECODER_PREFIX: &str = "decoder.";

impl Session {
    /// A classifier initialised from a checkpoint: every encoder and pre-training-head tensor is
    /// loaded from `dir`; the classification head (`num_labels` classes, read through `pooling`)
    /// is freshly initialised from `opts.seed` (a head or caption decoder already in the checkpoint
    /// is dropped). The optimizer starts at step 0. A checkpoint of another architecture is a
    /// `Checkpoint` error.
    pub fn for_classification(dir: impl AsRef<Path>, num_labels: usize, pooling: ClassifierPooling, opts: CreateOptions) -> Result<Self> {
        if num_labels < 2 {
            return Err(Error::config("num_labels", format!("a classifier needs at least 2 classes, got {num_labels}")));
        }
        if pooling == ClassifierPooling::Mask {
            return Err(Error::config("classifier_pooling", "a mask-pooled classifier reads class words: use for_prompt_classification"));
        }
        Self::with_new_head(dir.as_ref(), opts, |config| {
            config.num_labels = num_labels;
            config.classifier_pooling = pooling;
        })
    }

    /// A prompt-based classifier from a checkpoint (`ClassifierPooling::Mask`): everything loaded
    /// from `dir`, no new tensor — class `c` is scored by the masked-language-model head's logit of
    /// word piece `words[c]` at the last `[MASK]` of the text. The optimizer starts at step 0.
    pub fn for_prompt_classification(dir: impl AsRef<Path>, words: Vec<u32>, opts: CreateOptions) -> Result<Self> {
        if words.len() < 2 {
            return Err(Error::config("num_labels", format!("a classifier needs at least 2 classes, got {}", words.len())));
        }
        Self::with_new_head(dir.as_ref(), opts, |config| {
            config.num_labels = words.len();
            config.classifier_pooling = ClassifierPooling::Mask;
            config.classifier_words = words;
        })
    }

    /// A captioner initialised from a checkpoint: the encoder (and pre-training heads) loaded from
    /// `dir`, a new caption decoder of `decoder_layers` layers (label smoothing `label_smoothing`)
    /// initialised from `opts.seed`; a classification head or decoder in the checkpoint is dropped.
    /// The optimizer starts at step 0.
    pub fn for_captioning(dir: impl AsRef<Path>, decoder_layers: usize, label_smoothing: f64, opts: CreateOptions) -> Result<Self> {
        if decoder_layers == 0 {
            return Err(Error::config("decoder_layers", "a captioner needs at least one decoder layer"));
        }
        Self::with_new_head(dir.as_ref(), opts, |config| {
            config.decoder_layers = decoder_layers;
            config.label_smoothing = label_smoothing;
        })
    }

    /// A checkpoint's weights for fine-tuning without a task head (e.g. multiple choice, which
    /// trains the matching head): the encoder and pre-training heads loaded from `dir`, a
    /// classification head or caption decoder in the checkpoint dropped, and — unlike `load` — a
    /// fresh optimizer at step 0 seeded by `opts.seed`.
    pub fn for_fine_tuning(dir: impl AsRef<Path>, opts: CreateOptions) -> Result<Self> {
        Self::with_new_head(dir.as_ref(), opts, |_| {})
    }

    /// The checkpoint's encoder with the task head `set_head` configures, freshly initialised: it
    /// gets the values a fresh model of the new config and seed would have (its place in the
    /// initialiser's stream), the rest is the checkpoint's.
    fn with_new_head(dir: &Path, opts: CreateOptions, set_head: impl FnOnce(&mut VideoBertConfig)) -> Result<Self> {
        let mut config = read_config(dir)?;
        config.num_labels = 0;
        config.classifier_pooling = ClassifierPooling::Cls;
        config.classifier_words.clear();
        config.decoder_layers = 0;
        set_head(&mut config);
        opts.optimizer.validate()?;
        let model_path = dir.join(MODEL_FILE);
        let bytes = read_optional(&model_path)?.ok_or_else(|| Error::checkpoint(&model_path, "file missing"))?;
        let (st, _) = parse(&model_path, &bytes)?;
        let source = Tensors { path: &model_path, st: &st, left_out: &[CLASSIFIER_PREFIX, DECODER_PREFIX] };
        let weights = Weights::from_source(config, &source, opts.seed, opts.dtype, &opts.device)?;
        let optimizer = AdamW::new(opts.optimizer, weights.params())?;
        Session::from_parts(weights, optimizer, opts.seed, opts.num_threads)
    }
}
