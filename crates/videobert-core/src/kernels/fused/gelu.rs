//! GELU with the exact erf form, `x · Φ(x)`, and its derivative `Φ(x) + x · φ(x)`.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{slice, tensor_like, vectorised, with_host, Real};

const CHUNK: usize = 4096;

struct GeluOp;

#[inline(always)]
fn cdf<T: Real>(x: T) -> T {
    T::from_f64(0.5) * (T::one() + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf())
}

pub(super) fn forward<T: Real>(x: &[T]) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(yc, xc)| {
        vectorised(
            #[inline(always)]
            || {
                for (o, &v) in yc.iter_mut().zip(xc) {
                    *o = v * cdf(v);
                }
            },
        )
    });
    y
}

pub(super) fn backward<T: Real>(x: &[T], dy: &[T]) -> Vec<T> {
    let inv_sqrt_2pi = T::from_f64(1.0 / (2.0 * std::f64::consts::PI).sqrt());
    let mut dx = vec![T::zero(); x.len()];
    dx.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK))).for_each(|(dc, (xc, gc))| {
        vectorised(
            #[inline(always)]
            || {
                for ((o, &v), &g) in dc.iter_mut().zip(xc).zip(gc) {
                    let pdf = (-(v * v) * T::from_f64(0.5)).exp_fast() * inv_sqrt_2pi;
                    *o = g * (cdf(v) + v * pdf);
                }
            },
        )
    });
    dx
}

impl CustomOp1 for GeluOp {
    fn name(&self) -> &'static str {
        "videobert-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = match s.dtype() {
            DType::F32 => CpuStorage::F32(forward::<f32>(slice(s, l)?)),
            DType::F64 => CpuStorage::F64(forward::<f64>(slice(s, l)?)),
            dt => candle_core::bail!("fused GELU: unsupported dtype {dt:?}"),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        fn run<T: Real>(x: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
            let dx = with_host::<T, _>(x, |xs| with_host::<T, _>(dy, |ds| Ok(backward(xs, ds))))?;
            Ok(Some(tensor_like(dx, x.dims(), x)?))
        }
        match x.dtype() {
            DType::F32 => run::<f32>(x, dy),
            DType::F64 => run::<f64>(x, dy),
            dt => candle_core::bail!("fused GELU: unsupported dtype {dt:?}"),
        }
    }
}

/// `gelu_erf(x)` in one pass, with its backward.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GeluOp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernels run under [`vectorised`] (AVX-512 / AVX2 where the CPU has them); the same
    /// arithmetic compiled for baseline x86-64 must give the same bits.
    #[test]
    fn vectorised_loops_round_like_scalar_code() {
        let x: Vec<f32> = (0..20_000).map(|i| (i as f32 * 0.37).sin() * 6.0 - 0.5).collect();
        let dy: Vec<f32> = (0..20_000).map(|i| (i as f32 * 0.11).cos()).collect();
        let inv_sqrt_2pi = 1.0 / (2.0 * std::f32::consts::PI).sqrt();
        let y_scalar: Vec<f32> = x.iter().map(|&v| v * cdf(v)).collect();
        let dx_scalar: Vec<f32> = x.iter().zip(&dy).map(|(&v, &g)| g * (cdf(v) + v * ((-(v * v) * 0.5).exp_fast() * inv_sqrt_2pi))).collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&forward(&x)), bits(&y_scalar));
        assert_eq!(bits(&backward(&x, &dy)), bits(&dx_scalar));
    }
}
