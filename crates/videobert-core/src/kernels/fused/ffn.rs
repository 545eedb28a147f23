//! A transformer layer's feed-forward half as one op: `y = x + W₂·GELU(W₁·LN(x) + b₁) + b₂`, with
//! its analytic backward. The same kernels as the separate fused ops (LayerNorm, dense, GELU) in
//! the same order, so every value and gradient is bit-identical to them; what it saves is candle's
//! bookkeeping between them — five graph nodes, and for each of their inputs a zeroed gradient
//! tensor and an add, the largest being the `[rows, FFN]` intermediates. The six parameters'
//! gradients go to `param_grads` (the op's only graph input is `x`).

use std::sync::Mutex;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};

use super::{add_assign, gelu, layer_norm, linear, param_grads, slice, tensor_like, with_hosts, Real};

/// `[γ, β, W₁, b₁, W₂, b₂]` of one block (the parameter tensors themselves).
#[derive(Clone)]
pub struct FfnParams {
    pub params: [Tensor; 6],
    pub eps: f64,
}

/// What the forward pass keeps for the backward pass: LN(x), W₁·LN(x) + b₁, its GELU.
pub(super) struct Saved {
    ln: Tensor,
    h1: Tensor,
    act: Tensor,
}

struct FfnBlock {
    p: FfnParams,
    saved: Mutex<Option<Saved>>,
}

fn forward<T: Real>(x: &[T], p: [&[T]; 6], eps: f64) -> (Vec<T>, [Vec<T>; 3]) {
    let [gamma, beta, w1, b1, w2, b2] = p;
    let ln = layer_norm::forward(x, gamma, beta, eps);
    let h1 = linear::forward(&ln, w1, b1);
    let act = gelu::forward(&h1);
    let mut y = linear::forward(&act, w2, b2);
    add_assign(&mut y, x);
    (y, [ln, h1, act])
}

/// `(dx, [dγ, dβ, dW₁, db₁, dW₂, db₂])`.
fn backward<T: Real>(x: &[T], p: [&[T]; 6], saved: [&[T]; 3], dy: &[T], eps: f64) -> (Vec<T>, [Vec<T>; 6]) {
    let [gamma, _, w1, b1, w2, b2] = p;
    let [ln, h1, act] = saved;
    let (dact, dw2, db2) = linear::backward(act, w2, dy, b2.len(), true);
    let dh1 = gelu::backward(h1, &dact.expect("asked for"));
    let (dln, dw1, db1) = linear::backward(ln, w1, &dh1, b1.len(), true);
    let (mut dx, dgamma, dbeta) = layer_norm::backward(x, gamma, &dln.expect("asked for"), eps);
    // The residual branch: dx = dLN(x) + dy (candle adds the two contributions in either order;
    // a + b = b + a exactly).
    add_assign(&mut dx, dy);
    (dx, [dgamma, dbeta, dw1, db1, dw2, db2])
}

/// The block's output for host rows `x` (`[rows, H]`) and what its backward pass needs.
pub(super) fn forward_host<T: Real>(p: &FfnParams, x: &[T]) -> Result<(Vec<T>, Saved)> {
    let [g, b, w1, b1, w2, b2] = &p.params;
    let (y, [ln, h1, act]) = with_hosts::<T, _, 6>([g, b, w1, b1, w2, b2], |ps| Ok(forward(x, ps, p.eps)))?;
    let h = g.dims1()?;
    let (rows, inner) = (x.len() / h, b1.dims1()?);
    let cpu = &candle_core::Device::Cpu;
    let saved =
        Saved { ln: Tensor::from_vec(ln, (rows, h), cpu)?, h1: Tensor::from_vec(h1, (rows, inner), cpu)?, act: Tensor::from_vec(act, (rows, inner), cpu)? };
    Ok((y, saved))
}

/// `dx` of the block for `dy`, given its input rows `x` and what its forward pass kept; the
/// parameters' gradients are added to `param_grads`.
pub(super) fn backward_host<T: Real>(p: &FfnParams, s: &Saved, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    let [g, b, w1, b1, w2, b2] = &p.params;
    let (dx, grads) = with_hosts::<T, _, 9>([&s.ln, &s.h1, &s.act, g, b, w1, b1, w2, b2], |[ln, h1, act, g, b, w1, b1, w2, b2]| {
        Ok(backward(x, [g, b, w1, b1, w2, b2], [ln, h1, act], dy, p.eps))
    })?;
    for (param, grad) in p.params.iter().zip(grads) {
        param_grads::add(param, tensor_like(grad, param.dims(), param)?)?;
    }
    Ok(dx)
}

impl FfnBlock {
    fn run<T: Real>(&self, x: &[T]) -> Result<CpuStorage> {
        let (y, saved) = forward_host(&self.p, x)?;
        *self.saved.lock().expect("saved activations") = Some(saved);
        Ok(T::to_cpu_storage_owned(y))
    }

    fn grads<T: Real>(&self, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
        let guard = self.saved.lock().expect("saved activations");
        let Some(s) = guard.as_ref() else { candle_core::bail!("fused FFN block: backward before forward") };
        let dx = with_hosts::<T, _, 2>([x, dy], |[xs, dys]| backward_host(&self.p, s, xs, dys))?;
        tensor_like(dx, x.dims(), x)
    }
}

impl CustomOp1 for FfnBlock {
    fn name(&self) -> &'static str {
        "videobert-ffn-block"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = match s.dtype() {
            DType::F32 => self.run::<f32>(slice(s, l)?)?,
            DType::F64 => self.run::<f64>(slice(s, l)?)?,
            dt => candle_core::bail!("fused FFN block: unsupported dtype {dt:?}"),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(match x.dtype() {
            DType::F32 => self.grads::<f32>(x, dy)?,
            DType::F64 => self.grads::<f64>(x, dy)?,
            dt => candle_core::bail!("fused FFN block: unsupported dtype {dt:?}"),
        }))
    }
}

/// `x + W₂·GELU(W₁·LN(x) + b₁) + b₂` for `x [.., H]`; parameter gradients go to `param_grads`
/// (collected by `train::gradients_of`).
pub fn ffn_block(x: &Tensor, p: &FfnParams) -> Result<Tensor> {
    if p.params.iter().any(|t| !t.is_contiguous()) {
        candle_core::bail!("fused FFN block: parameters must be contiguous");
    }
    x.contiguous()?.apply_op1(FfnBlock { p: p.clone(), saved: Mutex::new(None) })
}
