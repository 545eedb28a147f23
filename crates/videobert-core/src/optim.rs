//! AdamW (Loshchilov & Hutter, 2019) with decoupled weight decay and exportable state.
//!
//! `candle_nn::AdamW` keeps its moments private, which makes an exact resume impossible; this one
//! keeps `m`, `v` and the step count in the open so `checkpoint.rs` can save and restore them.

use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::config::{ClassifierPooling, VideoBertConfig};
use crate::error::{Error, Result};
use crate::kernels::fused::{self, adamw};

/// AdamW hyper-parameters (the learning rate is passed per step by the caller's schedule).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay, applied to weight matrices and embeddings, not to biases or norms.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 }
    }
}

impl AdamWConfig {
    pub fn validate(&self) -> Result<()> {
        for (field, v, lo, hi) in [
            ("beta1", self.beta1, 0.0, 0.999_999),
            ("beta2", self.beta2, 0.0, 0.999_999_9),
            ("eps", self.eps, 0.0, 1.0),
            ("weight_decay", self.weight_decay, 0.0, 10.0),
        ] {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(Error::config(field, format!("must be in [{lo}, {hi}], got {v}")));
            }
        }
        Ok(())
    }
}

/// Whether a parameter takes weight decay (BERT's rule: not biases, not LayerNorm gains).
pub fn decays(name: &str) -> bool {
    !(name.ends_with("bias") || name.contains("norm."))
}

/// First and second moments of one parameter.
#[derive(Debug, Clone)]
pub struct Moments {
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
}

#[derive(Debug)]
pub struct AdamW {
    pub config: AdamWConfig,
    /// Number of updates applied so far.
    pub step: u64,
    /// One entry per parameter, in the model's (sorted) parameter order.
    pub moments: Vec<Moments>,
}

impl AdamW {
    pub fn new(config: AdamWConfig, params: &[(String, Var)]) -> Result<Self> {
        let moments = params.iter().map(|(_, v)| Ok(Moments { exp_avg: v.zeros_like()?, exp_avg_sq: v.zeros_like()? })).collect::<Result<Vec<_>>>()?;
        Ok(Self { config, step: 0, moments })
    }

    /// One update with learning rate `lr`; `grads[i]` belongs to `params[i]` and is used as
    /// `grad_scale · grads[i]` (the caller folds averaging and clipping into that factor).
    pub fn update(&mut self, params: &[(String, Var)], grads: &[Tensor], lr: f64, grad_scale: f64) -> Result<()> {
        self.update_scaled(params, grads, lr, &vec![1.0; params.len()], grad_scale)
    }

    /// `update` with parameter `i` at learning rate `lr · lr_scales[i]`. A parameter whose scale is 0
    /// is frozen: it does not move (no step, no weight decay), but its moments keep following its
    /// gradient, so that when it thaws its moments and the shared bias correction agree.
    pub fn update_scaled(&mut self, params: &[(String, Var)], grads: &[Tensor], lr: f64, lr_scales: &[f64], grad_scale: f64) -> Result<()> {
        let AdamWConfig { beta1, beta2, eps, weight_decay } = self.config;
        self.step += 1;
        let t = self.step as i32;
        let bias1 = 1.0 - beta1.powi(t);
        let bias2 = 1.0 - beta2.powi(t);
        for ((((name, var), g), m), &scale) in params.iter().zip(grads).zip(self.moments.iter_mut()).zip(lr_scales) {
            let lr = lr * scale;
            if fused::applies(var.as_tensor()) {
                // In place, three passes, no temporaries (`fused::adamw`).
                let decay = if decays(name) { lr * weight_decay } else { 0.0 };
                let u = adamw::Update { lr, beta1, beta2, eps, decay, bias1, bias2, grad_scale };
                adamw::update(var.as_tensor(), &m.exp_avg, &m.exp_avg_sq, g, u)?;
                continue;
            }
            let scaled;
            let g = if grad_scale == 1.0 {
                g
            } else {
                scaled = (g * grad_scale)?;
                &scaled
            };
            m.exp_avg = ((&m.exp_avg * beta1)? + (g * (1.0 - beta1))?)?;
            m.exp_avg_sq = ((&m.exp_avg_sq * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let denom = ((&m.exp_avg_sq / bias2)?.sqrt()? + eps)?;
            let update = ((&m.exp_avg / bias1)? / denom)?;
            let mut theta = var.as_tensor().detach();
            if weight_decay > 0.0 && decays(name) {
                theta = (theta * (1.0 - lr * weight_decay))?;
            }
            var.set(&(theta - (update * lr)?)?)?;
        }
        Ok(())
    }
}

/// How a fine-tuning step shares the learning rate out among the tensors (layer-wise decay as in
/// ULMFiT and BEiT, and freezing): the model's task head always learns at the full rate — the
/// classifier (`heads.classifier.*`; for a prompt classifier the masked-language-model head
/// `heads.mlm.*`), the caption decoder (`decoder.*`), or with no task head (pre-training, multiple
/// choice on the matching head) every `heads.*`; every other tensor at `encoder_scale` times
/// `layer_decay` to the power of its depth below the top: encoder layer `i` of `L` at `L − i`, the
/// embeddings at `L + 1`, the final norm and the other heads at 0. The default (1, 1) is one rate for all.
/// The word embeddings are the embeddings' even where a head is tied to them (the prompt classifier's
/// and the decoder's output layer): frozen with the encoder, decayed as the bottom layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerRates {
    /// In (0, 1]: 1 gives every layer the same rate.
    pub layer_decay: f64,
    /// In [0, 1]: 0 freezes everything but the task head (a linear probe when the head is one layer).
    pub encoder_scale: f64,
}

impl Default for LayerRates {
    fn default() -> Self {
        Self { layer_decay: 1.0, encoder_scale: 1.0 }
    }
}

impl LayerRates {
    pub fn validate(&self) -> Result<()> {
        if !(self.layer_decay.is_finite() && self.layer_decay > 0.0 && self.layer_decay <= 1.0) {
            return Err(Error::input("layerDecay", format!("must be in (0, 1], got {}", self.layer_decay)));
        }
        if !(self.encoder_scale.is_finite() && (0.0..=1.0).contains(&self.encoder_scale)) {
            return Err(Error::input("encoderLrScale", format!("must be in [0, 1], got {}", self.encoder_scale)));
        }
        Ok(())
    }

    /// The prefix of the task head's tensors in a model of `cfg` (see the type's notes).
    pub fn task_head(cfg: &VideoBertConfig) -> &'static str {
        if cfg.num_labels > 0 && cfg.classifier_pooling == ClassifierPooling::Mask {
            "heads.mlm."
        } else if cfg.num_labels > 0 {
            "heads.classifier."
        } else if cfg.decoder_layers > 0 {
            "decoder."
        } else {
            "heads."
        }
    }

    /// The multiplier of the tensor `name` in a model of `cfg`.
    pub fn scale(&self, name: &str, cfg: &VideoBertConfig) -> f64 {
        if name.starts_with(Self::task_head(cfg)) {
            return 1.0;
        }
        let num_layers = cfg.num_hidden_layers;
        let depth_below_top = if name.starts_with("embeddings.") {
            num_layers + 1
        } else if let Some(i) = name.strip_prefix("encoder.layers.").and_then(|rest| rest.split('.').next()).and_then(|i| i.parse::<usize>().ok()) {
            num_layers.saturating_sub(i)
        } else {
            0
        };
        self.encoder_scale * self.layer_decay.powi(depth_below_top as i32)
    }

    /// The multipliers of `params`, in their order.
    pub fn scales(&self, params: &[(String, Var)], cfg: &VideoBertConfig) -> Vec<f64> {
        params.iter().map(|(name, _)| self.scale(name, cfg)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::LayerRates;
    use crate::config::{ClassifierPooling, VideoBertConfig};

    #[test]
    fn layer_rates_decay_with_depth_and_spare_the_task_head() {
        let classifier = VideoBertConfig { num_hidden_layers: 2, num_labels: 3, ..VideoBertConfig::tiny() };
        let r = LayerRates { layer_decay: 0.5, encoder_scale: 1.0 };
        assert_eq!(r.scale("heads.classifier.weight", &classifier), 1.0);
        assert_eq!(r.scale("encoder.final_norm.weight", &classifier), 1.0);
        assert_eq!(r.scale("heads.mlm.dense.weight", &classifier), 1.0);
        assert_eq!(r.scale("encoder.layers.1.ffn.up.weight", &classifier), 0.5);
        assert_eq!(r.scale("encoder.layers.0.joint_attention.qkv.weight", &classifier), 0.25);
        assert_eq!(r.scale("embeddings.word_embeddings.weight", &classifier), 0.125);
        // Frozen: only the task head of each kind of model learns.
        let frozen = LayerRates { layer_decay: 1.0, encoder_scale: 0.0 };
        let prompt = VideoBertConfig { classifier_pooling: ClassifierPooling::Mask, classifier_words: vec![10, 11, 12], ..classifier.clone() };
        let captioner = VideoBertConfig { num_hidden_layers: 2, decoder_layers: 1, ..VideoBertConfig::tiny() };
        let plain = VideoBertConfig { num_hidden_layers: 2, ..VideoBertConfig::tiny() };
        for (cfg, learns, still) in [
            (&classifier, "heads.classifier.bias", "heads.vtm.pooler.weight"),
            (&prompt, "heads.mlm.dense.weight", "heads.vtm.pooler.weight"),
            (&captioner, "decoder.layers.0.ffn.up.weight", "heads.mlm.dense.weight"),
            (&plain, "heads.vtm.pooler.weight", "encoder.layers.1.ffn.up.weight"),
        ] {
            assert_eq!(frozen.scale(learns, cfg), 1.0, "{learns}");
            assert_eq!(frozen.scale(still, cfg), 0.0, "{still}");
            assert_eq!(frozen.scale("embeddings.word_embeddings.weight", cfg), 0.0);
        }
        assert!(LayerRates { layer_decay: 0.0, encoder_scale: 1.0 }.validate().is_err());
        assert!(LayerRates { layer_decay: 1.0, encoder_scale: 1.5 }.validate().is_err());
        assert!(LayerRates::default().validate().is_ok());
    }
}
