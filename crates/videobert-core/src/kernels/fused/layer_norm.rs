//! LayerNorm over the last dimension: `y = (x − μ) / √(σ² + ε) · γ + β`, one pass forward, one
//! backward (μ and 1/σ recomputed per row rather than stored; sums in 8 lanes so rows vectorise).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{dot, slice, sum, sum_blocks, tensor_like, vectorised, with_host, Real, BLOCK_ROWS};

struct LayerNormOp {
    eps: f64,
}

/// Writes `x − μ` of one row into `diff` and returns `1/√(σ² + ε)`.
#[inline(always)]
fn centre<T: Real>(row: &[T], diff: &mut [T], eps: f64) -> T {
    let n = T::from_f64(row.len() as f64);
    let mean = sum(row) / n;
    for (d, &v) in diff.iter_mut().zip(row) {
        *d = v - mean;
    }
    T::one() / (dot(diff, diff) / n + T::from_f64(eps)).sqrt()
}

pub(super) fn forward<T: Real>(x: &[T], gamma: &[T], beta: &[T], eps: f64) -> Vec<T> {
    let h = gamma.len();
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(h * BLOCK_ROWS).zip(x.par_chunks(h * BLOCK_ROWS)).for_each(|(yb, xb)| {
        vectorised(
            #[inline(always)]
            || {
                for (yr, xr) in yb.chunks_mut(h).zip(xb.chunks(h)) {
                    let rstd = centre(xr, yr, eps);
                    for ((o, &g), &b) in yr.iter_mut().zip(gamma).zip(beta) {
                        *o = *o * rstd * g + b;
                    }
                }
            },
        )
    });
    y
}

/// `(dx, dγ, dβ)` for upstream gradient `dy`.
pub(super) fn backward<T: Real>(x: &[T], gamma: &[T], dy: &[T], eps: f64) -> (Vec<T>, Vec<T>, Vec<T>) {
    let h = gamma.len();
    let mut dx = vec![T::zero(); x.len()];
    let partials: Vec<(Vec<T>, Vec<T>)> = dx
        .par_chunks_mut(h * BLOCK_ROWS)
        .zip(x.par_chunks(h * BLOCK_ROWS).zip(dy.par_chunks(h * BLOCK_ROWS)))
        .map(|(dxb, (xb, dyb))| {
            let (mut dg, mut db) = (vec![T::zero(); h], vec![T::zero(); h]);
            let (mut xhat, mut g) = (vec![T::zero(); h], vec![T::zero(); h]);
            vectorised(
                #[inline(always)]
                || {
                    let n = T::from_f64(h as f64);
                    for ((dxr, xr), dyr) in dxb.chunks_mut(h).zip(xb.chunks(h)).zip(dyb.chunks(h)) {
                        let rstd = centre(xr, &mut xhat, eps);
                        for ((((xh, gi), dgi), dbi), (&d, &gm)) in
                            xhat.iter_mut().zip(g.iter_mut()).zip(dg.iter_mut()).zip(db.iter_mut()).zip(dyr.iter().zip(gamma))
                        {
                            *xh *= rstd;
                            *gi = d * gm;
                            *dgi += d * *xh;
                            *dbi += d;
                        }
                        let (mean_g, mean_gx) = (sum(&g) / n, dot(&g, &xhat) / n);
                        for ((o, &gi), &xh) in dxr.iter_mut().zip(&g).zip(&xhat) {
                            *o = rstd * (gi - mean_g - xh * mean_gx);
                        }
                    }
                },
            );
            (dg, db)
        })
        .collect();
    let (dgs, dbs): (Vec<_>, Vec<_>) = partials.into_iter().unzip();
    (dx, sum_blocks(dgs, h), sum_blocks(dbs, h))
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "videobert-layer-norm"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let shape = l1.shape().clone();
        let out = match s1.dtype() {
            DType::F32 => CpuStorage::F32(forward::<f32>(slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?, self.eps)),
            DType::F64 => CpuStorage::F64(forward::<f64>(slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?, self.eps)),
            dt => candle_core::bail!("fused LayerNorm: unsupported dtype {dt:?}"),
        };
        Ok((out, shape))
    }

    fn bwd(&self, x: &Tensor, gamma: &Tensor, _beta: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        fn run<T: Real>(x: &Tensor, gamma: &Tensor, dy: &Tensor, eps: f64) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
            let (dx, dg, db) = with_host::<T, _>(x, |xs| with_host::<T, _>(gamma, |gs| with_host::<T, _>(dy, |ds| Ok(backward(xs, gs, ds, eps)))))?;
            let h = gamma.dims1()?;
            Ok((Some(tensor_like(dx, x.dims(), x)?), Some(tensor_like(dg, &[h], x)?), Some(tensor_like(db, &[h], x)?)))
        }
        match x.dtype() {
            DType::F32 => run::<f32>(x, gamma, dy, self.eps),
            DType::F64 => run::<f64>(x, gamma, dy, self.eps),
            dt => candle_core::bail!("fused LayerNorm: unsupported dtype {dt:?}"),
        }
    }
}

/// LayerNorm of `x [.., H]` with gain and bias `[H]`.
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(gamma, beta, LayerNormOp { eps })
}
