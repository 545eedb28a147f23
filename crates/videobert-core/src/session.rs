//! `VideoBert`: a model with its parameters, optimizer state and step counter — the unit the
//! binding holds, trains, evaluates, saves and loads.
//!
//! One `train_step` = for each micro-batch: seeded masking, forward, backward (gradients summed,
//! each micro-batch weighted 1/n); then global-norm clipping and one AdamW update. Masking draws
//! from `Rng::derive(seed, [step, micro])`, so a run depends only on (seed, data, lr schedule) and a
//! resumed run repeats an uninterrupted one bit for bit.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};

use crate::batch::{Batch, MaskedBatch};
use crate::config::VideoBertConfig;
use crate::error::{Error, Result};
use crate::model::{Losses, VideoBertModel};
use crate::optim::{AdamW, AdamWConfig};
use crate::rng::Rng;

#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Seeds initialisation and masking.
    pub seed: u64,
    pub dtype: DType,
    pub device: Device,
    pub optimizer: AdamWConfig,
    /// Threads for tensor math; `None` = candle's default (physical cores / `RAYON_NUM_THREADS`).
    pub num_threads: Option<usize>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        Self { seed: 0, dtype: DType::F32, device: Device::Cpu, optimizer: AdamWConfig::default(), num_threads: None }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct StepOptions {
    pub lr: f64,
    /// Clip the global gradient norm to this value; 0 disables clipping.
    pub max_grad_norm: f64,
}

impl Default for StepOptions {
    fn default() -> Self {
        Self { lr: 1e-4, max_grad_norm: 1.0 }
    }
}

/// Scalars of one step (means over micro-batches). `grad_norm` is before clipping; 0 in `evaluate`.
/// `classify_loss` and `accuracy` come from labelled (classification) batches, 0 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepMetrics {
    pub loss: f64,
    pub mlm_loss: f64,
    pub video_loss: f64,
    pub vtm_loss: f64,
    pub classify_loss: f64,
    pub accuracy: f64,
    /// Fraction of the masked text tokens predicted right (top-1), pre-training batches.
    pub mlm_accuracy: f64,
    pub grad_norm: f64,
}

pub struct VideoBert {
    pub config: VideoBertConfig,
    pub device: Device,
    pub dtype: DType,
    pub seed: u64,
    pub(crate) model: VideoBertModel,
    /// Every trainable tensor, sorted by name: the order of checkpoints, optimizer state and sums.
    pub(crate) params: Vec<(String, Var)>,
    pub(crate) optimizer: AdamW,
    pool: Option<rayon::ThreadPool>,
}

impl VideoBert {
    /// A freshly initialised model: weights ~ N(0, initializer_range), biases 0, norm gains 1.
    pub fn new(config: VideoBertConfig, opts: CreateOptions) -> Result<Self> {
        config.validate()?;
        opts.optimizer.validate()?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, opts.dtype, &opts.device);
        let model = VideoBertModel::new(&config, vb)?;
        let mut params: Vec<(String, Var)> =
            varmap.data().lock().expect("varmap lock").iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rng = Rng::derive(opts.seed, &[0x1417]);
        for (name, var) in &params {
            if name.ends_with("bias") || name.contains("norm.") {
                continue; // keep the constant init (0 / 1)
            }
            let n = var.elem_count();
            let values: Vec<f64> = (0..n).map(|_| rng.normal() * config.initializer_range).collect();
            let t = Tensor::from_vec(values, var.shape(), &opts.device)?.to_dtype(opts.dtype)?;
            var.set(&t)?;
        }
        let optimizer = AdamW::new(opts.optimizer, &params)?;
        let pool = match opts.num_threads {
            Some(0) => return Err(Error::config("numThreads", "must be > 0")),
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("videobert-{i}"))
                    .build()
                    .map_err(|e| Error::config("numThreads", e.to_string()))?,
            ),
            None => None,
        };
        Ok(Self { config, device: opts.device, dtype: opts.dtype, seed: opts.seed, model, params, optimizer, pool })
    }

    pub fn num_parameters(&self) -> usize {
        self.params.iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Parameters by name, sorted (the checkpoint's tensor names).
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    pub fn model(&self) -> &VideoBertModel {
        &self.model
    }

    /// Optimizer updates applied so far.
    pub fn step(&self) -> u64 {
        self.optimizer.step
    }

    pub fn optimizer(&self) -> &AdamW {
        &self.optimizer
    }

    fn with_pool<T: Send>(&mut self, f: impl FnOnce(&mut Self) -> T + Send) -> T {
        match self.pool.take() {
            Some(pool) => {
                let out = pool.install(|| f(self));
                self.pool = Some(pool);
                out
            }
            None => f(self),
        }
    }

    /// Losses of an already-masked batch (graph attached, for backward).
    pub fn losses(&self, masked: &MaskedBatch) -> Result<Losses> {
        let (inputs, targets) = masked.to_tensors(&self.config, &self.device, self.dtype)?;
        Ok(self.model.losses(&inputs, &targets)?)
    }

    /// Losses and the gradient of `losses.total` for every parameter (zeros where none flows).
    pub fn gradients(&self, masked: &MaskedBatch) -> Result<(Losses, Vec<Tensor>)> {
        let losses = self.losses(masked)?;
        let grads = self.gradients_of(&losses.total)?;
        Ok((losses, grads))
    }

    fn gradients_of(&self, total: &Tensor) -> Result<Vec<Tensor>> {
        let store = total.backward()?;
        self.params
            .iter()
            .map(|(_, v)| match store.get(v.as_tensor()) {
                Some(g) => Ok(g.clone()),
                None => Ok(v.zeros_like()?),
            })
            .collect()
    }

    /// Classification loss and accuracy of a labelled batch (nothing masked).
    fn classification_losses(&self, batch: &Batch) -> Result<(Losses, f64)> {
        let labels = batch.labels.as_ref().expect("called for labelled batches");
        let (inputs, _) = batch.unmasked(&self.config).to_tensors(&self.config, &self.device, self.dtype)?;
        let y = Tensor::new(labels.as_slice(), &self.device)?;
        let (losses, logits) = self.model.classification_losses(&inputs, &y)?;
        let predicted = logits.argmax(1)?.to_vec1::<u32>()?;
        let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
        Ok((losses, correct as f64 / labels.len() as f64))
    }

    /// The losses of one micro-batch: classification when it has labels, else seeded masking and
    /// the pre-training losses.
    fn batch_losses(&self, batch: &Batch, rng: &mut Rng) -> Result<(Losses, f64)> {
        if batch.labels.is_some() {
            self.classification_losses(batch)
        } else {
            Ok((self.losses(&batch.mask(&self.config, rng))?, 0.0))
        }
    }

    /// Forward + backward over the micro-batches, clip, one AdamW update.
    pub fn train_step(&mut self, batches: &[Batch], opts: StepOptions) -> Result<StepMetrics> {
        if batches.is_empty() {
            return Err(Error::input("batches", "at least one micro-batch is required"));
        }
        if !(opts.lr.is_finite() && opts.lr >= 0.0) {
            return Err(Error::input("lr", format!("must be a finite number >= 0, got {}", opts.lr)));
        }
        if !(opts.max_grad_norm.is_finite() && opts.max_grad_norm >= 0.0) {
            return Err(Error::input("maxGradNorm", format!("must be a finite number >= 0, got {}", opts.max_grad_norm)));
        }
        for b in batches {
            b.validate(&self.config)?;
        }
        self.with_pool(|s| s.train_step_inner(batches, opts))
    }

    fn train_step_inner(&mut self, batches: &[Batch], opts: StepOptions) -> Result<StepMetrics> {
        let n = batches.len() as f64;
        let mut sums: Option<Vec<Tensor>> = None;
        let mut metrics = StepMetrics::default();
        for (i, batch) in batches.iter().enumerate() {
            let mut rng = Rng::derive(self.seed, &[self.optimizer.step, i as u64]);
            let (losses, accuracy) = self.batch_losses(batch, &mut rng)?;
            let grads = self.gradients_of(&losses.total)?;
            accumulate(&mut metrics, &losses, accuracy, n)?;
            sums = Some(match sums {
                None => grads,
                Some(acc) => acc.iter().zip(&grads).map(|(a, g)| a + g).collect::<candle_core::Result<_>>()?,
            });
        }
        if !metrics.loss.is_finite() {
            return Err(Error::Numerical(format!("non-finite loss {} at step {}", metrics.loss, self.optimizer.step)));
        }
        let mut grads = sums.expect("at least one micro-batch");
        if n > 1.0 {
            grads = grads.iter().map(|g| g / n).collect::<candle_core::Result<_>>()?;
        }
        let norm = global_norm(&grads)?;
        if !norm.is_finite() {
            return Err(Error::Numerical(format!("non-finite gradient norm at step {}", self.optimizer.step)));
        }
        metrics.grad_norm = norm;
        if opts.max_grad_norm > 0.0 && norm > opts.max_grad_norm {
            let scale = opts.max_grad_norm / (norm + 1e-6);
            grads = grads.iter().map(|g| g * scale).collect::<candle_core::Result<_>>()?;
        }
        self.optimizer.update(&self.params, &grads, opts.lr)?;
        Ok(metrics)
    }

    /// Losses without an update. Masking is seeded by `mask_seed` (default: the model's seed), so
    /// the same batch always gives the same numbers.
    pub fn evaluate(&mut self, batches: &[Batch], mask_seed: Option<u64>) -> Result<StepMetrics> {
        if batches.is_empty() {
            return Err(Error::input("batches", "at least one micro-batch is required"));
        }
        for b in batches {
            b.validate(&self.config)?;
        }
        let seed = mask_seed.unwrap_or(self.seed);
        self.with_pool(|s| {
            let n = batches.len() as f64;
            let mut metrics = StepMetrics::default();
            for (i, batch) in batches.iter().enumerate() {
                let mut rng = Rng::derive(seed, &[u64::MAX, i as u64]);
                let (losses, accuracy) = s.batch_losses(batch, &mut rng)?;
                accumulate(&mut metrics, &losses, accuracy, n)?;
            }
            Ok(metrics)
        })
    }
}

/// Top-k vocabulary predictions at one `[MASK]` position of a sample's text.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskPrediction {
    pub sample: usize,
    /// Index in the sample's text (0-based, excluding `[CLS]`).
    pub position: usize,
    pub ids: Vec<u32>,
    pub probs: Vec<f32>,
}

/// Encoder outputs of a batch (nothing masked), row-major f32, `H = hidden_size`.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// `[B, H]` at `[CLS]` (reads text and video).
    pub cls: Vec<f32>,
    /// `[B, H]` mean over the valid text tokens (zeros when the text is empty).
    pub text: Vec<f32>,
    /// `[B, H]` mean over the valid segment tokens (zeros when there is none).
    pub video: Vec<f32>,
    /// `[B, T, H]` every segment token (padding segments included; see the batch's video mask).
    pub segments: Vec<f32>,
}

impl VideoBert {
    /// Encoder outputs for every sample: `[CLS]`, mean text token, mean segment token, segments.
    /// For a video-only embedding pass an empty text (all padding); for a text-only one, a zero
    /// video mask.
    pub fn embed(&mut self, batch: &Batch) -> Result<Embeddings> {
        batch.validate(&self.config)?;
        self.with_pool(|s| {
            let (inputs, _) = batch.unmasked(&s.config).to_tensors(&s.config, &s.device, s.dtype)?;
            let hidden = s.model.encode(&inputs)?;
            let flat = |t: Tensor| -> Result<Vec<f32>> { Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?) };
            let (t, offset) = (s.config.max_segments, s.config.video_offset());
            Ok(Embeddings {
                cls: flat(hidden.narrow(1, 0, 1)?)?,
                text: flat(VideoBertModel::masked_mean(&hidden, 1, &inputs.text_mask)?)?,
                video: flat(VideoBertModel::masked_mean(&hidden, offset, &inputs.video_mask)?)?,
                segments: flat(hidden.narrow(1, offset, t)?)?,
            })
        })
    }

    /// Class probabilities `[B, C]` from the classification head (nothing masked).
    pub fn classify(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        batch.validate(&self.config)?;
        if self.config.num_labels == 0 {
            return Err(Error::input("model", "the model has no classification head (num_labels = 0)"));
        }
        self.with_pool(|s| {
            let (inputs, _) = batch.unmasked(&s.config).to_tensors(&s.config, &s.device, s.dtype)?;
            let hidden = s.model.encode(&inputs)?;
            let probs = candle_nn::ops::softmax(&s.model.classifier_logits(&hidden, &inputs)?, 1)?;
            Ok(probs.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
        })
    }

    /// Probability that each sample's text belongs to its video (the VTM head), nothing masked.
    pub fn match_scores(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        batch.validate(&self.config)?;
        self.with_pool(|s| {
            let (inputs, _) = batch.unmasked(&s.config).to_tensors(&s.config, &s.device, s.dtype)?;
            let hidden = s.model.encode(&inputs)?;
            let probs = candle_nn::ops::softmax(&s.model.vtm_logits(&hidden)?, 1)?;
            Ok(probs.narrow(1, 1, 1)?.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
        })
    }

    /// For every `[MASK]` token in the texts: the `top_k` most probable words (MLM head).
    pub fn predict_masked(&mut self, batch: &Batch, top_k: usize) -> Result<Vec<MaskPrediction>> {
        batch.validate(&self.config)?;
        if top_k == 0 {
            return Err(Error::input("topK", "must be > 0"));
        }
        let (l, s_len, mask_id) = (self.config.max_text_len, self.config.seq_len(), self.config.mask_token_id);
        let spots: Vec<(usize, usize)> =
            batch.text_ids.iter().enumerate().filter(|(_, &id)| id == mask_id).map(|(j, _)| (j / l, j % l)).collect();
        if spots.is_empty() {
            return Ok(vec![]);
        }
        self.with_pool(|s| {
            let (inputs, _) = batch.unmasked(&s.config).to_tensors(&s.config, &s.device, s.dtype)?;
            let hidden = s.model.encode(&inputs)?;
            let (b, seq, h) = hidden.dims3()?;
            let rows: Vec<u32> = spots.iter().map(|&(i, p)| (i * s_len + 1 + p) as u32).collect();
            let picked = hidden.reshape((b * seq, h))?.index_select(&Tensor::new(rows.as_slice(), &s.device)?, 0)?;
            let probs = candle_nn::ops::softmax(&s.model.mlm_logits(&picked)?, 1)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
            Ok(spots
                .iter()
                .zip(probs)
                .map(|(&(sample, position), p)| {
                    let mut order: Vec<usize> = (0..p.len()).collect();
                    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
                    order.truncate(top_k);
                    MaskPrediction { sample, position, ids: order.iter().map(|&i| i as u32).collect(), probs: order.iter().map(|&i| p[i]).collect() }
                })
                .collect())
        })
    }
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

fn accumulate(m: &mut StepMetrics, l: &Losses, accuracy: f64, n: f64) -> Result<()> {
    m.loss += scalar(&l.total)? / n;
    m.mlm_loss += scalar(&l.mlm)? / n;
    m.video_loss += scalar(&l.video)? / n;
    m.vtm_loss += scalar(&l.vtm)? / n;
    m.classify_loss += scalar(&l.classify)? / n;
    m.accuracy += accuracy / n;
    m.mlm_accuracy += scalar(&l.mlm_accuracy)? / n;
    Ok(())
}

/// `sqrt(Σ_p Σ g²)` accumulated in f64, in parameter order (deterministic).
pub fn global_norm(grads: &[Tensor]) -> Result<f64> {
    let mut total = 0.0f64;
    for g in grads {
        total += scalar(&g.to_dtype(DType::F64)?.sqr()?.sum_all()?)?;
    }
    Ok(total.sqrt())
}
