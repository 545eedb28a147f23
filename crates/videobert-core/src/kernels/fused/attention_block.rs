//! A transformer layer's attention half as one op: `y = x + W_o·attention(W_qkv·LN(x) + b_qkv) + b_o`
//! (the query, key and value projections side by side as one GEMM; an optional additive key mask),
//! with its analytic backward. The same kernels as the separate fused ops in the same order —
//! bit-identical values and gradients — without candle's bookkeeping between them: the graph
//! nodes of the LayerNorm, both projections, the attention and the residual add, the per-step
//! concatenation of the three projection weights and the copies its backward makes. The ten
//! parameters' gradients go to `param_grads` (the op's only graph input is `x`).

use std::sync::Mutex;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};

use super::attention::{self, Dims};
use super::{add_assign, layer_norm, linear, param_grads, slice, tensor_like, with_hosts, Real};

/// `[γ, β, W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o]` of one block (the parameter tensors).
#[derive(Clone)]
pub struct AttentionParams {
    pub params: [Tensor; 10],
    pub heads: usize,
    pub eps: f64,
}

/// Kept for the backward pass: LN(x), the stacked projection weight (built once per step, not
/// again for backward), the fused projection, the probabilities, the context.
pub(super) struct Saved {
    ln: Tensor,
    w_qkv: Tensor,
    qkv: Tensor,
    probs: Tensor,
    ctx: Tensor,
}

struct AttentionBlock {
    p: AttentionParams,
    /// Additive key mask `[N, S]` (no gradient).
    mask: Option<Tensor>,
    saved: Mutex<Option<Saved>>,
}

/// The three projection weights `[H, H]` stacked into `[3H, H]`, their biases into `[3H]`.
fn stacked<T: Real>(parts: [&[T]; 3]) -> Vec<T> {
    parts.concat()
}

fn forward<T: Real>(x: &[T], mask: Option<&[T]>, p: [&[T]; 10], d: Dims, eps: f64) -> (Vec<T>, [Vec<T>; 5]) {
    let [gamma, beta, wq, bq, wk, bk, wv, bv, wo, bo] = p;
    let ln = layer_norm::forward(x, gamma, beta, eps);
    let w_qkv = stacked([wq, wk, wv]);
    let qkv = linear::forward(&ln, &w_qkv, &stacked([bq, bk, bv]));
    let (ctx, probs) = attention::forward(&qkv, mask, d);
    let mut y = linear::forward(&ctx, wo, bo);
    add_assign(&mut y, x);
    (y, [ln, w_qkv, qkv, probs, ctx])
}

/// `(dx, [dγ, dβ, dW_q, db_q, dW_k, db_k, dW_v, db_v, dW_o, db_o])`.
fn backward<T: Real>(x: &[T], p: [&[T]; 10], saved: [&[T]; 5], dy: &[T], d: Dims, eps: f64) -> (Vec<T>, [Vec<T>; 10]) {
    let [gamma, _, _, _, _, _, _, _, wo, bo] = p;
    let [ln, w_qkv, qkv, probs, ctx] = saved;
    let h = bo.len();
    let (dctx, dwo, dbo) = linear::backward(ctx, wo, dy, h, true);
    let dqkv = attention::backward(qkv, probs, &dctx.expect("asked for"), d);
    let (dln, dw, db) = linear::backward(ln, w_qkv, &dqkv, 3 * h, true);
    let (mut dx, dgamma, dbeta) = layer_norm::backward(x, gamma, &dln.expect("asked for"), eps);
    add_assign(&mut dx, dy);
    let split = |v: &[T], size: usize, i: usize| v[i * size..(i + 1) * size].to_vec();
    let hh = h * h;
    (dx, [dgamma, dbeta, split(&dw, hh, 0), split(&db, h, 0), split(&dw, hh, 1), split(&db, h, 1), split(&dw, hh, 2), split(&db, h, 2), dwo, dbo])
}

/// The attention geometry of `n` groups of `s` tokens of width `h`.
pub(super) fn dims(n: usize, s: usize, h: usize, heads: usize) -> Result<Dims> {
    Dims::of(&Shape::from((n, s, 3 * h)), heads)
}

/// The block's output for host rows `x` (`[n·s, H]`, the groups of `d` one after the other) and
/// what its backward pass needs.
pub(super) fn forward_host<T: Real>(p: &AttentionParams, mask: Option<&Tensor>, x: &[T], d: Dims) -> Result<(Vec<T>, Saved)> {
    let [g, b, wq, bq, wk, bk, wv, bv, wo, bo] = &p.params;
    let (y, [ln, w_qkv, qkv, probs, ctx]) = match mask {
        Some(m) => with_hosts::<T, _, 11>([m, g, b, wq, bq, wk, bk, wv, bv, wo, bo], |[m, g, b, wq, bq, wk, bk, wv, bv, wo, bo]| {
            Ok(forward(x, Some(m), [g, b, wq, bq, wk, bk, wv, bv, wo, bo], d, p.eps))
        })?,
        None => with_hosts::<T, _, 10>([g, b, wq, bq, wk, bk, wv, bv, wo, bo], |ps| Ok(forward(x, None, ps, d, p.eps)))?,
    };
    let (rows, h) = (d.n * d.s, d.h);
    let cpu = &candle_core::Device::Cpu;
    let saved = Saved {
        ln: Tensor::from_vec(ln, (rows, h), cpu)?,
        w_qkv: Tensor::from_vec(w_qkv, (3 * h, h), cpu)?,
        qkv: Tensor::from_vec(qkv, (rows, 3 * h), cpu)?,
        probs: Tensor::from_vec(probs, d.n * d.heads * d.s * d.s, cpu)?,
        ctx: Tensor::from_vec(ctx, (rows, h), cpu)?,
    };
    Ok((y, saved))
}

/// `dx` of the block for `dy`, given its input rows `x` and what its forward pass kept; the
/// parameters' gradients are added to `param_grads`.
pub(super) fn backward_host<T: Real>(p: &AttentionParams, s: &Saved, x: &[T], dy: &[T], d: Dims) -> Result<Vec<T>> {
    let [g, b, wq, bq, wk, bk, wv, bv, wo, bo] = &p.params;
    let (dx, grads) = with_hosts::<T, _, 15>(
        [&s.ln, &s.w_qkv, &s.qkv, &s.probs, &s.ctx, g, b, wq, bq, wk, bk, wv, bv, wo, bo],
        |[ln, w_qkv, qkv, probs, ctx, g, b, wq, bq, wk, bk, wv, bv, wo, bo]| {
            Ok(backward(x, [g, b, wq, bq, wk, bk, wv, bv, wo, bo], [ln, w_qkv, qkv, probs, ctx], dy, d, p.eps))
        },
    )?;
    for (param, grad) in p.params.iter().zip(grads) {
        param_grads::add(param, tensor_like(grad, param.dims(), param)?)?;
    }
    Ok(dx)
}

impl AttentionBlock {
    fn dims(&self, x_shape: &Shape) -> Result<Dims> {
        let (n, s, h) = x_shape.dims3()?;
        dims(n, s, h, self.p.heads)
    }

    fn run<T: Real>(&self, x: &[T], shape: &Shape) -> Result<CpuStorage> {
        let (y, saved) = forward_host(&self.p, self.mask.as_ref(), x, self.dims(shape)?)?;
        *self.saved.lock().expect("saved activations") = Some(saved);
        Ok(T::to_cpu_storage_owned(y))
    }

    fn grads<T: Real>(&self, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
        let d = self.dims(x.shape())?;
        let guard = self.saved.lock().expect("saved activations");
        let Some(s) = guard.as_ref() else { candle_core::bail!("fused attention block: backward before forward") };
        let dx = with_hosts::<T, _, 2>([x, dy], |[xs, dys]| backward_host(&self.p, s, xs, dys, d))?;
        tensor_like(dx, x.dims(), x)
    }
}

impl CustomOp1 for AttentionBlock {
    fn name(&self) -> &'static str {
        "videobert-attention-block"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = match s.dtype() {
            DType::F32 => self.run::<f32>(slice(s, l)?, l.shape())?,
            DType::F64 => self.run::<f64>(slice(s, l)?, l.shape())?,
            dt => candle_core::bail!("fused attention block: unsupported dtype {dt:?}"),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(match x.dtype() {
            DType::F32 => self.grads::<f32>(x, dy)?,
            DType::F64 => self.grads::<f64>(x, dy)?,
            dt => candle_core::bail!("fused attention block: unsupported dtype {dt:?}"),
        }))
    }
}

/// `x + W_o·attention(W_qkv·LN(x) + b_qkv) + b_o` for `x [N, S, H]` with an optional additive key
/// mask `[N, S]`; parameter gradients go to `param_grads` (collected by `train::gradients_of`).
pub fn attention_block(x: &Tensor, mask: Option<&Tensor>, p: &AttentionParams) -> Result<Tensor> {
    if p.params.iter().any(|t| !t.is_contiguous()) {
        candle_core::bail!("fused attention block: parameters must be contiguous");
    }
    let mask = mask.map(|m| m.detach().contiguous()).transpose()?;
    x.contiguous()?.apply_op1(AttentionBlock { p: p.clone(), mask, saved: Mutex::new(None) })
}
