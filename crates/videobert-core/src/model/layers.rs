//! Building blocks with a complete backward pass.
//!
//! candle's fused `softmax_last_dim` and `layer_norm` (and `candle_nn::LayerNorm`'s fast path) have
//! no backward and silently freeze everything upstream, so the layers here are composed from ops
//! that all differentiate (see STACK-NOTES.md). `tests/gradients.rs` checks every parameter.
//! On the CPU (f32 / f64) LayerNorm, GELU and attention run as the fused kernels of `fused`; the
//! composed forms here are the reference (`tests/kernels.rs` compares them).

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Init, VarBuilder};

use crate::kernels::fused;

/// A dense layer `x·Wᵀ + b` (`W [out, in]`): fused on the CPU, candle's `Linear` elsewhere.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn new(weight: Tensor, bias: Tensor) -> Self {
        Self { weight, bias }
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    pub fn bias(&self) -> &Tensor {
        &self.bias
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if fused::applies(x) {
            fused::linear::linear(x, &self.weight, &self.bias)
        } else {
            self.composed(x)
        }
    }
}

impl Linear {
    /// The reference: candle's `Linear` (matmul with `Wᵀ`, then a broadcast bias add).
    pub fn composed(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::Linear::new(self.weight.clone(), Some(self.bias.clone())).forward(x)
    }
}

pub fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    let weight = vb.get_with_hints((out_dim, in_dim), "weight", Init::Const(0.0))?;
    let bias = vb.get_with_hints(out_dim, "bias", Init::Const(0.0))?;
    Ok(Linear::new(weight, bias))
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
    pub fn from_parts(weight: Tensor, bias: Tensor, eps: f64) -> Self {
        Self { weight, bias, eps }
    }

    pub fn new(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self { weight: vb.get_with_hints(dim, "weight", Init::Const(1.0))?, bias: vb.get_with_hints(dim, "bias", Init::Const(0.0))?, eps })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if fused::applies(x) {
            return fused::layer_norm::layer_norm(x, &self.weight, &self.bias, self.eps);
        }
        self.composed(x)
    }
}

impl LayerNorm {
    /// The reference: mean, variance and the affine map as separate candle ops.
    pub fn composed(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

/// GELU (erf form): fused on the CPU, candle's `gelu_erf` elsewhere.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if fused::applies(x) {
        fused::gelu::gelu(x)
    } else {
        x.gelu_erf()
    }
}

/// Multi-head self-attention, `[N, S, H] → [N, S, H]`, with an optional additive key mask `[N, S]`.
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
        if fused::applies(x) {
            // One projection to [N, S, 3H] (the three weights side by side), heads read in place.
            let w = Tensor::cat(&[self.query.weight(), self.key.weight(), self.value.weight()], 0)?;
            let b = Tensor::cat(&[self.query.bias(), self.key.bias(), self.value.bias()], 0)?;
            let qkv = Linear::new(w, b).forward(x)?;
            return self.output.forward(&fused::attention::attention(&qkv, mask, self.num_heads)?);
        }
        #[cfg(feature = "cuda")]
        if crate::kernels::cuda::applies(x, self.num_heads * self.head_dim, self.num_heads) {
            // The same fused projection, then the CUDA kernel (kernels/cuda, opt-in until run on a GPU).
            let w = Tensor::cat(&[self.query.weight(), self.key.weight(), self.value.weight()], 0)?;
            let b = Tensor::cat(&[self.query.bias(), self.key.bias(), self.value.bias()], 0)?;
            let qkv = Linear::new(w, b).forward(x)?;
            return self.output.forward(&crate::kernels::cuda::attention(&qkv, mask, self.num_heads)?);
        }
        self.composed(x, mask)
    }

    /// The pre-norm residual half of a layer, `x + attention(norm(x))`: one fused op on the CPU
    /// (`fused::attention_block`, bit-identical to the separate fused ops), `x + forward(..)`
    /// elsewhere.
    pub fn residual(&self, x: &Tensor, norm: &LayerNorm, mask: Option<&Tensor>) -> Result<Tensor> {
        if fused::applies(x) {
            return fused::attention_block::attention_block(x, mask, &self.block_params(norm));
        }
        x + self.forward(&norm.forward(x)?, mask)?
    }

    /// This attention and the LayerNorm before it as a fused block's parameters.
    pub fn block_params(&self, norm: &LayerNorm) -> fused::attention_block::AttentionParams {
        let params = [
            &norm.weight,
            &norm.bias,
            &self.query.weight,
            &self.query.bias,
            &self.key.weight,
            &self.key.bias,
            &self.value.weight,
            &self.value.bias,
            &self.output.weight,
            &self.output.bias,
        ]
        .map(Tensor::clone);
        fused::attention_block::AttentionParams { params, heads: self.num_heads, eps: norm.eps }
    }

    /// The reference: separate projections, heads transposed out, candle's softmax.
    pub fn composed(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (n, s, h) = x.dims3()?;
        let split = |t: Tensor| -> Result<Tensor> { t.reshape((n, s, self.num_heads, self.head_dim))?.transpose(1, 2)?.contiguous() };
        let q = split(self.query.composed(x)?)?;
        let k = split(self.key.composed(x)?)?;
        let v = split(self.value.composed(x)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let mut scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(&mask.reshape((n, 1, 1, s))?)?;
        }
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((n, s, h))?;
        self.output.composed(&ctx)
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

impl FeedForward {
    /// The pre-norm residual half of a layer, `x + FFN(norm(x))`: one fused op on the CPU
    /// (`fused::ffn`, bit-identical to the separate fused ops), the composed ops elsewhere.
    pub fn residual(&self, x: &Tensor, norm: &LayerNorm) -> Result<Tensor> {
        if fused::applies(x) {
            return fused::ffn::ffn_block(x, &self.block_params(norm));
        }
        x + self.forward(&norm.forward(x)?)?
    }

    /// This FFN and the LayerNorm before it as a fused block's parameters.
    pub fn block_params(&self, norm: &LayerNorm) -> fused::ffn::FfnParams {
        let params = [&norm.weight, &norm.bias, &self.intermediate.weight, &self.intermediate.bias, &self.output.weight, &self.output.bias].map(Tensor::clone);
        fused::ffn::FfnParams { params, eps: norm.eps }
    }
}

impl Module for FeedForward {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.output.forward(&gelu(&self.intermediate.forward(x)?)?)
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
        self.norm.forward(&gelu(&self.dense.forward(x)?)?)
    }
}

/// Mean cross-entropy of `logits [N, C]` against `targets [N]` (u32).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    candle_nn::loss::cross_entropy(logits, targets)
}

/// Additive attention mask `[N, S]` from a 0/1 mask `[N, S]`: 0 where attended, −1e4 where not.
pub fn additive_mask(mask: &Tensor, dtype: DType) -> Result<Tensor> {
    (mask.to_dtype(dtype)? - 1.0)? * 1e4
}
