//! Model configuration: presets, JSON (snake_case on disk), and validation that names the field.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a segment enters the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoInput {
    /// Continuous segment features `[T, R, F]` (or `[T, F]` when `num_regions == 0`).
    Features,
    /// Discrete visual-word ids `[T]` from the hierarchical k-means codebook (the original VideoBERT).
    VisualWords,
}

/// The masked-video-modelling objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoLoss {
    /// Regress the pooled segment feature: `1/|M| Σ ||x_i − f(x̃)_i||²`.
    L2,
    /// Cross-entropy over visual words (requires `video_input = "visual_words"`).
    Ce,
    /// Contrastive (InfoNCE) over the batch's masked segments, as in CBT.
    Nce,
}

/// What a classification head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierPooling {
    /// The encoder output at `[CLS]`.
    Cls,
    /// The mean of the encoder outputs at the valid segment tokens.
    Segments,
    /// The mean of the encoder outputs at the valid text tokens — with a prompt of `[MASK]` tokens as
    /// the text, the head reads what the masked-language-model pathway predicts from the video.
    Text,
    /// Prompt-based classification (PET, Schick & Schütze 2021): the pre-trained masked-language-model
    /// head at the last `[MASK]` of the text (a prompt such as "a [MASK] moves [MASK]"), its logits
    /// of `classifier_words` (one word piece per class) as the class logits. No new tensors: the
    /// classifier starts as the zero-shot fill-in-the-blank answer.
    Mask,
}

/// Every architectural and objective hyper-parameter of a VideoBERT model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoBertConfig {
    /// Text vocabulary size (WordPiece).
    pub vocab_size: usize,
    /// Width `H` of every token.
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Width of the GELU feed-forward layer.
    pub intermediate_size: usize,
    /// `L`: text tokens per sample (without `[CLS]`/`[SEP]`).
    pub max_text_len: usize,
    /// `T`: segments per sample.
    pub max_segments: usize,
    /// `R`: region tokens per segment (a g×g grid); 0 = one token per segment (original VideoBERT).
    pub num_regions: usize,
    /// `F`: feature size of a region / segment vector.
    pub feature_dim: usize,
    pub video_input: VideoInput,
    /// Codebook size for `video_input = "visual_words"`.
    pub num_visual_words: usize,
    pub video_loss: VideoLoss,
    /// Temperature of the `nce` video loss.
    pub nce_temperature: f64,
    pub mlm_weight: f64,
    pub video_weight: f64,
    pub vtm_weight: f64,
    /// Fraction of text tokens masked for MLM (then 80 % [MASK], 10 % random, 10 % kept).
    pub text_mask_prob: f64,
    /// At least this many text tokens are masked per caption (all of them when it is shorter):
    /// 15 % of a five-word caption rounds to one token, too little signal for short captions.
    pub text_mask_min: usize,
    /// Fraction of segments masked for masked video modelling.
    pub video_mask_prob: f64,
    pub layer_norm_eps: f64,
    /// Standard deviation of the normal initialisation of weights.
    pub initializer_range: f64,
    pub pad_token_id: u32,
    pub cls_token_id: u32,
    pub sep_token_id: u32,
    pub mask_token_id: u32,
    /// Classes of the classification head (`heads.classifier`); 0 = no head (pre-training).
    pub num_labels: usize,
    /// What the classification head reads.
    pub classifier_pooling: ClassifierPooling,
    /// With `classifier_pooling = mask`: the word-piece id of each class, in class order
    /// (`num_labels` of them); empty otherwise.
    pub classifier_words: Vec<u32>,
    /// Layers of the caption decoder (`decoder.*`: a Transformer decoder with causal self-attention
    /// and cross-attention to the encoder's outputs, tied to the word embeddings); 0 = no decoder.
    /// A model with a decoder trains the captioning loss on batches with `caption_ids`.
    pub decoder_layers: usize,
    /// Label smoothing of the captioning loss: the target distribution puts `1 − ε` on the
    /// reference word piece and `ε` spread uniformly over the vocabulary.
    pub label_smoothing: f64,
}

/// What a model trains: fixed by its heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// MLM, masked video modelling and matching on unlabelled video-text pairs.
    Pretrain,
    /// Cross-entropy of the classification head on labelled batches (`num_labels > 0`).
    Classify,
    /// Teacher-forced cross-entropy of the caption decoder on captioned batches (`decoder_layers > 0`).
    Caption,
}

impl Default for VideoBertConfig {
    fn default() -> Self {
        Self::small()
    }
}

pub const PRESETS: [&str; 4] = ["tiny", "small", "base", "large"];

/// How a preset is pre-trained when the caller says nothing else: the peak learning rate and the
/// batch size `pretrain` uses. A small model on a few hundred clips needs a large rate and batch for
/// the matching head to leave ln 2 at all (at lr 1e-4, batch 8 the tiny preset learned nothing
/// cross-modal in 2000 steps); the GPU presets keep BERT's / the VideoBERT paper's 1e-4 at batch
/// 128. How these were measured: docs/pretraining.md, "Defaults that learn".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresetTraining {
    pub lr: f64,
    pub batch_size: usize,
}

impl PresetTraining {
    pub fn of(name: &str) -> Result<Self> {
        match name {
            "tiny" => Ok(Self { lr: 2e-3, batch_size: 32 }),
            "small" => Ok(Self { lr: 1e-3, batch_size: 32 }),
            "base" | "large" => Ok(Self { lr: 1e-4, batch_size: 128 }),
            _ => Err(Error::UnknownPreset { name: name.to_string() }),
        }
    }
}

impl VideoBertConfig {
    /// Tests and examples: H=64, 2 layers, 2 heads.
    pub fn tiny() -> Self {
        Self {
            vocab_size: 512,
            hidden_size: 64,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 256,
            max_text_len: 16,
            max_segments: 8,
            num_regions: 4,
            feature_dim: 32,
            ..Self::small()
        }
    }

    /// CPU training: H=256, 4 layers, 4 heads, FFN 1024, L=32, T=16, R=4, F=512.
    pub fn small() -> Self {
        Self {
            vocab_size: 8192,
            hidden_size: 256,
            num_hidden_layers: 4,
            num_attention_heads: 4,
            intermediate_size: 1024,
            max_text_len: 32,
            max_segments: 16,
            num_regions: 4,
            feature_dim: 512,
            video_input: VideoInput::Features,
            num_visual_words: 20_736,
            video_loss: VideoLoss::L2,
            nce_temperature: 0.1,
            mlm_weight: 1.0,
            video_weight: 1.0,
            vtm_weight: 1.0,
            text_mask_prob: 0.15,
            text_mask_min: 2,
            video_mask_prob: 0.15,
            layer_norm_eps: 1e-12,
            initializer_range: 0.02,
            pad_token_id: 0,
            cls_token_id: 2,
            sep_token_id: 3,
            mask_token_id: 4,
            num_labels: 0,
            classifier_pooling: ClassifierPooling::Cls,
            classifier_words: Vec::new(),
            decoder_layers: 0,
            label_smoothing: 0.1,
        }
    }

    /// GPU: BERT-base width.
    pub fn base() -> Self {
        Self {
            vocab_size: 30_522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            max_text_len: 64,
            max_segments: 32,
            feature_dim: 2048,
            ..Self::small()
        }
    }

    /// GPU: BERT-large width.
    pub fn large() -> Self {
        Self { hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096, ..Self::base() }
    }

    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "tiny" => Ok(Self::tiny()),
            "small" => Ok(Self::small()),
            "base" => Ok(Self::base()),
            "large" => Ok(Self::large()),
            _ => Err(Error::UnknownPreset { name: name.to_string() }),
        }
    }

    /// Parse from JSON (snake_case). Unknown fields and wrong types are errors naming the field;
    /// missing fields take the `small` preset's value. The result is validated.
    pub fn from_json(json: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let cfg: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner().to_string();
            // serde reports unknown fields at the parent path; pull the name out of the message.
            let field = match (field.as_str(), inner.strip_prefix("unknown field `")) {
                (".", Some(rest)) => rest.split('`').next().unwrap_or("?").to_string(),
                _ => field,
            };
            Error::config(field, inner)
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("config serialises")
    }

    /// Token positions of the joint sequence `[CLS] text [SEP] seg_1..seg_T [SEP]`.
    pub fn seq_len(&self) -> usize {
        self.max_text_len + self.max_segments + 3
    }

    /// Index of the first segment token in the joint sequence.
    pub fn video_offset(&self) -> usize {
        self.max_text_len + 2
    }

    /// What this model trains (its heads decide; `validate` refuses two task heads).
    pub fn objective(&self) -> Objective {
        if self.num_labels > 0 {
            Objective::Classify
        } else if self.decoder_layers > 0 {
            Objective::Caption
        } else {
            Objective::Pretrain
        }
    }

    /// Positions the caption decoder reads and predicts: `[CLS]` + `max_text_len` word pieces (the
    /// targets: the word pieces, then `[SEP]`).
    pub fn decoder_len(&self) -> usize {
        self.max_text_len + 1
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    pub fn validate(&self) -> Result<()> {
        fn positive(field: &str, v: usize) -> Result<()> {
            if v == 0 {
                return Err(Error::config(field, "must be > 0"));
            }
            Ok(())
        }
        fn in_range(field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(Error::config(field, format!("must be in [{lo}, {hi}], got {v}")));
            }
            Ok(())
        }
        positive("vocab_size", self.vocab_size)?;
        positive("hidden_size", self.hidden_size)?;
        positive("num_hidden_layers", self.num_hidden_layers)?;
        positive("num_attention_heads", self.num_attention_heads)?;
        positive("intermediate_size", self.intermediate_size)?;
        positive("max_text_len", self.max_text_len)?;
        positive("max_segments", self.max_segments)?;
        positive("feature_dim", self.feature_dim)?;
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(Error::config("num_attention_heads", format!("must divide hidden_size ({})", self.hidden_size)));
        }
        if self.num_regions > 64 {
            return Err(Error::config("num_regions", "must be in [0, 64]"));
        }
        if self.video_input == VideoInput::VisualWords {
            positive("num_visual_words", self.num_visual_words)?;
        }
        if self.video_loss == VideoLoss::Ce && self.video_input != VideoInput::VisualWords {
            return Err(Error::config("video_loss", "`ce` needs video_input = \"visual_words\" (there are no word ids to predict)"));
        }
        in_range("nce_temperature", self.nce_temperature, 1e-4, 100.0)?;
        in_range("mlm_weight", self.mlm_weight, 0.0, 1e3)?;
        in_range("video_weight", self.video_weight, 0.0, 1e3)?;
        in_range("vtm_weight", self.vtm_weight, 0.0, 1e3)?;
        in_range("text_mask_prob", self.text_mask_prob, 0.0, 1.0)?;
        if self.text_mask_min > self.max_text_len {
            return Err(Error::config("text_mask_min", format!("must be <= max_text_len ({})", self.max_text_len)));
        }
        in_range("video_mask_prob", self.video_mask_prob, 0.0, 1.0)?;
        in_range("layer_norm_eps", self.layer_norm_eps, 0.0, 1.0)?;
        in_range("initializer_range", self.initializer_range, 0.0, 10.0)?;
        for (field, id) in [
            ("pad_token_id", self.pad_token_id),
            ("cls_token_id", self.cls_token_id),
            ("sep_token_id", self.sep_token_id),
            ("mask_token_id", self.mask_token_id),
        ] {
            if id as usize >= self.vocab_size {
                return Err(Error::config(field, format!("must be < vocab_size ({})", self.vocab_size)));
            }
        }
        if self.num_labels == 1 || self.num_labels > 100_000 {
            return Err(Error::config("num_labels", format!("must be 0 (no head) or in [2, 100000], got {}", self.num_labels)));
        }
        let mask_head = self.classifier_pooling == ClassifierPooling::Mask && self.num_labels > 0;
        if mask_head && self.classifier_words.len() != self.num_labels {
            return Err(Error::config(
                "classifier_words",
                format!("a mask-pooled classifier needs one word per class ({}), got {}", self.num_labels, self.classifier_words.len()),
            ));
        }
        if !mask_head && !self.classifier_words.is_empty() {
            return Err(Error::config("classifier_words", "only a classifier with classifier_pooling = mask has words"));
        }
        if let Some(&id) = self.classifier_words.iter().find(|&&id| id as usize >= self.vocab_size || self.special_ids().contains(&id)) {
            return Err(Error::config("classifier_words", format!("{id} is not a word piece of the vocabulary (< {}, not special)", self.vocab_size)));
        }
        let mut distinct = self.classifier_words.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != self.classifier_words.len() {
            return Err(Error::config("classifier_words", "two classes have the same word"));
        }
        if self.decoder_layers > 64 {
            return Err(Error::config("decoder_layers", format!("must be in [0, 64], got {}", self.decoder_layers)));
        }
        if self.decoder_layers > 0 && self.num_labels > 0 {
            return Err(Error::config(
                "decoder_layers",
                "a model has one task head: a caption decoder (decoder_layers > 0) or a classifier (num_labels > 0), not both",
            ));
        }
        in_range("label_smoothing", self.label_smoothing, 0.0, 0.99)?;
        if self.special_ids().len() >= self.vocab_size {
            return Err(Error::config("vocab_size", "must leave room for non-special tokens"));
        }
        Ok(())
    }

    /// Token ids never chosen for masking nor as random replacements.
    pub fn special_ids(&self) -> Vec<u32> {
        let mut ids = vec![self.pad_token_id, self.cls_token_id, self.sep_token_id, self.mask_token_id];
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_roundtrip_through_json() {
        for name in PRESETS {
            let cfg = VideoBertConfig::preset(name).unwrap();
            cfg.validate().unwrap();
            assert_eq!(VideoBertConfig::from_json(&cfg.to_json()).unwrap(), cfg);
        }
        assert!(matches!(VideoBertConfig::preset("huge"), Err(Error::UnknownPreset { .. })));
    }

    #[test]
    fn errors_name_the_field() {
        let field = |json: &str| match VideoBertConfig::from_json(json) {
            Err(Error::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        };
        assert_eq!(field(r#"{"hidden_sise": 3}"#), "hidden_sise");
        assert_eq!(field(r#"{"hidden_size": -3}"#), "hidden_size");
        assert_eq!(field(r#"{"hidden_size": 0}"#), "hidden_size");
        assert_eq!(field(r#"{"hidden_size": 60, "num_attention_heads": 7}"#), "num_attention_heads");
        assert_eq!(field(r#"{"video_loss": "ce"}"#), "video_loss");
        assert_eq!(field(r#"{"video_loss": "mse"}"#), "video_loss");
        assert_eq!(field(r#"{"text_mask_prob": 1.5}"#), "text_mask_prob");
        assert_eq!(field(r#"{"vocab_size": 3}"#), "sep_token_id");
        assert_eq!(field(r#"{"num_labels": 1}"#), "num_labels");
        assert_eq!(field(r#"{"classifier_pooling": "max"}"#), "classifier_pooling");
        assert_eq!(field(r#"{"decoder_layers": 2, "num_labels": 3}"#), "decoder_layers");
        assert_eq!(field(r#"{"decoder_layers": 65}"#), "decoder_layers");
        assert_eq!(field(r#"{"label_smoothing": 1}"#), "label_smoothing");
    }
}
