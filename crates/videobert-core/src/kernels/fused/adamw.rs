//! The AdamW update in place, three passes per parameter and no temporaries:
//! `m ← β₁m + (1−β₁)·s·g`, `v ← β₂v + (1−β₂)·(s·g)²`, `θ ← θ·(1 − lr·wd) − lr·m̂ / (√v̂ + ε)`,
//! where `s` scales the summed gradient (micro-batch mean and clipping folded into one factor).
//! And the gradient's sum of squares in f64, for the global norm.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, DType, InplaceOp2, InplaceOp3, Layout, Result, Tensor};
use rayon::prelude::*;

use super::{slice, vectorised, with_host, Real};

const CHUNK: usize = 1 << 14;

/// Hyper-parameters of one update.
#[derive(Debug, Clone, Copy)]
pub struct Update {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// `lr · weight_decay` for this parameter (0 = no decay).
    pub decay: f64,
    /// `1 − β₁ᵗ`, `1 − β₂ᵗ`.
    pub bias1: f64,
    pub bias2: f64,
    /// Factor on the raw gradient.
    pub grad_scale: f64,
}

/// The contiguous range a layout covers (the optimizer's tensors always are contiguous).
fn range(l: &Layout) -> Result<std::ops::Range<usize>> {
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(start..end),
        None => candle_core::bail!("AdamW state must be contiguous"),
    }
}

/// `moment ← β·moment + (1 − β)·f(s·g)` with `f` = identity (first moment) or square (second).
struct Moment {
    beta: f64,
    grad_scale: f64,
    square: bool,
}

impl Moment {
    fn apply<T: Real>(&self, m: &mut [T], g: &[T]) {
        let (beta, rest, s) = (T::from_f64(self.beta), T::from_f64(1.0 - self.beta), T::from_f64(self.grad_scale));
        let square = self.square;
        m.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).for_each(|(mc, gc)| {
            vectorised(
                #[inline(always)]
                || {
                    for (o, &gv) in mc.iter_mut().zip(gc) {
                        let x = gv * s;
                        *o = beta * *o + rest * if square { x * x } else { x };
                    }
                },
            )
        });
    }
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "videobert-adamw-moment"
    }

    fn cpu_fwd(&self, s1: &mut CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<()> {
        let r = range(l1)?;
        match s1 {
            CpuStorage::F32(m) => self.apply::<f32>(&mut m[r], slice(s2, l2)?),
            CpuStorage::F64(m) => self.apply::<f64>(&mut m[r], slice(s2, l2)?),
            _ => candle_core::bail!("AdamW: unsupported dtype {:?}", s1.dtype()),
        }
        Ok(())
    }
}

struct Parameter(Update);

impl Parameter {
    fn apply<T: Real>(&self, theta: &mut [T], m: &[T], v: &[T]) {
        let u = self.0;
        let keep = T::from_f64(1.0 - u.decay);
        let (lr1, inv_b2, eps) = (T::from_f64(u.lr / u.bias1), T::from_f64(1.0 / u.bias2), T::from_f64(u.eps));
        theta.par_chunks_mut(CHUNK).zip(m.par_chunks(CHUNK).zip(v.par_chunks(CHUNK))).for_each(|(tc, (mc, vc))| {
            vectorised(
                #[inline(always)]
                || {
                    for ((t, &mv), &vv) in tc.iter_mut().zip(mc).zip(vc) {
                        *t = *t * keep - lr1 * mv / ((vv * inv_b2).sqrt() + eps);
                    }
                },
            )
        });
    }
}

impl InplaceOp3 for Parameter {
    fn name(&self) -> &'static str {
        "videobert-adamw-update"
    }

    fn cpu_fwd(&self, s1: &mut CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<()> {
        let r = range(l1)?;
        match s1 {
            CpuStorage::F32(t) => self.apply::<f32>(&mut t[r], slice(s2, l2)?, slice(s3, l3)?),
            CpuStorage::F64(t) => self.apply::<f64>(&mut t[r], slice(s2, l2)?, slice(s3, l3)?),
            _ => candle_core::bail!("AdamW: unsupported dtype {:?}", s1.dtype()),
        }
        Ok(())
    }
}

/// One AdamW update of `theta` with moments `m`, `v` (all updated in place) and raw gradient `g`.
pub fn update(theta: &Tensor, m: &Tensor, v: &Tensor, g: &Tensor, u: Update) -> Result<()> {
    let g = g.contiguous()?;
    m.inplace_op2(&g, &Moment { beta: u.beta1, grad_scale: u.grad_scale, square: false })?;
    v.inplace_op2(&g, &Moment { beta: u.beta2, grad_scale: u.grad_scale, square: true })?;
    theta.inplace_op3(m, v, &Parameter(u))
}

/// `Σ g²` accumulated in f64 (blocks summed in order: deterministic).
pub fn sum_squares(g: &Tensor) -> Result<f64> {
    fn run<T: Real>(g: &Tensor) -> Result<f64> {
        with_host::<T, _>(g, |s| {
            let partials: Vec<f64> = s.par_chunks(CHUNK).map(|c| c.iter().map(|&x| x.to_f64() * x.to_f64()).sum::<f64>()).collect();
            Ok(partials.iter().sum())
        })
    }
    match g.dtype() {
        DType::F32 => run::<f32>(g),
        DType::F64 => run::<f64>(g),
        dt => candle_core::bail!("sum of squares: unsupported dtype {dt:?}"),
    }
}
