//! Building blocks with a complete backward pass.
//!
//! candle's fused `softmax_last_dim` and `layer_norm` (and `candle_nn::LayerNorm`'s fast path) have
//! no backward and silently freeze everything upstream, so the layers here are composed from ops
//! that all differentiate (see STACK-NOTES.md). `tests/gradients.rs` checks every parameter.

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Init, Linear, VarBuilder};

pub fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    let weight = vb.get_with_hints((out_dim, in_dim), "weight", Init::Const(0.0))?;
    let bias = vb.get_with_hints(out_dim, "bias", Init::Const(0.0))?;
    Ok(Linear::new(weight, Some(bias)))
}

pub fn embedding_table(rows: usize, dim: usize, vb: VarBuilder) -> Result<Tensor> {
    vb.get_with_hints((rows, dim), "weight", Init::Const(0.0))
}

/// LayerNorm over the last dimension, composed so that it has a backward pass.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self { weight: vb.get_with_hints(dim, "weight", Init::Const(1.0))?, bias: vb.get_with_hints(dim, "bias", Init::Const(0.0))?, eps })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

/// Multi-head self-attention, `[N, S, H] → [N, S, H]`, with an optional additive mask `[N, 1, 1, S]`.
#[derive(Debug, Clone)]
pub struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    num_heads: usize,
    head_dim: usize,
}

impl SelfAttention {
    pub fn new(hidden: usize, num_heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            query: linear(hidden, hidden, vb.pp("query"))?,
            key: linear(hidden, hidden, vb.pp("key"))?,
            value: linear(hidden, hidden, vb.pp("value"))?,
            output: linear(hidden, hidden, vb.pp("output"))?,
            num_heads,
            head_dim: hidden / num_heads,
        })
    }

    pub fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (n, s, h) = x.dims3()?;
        let split = |t: Tensor| -> Result<Tensor> { t.reshape((n, s, self.num_heads, self.head_dim))?.transpose(1, 2)?.contiguous() };
        let q = split(self.query.forward(x)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let mut scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((n, s, h))?;
        self.output.forward(&ctx)
    }
}

/// Position-wise GELU feed-forward.
#[derive(Debug, Clone)]
pub struct FeedForward {
    intermediate: Linear,
    output: Linear,
}

impl FeedForward {
    pub fn new(hidden: usize, inner: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { intermediate: linear(hidden, inner, vb.pp("intermediate"))?, output: linear(inner, hidden, vb.pp("output"))? })
    }
}

impl Module for FeedForward {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.output.forward(&self.intermediate.forward(x)?.gelu_erf()?)
    }
}

/// `dense → GELU → LayerNorm`, the BERT prediction-head transform.
#[derive(Debug, Clone)]
pub struct HeadTransform {
    dense: Linear,
    norm: LayerNorm,
}

impl HeadTransform {
    pub fn new(hidden: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self { dense: linear(hidden, hidden, vb.pp("transform"))?, norm: LayerNorm::new(hidden, eps, vb.pp("norm"))? })
    }
}

impl Module for HeadTransform {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.norm.forward(&self.dense.forward(x)?.gelu_erf()?)
    }
}

/// Mean cross-entropy of `logits [N, C]` against `targets [N]` (u32).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    candle_nn::loss::cross_entropy(logits, targets)
}

/// Additive attention mask `[N, 1, 1, S]` from a 0/1 mask `[N, S]`: 0 where attended, −1e4 where not.
pub fn additive_mask(mask: &Tensor, dtype: DType) -> Result<Tensor> {
    let (n, s) = mask.dims2()?;
    ((mask.to_dtype(dtype)? - 1.0)? * 1e4)?.reshape((n, 1, 1, s))
}
