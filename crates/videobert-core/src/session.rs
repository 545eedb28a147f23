//! `Session`: what the binding holds — the weights, their optimizer and seed, and the thread pool
//! tensor math runs on. It composes the parts and owns none of their logic: the model and its
//! parameters are `weights`, the train step and evaluation `train`, the reads of a trained model
//! `infer`, save and load `checkpoint`.

use candle_core::{DType, Device, Tensor, Var};

use crate::batch::{Batch, MaskedBatch};
use crate::config::VideoBertConfig;
use crate::distributed::DataParallel;
use crate::error::{Error, Result};
use crate::generate::{self, GenerateOptions, Generated};
use crate::infer::{self, Embeddings, MaskPrediction};
use crate::model::{Losses, VideoBertModel};
use crate::optim::{AdamW, AdamWConfig};
use crate::train::{self, StepMetrics, StepOptions};
use crate::weights::Weights;

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

/// The threads tensor math runs on: a pool of its own, or candle's global one.
struct Threads(Option<rayon::ThreadPool>);

impl Threads {
    fn new(n: Option<usize>) -> Result<Self> {
        match n {
            Some(0) => Err(Error::config("numThreads", "must be > 0")),
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("videobert-{i}"))
                .build()
                .map(|p| Threads(Some(p)))
                .map_err(|e| Error::config("numThreads", e.to_string())),
            None => Ok(Threads(None)),
        }
    }

    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.0 {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

pub struct Session {
    pub config: VideoBertConfig,
    pub device: Device,
    pub dtype: DType,
    pub seed: u64,
    weights: Weights,
    optimizer: AdamW,
    threads: Threads,
    /// Set: `train_step` trains data-parallel over this group.
    data_parallel: Option<DataParallel>,
}

impl Session {
    /// A freshly initialised model: weights ~ N(0, initializer_range), biases 0, norm gains 1.
    pub fn new(config: VideoBertConfig, opts: CreateOptions) -> Result<Self> {
        opts.optimizer.validate()?;
        let weights = Weights::init(config, opts.seed, opts.dtype, &opts.device)?;
        let optimizer = AdamW::new(opts.optimizer, weights.params())?;
        Self::from_parts(weights, optimizer, opts.seed, opts.num_threads)
    }

    /// Put loaded or initialised parts together (checkpoints do this).
    pub fn from_parts(weights: Weights, optimizer: AdamW, seed: u64, num_threads: Option<usize>) -> Result<Self> {
        let threads = Threads::new(num_threads)?;
        Ok(Self {
            config: weights.config.clone(),
            device: weights.device.clone(),
            dtype: weights.dtype,
            seed,
            weights,
            optimizer,
            threads,
            data_parallel: None,
        })
    }

    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    pub fn num_parameters(&self) -> usize {
        self.weights.num_parameters()
    }

    /// Parameters by name, sorted (the checkpoint's tensor names).
    pub fn params(&self) -> &[(String, Var)] {
        self.weights.params()
    }

    pub fn model(&self) -> &VideoBertModel {
        self.weights.model()
    }

    /// Optimizer updates applied so far.
    pub fn step(&self) -> u64 {
        self.optimizer.step
    }

    pub fn optimizer(&self) -> &AdamW {
        &self.optimizer
    }

    /// Losses of an already-masked batch (graph attached, for backward).
    pub fn losses(&self, masked: &MaskedBatch) -> Result<Losses> {
        train::losses(&self.weights, masked)
    }

    /// Losses and the gradient of `losses.total` for every parameter (zeros where none flows).
    pub fn gradients(&self, masked: &MaskedBatch) -> Result<(Losses, Vec<Tensor>)> {
        let losses = self.losses(masked)?;
        let grads = train::gradients_of(&self.weights, &losses.total)?;
        Ok((losses, grads))
    }

    /// Forward + backward over the micro-batches, clip, one AdamW update (see `train`); over every
    /// rank's micro-batches after `join_data_parallel`.
    pub fn train_step(&mut self, batches: &[Batch], opts: StepOptions) -> Result<StepMetrics> {
        let (weights, optimizer, seed, dp) = (&self.weights, &mut self.optimizer, self.seed, self.data_parallel.as_ref());
        self.threads.run(|| train::train_step(weights, optimizer, seed, batches, opts, dp))
    }

    /// Train data-parallel from now on: a collective call on every rank, which checks that all hold
    /// the same seed, step and parameters (the same initialisation or checkpoint) — a `Distributed`
    /// error otherwise.
    pub fn join_data_parallel(&mut self, dp: DataParallel) -> Result<()> {
        let c = dp.comm.as_ref();
        let mine = [self.seed as f64, self.optimizer.step as f64];
        let (mut hi, mut lo) = (mine, mine.map(|x| -x));
        c.all_reduce_f64(&mut hi, crate::distributed::ReduceOp::Max, "joining data-parallel training")?;
        c.all_reduce_f64(&mut lo, crate::distributed::ReduceOp::Max, "joining data-parallel training")?;
        if hi[0] != -lo[0] || hi[1] != -lo[1] {
            return Err(Error::Distributed(format!(
                "the ranks start from different models (seeds {}–{}, steps {}–{}): every rank must create the model with the same seed or load the same checkpoint",
                -lo[0], hi[0], -lo[1], hi[1]
            )));
        }
        crate::distributed::check_in_sync(c, self.weights.params(), self.optimizer.step)?;
        self.data_parallel = Some(dp);
        Ok(())
    }

    /// The data-parallel group this session trains over, if any.
    pub fn data_parallel(&self) -> Option<&DataParallel> {
        self.data_parallel.as_ref()
    }

    /// Losses without an update; masks seeded by `mask_seed` (default: the model's seed).
    pub fn evaluate(&mut self, batches: &[Batch], mask_seed: Option<u64>) -> Result<StepMetrics> {
        let seed = mask_seed.unwrap_or(self.seed);
        self.threads.run(|| train::evaluate(&self.weights, seed, batches))
    }

    /// Each pre-training loss's share of the gradient on one batch (see `train::loss_grad_norms`).
    pub fn loss_grad_norms(&mut self, batch: &Batch) -> Result<train::LossGradNorms> {
        let (weights, seed, step) = (&self.weights, self.seed, self.optimizer.step);
        self.threads.run(|| train::loss_grad_norms(weights, seed, step, batch))
    }

    /// Encoder outputs for every sample (see `infer::embed`).
    pub fn embed(&mut self, batch: &Batch) -> Result<Embeddings> {
        self.threads.run(|| infer::embed(&self.weights, batch))
    }

    /// Class probabilities `[B, C]` from the classification head.
    pub fn classify(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        self.threads.run(|| infer::classify(&self.weights, batch))
    }

    /// One caption per sample from the caption decoder (see `generate`).
    pub fn generate(&mut self, batch: &Batch, opts: &GenerateOptions) -> Result<Vec<Generated>> {
        self.threads.run(|| generate::generate(&self.weights, batch, opts))
    }

    /// Probability that each sample's text belongs to its video (the VTM head).
    pub fn match_scores(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        self.threads.run(|| infer::match_scores(&self.weights, batch))
    }

    /// The matching head's log-odds per sample (see `infer::match_logits`).
    pub fn match_logits(&mut self, batch: &Batch) -> Result<Vec<f32>> {
        self.threads.run(|| infer::match_logits(&self.weights, batch))
    }

    /// For every `[MASK]` token in the texts: the `top_k` most probable words (MLM head).
    pub fn predict_masked(&mut self, batch: &Batch, top_k: usize) -> Result<Vec<MaskPrediction>> {
        self.threads.run(|| infer::predict_masked(&self.weights, batch, top_k))
    }

    /// `log P(id)` of the given ids at every `[MASK]` token (see `infer::mask_log_probs`).
    pub fn mask_log_probs(&mut self, batch: &Batch, ids: &[u32], per_mask: usize) -> Result<Vec<f32>> {
        self.threads.run(|| infer::mask_log_probs(&self.weights, batch, ids, per_mask))
    }
}

/// `sqrt(Σ_p Σ g²)` accumulated in f64, in parameter order (deterministic).
pub use crate::train::global_norm;
