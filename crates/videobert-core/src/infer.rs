//! Inference on `Weights`: nothing masked, no gradients. Every read starts the same way — validate
//! the batch, encode it unmasked — and then takes what it needs from the encoder's outputs: the
//! `[CLS]`/text/segment embeddings, the classification head, the video-text matching head, or the
//! masked-language-model head at the `[MASK]` positions.

use candle_core::{DType, Tensor};

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::model::{ModelInputs, VideoBertModel};
use crate::weights::Weights;

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

/// The shared preamble: the validated batch's inputs and the encoder's `[B, S, H]` outputs.
pub(crate) fn encoded(w: &Weights, batch: &Batch) -> Result<(ModelInputs, Tensor)> {
    batch.validate(&w.config)?;
    let (inputs, _) = batch.unmasked(&w.config).to_tensors(&w.config, &w.device, w.dtype)?;
    let hidden = w.model().encode(&inputs)?;
    Ok((inputs, hidden))
}

fn flat(t: Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

/// Encoder outputs for every sample: `[CLS]`, mean text token, mean segment token, segments. For a
/// video-only embedding pass an empty text (all padding); for a text-only one, a zero video mask.
pub fn embed(w: &Weights, batch: &Batch) -> Result<Embeddings> {
    let (inputs, hidden) = encoded(w, batch)?;
    let (t, offset) = (w.config.max_segments, w.config.video_offset());
    Ok(Embeddings {
        cls: flat(hidden.narrow(1, 0, 1)?)?,
        text: flat(VideoBertModel::masked_mean(&hidden, 1, &inputs.text_mask)?)?,
        video: flat(VideoBertModel::masked_mean(&hidden, offset, &inputs.video_mask)?)?,
        segments: flat(hidden.narrow(1, offset, t)?)?,
    })
}

/// Class probabilities `[B, C]` from the classification head.
pub fn classify(w: &Weights, batch: &Batch) -> Result<Vec<f32>> {
    if w.config.num_labels == 0 {
        return Err(Error::input("model", "the model has no classification head (num_labels = 0)"));
    }
    let (inputs, hidden) = encoded(w, batch)?;
    flat(candle_nn::ops::softmax(&w.model().classifier_logits(&hidden, &inputs)?, 1)?)
}

/// Probability that each sample's text belongs to its video (the VTM head).
pub fn match_scores(w: &Weights, batch: &Batch) -> Result<Vec<f32>> {
    let (_, hidden) = encoded(w, batch)?;
    flat(candle_nn::ops::softmax(&w.model().vtm_logits(&hidden)?, 1)?.narrow(1, 1, 1)?)
}

/// The matching head's log-odds that each sample's text belongs to its video (`logit(match) −
/// logit(no match)`): what multiple-choice answering compares across candidates.
pub fn match_logits(w: &Weights, batch: &Batch) -> Result<Vec<f32>> {
    let (_, hidden) = encoded(w, batch)?;
    flat(w.model().match_logits(&hidden)?)
}

/// The `[MASK]` tokens of a batch's texts, `(sample, position)` in batch order — the order of
/// `predict_masked`'s and `mask_log_probs`'s results.
fn mask_spots(w: &Weights, batch: &Batch) -> Vec<(usize, usize)> {
    let (l, mask_id) = (w.config.max_text_len, w.config.mask_token_id);
    batch.text_ids.iter().enumerate().filter(|(_, &id)| id == mask_id).map(|(j, _)| (j / l, j % l)).collect()
}

/// MLM logits `[M, V]` at the given `[MASK]` spots of a validated batch.
fn mask_logits(w: &Weights, batch: &Batch, spots: &[(usize, usize)]) -> Result<Tensor> {
    let (_, hidden) = encoded(w, batch)?;
    let (b, seq, h) = hidden.dims3()?;
    let s_len = w.config.seq_len();
    let rows: Vec<u32> = spots.iter().map(|&(i, p)| (i * s_len + 1 + p) as u32).collect();
    let picked = hidden.reshape((b * seq, h))?.index_select(&Tensor::new(rows.as_slice(), &w.device)?, 0)?;
    Ok(w.model().mlm_logits(&picked)?)
}

/// `log P(id | video, text)` of `per_mask` given ids at every `[MASK]` token (in batch order):
/// `ids[m·per_mask + j]` is the j-th id asked about at the m-th mask; the result has the same
/// layout. Only these numbers leave the model (not the `[M, V]` distribution), so scoring a caption
/// or a few candidates costs the same at 30 000 word pieces as at 70.
pub fn mask_log_probs(w: &Weights, batch: &Batch, ids: &[u32], per_mask: usize) -> Result<Vec<f32>> {
    batch.validate(&w.config)?;
    if per_mask == 0 {
        return Err(Error::input("perMask", "must be > 0"));
    }
    let spots = mask_spots(w, batch);
    if ids.len() != spots.len() * per_mask {
        return Err(Error::input(
            "ids",
            format!("{} ids for {} [MASK] token(s) × {per_mask} per mask (need {})", ids.len(), spots.len(), spots.len() * per_mask),
        ));
    }
    if let Some(&bad) = ids.iter().find(|&&id| id as usize >= w.config.vocab_size) {
        return Err(Error::input("ids", format!("id {bad} is outside the vocabulary (size {})", w.config.vocab_size)));
    }
    if spots.is_empty() {
        return Ok(vec![]);
    }
    let logp = candle_nn::ops::log_softmax(&mask_logits(w, batch, &spots)?, 1)?;
    let index = Tensor::from_vec(ids.to_vec(), (spots.len(), per_mask), &w.device)?;
    flat(logp.gather(&index, 1)?)
}

/// For every `[MASK]` token in the texts: the `top_k` most probable words (MLM head).
pub fn predict_masked(w: &Weights, batch: &Batch, top_k: usize) -> Result<Vec<MaskPrediction>> {
    if top_k == 0 {
        return Err(Error::input("topK", "must be > 0"));
    }
    batch.validate(&w.config)?;
    let spots = mask_spots(w, batch);
    if spots.is_empty() {
        return Ok(vec![]);
    }
    let probs = candle_nn::ops::softmax(&mask_logits(w, batch, &spots)?, 1)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    Ok(spots
        .iter()
        .zip(probs)
        .map(|(&(sample, position), p)| {
            // Most probable first, ties by id: a total order, so selecting the top k and sorting
            // only them gives exactly the full sort's first k (O(V) instead of O(V log V)).
            let by_prob = |&a: &usize, &b: &usize| p[b].total_cmp(&p[a]).then(a.cmp(&b));
            let mut order: Vec<usize> = (0..p.len()).collect();
            if top_k < order.len() {
                order.select_nth_unstable_by(top_k - 1, by_prob);
                order.truncate(top_k);
            }
            order.sort_by(by_prob);
            MaskPrediction { sample, position, ids: order.iter().map(|&i| i as u32).collect(), probs: order.iter().map(|&i| p[i]).collect() }
        })
        .collect())
}
