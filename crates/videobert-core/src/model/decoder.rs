//! The caption decoder: supervised captioning on the pre-trained encoder (the design note §6.2; the
//! VideoBERT paper's YouCook II set-up feeds VideoBERT's outputs to a Transformer decoder).
//!
//! A pre-LayerNorm Transformer decoder of `decoder_layers` layers, each causal self-attention over
//! the caption so far, cross-attention to the encoder's outputs (every valid token of the joint
//! sequence: `[CLS]`, the text the encoder read — usually none — and the segments), and a GELU FFN.
//! Its input is `[CLS] w_1 .. w_n` (tied word embeddings + its own positions, LayerNorm), its
//! targets `w_1 .. w_n [SEP]`; the output layer is tied to the word embeddings with a bias of its
//! own. The tensor names (`decoder.*`) are those of `model.safetensors`.
//!
//! Attention here is composed from candle ops (every one differentiates); the projections, norms and
//! FFN use the fused CPU kernels through `layers`.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::layers::{embedding_table, linear, FeedForward, LayerNorm, Linear};
use crate::config::VideoBertConfig;

/// Multi-head attention of queries `[N, Q, H]` over keys and values `[N, K, H]`.
struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    heads: usize,
}

impl Attention {
    fn new(hidden: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            query: linear(hidden, hidden, vb.pp("query"))?,
            key: linear(hidden, hidden, vb.pp("key"))?,
            value: linear(hidden, hidden, vb.pp("value"))?,
            output: linear(hidden, hidden, vb.pp("output"))?,
            heads,
        })
    }

    /// `mask` is additive and broadcasts to `[N, heads, Q, K]` (0 = attend, −1e4 = not).
    fn forward(&self, x: &Tensor, memory: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (n, q_len, h) = x.dims3()?;
        let k_len = memory.dim(1)?;
        let d = h / self.heads;
        let split = |t: Tensor, len: usize| -> Result<Tensor> { t.reshape((n, len, self.heads, d))?.transpose(1, 2)?.contiguous() };
        let q = split(self.query.forward(x)?, q_len)?;
        let k = split(self.key.forward(memory)?, k_len)?;
        let v = split(self.value.forward(memory)?, k_len)?;
        let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (d as f64).sqrt()))?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((n, q_len, h))?;
        self.output.forward(&ctx)
    }
}

struct DecoderLayer {
    self_norm: LayerNorm,
    self_attention: Attention,
    cross_norm: LayerNorm,
    cross_attention: Attention,
    ffn_norm: LayerNorm,
    ffn: FeedForward,
}

impl DecoderLayer {
    fn new(cfg: &VideoBertConfig, vb: VarBuilder) -> Result<Self> {
        let (h, heads, eps) = (cfg.hidden_size, cfg.num_attention_heads, cfg.layer_norm_eps);
        Ok(Self {
            self_norm: LayerNorm::new(h, eps, vb.pp("self_norm"))?,
            self_attention: Attention::new(h, heads, vb.pp("self_attention"))?,
            cross_norm: LayerNorm::new(h, eps, vb.pp("cross_norm"))?,
            cross_attention: Attention::new(h, heads, vb.pp("cross_attention"))?,
            ffn_norm: LayerNorm::new(h, eps, vb.pp("ffn_norm"))?,
            ffn: FeedForward::new(h, cfg.intermediate_size, vb.pp("ffn"))?,
        })
    }

    fn forward(&self, x: &Tensor, memory: &Tensor, causal: &Tensor, memory_mask: &Tensor) -> Result<Tensor> {
        let normed = self.self_norm.forward(x)?;
        let x = (x + self.self_attention.forward(&normed, &normed, causal)?)?;
        let x = (&x + self.cross_attention.forward(&self.cross_norm.forward(&x)?, memory, memory_mask)?)?;
        self.ffn.residual(&x, &self.ffn_norm)
    }
}

/// The decoder's own parameters; the word table it reads and writes with is the encoder's.
pub struct CaptionDecoder {
    /// `[max_text_len + 1, H]`: position `i` of the decoder input.
    position: Tensor,
    input_norm: LayerNorm,
    layers: Vec<DecoderLayer>,
    final_norm: LayerNorm,
    /// `[V]` bias of the tied output layer.
    output_bias: Tensor,
}

impl CaptionDecoder {
    pub fn new(cfg: &VideoBertConfig, vb: VarBuilder) -> Result<Self> {
        let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        Ok(Self {
            position: embedding_table(cfg.decoder_len(), h, vb.pp("position_embeddings"))?,
            input_norm: LayerNorm::new(h, eps, vb.pp("input_norm"))?,
            layers: (0..cfg.decoder_layers).map(|i| DecoderLayer::new(cfg, vb.pp(format!("layers.{i}")))).collect::<Result<_>>()?,
            final_norm: LayerNorm::new(h, eps, vb.pp("final_norm"))?,
            output_bias: vb.pp("output").get_with_hints(cfg.vocab_size, "bias", candle_nn::Init::Const(0.0))?,
        })
    }

    /// Hidden states `[N, n, H]` (after the final LayerNorm) of the inputs `ids [N, n]` (u32, `[CLS]`
    /// first, n ≤ max_text_len + 1): position `i` reads `ids[..=i]` and, through cross-attention,
    /// `memory [N, S, H]` where the additive `memory_mask [N, S]` is 0.
    pub fn forward(&self, word: &Tensor, ids: &Tensor, memory: &Tensor, memory_mask: &Tensor) -> Result<Tensor> {
        let (n, len) = ids.dims2()?;
        let h = word.dim(1)?;
        let x = word.index_select(&ids.flatten_all()?, 0)?.reshape((n, len, h))?.broadcast_add(&self.position.narrow(0, 0, len)?)?;
        let mut x = self.input_norm.forward(&x)?;
        let causal = causal_mask(len, x.dtype(), x.device())?;
        let memory_mask = memory_mask.reshape((n, 1, 1, memory_mask.dim(1)?))?;
        for layer in &self.layers {
            x = layer.forward(&x, memory, &causal, &memory_mask)?;
        }
        self.final_norm.forward(&x)
    }

    /// Vocabulary logits `[M, V]` of decoder rows `[M, H]` (output tied to the word table).
    pub fn logits(&self, word: &Tensor, rows: &Tensor) -> Result<Tensor> {
        rows.matmul(&word.t()?)?.broadcast_add(&self.output_bias)
    }
}

/// `[1, 1, n, n]` additive mask: position `i` attends to `j ≤ i`.
fn causal_mask(n: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let values: Vec<f32> = (0..n * n).map(|k| if k % n <= k / n { 0.0 } else { -1e4 }).collect();
    Tensor::from_vec(values, (1, 1, n, n), device)?.to_dtype(dtype)
}

/// Label-smoothed cross-entropy of `logits [M, V]` against `labels [M]`: `(1 − ε)·NLL + ε·(mean over
/// the vocabulary of −log p)`. Returns (the smoothed loss, the plain NLL); both means over the M rows.
pub fn smoothed_cross_entropy(logits: &Tensor, labels: &Tensor, epsilon: f64) -> Result<(Tensor, Tensor)> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let nll = logp.gather(&labels.unsqueeze(1)?, 1)?.neg()?.mean_all()?;
    if epsilon == 0.0 {
        return Ok((nll.clone(), nll));
    }
    let uniform = logp.mean(1)?.neg()?.mean_all()?;
    let loss = ((&nll * (1.0 - epsilon))? + (uniform * epsilon)?)?;
    Ok((loss, nll))
}
