//! AdamW (Loshchilov & Hutter, 2019) with decoupled weight decay and exportable state.
//!
//! `candle_nn::AdamW` keeps its moments private, which makes an exact resume impossible; this one
//! keeps `m`, `v` and the step count in the open so `checkpoint.rs` can save and restore them.

use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

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
        let AdamWConfig { beta1, beta2, eps, weight_decay } = self.config;
        self.step += 1;
        let t = self.step as i32;
        let bias1 = 1.0 - beta1.powi(t);
        let bias2 = 1.0 - beta2.powi(t);
        for (((name, var), g), m) in params.iter().zip(grads).zip(self.moments.iter_mut()) {
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
