//! A dense layer `y = x·Wᵀ + b` (`x [.., K]`, `W [N, K]`, `b [N]`) as one op: the bias is the
//! initial value of the GEMM's output, and the backward pass is two GEMMs and one column sum
//! (`dx = dy·W`, `dW = dyᵀ·x`, `db = Σ_rows dy`) — where candle's composed form adds a transpose,
//! a broadcast and an add node, and reduces the bias gradient with a strided sum. GEMMs run on the
//! `gemm` crate (the one candle uses) with the calling rayon pool's threads.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{slice, sum_blocks, tensor_like, vectorised, with_host, Real, BLOCK_ROWS};

/// `dst [m, n] (row-major) = (accumulate ? dst : 0) + lhs · rhs`, each operand given by its row
/// and column strides (in elements).
#[allow(clippy::too_many_arguments)]
fn gemm<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    lhs: &[T],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[T],
    rhs_rs: usize,
    rhs_cs: usize,
) {
    assert!(dst.len() >= m * n);
    assert!(m == 0 || k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs);
    assert!(n == 0 || k == 0 || rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs);
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the asserts above keep every index the strides reach inside the slices; dst is
    // written only through its own exclusive borrow.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        )
    }
}

pub(super) fn forward<T: Real>(x: &[T], w: &[T], b: &[T]) -> Vec<T> {
    let (n, k) = (b.len(), w.len() / b.len());
    let m = x.len() / k;
    let mut y = vec![T::zero(); m * n];
    for row in y.chunks_mut(n) {
        row.copy_from_slice(b);
    }
    // rhs = Wᵀ: element (k, n) is w[n·K + k].
    gemm(m, n, k, &mut y, true, x, k, 1, w, 1, k);
    y
}

/// `(dx, dW, db)`; `dx` only when `want_dx` (not for input data outside the graph, e.g. features).
pub(super) fn backward<T: Real>(x: &[T], w: &[T], dy: &[T], n: usize, want_dx: bool) -> (Option<Vec<T>>, Vec<T>, Vec<T>) {
    let k = w.len() / n;
    let m = x.len() / k;
    let dx = want_dx.then(|| {
        let mut dx = vec![T::zero(); m * k];
        gemm(m, k, n, &mut dx, false, dy, n, 1, w, k, 1);
        dx
    });
    let mut dw = vec![T::zero(); n * k];
    // lhs = dyᵀ: element (n, m) is dy[m·N + n].
    gemm(n, k, m, &mut dw, false, dy, 1, n, x, k, 1);
    let partials: Vec<Vec<T>> = dy
        .par_chunks(n * BLOCK_ROWS * 4)
        .map(|block| {
            let mut acc = vec![T::zero(); n];
            vectorised(
                #[inline(always)]
                || {
                    for row in block.chunks(n) {
                        for (a, &v) in acc.iter_mut().zip(row) {
                            *a += v;
                        }
                    }
                },
            );
            acc
        })
        .collect();
    (dx, dw, sum_blocks(partials, n))
}

struct LinearOp;

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "videobert-linear"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let n = l2.shape().dims2()?.0;
        let mut dims = l1.shape().dims().to_vec();
        *dims.last_mut().expect("rank ≥ 1") = n;
        let out = match s1.dtype() {
            DType::F32 => CpuStorage::F32(forward::<f32>(slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?)),
            DType::F64 => CpuStorage::F64(forward::<f64>(slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?)),
            dt => candle_core::bail!("fused linear: unsupported dtype {dt:?}"),
        };
        Ok((out, Shape::from(dims)))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, b: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        fn run<T: Real>(x: &Tensor, w: &Tensor, b: &Tensor, dy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
            let n = b.dims1()?;
            let (dx, dw, db) = with_host::<T, _>(x, |xs| with_host::<T, _>(w, |ws| with_host::<T, _>(dy, |ds| Ok(backward(xs, ws, ds, n, x.track_op())))))?;
            Ok((dx.map(|dx| tensor_like(dx, x.dims(), x)).transpose()?, Some(tensor_like(dw, w.dims(), x)?), Some(tensor_like(db, &[n], x)?)))
        }
        match x.dtype() {
            DType::F32 => run::<f32>(x, w, b, dy),
            DType::F64 => run::<f64>(x, w, b, dy),
            dt => candle_core::bail!("fused linear: unsupported dtype {dt:?}"),
        }
    }
}

/// `x·Wᵀ + b` for `x [.., K]`, `W [N, K]`, `b [N]`.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let k = w.dims2()?.1;
    if x.dims().last() != Some(&k) || b.dims1()? != w.dims2()?.0 {
        candle_core::bail!("fused linear: x {:?}, W {:?}, b {:?} do not fit", x.dims(), w.dims(), b.dims());
    }
    x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, LinearOp)
}
