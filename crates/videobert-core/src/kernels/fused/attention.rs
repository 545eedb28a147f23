//! Multi-head scaled dot-product attention on a fused projection `qkv [N, S, 3H]` (queries, keys,
//! values side by side in each row, heads of `H / heads` columns), with an optional additive key
//! mask `[N, S]`: `ctx [N, S, H]`. Heads are read in place (no transposes or copies); the forward
//! pass keeps the probabilities `[N, heads, S, S]` for the backward pass. Work is split over the
//! `N` sequences, so every output row is written by one thread.

use candle_core::backend::BackendStorage;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{dot, slice, tensor_like, vectorised, with_host, Real};

#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub(super) n: usize,
    pub(super) s: usize,
    pub(super) h: usize,
    pub(super) heads: usize,
}

impl Dims {
    pub(super) fn of(shape: &Shape, heads: usize) -> Result<Self> {
        let (n, s, h3) = shape.dims3()?;
        if h3 % 3 != 0 || (h3 / 3) % heads != 0 {
            candle_core::bail!("fused attention: {h3} columns are not 3 × heads ({heads}) × head size");
        }
        Ok(Self { n, s, h: h3 / 3, heads })
    }

    fn head_dim(&self) -> usize {
        self.h / self.heads
    }
}

#[inline(always)]
fn axpy<T: Real>(alpha: T, x: &[T], y: &mut [T]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o += alpha * v;
    }
}

/// Softmax probabilities `p [S, S]` of one head of one sequence `x [S, 3H]`.
#[inline(always)]
fn probabilities<T: Real>(x: &[T], mask: Option<&[T]>, d: Dims, head: usize, scale: T, p: &mut [T]) {
    let (s, h, hd) = (d.s, d.h, d.head_dim());
    let off = head * hd;
    for i in 0..s {
        let q = &x[i * 3 * h + off..][..hd];
        let row = &mut p[i * s..(i + 1) * s];
        for (j, r) in row.iter_mut().enumerate() {
            let k = &x[j * 3 * h + h + off..][..hd];
            *r = dot(q, k) * scale + mask.map_or(T::zero(), |m| m[j]);
        }
        let max = row.iter().fold(T::neg_infinity(), |a, &v| num_traits::Float::max(a, v));
        for r in row.iter_mut() {
            *r = (*r - max).exp_fast();
        }
        let inv = T::one() / super::sum(row);
        for r in row.iter_mut() {
            *r *= inv;
        }
    }
}

/// `(ctx [N, S, H], probabilities [N, heads, S, S])`.
pub(super) fn forward<T: Real>(qkv: &[T], mask: Option<&[T]>, d: Dims) -> (Vec<T>, Vec<T>) {
    let (s, h, hd) = (d.s, d.h, d.head_dim());
    let scale = T::from_f64(1.0 / (hd as f64).sqrt());
    let mut out = vec![T::zero(); d.n * s * h];
    let mut probs = vec![T::zero(); d.n * d.heads * s * s];
    out.par_chunks_mut(s * h).zip(probs.par_chunks_mut(d.heads * s * s)).enumerate().for_each(|(b, (ob, pb))| {
        let x = &qkv[b * s * 3 * h..(b + 1) * s * 3 * h];
        let m = mask.map(|m| &m[b * s..(b + 1) * s]);
        vectorised(
            #[inline(always)]
            || {
                for head in 0..d.heads {
                    let off = head * hd;
                    let p = &mut pb[head * s * s..(head + 1) * s * s];
                    probabilities(x, m, d, head, scale, p);
                    for i in 0..s {
                        let o = &mut ob[i * h + off..][..hd];
                        for j in 0..s {
                            axpy(p[i * s + j], &x[j * 3 * h + 2 * h + off..][..hd], o);
                        }
                    }
                }
            },
        )
    });
    (out, probs)
}

/// `d qkv [N, S, 3H]` for the upstream gradient `dctx [N, S, H]`, given the forward's probabilities.
pub(super) fn backward<T: Real>(qkv: &[T], probs: &[T], dctx: &[T], d: Dims) -> Vec<T> {
    let (s, h, hd) = (d.s, d.h, d.head_dim());
    let scale = T::from_f64(1.0 / (hd as f64).sqrt());
    let mut dqkv = vec![T::zero(); qkv.len()];
    dqkv.par_chunks_mut(s * 3 * h).enumerate().for_each(|(b, gb)| {
        let x = &qkv[b * s * 3 * h..(b + 1) * s * 3 * h];
        let dy = &dctx[b * s * h..(b + 1) * s * h];
        let mut dp = vec![T::zero(); s];
        vectorised(
            #[inline(always)]
            || {
                for head in 0..d.heads {
                    let off = head * hd;
                    let p = &probs[(b * d.heads + head) * s * s..][..s * s];
                    for i in 0..s {
                        let dyi = &dy[i * h + off..][..hd];
                        let pi = &p[i * s..(i + 1) * s];
                        // dP_ij = dctx_i · v_j;  dV_j += P_ij dctx_i
                        for j in 0..s {
                            dp[j] = dot(dyi, &x[j * 3 * h + 2 * h + off..][..hd]);
                            axpy(pi[j], dyi, &mut gb[j * 3 * h + 2 * h + off..][..hd]);
                        }
                        // dS_ij = P_ij (dP_ij − Σ_k P_ik dP_ik), scaled for dQ and dK.
                        let r = dot(pi, &dp);
                        for j in 0..s {
                            let ds = pi[j] * (dp[j] - r) * scale;
                            if ds == T::zero() {
                                continue;
                            }
                            let (qi, kj) = (i * 3 * h + off, j * 3 * h + h + off);
                            axpy(ds, &x[kj..kj + hd], &mut gb[qi..qi + hd]);
                            axpy(ds, &x[qi..qi + hd], &mut gb[kj..kj + hd]);
                        }
                    }
                }
            },
        )
    });
    dqkv
}

/// The op of one call: its forward pass leaves the probabilities here for the backward pass(es).
struct Attention {
    heads: usize,
    probs: Mutex<Option<Tensor>>,
}

impl Attention {
    fn new(heads: usize) -> Self {
        Self { heads, probs: Mutex::new(None) }
    }

    fn forward(&self, s1: &CpuStorage, l1: &Layout, mask: Option<(&CpuStorage, &Layout)>) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(x: &[T], mask: Option<&[T]>, d: Dims) -> Result<(CpuStorage, Tensor)> {
            let (out, probs) = forward::<T>(x, mask, d);
            Ok((T::to_cpu_storage_owned(out), Tensor::from_vec(probs, d.n * d.heads * d.s * d.s, &candle_core::Device::Cpu)?))
        }
        let d = Dims::of(l1.shape(), self.heads)?;
        let (out, probs) = match s1.dtype() {
            DType::F32 => run::<f32>(slice(s1, l1)?, mask.map(|(s, l)| slice(s, l)).transpose()?, d)?,
            DType::F64 => run::<f64>(slice(s1, l1)?, mask.map(|(s, l)| slice(s, l)).transpose()?, d)?,
            dt => candle_core::bail!("fused attention: unsupported dtype {dt:?}"),
        };
        *self.probs.lock().expect("attention probabilities") = Some(probs);
        Ok((out, Shape::from((d.n, d.s, d.h))))
    }

    fn backward(&self, qkv: &Tensor, dctx: &Tensor) -> Result<Tensor> {
        fn run<T: Real>(qkv: &Tensor, probs: &Tensor, dctx: &Tensor, d: Dims) -> Result<Tensor> {
            let g = with_host::<T, _>(qkv, |x| with_host::<T, _>(probs, |p| with_host::<T, _>(dctx, |dy| Ok(backward(x, p, dy, d)))))?;
            tensor_like(g, qkv.dims(), qkv)
        }
        let probs = self.probs.lock().expect("attention probabilities").clone();
        let Some(probs) = probs else { candle_core::bail!("fused attention: backward before forward") };
        let d = Dims::of(qkv.shape(), self.heads)?;
        match qkv.dtype() {
            DType::F32 => run::<f32>(qkv, &probs, dctx, d),
            DType::F64 => run::<f64>(qkv, &probs, dctx, d),
            dt => candle_core::bail!("fused attention: unsupported dtype {dt:?}"),
        }
    }
}

/// The unmasked form (one input).
struct Unmasked(Attention);

/// The masked form (the mask is a second input without a gradient).
struct Masked(Attention);

impl CustomOp1 for Unmasked {
    fn name(&self) -> &'static str {
        "videobert-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        self.0.forward(s, l, None)
    }

    fn bwd(&self, qkv: &Tensor, _res: &Tensor, dctx: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.0.backward(qkv, dctx)?))
    }
}

impl CustomOp2 for Masked {
    fn name(&self) -> &'static str {
        "videobert-masked-attention"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        self.0.forward(s1, l1, Some((s2, l2)))
    }

    fn bwd(&self, qkv: &Tensor, _mask: &Tensor, _res: &Tensor, dctx: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(self.0.backward(qkv, dctx)?), None))
    }
}

/// Attention of `qkv [N, S, 3H]` with `heads` heads and an optional additive key mask `[N, S]`
/// (0 = attend, a large negative number = ignore): `[N, S, H]`.
pub fn attention(qkv: &Tensor, mask: Option<&Tensor>, heads: usize) -> Result<Tensor> {
    let qkv = qkv.contiguous()?;
    match mask {
        Some(m) => qkv.apply_op2(&m.detach().contiguous()?, Masked(Attention::new(heads))),
        None => qkv.apply_op1(Unmasked(Attention::new(heads))),
    }
}
