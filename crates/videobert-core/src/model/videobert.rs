//! VideoBERT (Sun et al., 2019, "VideoBERT: A Joint Model for Video and Language Representation
//! Learning") with divided space-time attention (Bertasius et al., 2021, TimeSformer).
//!
//! Sequence layout: `[CLS] t_1..t_L [SEP] s_1..s_T [SEP]`, where each segment token `s_t` also owns
//! `R` region tokens. Each block applies (a) spatial attention inside every segment over its `R+1`
//! tokens (`[B·T, R+1, H]`), (b) joint temporal + cross-modal attention over the sequence, (c) a GELU
//! FFN on every token; pre-LayerNorm residuals. Objectives: masked language modelling (decoder tied
//! to the word embeddings), masked video modelling (`l2` | `ce` | `nce`) and video-text matching on
//! `[CLS]`. The `l2` loss is the seed's `1/|M| Σ ||x_i − f(x̃)_i||²` divided by the feature size F
//! (a mean squared error per feature), so that it is on the scale of the text losses whatever F is. The `vb.pp(..)` names below are the tensor names of `model.safetensors` (docs/model.md, "Checkpoint format and tensor names").

use candle_core::{IndexOp, Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::decoder::{smoothed_cross_entropy, CaptionDecoder};
use super::layers::{additive_mask, cross_entropy, embedding_table, linear, FeedForward, HeadTransform, LayerNorm, Linear, SelfAttention};
use crate::config::{ClassifierPooling, VideoBertConfig, VideoInput, VideoLoss};
use crate::kernels::fused;

/// Device tensors for one masked batch (built by `MaskedBatch::to_inputs`).
#[derive(Debug, Clone)]
pub struct ModelInputs {
    /// `[B, L]` u32, already masked.
    pub text_ids: Tensor,
    /// `[B, L]` 0/1 (model dtype).
    pub text_mask: Tensor,
    /// `[B, T, R, F]` or `[B, T, F]` (R = 0), model dtype; required unless video_input = visual_words and R = 0.
    pub video_features: Option<Tensor>,
    /// `[B, T]` u32 visual words.
    pub visual_word_ids: Option<Tensor>,
    /// `[B, T]` 0/1 (model dtype): valid segments.
    pub video_mask: Tensor,
    /// `[B, T]` 0/1 (model dtype): segments replaced by the learned mask embedding.
    pub video_masked: Tensor,
}

/// Loss targets for one masked batch.
#[derive(Debug, Clone)]
pub struct LossTargets {
    /// Flat indices `b·S + 1 + l` of masked text tokens in `[B·S]`, and their original ids.
    pub mlm_positions: Tensor,
    pub mlm_labels: Tensor,
    /// Flat indices `b·S + video_offset + t` of masked segments, and `b·T + t` into the segment targets.
    pub video_positions: Tensor,
    pub video_segments: Tensor,
    /// `[B]` u32: 1 = the text belongs to the video.
    pub vtm_labels: Tensor,
    pub num_mlm: usize,
    pub num_video: usize,
}

/// Teacher-forcing inputs and targets of a captioned batch (built by `Batch::caption_targets`).
#[derive(Debug, Clone)]
pub struct CaptionTargets {
    /// `[B, max_text_len + 1]` u32: `[CLS]`, the caption's word pieces, then padding.
    pub input_ids: Tensor,
    /// Flat indices `b·(L + 1) + i` of the positions that predict a word piece or the final `[SEP]`,
    /// and what they predict.
    pub positions: Tensor,
    pub labels: Tensor,
}

#[derive(Debug, Clone)]
pub struct Losses {
    pub total: Tensor,
    pub mlm: Tensor,
    pub video: Tensor,
    pub vtm: Tensor,
    /// Cross-entropy of the classification head (0 in pre-training).
    pub classify: Tensor,
    /// Teacher-forced cross-entropy per caption word piece, without label smoothing (0 unless the
    /// model captions; `total` is the smoothed loss).
    pub caption: Tensor,
    /// Fraction of the masked text tokens whose most probable word is the original (no gradient;
    /// 0 when nothing is masked).
    pub mlm_accuracy: Tensor,
}

struct VideoBertEmbeddings {
    word: Tensor,
    text_position: Tensor,
    temporal: Tensor,
    spatial: Option<Tensor>,
    token_type: Tensor,
    segment_projection: Option<Linear>,
    visual_words: Option<Tensor>,
    region_projection: Option<Linear>,
    video_mask_embedding: Tensor,
    norm: LayerNorm,
    cfg: VideoBertConfig,
}

impl VideoBertEmbeddings {
    fn new(cfg: &VideoBertConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let r = cfg.num_regions;
        let (segment_projection, visual_words) = match cfg.video_input {
            VideoInput::Features => (Some(linear(cfg.feature_dim, h, vb.pp("segment_projection"))?), None),
            VideoInput::VisualWords => (None, Some(embedding_table(cfg.num_visual_words, h, vb.pp("visual_word_embeddings"))?)),
        };
        Ok(Self {
            word: embedding_table(cfg.vocab_size, h, vb.pp("word_embeddings"))?,
            text_position: embedding_table(cfg.max_text_len + 2, h, vb.pp("text_position_embeddings"))?,
            temporal: embedding_table(cfg.max_segments + 1, h, vb.pp("temporal_embeddings"))?,
            spatial: if r > 0 { Some(embedding_table(r + 1, h, vb.pp("spatial_embeddings"))?) } else { None },
            token_type: embedding_table(2, h, vb.pp("type_embeddings"))?,
            segment_projection,
            visual_words,
            region_projection: if r > 0 { Some(linear(cfg.feature_dim, h, vb.pp("region_projection"))?) } else { None },
            video_mask_embedding: vb.get_with_hints(h, "video_mask_embedding", candle_nn::Init::Const(0.0))?,
            norm: LayerNorm::new(h, cfg.layer_norm_eps, vb.pp("norm"))?,
            cfg: cfg.clone(),
        })
    }

    /// Returns the joint sequence `[B, S, H]` and the region tokens `[B, T, R, H]` (R > 0).
    fn forward(&self, inp: &ModelInputs) -> Result<(Tensor, Option<Tensor>)> {
        let cfg = &self.cfg;
        let (b, l) = inp.text_ids.dims2()?;
        let (t, h, r) = (cfg.max_segments, cfg.hidden_size, cfg.num_regions);
        let dev = inp.text_ids.device();
        let ids = |v: u32, n: usize| Tensor::full(v, (b, n), dev);

        // Text: [CLS] t_1..t_L [SEP] + positions + type 0.
        let text_ids = Tensor::cat(&[ids(cfg.cls_token_id, 1)?, inp.text_ids.clone(), ids(cfg.sep_token_id, 1)?], 1)?;
        let text = self.word.embedding_lookup(&text_ids)?.reshape((b, l + 2, h))?;
        let text = text.broadcast_add(&self.text_position)?.broadcast_add(&self.token_type.i(0)?)?;

        // Segment tokens: projection of the region mean (or the visual word) + time + space 0 + type 1.
        let video_type = self.token_type.i(1)?;
        let time = self.temporal.narrow(0, 0, t)?; // [T, H]
        let mut segments = match (&self.segment_projection, &self.visual_words) {
            (Some(proj), _) => {
                let feats = inp.video_features.as_ref().expect("features checked at batch validation");
                let pooled = if r > 0 { feats.mean(2)? } else { feats.clone() };
                proj.forward(&pooled)?
            }
            (None, Some(table)) => {
                let words = inp.visual_word_ids.as_ref().expect("visual words checked at batch validation");
                table.embedding_lookup(words)?.reshape((b, t, h))?
            }
            (None, None) => unreachable!("one video input is always built"),
        };
        segments = segments.broadcast_add(&time)?.broadcast_add(&video_type)?;
        if let Some(spatial) = &self.spatial {
            segments = segments.broadcast_add(&spatial.i(0)?)?;
        }
        // Masked segments: every token of the segment becomes the learned mask embedding (plus its
        // position), so the answer cannot leak through the segment's region tokens.
        let masked = inp.video_masked.unsqueeze(2)?; // [B, T, 1]
        let keep = (1.0 - &masked)?;
        let mask_tok = self.video_mask_embedding.broadcast_add(&time)?.broadcast_add(&video_type)?; // [T, H]
        let segments = (segments.broadcast_mul(&keep)? + masked.broadcast_mul(&mask_tok)?)?;

        let regions = match (&self.region_projection, &self.spatial) {
            (Some(proj), Some(spatial)) => {
                let feats = inp.video_features.as_ref().expect("features checked at batch validation");
                let pos = time.unsqueeze(1)?.broadcast_add(&spatial.narrow(0, 1, r)?.unsqueeze(0)?)?; // [T, R, H]
                let regions = proj.forward(feats)?.broadcast_add(&pos)?.broadcast_add(&video_type)?;
                let masked = masked.unsqueeze(3)?; // [B, T, 1, 1]
                let mask_tok = pos.broadcast_add(&self.video_mask_embedding)?.broadcast_add(&video_type)?;
                let regions = (regions.broadcast_mul(&(1.0 - &masked)?)? + masked.broadcast_mul(&mask_tok)?)?;
                Some(self.norm.forward(&regions)?)
            }
            _ => None,
        };

        let tail = self.word.i(cfg.sep_token_id as usize)?.add(&self.temporal.i(t)?)?.add(&video_type)?;
        let tail = tail.reshape((1, 1, h))?.broadcast_as((b, 1, h))?;
        let seq = Tensor::cat(&[text, segments, tail], 1)?;
        Ok((self.norm.forward(&seq)?, regions))
    }
}

trait EmbeddingLookup {
    fn embedding_lookup(&self, ids: &Tensor) -> Result<Tensor>;
}

impl EmbeddingLookup for Tensor {
    /// Rows of this `[V, H]` table for any-shaped ids; the result is `[ids.elem_count(), H]`.
    fn embedding_lookup(&self, ids: &Tensor) -> Result<Tensor> {
        self.index_select(&ids.flatten_all()?, 0)
    }
}

struct VideoBertLayer {
    spatial: Option<(LayerNorm, SelfAttention)>,
    joint_norm: LayerNorm,
    joint_attention: SelfAttention,
    ffn_norm: LayerNorm,
    ffn: FeedForward,
}

impl VideoBertLayer {
    fn new(cfg: &VideoBertConfig, vb: VarBuilder) -> Result<Self> {
        let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let spatial = if cfg.num_regions > 0 {
            Some((LayerNorm::new(h, eps, vb.pp("spatial_norm"))?, SelfAttention::new(h, cfg.num_attention_heads, vb.pp("spatial_attention"))?))
        } else {
            None
        };
        Ok(Self {
            spatial,
            joint_norm: LayerNorm::new(h, eps, vb.pp("joint_norm"))?,
            joint_attention: SelfAttention::new(h, cfg.num_attention_heads, vb.pp("joint_attention"))?,
            ffn_norm: LayerNorm::new(h, eps, vb.pp("ffn_norm"))?,
            ffn: FeedForward::new(h, cfg.intermediate_size, vb.pp("ffn"))?,
        })
    }

    fn forward(&self, seq: Tensor, regions: Option<Tensor>, mask: &Tensor, video_offset: usize) -> Result<(Tensor, Option<Tensor>)> {
        let (b, s, h) = seq.dims3()?;
        let (seq, regions) = match (&self.spatial, regions) {
            (Some((norm, attn)), Some(regions)) => {
                // (a) spatial attention inside each segment: [B·T, R+1, H].
                let (_, t, r, _) = regions.dims4()?;
                let segs = seq.narrow(1, video_offset, t)?;
                let tokens = Tensor::cat(&[segs.unsqueeze(2)?, regions], 2)?.reshape((b * t, r + 1, h))?;
                let tokens = attn.residual(&tokens, norm, None)?.reshape((b, t, r + 1, h))?;
                let segs = tokens.narrow(2, 0, 1)?.squeeze(2)?;
                let regions = tokens.narrow(2, 1, r)?;
                let seq = Tensor::cat(&[seq.narrow(1, 0, video_offset)?, segs, seq.narrow(1, video_offset + t, s - video_offset - t)?], 1)?;
                (seq, Some(regions))
            }
            (_, regions) => (seq, regions),
        };
        // (b) joint temporal + cross-modal attention over the whole sequence.
        let seq = self.joint_attention.residual(&seq, &self.joint_norm, Some(mask))?;
        // (c) FFN on every token.
        let ffn = |x: &Tensor| -> Result<Tensor> { self.ffn.residual(x, &self.ffn_norm) };
        Ok((ffn(&seq)?, regions.map(|r| ffn(&r)).transpose()?))
    }

    /// The same layer as one fused op on the flat state (`fused::layer`: the sequence rows, then
    /// the region rows).
    fn forward_fused(&self, state: &Tensor, mask: &Tensor, geometry: fused::layer::Geometry) -> Result<Tensor> {
        let params = fused::layer::LayerParams {
            spatial: self.spatial.as_ref().map(|(norm, attn)| attn.block_params(norm)),
            joint: self.joint_attention.block_params(&self.joint_norm),
            ffn: self.ffn.block_params(&self.ffn_norm),
            geometry,
        };
        fused::layer::encoder_layer(state, mask, &params)
    }
}

struct VideoHead {
    transform: HeadTransform,
    /// `[F, H]` output for `l2` / `nce`; `None` for `ce` (tied to the visual-word embeddings).
    output: Option<Linear>,
    /// `[W]` bias of the tied `ce` decoder.
    bias: Option<Tensor>,
}

/// The VideoBERT encoder with its three pre-training heads.
pub struct VideoBertModel {
    embeddings: VideoBertEmbeddings,
    layers: Vec<VideoBertLayer>,
    final_norm: LayerNorm,
    mlm: HeadTransform,
    mlm_bias: Tensor,
    video: VideoHead,
    vtm_pooler: Linear,
    vtm_classifier: Linear,
    /// `heads.classifier`: `[C, H]` on the pooled encoder output (`num_labels > 0`, pooling not `mask`).
    classifier: Option<Linear>,
    /// `decoder.*`: the caption decoder (`decoder_layers > 0`).
    decoder: Option<CaptionDecoder>,
    cfg: VideoBertConfig,
}

impl VideoBertModel {
    pub fn new(cfg: &VideoBertConfig, vb: VarBuilder) -> Result<Self> {
        let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let layers = (0..cfg.num_hidden_layers).map(|i| VideoBertLayer::new(cfg, vb.pp(format!("encoder.layers.{i}")))).collect::<Result<Vec<_>>>()?;
        let vh = vb.pp("heads.video");
        let video = match cfg.video_loss {
            VideoLoss::Ce => VideoHead {
                transform: HeadTransform::new(h, eps, vh.clone())?,
                output: None,
                bias: Some(vh.get_with_hints(cfg.num_visual_words, "bias", candle_nn::Init::Const(0.0))?),
            },
            VideoLoss::L2 | VideoLoss::Nce => {
                VideoHead { transform: HeadTransform::new(h, eps, vh.clone())?, output: Some(linear(h, cfg.feature_dim, vh.pp("output"))?), bias: None }
            }
        };
        Ok(Self {
            embeddings: VideoBertEmbeddings::new(cfg, vb.pp("embeddings"))?,
            layers,
            final_norm: LayerNorm::new(h, eps, vb.pp("encoder.final_norm"))?,
            mlm: HeadTransform::new(h, eps, vb.pp("heads.mlm"))?,
            mlm_bias: vb.pp("heads.mlm").get_with_hints(cfg.vocab_size, "bias", candle_nn::Init::Const(0.0))?,
            video,
            vtm_pooler: linear(h, h, vb.pp("heads.vtm.pooler"))?,
            vtm_classifier: linear(h, 2, vb.pp("heads.vtm.classifier"))?,
            classifier: if cfg.num_labels > 0 && cfg.classifier_pooling != ClassifierPooling::Mask {
                Some(linear(h, cfg.num_labels, vb.pp("heads.classifier"))?)
            } else {
                None
            },
            decoder: if cfg.decoder_layers > 0 { Some(CaptionDecoder::new(cfg, vb.pp("decoder"))?) } else { None },
            cfg: cfg.clone(),
        })
    }

    /// Encoder output for the joint sequence, `[B, S, H]`, after the final LayerNorm.
    pub fn encode(&self, inp: &ModelInputs) -> Result<Tensor> {
        let (b, l) = inp.text_ids.dims2()?;
        let mask = Self::key_mask(inp)?;
        let (mut seq, mut regions) = self.embeddings.forward(inp)?;
        if fused::applies(&seq) {
            // One fused op per layer on the flat state: the sequence rows, then the region rows
            // (the regions leave the encoder with it: nothing reads them after the last layer).
            let (_, s, h) = seq.dims3()?;
            let rows = seq.reshape((b * s, h))?;
            let (t, r, mut state) = match regions {
                Some(reg) => {
                    let (_, t, r, _) = reg.dims4()?;
                    (t, r, Tensor::cat(&[rows, reg.reshape((b * t * r, h))?], 0)?)
                }
                None => (0, 0, rows),
            };
            let geometry = fused::layer::Geometry { batch: b, seq: s, segments: t, regions: r, video_offset: l + 2, hidden: h };
            for layer in &self.layers {
                state = layer.forward_fused(&state, &mask, geometry)?;
            }
            return self.final_norm.forward(&state.narrow(0, 0, b * s)?.reshape((b, s, h))?);
        }
        for layer in &self.layers {
            (seq, regions) = layer.forward(seq, regions, &mask, l + 2)?;
        }
        self.final_norm.forward(&seq)
    }

    /// The additive key mask `[B, S]` of the joint sequence: 0 at `[CLS]`, the `[SEP]`s, real text
    /// tokens and valid segments; −1e4 at padding. The encoder attends with it; the caption decoder
    /// reads the encoder's outputs through it.
    pub fn key_mask(inp: &ModelInputs) -> Result<Tensor> {
        let b = inp.text_ids.dim(0)?;
        let dtype = inp.text_mask.dtype();
        let ones = Tensor::ones((b, 1), dtype, inp.text_mask.device())?;
        let attend = Tensor::cat(&[&ones, &inp.text_mask, &ones, &inp.video_mask, &ones], 1)?;
        additive_mask(&attend, dtype)
    }

    fn caption_decoder(&self) -> Result<&CaptionDecoder> {
        match &self.decoder {
            Some(d) => Ok(d),
            None => candle_core::bail!("the model has no caption decoder (decoder_layers = 0)"),
        }
    }

    /// Teacher-forced captioning loss (label-smoothed; `caption` is the plain cross-entropy) of a
    /// batch whose encoder inputs are unmasked, and the fraction of target word pieces predicted
    /// right (top-1, no gradient).
    pub fn caption_losses(&self, inp: &ModelInputs, tg: &CaptionTargets) -> Result<(Losses, Tensor)> {
        let decoder = self.caption_decoder()?;
        let memory = self.encode(inp)?;
        let word = &self.embeddings.word;
        let hidden = decoder.forward(word, &tg.input_ids, &memory, &Self::key_mask(inp)?)?;
        let (b, n, h) = hidden.dims3()?;
        let logits = decoder.logits(word, &hidden.reshape((b * n, h))?.index_select(&tg.positions, 0)?)?;
        let (total, caption) = smoothed_cross_entropy(&logits, &tg.labels, self.cfg.label_smoothing)?;
        let accuracy = logits.detach().argmax(1)?.eq(&tg.labels)?.to_dtype(total.dtype())?.mean_all()?;
        let zero = Tensor::zeros((), total.dtype(), total.device())?;
        let losses = Losses { total, mlm: zero.clone(), video: zero.clone(), vtm: zero.clone(), classify: zero.clone(), caption, mlm_accuracy: zero };
        Ok((losses, accuracy))
    }

    /// `log P(next word piece)` `[N, V]` after each decoder input `ids [N, n]` (`[CLS]` + the caption
    /// so far), reading the encoder outputs `memory [N, S, H]` through `memory_mask [N, S]`.
    pub fn next_word_log_probs(&self, ids: &Tensor, memory: &Tensor, memory_mask: &Tensor) -> Result<Tensor> {
        let decoder = self.caption_decoder()?;
        let word = &self.embeddings.word;
        let hidden = decoder.forward(word, ids, memory, memory_mask)?;
        let n = hidden.dim(1)?;
        let last = hidden.narrow(1, n - 1, 1)?.squeeze(1)?;
        candle_nn::ops::log_softmax(&decoder.logits(word, &last)?, D::Minus1)
    }

    /// Vocabulary logits `[M, V]` for encoder rows `[M, H]` (the tied MLM decoder).
    pub fn mlm_logits(&self, rows: &Tensor) -> Result<Tensor> {
        self.mlm.forward(rows)?.matmul(&self.embeddings.word.t()?)?.broadcast_add(&self.mlm_bias)
    }

    /// Video-text matching logits `[B, 2]` (index 1 = match) from the encoder output `[B, S, H]`.
    pub fn vtm_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let cls = hidden.i((.., 0, ..))?;
        self.vtm_classifier.forward(&self.vtm_pooler.forward(&cls)?.tanh()?)
    }

    /// Mean of the encoder rows `[offset, offset + n)` where `mask` (`[B, n]`, 0/1) is 1: `[B, H]`
    /// (zeros for a sample with no valid row).
    pub fn masked_mean(hidden: &Tensor, offset: usize, mask: &Tensor) -> Result<Tensor> {
        let (_, n) = mask.dims2()?;
        let rows = hidden.narrow(1, offset, n)?;
        let sum = rows.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
        sum.broadcast_div(&mask.sum_keepdim(1)?.maximum(1.0)?)
    }

    /// The vector the classification head reads: `[CLS]`, the mean of the valid segment or text
    /// tokens, or the output at the last `[MASK]` of the text.
    pub fn pooled(&self, hidden: &Tensor, inp: &ModelInputs) -> Result<Tensor> {
        match self.cfg.classifier_pooling {
            ClassifierPooling::Cls => hidden.i((.., 0, ..)),
            ClassifierPooling::Segments => Self::masked_mean(hidden, self.cfg.video_offset(), &inp.video_mask),
            ClassifierPooling::Text => Self::masked_mean(hidden, 1, &inp.text_mask),
            ClassifierPooling::Mask => {
                let (b, s, h) = hidden.dims3()?;
                let rows = self.last_mask_rows(&inp.text_ids, s)?;
                hidden.reshape((b * s, h))?.index_select(&rows, 0)
            }
        }
    }

    /// Flat indices `b·S + 1 + l` of the last `[MASK]` of each text (`[B, L]`); an error naming the
    /// first text without one.
    fn last_mask_rows(&self, text_ids: &Tensor, seq_len: usize) -> Result<Tensor> {
        let ids = text_ids.to_vec2::<u32>()?;
        let mut rows = Vec::with_capacity(ids.len());
        for (b, text) in ids.iter().enumerate() {
            match text.iter().rposition(|&id| id == self.cfg.mask_token_id) {
                Some(l) => rows.push((b * seq_len + 1 + l) as u32),
                None => candle_core::bail!("sample {b}: a mask-pooled classifier reads the last [MASK] of the text (a prompt), and this text has none"),
            }
        }
        Tensor::new(rows, text_ids.device())
    }

    /// Class logits `[B, C]`; an error when the model has no classification head.
    pub fn classifier_logits(&self, hidden: &Tensor, inp: &ModelInputs) -> Result<Tensor> {
        match &self.classifier {
            Some(head) => head.forward(&self.pooled(hidden, inp)?),
            None if self.cfg.num_labels > 0 && self.cfg.classifier_pooling == ClassifierPooling::Mask => {
                let words = Tensor::new(self.cfg.classifier_words.as_slice(), hidden.device())?;
                self.mlm_logits(&self.pooled(hidden, inp)?)?.index_select(&words, 1)
            }
            None => candle_core::bail!("the model has no classification head (num_labels = 0)"),
        }
    }

    /// The matching head's score of each row, `[B]`: logit of "the text belongs to the video" minus
    /// logit of "it does not" (its log-odds).
    pub fn match_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let logits = self.vtm_logits(hidden)?;
        (logits.narrow(1, 1, 1)? - logits.narrow(1, 0, 1)?)?.squeeze(1)
    }

    /// Multiple choice on unmasked inputs: rows in groups of `k` (one candidate each), the
    /// cross-entropy of the softmax over each group's matching scores against `labels [B / k]`
    /// (reported as the classification loss), and the scores `[B / k, k]` (for accuracy).
    pub fn choice_losses(&self, inp: &ModelInputs, k: usize, labels: &Tensor) -> Result<(Losses, Tensor)> {
        let hidden = self.encode(inp)?;
        let b = hidden.dim(0)?;
        let scores = self.match_logits(&hidden)?.reshape((b / k, k))?;
        let classify = cross_entropy(&scores, labels)?;
        let zero = Tensor::zeros((), classify.dtype(), classify.device())?;
        Ok((
            Losses { total: classify.clone(), mlm: zero.clone(), video: zero.clone(), vtm: zero.clone(), classify, caption: zero.clone(), mlm_accuracy: zero },
            scores,
        ))
    }

    /// Classification loss on unmasked inputs, and the logits (for accuracy).
    pub fn classification_losses(&self, inp: &ModelInputs, labels: &Tensor) -> Result<(Losses, Tensor)> {
        let hidden = self.encode(inp)?;
        let logits = self.classifier_logits(&hidden, inp)?;
        let classify = cross_entropy(&logits, labels)?;
        let zero = Tensor::zeros((), classify.dtype(), classify.device())?;
        Ok((
            Losses { total: classify.clone(), mlm: zero.clone(), video: zero.clone(), vtm: zero.clone(), classify, caption: zero.clone(), mlm_accuracy: zero },
            logits,
        ))
    }

    /// The three pre-training losses and their weighted sum.
    pub fn losses(&self, inp: &ModelInputs, tg: &LossTargets) -> Result<Losses> {
        let cfg = &self.cfg;
        let hidden = self.encode(inp)?;
        let (b, s, h) = hidden.dims3()?;
        let flat = hidden.reshape((b * s, h))?;
        let dtype = hidden.dtype();
        let zero = || Tensor::zeros((), dtype, hidden.device());

        let (mlm, mlm_accuracy) = if tg.num_mlm > 0 {
            let logits = self.mlm_logits(&flat.index_select(&tg.mlm_positions, 0)?)?;
            let hits = logits.detach().argmax(1)?.eq(&tg.mlm_labels)?.to_dtype(dtype)?.mean_all()?;
            (cross_entropy(&logits, &tg.mlm_labels)?, hits)
        } else {
            (zero()?, zero()?)
        };

        let video = if tg.num_video > 0 {
            let x = self.video.transform.forward(&flat.index_select(&tg.video_positions, 0)?)?;
            match cfg.video_loss {
                VideoLoss::Ce => {
                    let table = self.embeddings.visual_words.as_ref().expect("ce implies visual words");
                    let bias = self.video.bias.as_ref().expect("ce head has a bias");
                    let logits = x.matmul(&table.t()?)?.broadcast_add(bias)?;
                    let words = inp.visual_word_ids.as_ref().expect("ce implies visual words").flatten_all()?;
                    cross_entropy(&logits, &words.index_select(&tg.video_segments, 0)?)?
                }
                VideoLoss::L2 | VideoLoss::Nce => {
                    let pred = self.video.output.as_ref().expect("l2/nce head has an output").forward(&x)?;
                    let target = segment_targets(inp, cfg)?.index_select(&tg.video_segments, 0)?;
                    if cfg.video_loss == VideoLoss::L2 {
                        // Mean squared error per feature, averaged over the masked segments: the loss
                        // does not grow with the feature size (44 builtin, 512–2048 for backbones).
                        ((pred - target)?.sqr()?.sum_all()? / (tg.num_video * cfg.feature_dim) as f64)?
                    } else {
                        let logits = (l2_normalize(&pred)?.matmul(&l2_normalize(&target)?.t()?)? / cfg.nce_temperature)?;
                        let diag = Tensor::arange(0u32, tg.num_video as u32, hidden.device())?;
                        cross_entropy(&logits, &diag)?
                    }
                }
            }
        } else {
            zero()?
        };

        let vtm = cross_entropy(&self.vtm_logits(&hidden)?, &tg.vtm_labels)?;

        let total = ((&mlm * cfg.mlm_weight)? + (&video * cfg.video_weight)?)?;
        let total = (total + (&vtm * cfg.vtm_weight)?)?;
        Ok(Losses { total, mlm, video, vtm, classify: zero()?, caption: zero()?, mlm_accuracy })
    }
}

/// The pooled feature of every segment, `[B·T, F]`: the region mean, or the segment feature (R = 0).
fn segment_targets(inp: &ModelInputs, cfg: &VideoBertConfig) -> Result<Tensor> {
    let feats = inp.video_features.as_ref().expect("features checked at batch validation");
    let pooled = if cfg.num_regions > 0 { feats.mean(2)? } else { feats.clone() };
    let (b, t, f) = pooled.dims3()?;
    pooled.reshape((b * t, f))
}

fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    x.broadcast_div(&(x.sqr()?.sum_keepdim(D::Minus1)? + 1e-12)?.sqrt()?)
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor, Var};
    use candle_nn::{VarBuilder, VarMap};

    use super::{additive_mask, fused, VideoBertLayer};
    use crate::VideoBertConfig;

    fn random(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
        let n: usize = shape.iter().product();
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let v: Vec<f64> = (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap().to_dtype(dtype).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f64> {
        t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1().unwrap()
    }

    fn max_rel(a: &Tensor, b: &Tensor) -> f64 {
        let (a, b) = (values(a), values(b));
        let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
        a.iter().zip(&b).fold(0f64, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// The fused encoder layer (one op on the flat state) against the same layer as separate fused
    /// blocks with candle's token plumbing between them: the output and the state's gradient are
    /// the same bits (rows are only gathered and scattered); the parameters' gradients agree to
    /// rounding (the FFN's sum the sequence and region rows in one GEMM instead of two).
    #[test]
    fn fused_encoder_layer_matches_the_separate_blocks() {
        for dtype in [DType::F32, DType::F64] {
            let cfg = VideoBertConfig {
                hidden_size: 32,
                num_attention_heads: 4,
                intermediate_size: 48,
                max_text_len: 5,
                max_segments: 3,
                num_regions: 2,
                ..VideoBertConfig::tiny()
            };
            let varmap = VarMap::new();
            let layer = VideoBertLayer::new(&cfg, VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu)).unwrap();
            let vars = varmap.all_vars();
            for (i, v) in vars.iter().enumerate() {
                v.set(&(random(v.dims(), dtype, 80 + i as u64) * 0.3).unwrap()).unwrap();
            }
            let (b, l, t, r, h) = (2, cfg.max_text_len, cfg.max_segments, cfg.num_regions, cfg.hidden_size);
            let s = l + t + 3;
            let seq = Var::from_tensor(&random(&[b, s, h], dtype, 1)).unwrap();
            let regions = Var::from_tensor(&random(&[b, t, r, h], dtype, 2)).unwrap();
            let keep: Vec<f64> = (0..b * s).map(|i| if i % s == 3 + i / s || i % s == s - 2 { 0.0 } else { 1.0 }).collect();
            let mask = additive_mask(&Tensor::from_vec(keep, (b, s), &Device::Cpu).unwrap(), dtype).unwrap();
            let (probe_seq, probe_regions) = (random(&[b, s, h], dtype, 3), random(&[b, t, r, h], dtype, 4));
            let bits = |t: &Tensor| values(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();

            let (y_seq, y_regions) = layer.forward(seq.as_tensor().clone(), Some(regions.as_tensor().clone()), &mask, l + 2).unwrap();
            let y_regions = y_regions.unwrap();
            let objective = ((&y_seq * &probe_seq).unwrap().sum_all().unwrap() + (&y_regions * &probe_regions).unwrap().sum_all().unwrap()).unwrap();
            let g_blocks = objective.backward().unwrap();
            let side_blocks: Vec<Tensor> = vars.iter().map(|v| fused::param_grads::take(v.as_tensor()).unwrap()).collect();

            let flat = |a: &Tensor, c: &Tensor| Tensor::cat(&[a.reshape((b * s, h)).unwrap(), c.reshape((b * t * r, h)).unwrap()], 0).unwrap();
            let geometry = fused::layer::Geometry { batch: b, seq: s, segments: t, regions: r, video_offset: l + 2, hidden: h };
            let y = layer.forward_fused(&flat(seq.as_tensor(), regions.as_tensor()), &mask, geometry).unwrap();
            let g_layer = (&y * &flat(&probe_seq, &probe_regions)).unwrap().sum_all().unwrap().backward().unwrap();
            let side_layer: Vec<Tensor> = vars.iter().map(|v| fused::param_grads::take(v.as_tensor()).unwrap()).collect();

            assert_eq!(bits(&y), bits(&flat(&y_seq, &y_regions)), "{dtype:?} output");
            let grad = |g: &candle_core::backprop::GradStore| flat(g.get(seq.as_tensor()).unwrap(), g.get(regions.as_tensor()).unwrap());
            assert_eq!(bits(&grad(&g_layer)), bits(&grad(&g_blocks)), "{dtype:?} gradient of the state");
            let tol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
            for ((v, a), e) in vars.iter().zip(&side_layer).zip(&side_blocks) {
                assert!(max_rel(a, e) < tol, "{dtype:?} parameter gradient {:?}: {:e}", v.dims(), max_rel(a, e));
            }
        }
    }
}
