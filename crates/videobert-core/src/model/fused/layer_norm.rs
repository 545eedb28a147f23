//! LayerNorm over the last dimension: `y = (x − μ) / √(σ² + ε) · γ + β`, one pass forward, one
//! backward (μ and 1/σ recomputed per row rather than stored).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{slice, sum_blocks, tensor_like, with_host, Real, BLOCK_ROWS};

struct LayerNormOp {
    eps: f64,
}

/// Mean and reciprocal standard deviation of one row.
fn moments<T: Real>(row: &[T], eps: f64) -> (T, T) {
    let n = T::from_f64(row.len() as f64);
    let mean = row.iter().fold(T::zero(), |a, &v| a + v) / n;
    let var = row.iter().fold(T::zero(), |a, &v| a + (v - mean) * (v - mean)) / n;
    (mean, T::one() / (var + T::from_f64(eps)).sqrt())
}

fn forward<T: Real>(x: &[T], gamma: &[T], beta: &[T], eps: f64) -> Vec<T> {
    let h = gamma.len();
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(h * BLOCK_ROWS).zip(x.par_chunks(h * BLOCK_ROWS)).for_each(|(yb, xb)| {
        for (yr, xr) in yb.chunks_mut(h).zip(xb.chunks(h)) {
            let (mean, rstd) = moments(xr, eps);
            for (((o, &v), &g), &b) in yr.iter_mut().zip(xr).zip(gamma).zip(beta) {
                *o = (v - mean) * rstd * g + b;
            }
        }
    });
    y
}

/// `(dx, dγ, dβ)` for upstream gradient `dy`.
fn backward<T: Real>(x: &[T], gamma: &[T], dy: &[T], eps: f64) -> (Vec<T>, Vec<T>, Vec<T>) {
    let h = gamma.len();
    let mut dx = vec![T::zero(); x.len()];
    let partials: Vec<(Vec<T>, Vec<T>)> = dx
        .par_chunks_mut(h * BLOCK_ROWS)
        .zip(x.par_chunks(h * BLOCK_ROWS).zip(dy.par_chunks(h * BLOCK_ROWS)))
        .map(|(dxb, (xb, dyb))| {
            let (mut dg, mut db) = (vec![T::zero(); h], vec![T::zero(); h]);
            let mut xhat = vec![T::zero(); h];
            for ((dxr, xr), dyr) in dxb.chunks_mut(h).zip(xb.chunks(h)).zip(dyb.chunks(h)) {
                let (mean, rstd) = moments(xr, eps);
                let (mut sum_g, mut sum_gx) = (T::zero(), T::zero());
                for i in 0..h {
                    xhat[i] = (xr[i] - mean) * rstd;
                    let g = dyr[i] * gamma[i];
                    sum_g += g;
                    sum_gx += g * xhat[i];
                    dg[i] += dyr[i] * xhat[i];
                    db[i] += dyr[i];
                }
                let n = T::from_f64(h as f64);
                let (mean_g, mean_gx) = (sum_g / n, sum_gx / n);
                for i in 0..h {
                    dxr[i] = rstd * (dyr[i] * gamma[i] - mean_g - xhat[i] * mean_gx);
                }
            }
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
