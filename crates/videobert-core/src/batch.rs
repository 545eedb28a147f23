//! Batches as plain host data, their validation, seeded masking, and conversion to device tensors.
//!
//! Layouts are row-major: text `[B, L]`, features `[B, T, R, F]` (`[B, T, F]` when R = 0), segment
//! masks and visual words `[B, T]`, labels `[B]`. `L`, `T`, `R`, `F` come from the config.

use candle_core::{DType, Device, Tensor};

use crate::config::{Objective, VideoBertConfig, VideoInput};
use crate::error::{Error, Result};
use crate::model::{CaptionTargets, LossTargets, ModelInputs};
use crate::rng::Rng;

/// One (micro-)batch as given by the caller.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub batch_size: usize,
    /// `[B, L]` WordPiece ids of the caption, without `[CLS]`/`[SEP]` (the model adds them).
    pub text_ids: Vec<u32>,
    /// `[B, L]` 1 = real token, 0 = padding. Default: `text_ids != pad_token_id`.
    pub text_mask: Option<Vec<u8>>,
    /// `[B, T, R, F]` region features (`[B, T, F]` when R = 0). Required for `video_input = features`
    /// and whenever R > 0.
    pub video_features: Option<Vec<f32>>,
    /// `[B, T]` visual-word ids, required for `video_input = visual_words`.
    pub visual_word_ids: Option<Vec<u32>>,
    /// `[B, T]` 1 = real segment, 0 = padding. Default: all 1.
    pub video_mask: Option<Vec<u8>>,
    /// `[B]` video-text matching labels: 1 = the caption belongs to the video. Default: all 1.
    pub vtm_labels: Option<Vec<u8>>,
    /// `[B]` class ids for the classification head: required by a train or evaluation step of a
    /// classifier (`num_labels > 0`, which optimises / reports the classification loss on the
    /// unmasked inputs), refused by any other model; inference ignores them.
    pub labels: Option<Vec<u32>>,
    /// `[B, L]` reference captions for the caption decoder: each row's word pieces, then
    /// `pad_token_id` (without `[CLS]`/`[SEP]`; at least one word piece). Required by a train or
    /// evaluation step of a model with a decoder (`decoder_layers > 0`, which optimises / reports the
    /// teacher-forced captioning loss; the encoder reads `text_ids`, usually all padding), refused by
    /// any other model; generation ignores them.
    pub caption_ids: Option<Vec<u32>>,
    /// Multiple choice: the batch is `B / K` questions of `K` consecutive rows each — the video with
    /// the question and one candidate answer as the text — and `labels [B / K]` the index of the right
    /// row in each group. A train or evaluation step of a model without a task head then optimises /
    /// reports the cross-entropy over each group's matching scores (`vtm` logit of "match" minus
    /// "no match") instead of the pre-training losses.
    pub num_choices: Option<usize>,
}

/// A batch after masking: what the model sees, and what it must predict.
#[derive(Debug, Clone)]
pub struct MaskedBatch {
    pub batch_size: usize,
    pub text_ids: Vec<u32>,
    pub text_mask: Vec<u8>,
    /// `[B, L]` original id at masked text positions, −1 elsewhere.
    pub mlm_labels: Vec<i64>,
    pub video_features: Option<Vec<f32>>,
    pub visual_word_ids: Option<Vec<u32>>,
    pub video_mask: Vec<u8>,
    /// `[B, T]` 1 = segment masked for masked video modelling.
    pub video_masked: Vec<u8>,
    pub vtm_labels: Vec<u8>,
}

fn check_len(field: &str, got: usize, want: usize, shape: &str) -> Result<()> {
    if got != want {
        return Err(Error::input(field, format!("expected {want} elements ({shape}), got {got}")));
    }
    Ok(())
}

/// Word pieces before the first padding token of a caption row.
pub(crate) fn caption_len(row: &[u32], pad: u32) -> usize {
    row.iter().position(|&id| id == pad).unwrap_or(row.len())
}

fn check_binary(field: &str, v: &[u8]) -> Result<()> {
    match v.iter().position(|&x| x > 1) {
        Some(i) => Err(Error::input(field, format!("must be 0 or 1, got {} at index {i}", v[i]))),
        None => Ok(()),
    }
}

fn check_ids(field: &str, v: &[u32], bound: usize, bound_name: &str) -> Result<()> {
    match v.iter().position(|&x| x as usize >= bound) {
        Some(i) => Err(Error::input(field, format!("id {} at index {i} is not < {bound_name} ({bound})", v[i]))),
        None => Ok(()),
    }
}

impl Batch {
    /// Check lengths, value ranges and finiteness against the config; errors name the field.
    pub fn validate(&self, cfg: &VideoBertConfig) -> Result<()> {
        let b = self.batch_size;
        if b == 0 {
            return Err(Error::input("batchSize", "must be > 0"));
        }
        let (l, t, r, f) = (cfg.max_text_len, cfg.max_segments, cfg.num_regions, cfg.feature_dim);
        check_len("textIds", self.text_ids.len(), b * l, &format!("[B={b}, L={l}]"))?;
        check_ids("textIds", &self.text_ids, cfg.vocab_size, "vocab_size")?;
        if let Some(m) = &self.text_mask {
            check_len("textMask", m.len(), b * l, &format!("[B={b}, L={l}]"))?;
            check_binary("textMask", m)?;
        }
        let needs_features = cfg.video_input == VideoInput::Features || r > 0;
        match &self.video_features {
            Some(x) => {
                let (n, shape) = if r > 0 { (b * t * r * f, format!("[B={b}, T={t}, R={r}, F={f}]")) } else { (b * t * f, format!("[B={b}, T={t}, F={f}]")) };
                check_len("videoFeatures", x.len(), n, &shape)?;
                if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                    return Err(Error::input("videoFeatures", format!("non-finite value {} at index {i}", x[i])));
                }
            }
            None if needs_features => return Err(Error::input("videoFeatures", "required by this config")),
            None => {}
        }
        match &self.visual_word_ids {
            Some(w) => {
                check_len("visualWordIds", w.len(), b * t, &format!("[B={b}, T={t}]"))?;
                check_ids("visualWordIds", w, cfg.num_visual_words, "num_visual_words")?;
            }
            None if cfg.video_input == VideoInput::VisualWords => return Err(Error::input("visualWordIds", "required by video_input = visual_words")),
            None => {}
        }
        if let Some(m) = &self.video_mask {
            check_len("videoMask", m.len(), b * t, &format!("[B={b}, T={t}]"))?;
            check_binary("videoMask", m)?;
        }
        if let Some(v) = &self.vtm_labels {
            check_len("vtmLabels", v.len(), b, &format!("[B={b}]"))?;
            check_binary("vtmLabels", v)?;
        }
        match (self.num_choices, &self.labels) {
            (Some(k), labels) => {
                if cfg.objective() != Objective::Pretrain {
                    return Err(Error::input(
                        "numChoices",
                        "multiple-choice batches train a model without a task head (its matching head scores the candidates)",
                    ));
                }
                if !(2..=1024).contains(&k) || b % k != 0 {
                    return Err(Error::input("numChoices", format!("must be in [2, 1024] and divide batchSize ({b}), got {k}")));
                }
                if let Some(y) = labels {
                    check_len("labels", y.len(), b / k, &format!("[B/K={}]", b / k))?;
                    check_ids("labels", y, k, "numChoices")?;
                }
            }
            (None, Some(y)) => {
                if cfg.num_labels == 0 {
                    return Err(Error::input("labels", "the model has no classification head (num_labels = 0)"));
                }
                check_len("labels", y.len(), b, &format!("[B={b}]"))?;
                check_ids("labels", y, cfg.num_labels, "num_labels")?;
            }
            (None, None) => {}
        }
        if let Some(c) = &self.caption_ids {
            if cfg.decoder_layers == 0 {
                return Err(Error::input("captionIds", "the model has no caption decoder (decoder_layers = 0)"));
            }
            check_len("captionIds", c.len(), b * l, &format!("[B={b}, L={l}]"))?;
            check_ids("captionIds", c, cfg.vocab_size, "vocab_size")?;
            let reserved = [cfg.cls_token_id, cfg.sep_token_id, cfg.mask_token_id];
            for (i, row) in c.chunks(l).enumerate() {
                let n = caption_len(row, cfg.pad_token_id);
                if n == 0 {
                    return Err(Error::input("captionIds", format!("caption {i} is empty (a reference needs at least one word piece)")));
                }
                if let Some(j) = row[n..].iter().position(|&id| id != cfg.pad_token_id) {
                    return Err(Error::input("captionIds", format!("caption {i} has word piece {} after padding (position {})", row[n + j], n + j)));
                }
                if let Some(j) = row[..n].iter().position(|id| reserved.contains(id)) {
                    return Err(Error::input(
                        "captionIds",
                        format!("caption {i} holds the special token {} at position {j} ([CLS]/[SEP]/[MASK] are the decoder's)", row[j]),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Teacher forcing for the caption decoder (a validated batch with `caption_ids`): inputs
    /// `[CLS] w_1 .. w_n` and targets `w_1 .. w_n [SEP]` per row.
    pub fn caption_targets(&self, cfg: &VideoBertConfig, device: &Device) -> Result<CaptionTargets> {
        let captions = self.caption_ids.as_ref().ok_or_else(|| Error::input("captionIds", "required by a model with a caption decoder"))?;
        let (l, n_pos) = (cfg.max_text_len, cfg.decoder_len());
        let mut input_ids = vec![cfg.pad_token_id; self.batch_size * n_pos];
        let (mut positions, mut labels) = (Vec::new(), Vec::new());
        for (i, row) in captions.chunks(l).enumerate() {
            let n = caption_len(row, cfg.pad_token_id);
            input_ids[i * n_pos] = cfg.cls_token_id;
            input_ids[i * n_pos + 1..i * n_pos + 1 + n].copy_from_slice(&row[..n]);
            for (k, &target) in row[..n].iter().chain(std::iter::once(&cfg.sep_token_id)).enumerate() {
                positions.push((i * n_pos + k) as u32);
                labels.push(target);
            }
        }
        Ok(CaptionTargets {
            input_ids: Tensor::from_vec(input_ids, (self.batch_size, n_pos), device)?,
            positions: Tensor::new(positions.as_slice(), device)?,
            labels: Tensor::new(labels.as_slice(), device)?,
        })
    }

    /// Seeded BERT masking: `text_mask_prob` of the real, non-special text tokens (at least
    /// `text_mask_min`, or all of them when there are fewer; none when `text_mask_prob` is 0) become 80 % `[MASK]`, 10 % a random non-special token, 10 % unchanged; and
    /// `video_mask_prob` of the real segments (at least one) are masked for video modelling.
    pub fn mask(&self, cfg: &VideoBertConfig, rng: &mut Rng) -> MaskedBatch {
        self.mask_with(cfg, MaskStreams::Shared(rng))
    }

    /// `mask` with each row drawing from its own stream, `Rng::derive(seed, [step, first_row + i])`:
    /// a row's masks depend on its index in the step's global batch, not on how the rows are split
    /// into micro-batches or among the ranks of a data-parallel run (what a train step uses).
    pub fn mask_rows(&self, cfg: &VideoBertConfig, seed: u64, step: u64, first_row: u64) -> MaskedBatch {
        self.mask_with(cfg, MaskStreams::PerRow { seed, step, first_row })
    }

    fn mask_with(&self, cfg: &VideoBertConfig, mut streams: MaskStreams<'_>) -> MaskedBatch {
        let (b, l, t) = (self.batch_size, cfg.max_text_len, cfg.max_segments);
        let special = cfg.special_ids();
        let text_mask = self.text_mask.clone().unwrap_or_else(|| self.text_ids.iter().map(|&id| u8::from(id != cfg.pad_token_id)).collect());
        let video_mask = self.video_mask.clone().unwrap_or_else(|| vec![1; b * t]);
        let mut text_ids = self.text_ids.clone();
        let mut mlm_labels = vec![-1i64; b * l];
        let mut video_masked = vec![0u8; b * t];
        let count = |n: usize, p: f64| if n == 0 || p == 0.0 { 0 } else { ((n as f64 * p).round() as usize).max(1) };
        for i in 0..b {
            let mut own;
            let rng: &mut Rng = match &mut streams {
                MaskStreams::Shared(r) => r,
                MaskStreams::PerRow { seed, step, first_row } => {
                    own = Rng::derive(*seed, &[*step, *first_row + i as u64]);
                    &mut own
                }
            };
            let row = i * l..(i + 1) * l;
            let candidates: Vec<usize> = row.filter(|&j| text_mask[j] == 1 && special.binary_search(&self.text_ids[j]).is_err()).collect();
            let n = candidates.len();
            let k = if cfg.text_mask_prob == 0.0 { 0 } else { count(n, cfg.text_mask_prob).max(cfg.text_mask_min.min(n)) };
            for j in rng.choose(&candidates, k) {
                mlm_labels[j] = self.text_ids[j] as i64;
                let u = rng.next_f64();
                if u < 0.8 {
                    text_ids[j] = cfg.mask_token_id;
                } else if u < 0.9 {
                    text_ids[j] = loop {
                        let id = rng.below(cfg.vocab_size) as u32;
                        if special.binary_search(&id).is_err() {
                            break id;
                        }
                    };
                }
            }
            let segs: Vec<usize> = (i * t..(i + 1) * t).filter(|&j| video_mask[j] == 1).collect();
            for j in rng.choose(&segs, count(segs.len(), cfg.video_mask_prob)) {
                video_masked[j] = 1;
            }
        }
        MaskedBatch {
            batch_size: b,
            text_ids,
            text_mask,
            mlm_labels,
            video_features: self.video_features.clone(),
            visual_word_ids: self.visual_word_ids.clone(),
            video_mask,
            video_masked,
            vtm_labels: self.vtm_labels.clone().unwrap_or_else(|| vec![1; b]),
        }
    }
}

/// Where `mask` draws from: one stream for the whole batch, or one per row.
enum MaskStreams<'a> {
    Shared(&'a mut Rng),
    PerRow { seed: u64, step: u64, first_row: u64 },
}

impl Batch {
    /// The batch as the model sees it at inference: nothing masked beyond the `[MASK]` tokens the
    /// caller put in the text.
    pub fn unmasked(&self, cfg: &VideoBertConfig) -> MaskedBatch {
        let (b, l, t) = (self.batch_size, cfg.max_text_len, cfg.max_segments);
        MaskedBatch {
            batch_size: b,
            text_ids: self.text_ids.clone(),
            text_mask: self.text_mask.clone().unwrap_or_else(|| self.text_ids.iter().map(|&id| u8::from(id != cfg.pad_token_id)).collect()),
            mlm_labels: vec![-1; b * l],
            video_features: self.video_features.clone(),
            visual_word_ids: self.visual_word_ids.clone(),
            video_mask: self.video_mask.clone().unwrap_or_else(|| vec![1; b * t]),
            video_masked: vec![0; b * t],
            vtm_labels: self.vtm_labels.clone().unwrap_or_else(|| vec![1; b]),
        }
    }
}

impl MaskedBatch {
    /// Device tensors for the model and the loss targets.
    pub fn to_tensors(&self, cfg: &VideoBertConfig, device: &Device, dtype: DType) -> Result<(ModelInputs, LossTargets)> {
        let (b, l, t, r, f) = (self.batch_size, cfg.max_text_len, cfg.max_segments, cfg.num_regions, cfg.feature_dim);
        let s = cfg.seq_len();
        let as_float = |v: &[u8], shape: (usize, usize)| -> Result<Tensor> {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Ok(Tensor::from_vec(v, shape, device)?.to_dtype(dtype)?)
        };
        let video_features = match &self.video_features {
            Some(x) if r > 0 => Some(Tensor::from_slice(x, (b, t, r, f), device)?.to_dtype(dtype)?),
            Some(x) => Some(Tensor::from_slice(x, (b, t, f), device)?.to_dtype(dtype)?),
            None => None,
        };
        let inputs = ModelInputs {
            text_ids: Tensor::from_slice(&self.text_ids, (b, l), device)?,
            text_mask: as_float(&self.text_mask, (b, l))?,
            video_features,
            visual_word_ids: match &self.visual_word_ids {
                Some(w) => Some(Tensor::from_slice(w, (b, t), device)?),
                None => None,
            },
            video_mask: as_float(&self.video_mask, (b, t))?,
            video_masked: as_float(&self.video_masked, (b, t))?,
        };
        let (mut mlm_positions, mut mlm_labels) = (Vec::new(), Vec::new());
        for (j, &label) in self.mlm_labels.iter().enumerate() {
            if label >= 0 {
                mlm_positions.push(((j / l) * s + 1 + j % l) as u32);
                mlm_labels.push(label as u32);
            }
        }
        let (mut video_positions, mut video_segments) = (Vec::new(), Vec::new());
        for (j, &m) in self.video_masked.iter().enumerate() {
            if m == 1 {
                video_positions.push(((j / t) * s + cfg.video_offset() + j % t) as u32);
                video_segments.push(j as u32);
            }
        }
        let vtm: Vec<u32> = self.vtm_labels.iter().map(|&x| x as u32).collect();
        let targets = LossTargets {
            num_mlm: mlm_positions.len(),
            num_video: video_positions.len(),
            mlm_positions: Tensor::new(mlm_positions.as_slice(), device)?,
            mlm_labels: Tensor::new(mlm_labels.as_slice(), device)?,
            video_positions: Tensor::new(video_positions.as_slice(), device)?,
            video_segments: Tensor::new(video_segments.as_slice(), device)?,
            vtm_labels: Tensor::new(vtm.as_slice(), device)?,
        };
        Ok((inputs, targets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Masked text positions per row of a batch whose rows hold `lens[i]` real words.
    fn masked_per_row(cfg: &VideoBertConfig, lens: &[usize]) -> Vec<usize> {
        let l = cfg.max_text_len;
        let mut text_ids = vec![cfg.pad_token_id; lens.len() * l];
        for (i, &n) in lens.iter().enumerate() {
            for j in 0..n {
                text_ids[i * l + j] = 10 + j as u32;
            }
        }
        let batch = Batch { batch_size: lens.len(), text_ids, ..Default::default() };
        let masked = batch.mask(cfg, &mut Rng::new(7));
        masked.mlm_labels.chunks(l).map(|row| row.iter().filter(|&&y| y >= 0).count()).collect()
    }

    #[test]
    fn short_captions_get_at_least_text_mask_min_masked_tokens() {
        let cfg = VideoBertConfig { max_text_len: 32, ..VideoBertConfig::tiny() };
        // 15 % of 5 rounds to 1: the minimum (2) wins; 15 % of 30 is 4.5 → 5; a 1-word caption: all of it.
        assert_eq!(masked_per_row(&cfg, &[5, 30, 1, 0]), vec![2, 5, 1, 0]);
        let one = VideoBertConfig { text_mask_min: 1, ..cfg.clone() };
        assert_eq!(masked_per_row(&one, &[5, 30]), vec![1, 5]);
        let off = VideoBertConfig { text_mask_prob: 0.0, ..cfg };
        assert_eq!(masked_per_row(&off, &[5, 30]), vec![0, 0]);
    }
}
