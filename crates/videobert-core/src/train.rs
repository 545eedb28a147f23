//! Training on `Weights` with `AdamW`: one `train_step` = for each micro-batch, seeded masking,
//! forward, backward; the gradients summed, each micro-batch's loss terms weighted by its share of
//! what they average over (so k micro-batches of B rows step like one batch of k·B rows); then
//! global-norm clipping and one AdamW update. Row i of the step's global batch is masked from
//! `Rng::derive(seed, [step, i])`, so a run depends only on (seed, data, lr schedule) — not on the
//! split into micro-batches or ranks — and a resumed run repeats an uninterrupted one bit for bit.
//! With a `DataParallel` the global batch spans the ranks (see `distributed`).
//!
//! The objective follows the model (`VideoBertConfig::objective`): a model with a classification
//! head (`num_labels > 0`) trains and evaluates the classification loss on labelled batches; a model
//! with a caption decoder (`decoder_layers > 0`) the teacher-forced, label-smoothed captioning loss
//! on batches with `caption_ids`; any other model the pre-training losses (MLM, masked video
//! modelling, matching) — or, on multiple-choice batches (`num_choices`), the cross-entropy over each
//! question's candidates scored by the matching head; a batch of another kind is an error.

use candle_core::{DType, Tensor};

use crate::batch::{Batch, MaskedBatch};
use crate::config::Objective;
use crate::distributed::{self, DataParallel, ReduceOp};
use crate::error::{Error, Result};
use crate::kernels::fused::{self, param_grads};
use crate::model::Losses;
use crate::optim::{AdamW, LayerRates};
use crate::rng::Rng;
use crate::weights::Weights;

#[derive(Debug, Clone, Copy)]
pub struct StepOptions {
    pub lr: f64,
    /// Clip the global gradient norm (of the tensors that learn) to this value; 0 disables clipping.
    pub max_grad_norm: f64,
    /// How `lr` is shared among the tensors (layer-wise decay, freezing); the default: one rate for all.
    pub layer_rates: LayerRates,
}

impl Default for StepOptions {
    fn default() -> Self {
        Self { lr: 1e-4, max_grad_norm: 1.0, layer_rates: LayerRates::default() }
    }
}

/// Scalars of one step (means over micro-batches). `grad_norm` is before clipping, over the tensors that learn (frozen ones left out); 0 in `evaluate`.
/// `classify_loss` comes from labelled (classification) batches, `caption_loss` from captioned ones,
/// 0 otherwise; `accuracy` is the classifier's (per sample) or the decoder's (per target word piece,
/// teacher-forced).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepMetrics {
    pub loss: f64,
    pub mlm_loss: f64,
    pub video_loss: f64,
    pub vtm_loss: f64,
    pub classify_loss: f64,
    /// Cross-entropy per caption word piece (teacher forcing, without label smoothing).
    pub caption_loss: f64,
    pub accuracy: f64,
    /// Fraction of the masked text tokens predicted right (top-1), pre-training batches.
    pub mlm_accuracy: f64,
    pub grad_norm: f64,
}

/// Losses of an already-masked batch (graph attached, for backward).
pub fn losses(w: &Weights, masked: &MaskedBatch) -> Result<Losses> {
    let (inputs, targets) = masked.to_tensors(&w.config, &w.device, w.dtype)?;
    Ok(w.model().losses(&inputs, &targets)?)
}

/// The gradient of `total` for every parameter, in parameter order (zeros where none flows).
/// Fused blocks leave their parameters' gradients in `fused::param_grads`; they are added here
/// (after clearing what a failed earlier pass may have left).
pub fn gradients_of(w: &Weights, total: &Tensor) -> Result<Vec<Tensor>> {
    let params = w.params();
    for (_, v) in params {
        param_grads::take(v.as_tensor());
    }
    let store = total.backward()?;
    params
        .iter()
        .map(|(_, v)| match (store.get(v.as_tensor()), param_grads::take(v.as_tensor())) {
            (Some(g), Some(side)) => Ok((g + side)?),
            (Some(g), None) => Ok(g.clone()),
            (None, Some(side)) => Ok(side),
            (None, None) => Ok(v.zeros_like()?),
        })
        .collect()
}

/// Classification loss and accuracy of a labelled batch (nothing masked).
fn classification_losses(w: &Weights, batch: &Batch, labels: &[u32]) -> Result<(Losses, f64)> {
    let (inputs, _) = batch.unmasked(&w.config).to_tensors(&w.config, &w.device, w.dtype)?;
    let y = Tensor::new(labels, &w.device)?;
    let (losses, logits) = w.model().classification_losses(&inputs, &y)?;
    let predicted = logits.argmax(1)?.to_vec1::<u32>()?;
    let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    Ok((losses, correct as f64 / labels.len() as f64))
}

/// Multiple-choice loss and accuracy of a batch of `k`-row question groups (nothing masked).
fn choice_losses(w: &Weights, batch: &Batch, k: usize, labels: &[u32]) -> Result<(Losses, f64)> {
    let (inputs, _) = batch.unmasked(&w.config).to_tensors(&w.config, &w.device, w.dtype)?;
    let y = Tensor::new(labels, &w.device)?;
    let (losses, scores) = w.model().choice_losses(&inputs, k, &y)?;
    let predicted = scores.argmax(1)?.to_vec1::<u32>()?;
    let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    Ok((losses, correct as f64 / labels.len() as f64))
}

/// Captioning loss and teacher-forced word-piece accuracy of a captioned batch (nothing masked).
pub fn caption_losses(w: &Weights, batch: &Batch) -> Result<(Losses, f64)> {
    let (inputs, _) = batch.unmasked(&w.config).to_tensors(&w.config, &w.device, w.dtype)?;
    let targets = batch.caption_targets(&w.config, &w.device)?;
    let (losses, accuracy) = w.model().caption_losses(&inputs, &targets)?;
    Ok((losses, scalar(&accuracy)?))
}

/// One micro-batch ready for its forward pass: masked (pre-training) or as given (the task heads).
enum Prepared<'b> {
    Masked(MaskedBatch),
    Plain(&'b Batch),
}

/// The losses of one (validated, prepared) micro-batch under the model's objective.
fn batch_losses(w: &Weights, batch: &Batch, prepared: &Prepared<'_>) -> Result<(Losses, f64)> {
    match (w.config.objective(), &batch.labels, batch.num_choices, prepared) {
        (_, _, _, Prepared::Masked(masked)) => Ok((losses(w, masked)?, 0.0)),
        (Objective::Classify, Some(labels), None, _) => classification_losses(w, batch, labels),
        (Objective::Caption, _, None, _) => caption_losses(w, batch),
        (Objective::Pretrain, Some(labels), Some(k), _) => choice_losses(w, batch, k, labels),
        _ => unreachable!("check() matches batches to the model's objective"),
    }
}

/// What each loss of a micro-batch averages over, in the order of `Losses`' terms: masked words
/// (`mlm`), masked segments (`video`), rows (`vtm`, classification), questions (multiple choice) and
/// caption word pieces. A step weights each micro-batch's term by its share of the step's count,
/// so that every term is the mean over the whole (global) batch.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    mlm: f64,
    video: f64,
    rows: f64,
    questions: f64,
    caption: f64,
}

impl Counts {
    const LEN: usize = 5;

    fn of(w: &Weights, batch: &Batch, prepared: &Prepared<'_>) -> Self {
        let rows = batch.batch_size as f64;
        match prepared {
            Prepared::Masked(m) => Counts {
                mlm: m.mlm_labels.iter().filter(|&&y| y >= 0).count() as f64,
                video: m.video_masked.iter().filter(|&&x| x != 0).count() as f64,
                rows,
                ..Default::default()
            },
            Prepared::Plain(b) => {
                let caption = match (&b.caption_ids, w.config.objective()) {
                    (Some(ids), Objective::Caption) => {
                        ids.chunks(w.config.max_text_len).map(|r| crate::batch::caption_len(r, w.config.pad_token_id) + 1).sum::<usize>() as f64
                    }
                    _ => 0.0,
                };
                Counts { rows, questions: b.num_choices.map_or(0.0, |k| rows / k as f64), caption, ..Default::default() }
            }
        }
    }

    fn to_array(self) -> [f64; Self::LEN] {
        [self.mlm, self.video, self.rows, self.questions, self.caption]
    }

    fn from_array(a: [f64; Self::LEN]) -> Self {
        Counts { mlm: a[0], video: a[1], rows: a[2], questions: a[3], caption: a[4] }
    }

    fn add(&mut self, o: Counts) {
        self.mlm += o.mlm;
        self.video += o.video;
        self.rows += o.rows;
        self.questions += o.questions;
        self.caption += o.caption;
    }

    /// `self`'s share of `total`, term by term (0 where the total is 0).
    fn share(self, total: Counts) -> Counts {
        let f = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        Counts {
            mlm: f(self.mlm, total.mlm),
            video: f(self.video, total.video),
            rows: f(self.rows, total.rows),
            questions: f(self.questions, total.questions),
            caption: f(self.caption, total.caption),
        }
    }
}

fn check(w: &Weights, batches: &[Batch]) -> Result<()> {
    if batches.is_empty() {
        return Err(Error::input("batches", "at least one micro-batch is required"));
    }
    let c = &w.config;
    for b in batches {
        b.validate(c)?; // refuses labels / captions for a model without that head
        if w.device.is_cpu() {
            crate::size::check_batch_fits(c, b.batch_size, w.dtype.size_in_bytes(), crate::size::memory_limit())?;
        }
        match c.objective() {
            Objective::Classify if b.labels.is_none() => {
                return Err(Error::input("labels", format!("the model is a classifier (num_labels = {}): every training batch needs labels", c.num_labels)));
            }
            Objective::Pretrain if b.num_choices.is_some() && b.labels.is_none() => {
                return Err(Error::input("labels", "a multiple-choice training batch needs the index of the right candidate of each question"));
            }
            Objective::Caption if b.caption_ids.is_none() => {
                return Err(Error::input(
                    "captionIds",
                    format!("the model captions (decoder_layers = {}): every training batch needs reference captions", c.decoder_layers),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where this process's micro-batches sit in the step's global batch: the index of each one's first
/// row. The global batch is micro-batch 0 of every rank (in rank order), then micro-batch 1, …; one
/// process's micro-batches simply follow each other. Every rank must bring the same number.
fn first_rows(batches: &[Batch], dp: Option<&DataParallel>) -> Result<Vec<u64>> {
    let Some(dp) = dp else {
        let mut at = 0u64;
        return Ok(batches
            .iter()
            .map(|b| {
                let first = at;
                at += b.batch_size as u64;
                first
            })
            .collect());
    };
    let (c, n) = (&dp.comm, batches.len());
    let mut range = [n as f64, -(n as f64)];
    c.all_reduce_f64(&mut range, ReduceOp::Max, "the micro-batch count exchange")?;
    if range[0] != -range[1] {
        return Err(Error::Distributed(format!(
            "the ranks bring between {} and {} micro-batches to one step; every rank must bring the same number",
            -range[1], range[0]
        )));
    }
    let world = c.world_size();
    let mut sizes = vec![0.0; world * n];
    for (i, b) in batches.iter().enumerate() {
        sizes[i * world + c.rank()] = b.batch_size as f64;
    }
    c.all_reduce_f64(&mut sizes, ReduceOp::Sum, "the batch size exchange")?;
    let before = |k: usize| sizes[..k].iter().sum::<f64>() as u64;
    Ok((0..n).map(|i| before(i * world + c.rank())).collect())
}

/// Forward + backward over the micro-batches, clip, one AdamW update — over this process's
/// micro-batches, or with `dp` over every rank's (see `distributed`): the step's loss terms are
/// means over all the step's rows (each micro-batch weighted by its share of the masked words,
/// segments, rows … it averages), so k micro-batches of B rows, or k ranks of B rows, step exactly
/// like one batch of k·B rows (up to floating-point summation order).
pub fn train_step(w: &Weights, optimizer: &mut AdamW, seed: u64, batches: &[Batch], opts: StepOptions, dp: Option<&DataParallel>) -> Result<StepMetrics> {
    if batches.is_empty() {
        return Err(Error::input("batches", "at least one micro-batch is required"));
    }
    if !(opts.lr.is_finite() && opts.lr >= 0.0) {
        return Err(Error::input("lr", format!("must be a finite number >= 0, got {}", opts.lr)));
    }
    if !(opts.max_grad_norm.is_finite() && opts.max_grad_norm >= 0.0) {
        return Err(Error::input("maxGradNorm", format!("must be a finite number >= 0, got {}", opts.max_grad_norm)));
    }
    opts.layer_rates.validate()?;
    check(w, batches)?;
    let step = optimizer.step;
    let firsts = first_rows(batches, dp)?;
    let pretraining = w.config.objective() == Objective::Pretrain;
    let prepared: Vec<Prepared<'_>> = batches
        .iter()
        .zip(&firsts)
        .map(|(b, &first)| {
            if pretraining && b.labels.is_none() && b.num_choices.is_none() {
                Prepared::Masked(b.mask_rows(&w.config, seed, step, first))
            } else {
                Prepared::Plain(b)
            }
        })
        .collect();
    let counts: Vec<Counts> = batches.iter().zip(&prepared).map(|(b, p)| Counts::of(w, b, p)).collect();
    let mut total = Counts::default();
    for c in &counts {
        total.add(*c);
    }
    if let Some(dp) = dp {
        let mut a = total.to_array();
        dp.comm.all_reduce_f64(&mut a, ReduceOp::Sum, "the loss count exchange")?;
        total = Counts::from_array(a);
    }
    let cfg = &w.config;
    let mut sums: Option<Vec<Tensor>> = None;
    let mut metrics = StepMetrics::default();
    for ((batch, prep), count) in batches.iter().zip(&prepared).zip(&counts) {
        let (l, accuracy) = batch_losses(w, batch, prep)?;
        let share = count.share(total);
        let (weighted, metric_share) = match (prep, cfg.objective(), batch.num_choices) {
            (Prepared::Masked(_), _, _) => {
                let t = ((&l.mlm * (cfg.mlm_weight * share.mlm))? + (&l.video * (cfg.video_weight * share.video))?)?;
                ((t + (&l.vtm * (cfg.vtm_weight * share.rows))?)?, share.rows)
            }
            (_, Objective::Caption, _) => ((&l.total * share.caption)?, share.caption),
            (_, _, Some(_)) => ((&l.total * share.questions)?, share.questions),
            _ => ((&l.total * share.rows)?, share.rows),
        };
        let grads = gradients_of(w, &weighted)?;
        metrics.loss += scalar(&weighted)?;
        metrics.mlm_loss += scalar(&l.mlm)? * share.mlm;
        metrics.video_loss += scalar(&l.video)? * share.video;
        metrics.vtm_loss += scalar(&l.vtm)? * share.rows; // 0 outside pre-training
        metrics.classify_loss += scalar(&l.classify)? * metric_share;
        metrics.caption_loss += scalar(&l.caption)? * metric_share;
        metrics.accuracy += accuracy * metric_share;
        metrics.mlm_accuracy += scalar(&l.mlm_accuracy)? * share.mlm;
        sums = Some(match sums {
            None => grads,
            Some(acc) => acc.iter().zip(&grads).map(|(a, g)| a + g).collect::<candle_core::Result<_>>()?,
        });
    }
    let mut grads = sums.expect("at least one micro-batch");
    if let Some(dp) = dp {
        grads = dp.comm.all_reduce_tensors(&grads, dp.bucket_bytes)?;
        let mut m = [
            metrics.loss,
            metrics.mlm_loss,
            metrics.video_loss,
            metrics.vtm_loss,
            metrics.classify_loss,
            metrics.caption_loss,
            metrics.accuracy,
            metrics.mlm_accuracy,
        ];
        dp.comm.all_reduce_f64(&mut m, ReduceOp::Sum, "the step metrics")?;
        let [loss, mlm_loss, video_loss, vtm_loss, classify_loss, caption_loss, accuracy, mlm_accuracy] = m;
        metrics = StepMetrics { loss, mlm_loss, video_loss, vtm_loss, classify_loss, caption_loss, accuracy, mlm_accuracy, grad_norm: 0.0 };
    }
    if !metrics.loss.is_finite() {
        return Err(Error::Numerical(format!("non-finite loss {} at step {}", metrics.loss, optimizer.step)));
    }
    // Frozen tensors (scale 0) neither move nor count towards the norm that is clipped.
    let scales = opts.layer_rates.scales(w.params(), &w.config);
    let learning: Vec<Tensor> = grads.iter().zip(&scales).filter(|(_, &s)| s > 0.0).map(|(g, _)| g.clone()).collect();
    let norm = global_norm(&learning)?;
    if !norm.is_finite() {
        return Err(Error::Numerical(format!("non-finite gradient norm at step {}", optimizer.step)));
    }
    metrics.grad_norm = norm;
    let clip = if opts.max_grad_norm > 0.0 && norm > opts.max_grad_norm { opts.max_grad_norm / (norm + 1e-6) } else { 1.0 };
    optimizer.update_scaled(w.params(), &grads, opts.lr, &scales, clip)?;
    if let Some(dp) = dp {
        if dp.check_every > 0 && optimizer.step % dp.check_every == 0 {
            distributed::check_in_sync(dp.comm.as_ref(), w.params(), optimizer.step)?;
        }
    }
    Ok(metrics)
}

/// Losses without an update, masks seeded by `mask_seed`: the same batch always gives the same numbers.
pub fn evaluate(w: &Weights, mask_seed: u64, batches: &[Batch]) -> Result<StepMetrics> {
    check(w, batches)?;
    let n = batches.len() as f64;
    let mut metrics = StepMetrics::default();
    let pretraining = w.config.objective() == Objective::Pretrain;
    for (i, batch) in batches.iter().enumerate() {
        let prepared = if pretraining && batch.labels.is_none() && batch.num_choices.is_none() {
            Prepared::Masked(batch.mask(&w.config, &mut Rng::derive(mask_seed, &[u64::MAX, i as u64])))
        } else {
            Prepared::Plain(batch)
        };
        let (losses, accuracy) = batch_losses(w, batch, &prepared)?;
        accumulate(&mut metrics, &losses, accuracy, n)?;
    }
    Ok(metrics)
}

/// How much of the gradient each pre-training loss contributes: the global norm of the gradient of
/// each weighted term (`mlm_weight · mlm`, `video_weight · video`, `vtm_weight · vtm`) on one batch,
/// masked as the step at `step` would mask it. One forward, three backward passes — a diagnostic for the Trainer's
/// health report, not part of a step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LossGradNorms {
    pub mlm: f64,
    pub video: f64,
    pub vtm: f64,
}

pub fn loss_grad_norms(w: &Weights, seed: u64, step: u64, batch: &Batch) -> Result<LossGradNorms> {
    batch.validate(&w.config)?;
    if w.config.objective() != Objective::Pretrain {
        return Err(Error::input("model", "loss gradient norms are for pre-training (the model has a classification head or a caption decoder)"));
    }
    let masked = batch.mask_rows(&w.config, seed, step, 0);
    let c = &w.config;
    // One forward pass; each term's backward walks the same graph.
    let l = losses(w, &masked)?;
    let norm = |weight: f64, term: &Tensor| -> Result<f64> { global_norm(&gradients_of(w, &(term * weight)?)?) };
    Ok(LossGradNorms { mlm: norm(c.mlm_weight, &l.mlm)?, video: norm(c.video_weight, &l.video)?, vtm: norm(c.vtm_weight, &l.vtm)? })
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
    m.caption_loss += scalar(&l.caption)? / n;
    m.accuracy += accuracy / n;
    m.mlm_accuracy += scalar(&l.mlm_accuracy)? / n;
    Ok(())
}

/// `sqrt(Σ_p Σ g²)` accumulated in f64, in parameter order (deterministic).
pub fn global_norm(grads: &[Tensor]) -> Result<f64> {
    let mut total = 0.0f64;
    for g in grads {
        total += if fused::applies(g) { fused::adamw::sum_squares(g)? } else { scalar(&g.to_dtype(DType::F64)?.sqr()?.sum_all()?)? };
    }
    Ok(total.sqrt())
}
