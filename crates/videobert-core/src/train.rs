//! Training on `Weights` with `AdamW`: one `train_step` = for each micro-batch, seeded masking,
//! forward, backward (gradients summed, each micro-batch weighted 1/n); then global-norm clipping
//! and one AdamW update. Masking draws from `Rng::derive(seed, [step, micro])`, so a run depends
//! only on (seed, data, lr schedule) and a resumed run repeats an uninterrupted one bit for bit.
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

/// The losses of one (validated) micro-batch under the model's objective.
fn batch_losses(w: &Weights, batch: &Batch, rng: &mut Rng) -> Result<(Losses, f64)> {
    match (w.config.objective(), &batch.labels, batch.num_choices) {
        (Objective::Classify, Some(labels), None) => classification_losses(w, batch, labels),
        (Objective::Caption, _, None) => caption_losses(w, batch),
        (Objective::Pretrain, Some(labels), Some(k)) => choice_losses(w, batch, k, labels),
        (Objective::Pretrain, None, None) => Ok((losses(w, &batch.mask(&w.config, rng))?, 0.0)),
        _ => unreachable!("check() matches batches to the model's objective"),
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

/// Forward + backward over the micro-batches, clip, one AdamW update.
pub fn train_step(w: &Weights, optimizer: &mut AdamW, seed: u64, batches: &[Batch], opts: StepOptions) -> Result<StepMetrics> {
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
    let n = batches.len() as f64;
    let mut sums: Option<Vec<Tensor>> = None;
    let mut metrics = StepMetrics::default();
    for (i, batch) in batches.iter().enumerate() {
        let mut rng = Rng::derive(seed, &[optimizer.step, i as u64]);
        let (losses, accuracy) = batch_losses(w, batch, &mut rng)?;
        let grads = gradients_of(w, &losses.total)?;
        accumulate(&mut metrics, &losses, accuracy, n)?;
        sums = Some(match sums {
            None => grads,
            Some(acc) => acc.iter().zip(&grads).map(|(a, g)| a + g).collect::<candle_core::Result<_>>()?,
        });
    }
    if !metrics.loss.is_finite() {
        return Err(Error::Numerical(format!("non-finite loss {} at step {}", metrics.loss, optimizer.step)));
    }
    let grads = sums.expect("at least one micro-batch");
    // The step's gradient is the micro-batch mean, clipped: one factor on the summed gradients,
    // applied inside the update.
    // Frozen tensors (scale 0) neither move nor count towards the norm that is clipped.
    let scales = opts.layer_rates.scales(w.params(), &w.config);
    let learning: Vec<Tensor> = grads.iter().zip(&scales).filter(|(_, &s)| s > 0.0).map(|(g, _)| g.clone()).collect();
    let norm = global_norm(&learning)? / n;
    if !norm.is_finite() {
        return Err(Error::Numerical(format!("non-finite gradient norm at step {}", optimizer.step)));
    }
    metrics.grad_norm = norm;
    let clip = if opts.max_grad_norm > 0.0 && norm > opts.max_grad_norm { opts.max_grad_norm / (norm + 1e-6) } else { 1.0 };
    optimizer.update_scaled(w.params(), &grads, opts.lr, &scales, clip / n)?;
    Ok(metrics)
}

/// Losses without an update, masks seeded by `mask_seed`: the same batch always gives the same numbers.
pub fn evaluate(w: &Weights, mask_seed: u64, batches: &[Batch]) -> Result<StepMetrics> {
    check(w, batches)?;
    let n = batches.len() as f64;
    let mut metrics = StepMetrics::default();
    for (i, batch) in batches.iter().enumerate() {
        let mut rng = Rng::derive(mask_seed, &[u64::MAX, i as u64]);
        let (losses, accuracy) = batch_losses(w, batch, &mut rng)?;
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
    let masked = batch.mask(&w.config, &mut Rng::derive(seed, &[step, 0]));
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
