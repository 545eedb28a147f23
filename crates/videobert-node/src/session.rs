//! The model (videobert_core::session, train, infer, generate): `NativeVideoBert` — created, loaded,
//! trained, evaluated, read, saved and disposed — with its option and result structs.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use videobert_core as vb;

use crate::errors::{coded, to_napi_error, ErrorCode};
use crate::threads::spawn_promise;

/// Options for `createModel` / `loadModel`.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct NativeCreateOptions {
    /// Seed for initialisation and masking (an integer in [0, 2^53)). Ignored by `loadModel` when the
    /// checkpoint has optimizer state (the saved seed is used). @default 0
    pub seed: Option<f64>,
    /// Threads for tensor math; by default candle's choice (physical cores, or `RAYON_NUM_THREADS`).
    pub num_threads: Option<u32>,
    /// Parameter dtype on CPU: "f32" or "f64". @default "f32"
    pub dtype: Option<String>,
    /// Where the model computes: "cpu", "cuda" (= "cuda:0") or "cuda:N". CUDA needs the CUDA
    /// build of the addon (`cudaBuilt()`); otherwise a `DeviceUnavailable` error. @default "cpu"
    pub device: Option<String>,
    /// AdamW β1. @default 0.9
    pub beta1: Option<f64>,
    /// AdamW β2. @default 0.999
    pub beta2: Option<f64>,
    /// AdamW ε. @default 1e-8
    pub eps: Option<f64>,
    /// Decoupled weight decay (not applied to biases and norms). @default 0.01
    pub weight_decay: Option<f64>,
}

fn create_options(o: Option<NativeCreateOptions>) -> vb::Result<vb::CreateOptions> {
    let o = o.unwrap_or_default();
    let d = vb::CreateOptions::default();
    let seed = match o.seed {
        None => d.seed,
        Some(s) if s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s < 9_007_199_254_740_992.0 => s as u64,
        Some(s) => return Err(vb::Error::config("seed", format!("must be an integer in [0, 2^53), got {s}"))),
    };
    let dtype = match o.dtype.as_deref() {
        None | Some("f32") => vb::DType::F32,
        Some("f64") => vb::DType::F64,
        Some(other) => return Err(vb::Error::config("dtype", format!("must be \"f32\" or \"f64\", got {other:?}"))),
    };
    let opt = vb::AdamWConfig {
        beta1: o.beta1.unwrap_or(d.optimizer.beta1),
        beta2: o.beta2.unwrap_or(d.optimizer.beta2),
        eps: o.eps.unwrap_or(d.optimizer.eps),
        weight_decay: o.weight_decay.unwrap_or(d.optimizer.weight_decay),
    };
    let device = vb::device::parse(o.device.as_deref().unwrap_or("cpu"))?;
    Ok(vb::CreateOptions { seed, dtype, device, optimizer: opt, num_threads: o.num_threads.map(|n| n as usize) })
}

/// One micro-batch, `Batch` in the TS API. Shapes (row-major) come from the model config:
/// L = maxTextLen, T = maxSegments, R = numRegions, F = featureDim. `checkBatch` checks one
/// against a config.
#[napi(object)]
pub struct NativeBatch {
    /// B, the number of samples.
    pub batch_size: u32,
    /// `[B, L]` caption token ids, without [CLS]/[SEP] (the model adds them).
    pub text_ids: Uint32Array,
    /// `[B, L]` 1 = token, 0 = padding. @default textIds != padTokenId
    pub text_mask: Option<Uint8Array>,
    /// `[B, T, R, F]` region features (`[B, T, F]` when R = 0). Needed unless videoInput =
    /// 'visual_words' and R = 0.
    pub video_features: Option<Float32Array>,
    /// `[B, T]` visual-word ids; needed when videoInput = 'visual_words'.
    pub visual_word_ids: Option<Uint32Array>,
    /// `[B, T]` 1 = segment, 0 = padding. @default all 1
    pub video_mask: Option<Uint8Array>,
    /// `[B]` video-text matching labels: 1 = the caption belongs to the video, 0 = a negative.
    /// @default all 1
    pub vtm_labels: Option<Uint8Array>,
    /// `[B]` class ids < `numLabels` for a model with a classification head. A batch with labels
    /// trains (and evaluates) the classification head on the unmasked inputs instead of the
    /// pre-training losses.
    pub labels: Option<Uint32Array>,
    /// `[B, L]` reference captions for a model with a caption decoder (`decoderLayers > 0`): each
    /// row's word pieces, then `padTokenId` (no `[CLS]`/`[SEP]`, at least one piece). A batch with
    /// them trains (and evaluates) the decoder with teacher forcing; the encoder reads `textIds`
    /// (usually empty).
    pub caption_ids: Option<Uint32Array>,
    /// Multiple choice: the batch is `B / numChoices` questions of `numChoices` consecutive rows —
    /// the video with the question and one candidate answer as the text — and `labels`
    /// (`[B / numChoices]`) the index of the right row of each. A model without a task head then
    /// trains (and evaluates) the cross-entropy of a softmax over each question's matching scores.
    pub num_choices: Option<u32>,
}

impl NativeBatch {
    fn to_core(&self) -> vb::Batch {
        vb::Batch {
            batch_size: self.batch_size as usize,
            text_ids: self.text_ids.to_vec(),
            text_mask: self.text_mask.as_ref().map(|a| a.to_vec()),
            video_features: self.video_features.as_ref().map(|a| a.to_vec()),
            visual_word_ids: self.visual_word_ids.as_ref().map(|a| a.to_vec()),
            video_mask: self.video_mask.as_ref().map(|a| a.to_vec()),
            vtm_labels: self.vtm_labels.as_ref().map(|a| a.to_vec()),
            labels: self.labels.as_ref().map(|a| a.to_vec()),
            caption_ids: self.caption_ids.as_ref().map(|a| a.to_vec()),
            num_choices: self.num_choices.map(|k| k as usize),
        }
    }
}

#[napi(object)]
pub struct NativeStepOptions {
    /// Learning rate for this step (the caller owns the schedule); required (the core checks it).
    pub lr: Option<f64>,
    /// Clip the global gradient norm to this value; 0 disables clipping. @default 1.0
    pub max_grad_norm: Option<f64>,
    /// Layer-wise learning-rate decay in (0, 1]: encoder layer i of L learns at lr · decay^(L − i), the embeddings at decay^(L + 1), the task head at lr. @default 1
    pub layer_decay: Option<f64>,
    /// Multiplier in [0, 1] on the learning rate of everything but the task head; 0 freezes the encoder. @default 1
    pub encoder_lr_scale: Option<f64>,
}

#[napi(object)]
pub struct NativeEvaluateOptions {
    /// Seed of the evaluation masks. @default the model's seed
    pub mask_seed: Option<f64>,
}

/// Gradient norm of each weighted pre-training loss on one batch.
#[napi(object)]
pub struct LossGradNorms {
    pub mlm: f64,
    pub video: f64,
    pub vtm: f64,
}

/// Losses of one step (means over the micro-batches); `gradNorm` is before clipping, 0 for `evaluate`.
#[napi(object)]
pub struct StepResult {
    pub loss: f64,
    pub mlm_loss: f64,
    pub video_loss: f64,
    pub vtm_loss: f64,
    /// Classification cross-entropy (labelled batches; 0 otherwise).
    pub classify_loss: f64,
    /// Teacher-forced cross-entropy per caption word piece, without label smoothing (captioned batches; 0 otherwise).
    pub caption_loss: f64,
    /// Fraction of labelled samples whose most probable class is the label, or of caption word
    /// pieces predicted right under teacher forcing (0 for pre-training batches).
    pub accuracy: f64,
    /// Fraction of masked caption tokens predicted right, top-1 (pre-training batches).
    pub mlm_accuracy: f64,
    /// Global gradient norm before clipping, over the tensors that learn (frozen ones left out; 0 for `evaluate`).
    pub grad_norm: f64,
}

impl From<vb::StepMetrics> for StepResult {
    fn from(m: vb::StepMetrics) -> Self {
        Self {
            loss: m.loss,
            mlm_loss: m.mlm_loss,
            video_loss: m.video_loss,
            vtm_loss: m.vtm_loss,
            classify_loss: m.classify_loss,
            caption_loss: m.caption_loss,
            accuracy: m.accuracy,
            mlm_accuracy: m.mlm_accuracy,
            grad_norm: m.grad_norm,
        }
    }
}

/// A VideoBERT model with its optimizer state. Made by `createModel` / `loadModel`.
#[napi]
pub struct NativeVideoBert {
    /// `None` once disposed: the weights, optimizer state and thread pool are dropped then.
    inner: Arc<Mutex<Option<vb::Session>>>,
    config_json: String,
    num_parameters: f64,
    device: String,
    step: Arc<std::sync::atomic::AtomicU64>,
    /// Calls made and not finished, and whether `dispose()` was called: every call made before
    /// `dispose()` finishes first, every call after it fails.
    calls: Arc<Calls>,
}

impl NativeVideoBert {
    /// The model for a call made now: `Disposed` once `dispose()` was called.
    fn live(&self) -> Result<Call> {
        let mut state = self.calls.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.disposed {
            return Err(model_disposed());
        }
        state.running += 1;
        Ok(Call { model: self.inner.clone(), calls: self.calls.clone() })
    }

    fn new(model: vb::Session) -> Self {
        Self {
            config_json: model.config.to_json(),
            num_parameters: model.num_parameters() as f64,
            device: vb::device::name(&model.device),
            step: Arc::new(std::sync::atomic::AtomicU64::new(model.step())),
            inner: Arc::new(Mutex::new(Some(model))),
            calls: Arc::new(Calls::default()),
        }
    }
}

#[derive(Default)]
struct CallState {
    running: usize,
    disposed: bool,
}

/// The calls on one model that are running, and whether it was disposed.
#[derive(Default)]
struct Calls {
    state: Mutex<CallState>,
    idle: std::sync::Condvar,
}

/// One call on a live model, from the moment it was made (on the JS thread) until its work ends;
/// `dispose()` waits for every one.
struct Call {
    model: Arc<Mutex<Option<vb::Session>>>,
    calls: Arc<Calls>,
}

impl std::ops::Deref for Call {
    type Target = Mutex<Option<vb::Session>>;
    fn deref(&self) -> &Self::Target {
        &self.model
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let mut state = self.calls.state.lock().unwrap_or_else(|p| p.into_inner());
        state.running -= 1;
        self.calls.idle.notify_all();
    }
}

fn model_disposed() -> Error {
    coded(ErrorCode::Disposed, "the model was disposed (dispose()): load or create it again to use it")
}

/// A locked, live (not disposed) model.
struct Live<'a>(std::sync::MutexGuard<'a, Option<vb::Session>>);

impl std::ops::Deref for Live<'_> {
    type Target = vb::Session;
    fn deref(&self) -> &vb::Session {
        self.0.as_ref().expect("checked live in lock()")
    }
}

impl std::ops::DerefMut for Live<'_> {
    fn deref_mut(&mut self) -> &mut vb::Session {
        self.0.as_mut().expect("checked live in lock()")
    }
}

fn lock(m: &Mutex<Option<vb::Session>>) -> Result<Live<'_>> {
    let guard = m.lock().map_err(|_| coded(ErrorCode::Internal, "the model is unusable after a panic in an earlier call"))?;
    if guard.is_none() {
        return Err(model_disposed());
    }
    Ok(Live(guard))
}

fn integer_seed(field: &str, s: f64) -> Result<u64> {
    if s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s < 9_007_199_254_740_992.0 {
        Ok(s as u64)
    } else {
        Err(coded(ErrorCode::InvalidInput, format!("invalid input `{field}`: must be an integer in [0, 2^53), got {s}")))
    }
}

#[napi]
impl NativeVideoBert {
    /// The model config as JSON (snake_case, as in `config.json`).
    #[napi(getter)]
    pub fn config_json(&self) -> String {
        self.config_json.clone()
    }

    /// Number of trainable scalars.
    #[napi(getter)]
    pub fn num_parameters(&self) -> f64 {
        self.num_parameters
    }

    /// The device the model computes on ("cpu", "cuda:N").
    #[napi(getter)]
    pub fn device(&self) -> String {
        self.device.clone()
    }

    /// Optimizer updates applied so far.
    #[napi(getter)]
    pub fn step(&self) -> f64 {
        self.step.load(std::sync::atomic::Ordering::SeqCst) as f64
    }

    /// Forward + backward over the micro-batches (gradient accumulation), clip, one AdamW update.
    #[napi(ts_return_type = "Promise<StepResult>")]
    pub fn train_step<'e>(&self, env: &'e Env, batches: Vec<NativeBatch>, options: NativeStepOptions) -> Result<Object<'e>> {
        let batches: Vec<vb::Batch> = batches.iter().map(NativeBatch::to_core).collect();
        // Defaults and checks are the core's (`StepOptions::default`, `train_step`); a missing lr is NaN there.
        let d = vb::StepOptions::default();
        let layer_rates = vb::LayerRates {
            layer_decay: options.layer_decay.unwrap_or(d.layer_rates.layer_decay),
            encoder_scale: options.encoder_lr_scale.unwrap_or(d.layer_rates.encoder_scale),
        };
        let opts = vb::StepOptions { lr: options.lr.unwrap_or(f64::NAN), max_grad_norm: options.max_grad_norm.unwrap_or(d.max_grad_norm), layer_rates };
        let (inner, step) = (self.live()?, self.step.clone());
        spawn_promise(env, move || {
            let mut model = lock(&inner)?;
            let out = model.train_step(&batches, opts).map_err(to_napi_error)?;
            step.store(model.step(), std::sync::atomic::Ordering::SeqCst);
            Ok(StepResult::from(out))
        })
    }

    /// Train data-parallel over the process's group (`initDistributed`) from the next step on: a
    /// collective call that checks every rank holds the same seed, step and parameters. Every
    /// `checkEvery` steps (0 = never) the ranks compare their parameters' fingerprints.
    /// @default checkEvery 100
    #[napi]
    pub fn join_data_parallel(&self, check_every: Option<u32>) -> Result<()> {
        let call = self.live()?;
        let mut model = lock(&call)?;
        crate::sync(|| {
            let dp = vb::DataParallel {
                check_every: check_every.map_or(vb::distributed::DEFAULT_CHECK_EVERY, u64::from),
                ..vb::DataParallel::new(crate::distributed::group()?)
            };
            model.join_data_parallel(dp)
        })
    }

    /// Losses on the micro-batches without an update (deterministic masks).
    #[napi(ts_return_type = "Promise<StepResult>")]
    pub fn evaluate<'e>(&self, env: &'e Env, batches: Vec<NativeBatch>, options: Option<NativeEvaluateOptions>) -> Result<Object<'e>> {
        let batches: Vec<vb::Batch> = batches.iter().map(NativeBatch::to_core).collect();
        let mask_seed = match options.and_then(|o| o.mask_seed) {
            Some(s) => Some(integer_seed("maskSeed", s)?),
            None => None,
        };
        let inner = self.live()?;
        spawn_promise(env, move || {
            let mut model = lock(&inner)?;
            Ok(StepResult::from(model.evaluate(&batches, mask_seed).map_err(to_napi_error)?))
        })
    }

    /// Free the weights, optimizer state and thread pool now instead of when the GC collects this
    /// object. Calls already running finish first; later calls fail with `Disposed`. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn dispose<'e>(&self, env: &'e Env) -> Result<Object<'e>> {
        self.calls.state.lock().unwrap_or_else(|p| p.into_inner()).disposed = true;
        let (inner, calls) = (self.inner.clone(), self.calls.clone());
        spawn_promise(env, move || {
            let mut state = calls.state.lock().unwrap_or_else(|p| p.into_inner());
            while state.running > 0 {
                state = calls.idle.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            drop(state);
            // A poisoned lock still holds the model: free it all the same.
            let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
            drop(guard.take());
            videobert_common::memory::release_free_memory();
            Ok(())
        })
    }

    /// Whether `dispose()` has freed this model.
    #[napi(getter)]
    pub fn disposed(&self) -> bool {
        self.calls.state.lock().map(|s| s.disposed).unwrap_or(true)
    }

    /// Write `model.safetensors`, `optimizer.safetensors` and `config.json` into `dir`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save<'e>(&self, env: &'e Env, dir: String) -> Result<Object<'e>> {
        let inner = self.live()?;
        spawn_promise(env, move || lock(&inner)?.save(&dir).map_err(to_napi_error))
    }
}

/// Create a freshly initialised model from a config JSON (snake_case; missing fields take the
/// `small` preset's values).
#[napi(ts_return_type = "Promise<NativeVideoBert>")]
pub fn create_model(env: &Env, config_json: String, options: Option<NativeCreateOptions>) -> Result<Object<'_>> {
    let config = vb::VideoBertConfig::from_json(&config_json).map_err(to_napi_error)?;
    let opts = create_options(options).map_err(to_napi_error)?;
    spawn_promise(env, move || Ok(NativeVideoBert::new(vb::Session::new(config, opts).map_err(to_napi_error)?)))
}

/// Load a checkpoint directory written by `save`.
#[napi(ts_return_type = "Promise<NativeVideoBert>")]
pub fn load_model(env: &Env, dir: String, options: Option<NativeCreateOptions>) -> Result<Object<'_>> {
    let opts = create_options(options).map_err(to_napi_error)?;
    spawn_promise(env, move || Ok(NativeVideoBert::new(vb::Session::load(&dir, opts).map_err(to_napi_error)?)))
}

/// A classifier from a pre-trained checkpoint: the encoder (and pre-training heads) loaded from
/// `dir`, a new classification head of `numLabels` classes reading `pooling` ("cls" | "segments" |
/// "text"), initialised from `options.seed` — or, with pooling "mask", no new head: class c is the
/// masked-language-model logit of word piece `words[c]` at the text's last [MASK] (`words` required,
/// `numLabels` = its length). The optimizer starts at step 0.
#[napi(ts_return_type = "Promise<NativeVideoBert>")]
pub fn load_for_classification(
    env: &Env,
    dir: String,
    num_labels: u32,
    pooling: String,
    options: Option<NativeCreateOptions>,
    words: Option<Vec<u32>>,
) -> Result<Object<'_>> {
    let opts = create_options(options).map_err(to_napi_error)?;
    let pooling = match pooling.as_str() {
        "cls" => vb::ClassifierPooling::Cls,
        "segments" => vb::ClassifierPooling::Segments,
        "text" => vb::ClassifierPooling::Text,
        "mask" => vb::ClassifierPooling::Mask,
        other => return Err(to_napi_error(vb::Error::config("pooling", format!("must be \"cls\", \"segments\", \"text\" or \"mask\", got {other:?}")))),
    };
    let words = match (pooling, words) {
        (vb::ClassifierPooling::Mask, Some(w)) if w.len() == num_labels as usize => Some(w),
        (vb::ClassifierPooling::Mask, _) => {
            return Err(to_napi_error(vb::Error::config("words", format!("pooling \"mask\" needs one class word per class ({num_labels})"))))
        }
        (_, Some(_)) => return Err(to_napi_error(vb::Error::config("words", "class words are for pooling \"mask\""))),
        (_, None) => None,
    };
    spawn_promise(env, move || {
        let model = match words {
            Some(words) => vb::Session::for_prompt_classification(&dir, words, opts),
            None => vb::Session::for_classification(&dir, num_labels as usize, pooling, opts),
        }
        .map_err(to_napi_error)?;
        Ok(NativeVideoBert::new(model))
    })
}

/// A captioner from a pre-trained checkpoint: the encoder (and pre-training heads) loaded from
/// `dir`, a new caption decoder of `decoderLayers` layers trained with label smoothing
/// `labelSmoothing`, initialised from `options.seed`; the optimizer starts at step 0.
#[napi(ts_return_type = "Promise<NativeVideoBert>")]
pub fn load_for_captioning(env: &Env, dir: String, decoder_layers: u32, label_smoothing: f64, options: Option<NativeCreateOptions>) -> Result<Object<'_>> {
    let opts = create_options(options).map_err(to_napi_error)?;
    spawn_promise(env, move || {
        let model = vb::Session::for_captioning(&dir, decoder_layers as usize, label_smoothing, opts).map_err(to_napi_error)?;
        Ok(NativeVideoBert::new(model))
    })
}

/// A checkpoint's weights without a task head (a classification head or caption decoder in it is
/// dropped) and a fresh optimizer at step 0, for fine-tuning the matching head (multiple choice).
#[napi(ts_return_type = "Promise<NativeVideoBert>")]
pub fn load_for_fine_tuning(env: &Env, dir: String, options: Option<NativeCreateOptions>) -> Result<Object<'_>> {
    let opts = create_options(options).map_err(to_napi_error)?;
    spawn_promise(env, move || Ok(NativeVideoBert::new(vb::Session::for_fine_tuning(&dir, opts).map_err(to_napi_error)?)))
}

/// The train step's defaults, from the core (`StepOptions::default`).
#[napi(object)]
pub struct StepDefaults {
    /// The global gradient norm a step clips to.
    pub max_grad_norm: f64,
}

/// The train step's defaults (the Trainer's `maxGradNorm` default reads it).
#[napi]
pub fn step_defaults() -> StepDefaults {
    StepDefaults { max_grad_norm: vb::StepOptions::default().max_grad_norm }
}

/// How the caption decoder searches (see `generate` in the core crate).
#[napi(object)]
pub struct NativeGenerateOptions {
    /// "greedy" or "beam".
    pub strategy: String,
    /// Live hypotheses per sample (beam).
    pub beam_size: u32,
    pub min_length: u32,
    pub max_length: u32,
    /// α of `log P / len^α` ranking finished beams.
    pub length_penalty: f64,
    /// No n-gram of this size twice (0 = off).
    pub no_repeat_ngram: u32,
    /// Ids never written, besides [PAD], [CLS] and [MASK].
    pub banned: Option<Uint32Array>,
}

impl NativeGenerateOptions {
    fn to_core(&self) -> Result<vb::GenerateOptions> {
        let search = match self.strategy.as_str() {
            "greedy" => vb::Search::Greedy,
            "beam" => vb::Search::Beam(self.beam_size as usize),
            other => return Err(coded(ErrorCode::InvalidInput, format!("invalid input `strategy`: \"greedy\" or \"beam\", got {other:?}"))),
        };
        Ok(vb::GenerateOptions {
            search,
            min_length: self.min_length as usize,
            max_length: self.max_length as usize,
            length_penalty: self.length_penalty,
            no_repeat_ngram: self.no_repeat_ngram as usize,
            banned: self.banned.as_ref().map(|a| a.to_vec()).unwrap_or_default(),
        })
    }
}

/// One generated caption.
#[napi(object)]
pub struct GeneratedCaption {
    /// Word pieces, without [CLS] / [SEP].
    pub ids: Uint32Array,
    /// log P(ids, [SEP] | video).
    pub log_prob: f64,
    /// logProb / (ids.length + 1)^lengthPenalty.
    pub score: f64,
}

/// Top-k words at one `[MASK]` position.
#[napi(object)]
pub struct MaskPrediction {
    /// Sample index in the batch.
    pub sample: u32,
    /// Position in the sample's text (0-based, without `[CLS]`).
    pub position: u32,
    pub ids: Uint32Array,
    pub probs: Float32Array,
}

/// Encoder outputs of a batch (row-major; H = hiddenSize, T = maxSegments).
#[napi(object)]
pub struct NativeEmbeddings {
    /// `[B, H]` at `[CLS]`.
    pub cls: Float32Array,
    /// `[B, H]` mean over the valid text tokens (zeros when the text is empty).
    pub text: Float32Array,
    /// `[B, H]` mean over the valid segment tokens (zeros when there is none).
    pub video: Float32Array,
    /// `[B, T, H]` every segment token.
    pub segments: Float32Array,
}

#[napi]
impl NativeVideoBert {
    /// Encoder outputs (nothing masked): `[CLS]`, mean text token, mean segment token, segments.
    #[napi(ts_return_type = "Promise<NativeEmbeddings>")]
    pub fn embed<'e>(&self, env: &'e Env, batch: NativeBatch) -> Result<Object<'e>> {
        let batch = batch.to_core();
        let inner = self.live()?;
        spawn_promise(env, move || {
            let e = lock(&inner)?.embed(&batch).map_err(to_napi_error)?;
            Ok(NativeEmbeddings {
                cls: Float32Array::new(e.cls),
                text: Float32Array::new(e.text),
                video: Float32Array::new(e.video),
                segments: Float32Array::new(e.segments),
            })
        })
    }

    /// Class probabilities `[B, numLabels]` (row-major) from the classification head.
    #[napi(ts_return_type = "Promise<Float32Array>")]
    pub fn classify<'e>(&self, env: &'e Env, batch: NativeBatch) -> Result<Object<'e>> {
        let batch = batch.to_core();
        let inner = self.live()?;
        spawn_promise(env, move || Ok(Float32Array::new(lock(&inner)?.classify(&batch).map_err(to_napi_error)?)))
    }

    /// Probability that each sample's text belongs to its video (VTM head; nothing masked).
    #[napi(ts_return_type = "Promise<Float32Array>")]
    pub fn match_scores<'e>(&self, env: &'e Env, batch: NativeBatch) -> Result<Object<'e>> {
        let batch = batch.to_core();
        let inner = self.live()?;
        spawn_promise(env, move || Ok(Float32Array::new(lock(&inner)?.match_scores(&batch).map_err(to_napi_error)?)))
    }

    /// The matching head's log-odds that each sample's text belongs to its video (logit(match) −
    /// logit(no match)); multiple-choice answering compares them across a question's candidates.
    #[napi(ts_return_type = "Promise<Float32Array>")]
    pub fn match_logits<'e>(&self, env: &'e Env, batch: NativeBatch) -> Result<Object<'e>> {
        let batch = batch.to_core();
        let inner = self.live()?;
        spawn_promise(env, move || Ok(Float32Array::new(lock(&inner)?.match_logits(&batch).map_err(to_napi_error)?)))
    }

    /// `log P(id | video, text)` of `perMask` given ids at every `[MASK]` token, in batch order
    /// (`ids[m·perMask + j]`; the result has the same layout): only these numbers cross the
    /// boundary, not the vocabulary distribution.
    #[napi(ts_return_type = "Promise<Float32Array>")]
    pub fn mask_log_probs<'e>(&self, env: &'e Env, batch: NativeBatch, ids: Uint32Array, per_mask: u32) -> Result<Object<'e>> {
        let batch = batch.to_core();
        let ids = ids.to_vec();
        let inner = self.live()?;
        spawn_promise(env, move || Ok(Float32Array::new(lock(&inner)?.mask_log_probs(&batch, &ids, per_mask as usize).map_err(to_napi_error)?)))
    }

    /// Each pre-training loss's share of the gradient on one batch: the global norm of the gradient
    /// of each weighted term, masked as the next step would mask it (three backward passes; the
    /// Trainer's health report calls it now and then).
    #[napi(ts_return_type = "Promise<LossGradNorms>")]
    pub fn loss_grad_norms<'e>(&self, env: &'e Env, batch: NativeBatch) -> Result<Object<'e>> {
        let batch = batch.to_core();
        let inner = self.live()?;
        spawn_promise(env, move || {
            let n = lock(&inner)?.loss_grad_norms(&batch).map_err(to_napi_error)?;
            Ok(LossGradNorms { mlm: n.mlm, video: n.video, vtm: n.vtm })
        })
    }

    /// One caption per sample from the caption decoder (greedy or beam search).
    #[napi(ts_return_type = "Promise<GeneratedCaption[]>")]
    pub fn generate_captions<'e>(&self, env: &'e Env, batch: NativeBatch, options: NativeGenerateOptions) -> Result<Object<'e>> {
        let batch = batch.to_core();
        let opts = options.to_core()?;
        let inner = self.live()?;
        spawn_promise(env, move || {
            let out = lock(&inner)?.generate(&batch, &opts).map_err(to_napi_error)?;
            Ok(out.into_iter().map(|g| GeneratedCaption { ids: Uint32Array::new(g.ids), log_prob: g.log_prob, score: g.score }).collect::<Vec<_>>())
        })
    }

    /// The `topK` most probable words at every `[MASK]` token of the texts (MLM head).
    #[napi(ts_return_type = "Promise<MaskPrediction[]>")]
    pub fn predict_masked<'e>(&self, env: &'e Env, batch: NativeBatch, top_k: u32) -> Result<Object<'e>> {
        let batch = batch.to_core();
        let inner = self.live()?;
        spawn_promise(env, move || {
            let preds = lock(&inner)?.predict_masked(&batch, top_k as usize).map_err(to_napi_error)?;
            Ok(preds
                .into_iter()
                .map(|p| MaskPrediction {
                    sample: p.sample as u32,
                    position: p.position as u32,
                    ids: Uint32Array::new(p.ids),
                    probs: Float32Array::new(p.probs),
                })
                .collect::<Vec<_>>())
        })
    }
}
