//! Fused CPU kernels with analytic backward passes: LayerNorm, GELU, multi-head attention and the
//! AdamW update. Each replaces a chain of small candle ops (each a full pass over memory, a
//! temporary, and a node in the autograd graph, several with layout copies) by one pass forward
//! and one backward. They run on the CPU in f32 and f64; other devices and dtypes, and
//! `VIDEOBERT_KERNELS=composed`, use the composed ops in `layers.rs`, which stay the reference:
//! `tests/kernels.rs` compares both, op by op and for whole train steps.
//!
//! Parallel work is split into blocks of fixed size and partial sums are added in block order, so
//! results do not depend on the number of threads.

pub mod adamw;
pub mod attention;
pub mod attention_block;
pub mod ffn;
pub mod gelu;
pub mod layer;
pub mod layer_norm;
pub mod linear;
pub mod param_grads;

use std::sync::atomic::{AtomicU8, Ordering};

use candle_core::{bail, CpuStorage, DType, Layout, Result, Storage, Tensor, WithDType};
use rayon::prelude::*;

/// Which implementation the model's layers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// The fused kernels of this module where they apply (CPU, f32 / f64).
    Fused,
    /// candle's composed ops everywhere (the reference).
    Composed,
}

const UNSET: u8 = 0;
const FUSED: u8 = 1;
const COMPOSED: u8 = 2;
static KERNELS: AtomicU8 = AtomicU8::new(UNSET);

/// The process-wide choice: `set_kernels`, else `VIDEOBERT_KERNELS` (`fused` | `composed`), else fused.
pub fn kernels() -> Kernels {
    match KERNELS.load(Ordering::Relaxed) {
        FUSED => Kernels::Fused,
        COMPOSED => Kernels::Composed,
        _ => {
            let k = match std::env::var("VIDEOBERT_KERNELS").as_deref() {
                Ok("composed") => Kernels::Composed,
                _ => Kernels::Fused,
            };
            set_kernels(k);
            k
        }
    }
}

/// Choose the kernels for every model in this process (tests compare the two).
pub fn set_kernels(k: Kernels) {
    KERNELS.store(if k == Kernels::Fused { FUSED } else { COMPOSED }, Ordering::Relaxed);
}

/// Whether the fused kernels take a tensor of this device and dtype.
pub fn applies(t: &Tensor) -> bool {
    kernels() == Kernels::Fused && t.device().is_cpu() && matches!(t.dtype(), DType::F32 | DType::F64)
}

/// The float types the kernels are written for. `erf` and `exp_fast` are branch-free polynomials
/// in f32 (so loops over them vectorise; absolute error ≤ 4.2e-7 for erf, ≤ 2e-7 relative for
/// exp) and libm / std in f64.
pub trait Real: WithDType + num_traits::Float + Send + Sync {
    fn erf(self) -> Self;
    fn exp_fast(self) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn erf(self) -> Self {
        erf_f32(self)
    }

    #[inline(always)]
    fn exp_fast(self) -> Self {
        exp_f32(self)
    }
}

impl Real for f64 {
    #[inline(always)]
    fn erf(self) -> Self {
        libm::erf(self)
    }

    #[inline(always)]
    fn exp_fast(self) -> Self {
        self.exp()
    }
}

/// erf as `x·P(x²)/Q(x²)` on x clamped to [−4, 4] (erf(±4) = ±1 in f32): a rational minimax
/// approximation of degrees 13/8; max |error| 4.2e-7 over the line (checked against libm in
/// `tests/kernels.rs`).
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    const P: [f32; 7] = [-2.726_142_3e-10, 2.770_681_4e-8, -2.101_024e-6, -5.692_506_4e-5, -7.349_906_3e-4, -2.9546e-3, -1.609_603_3e-2];
    const Q: [f32; 5] = [-1.456_607_2e-5, -2.133_740_6e-4, -1.682_827e-3, -7.373_329e-3, -1.426_474e-2];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = P.iter().skip(1).fold(P[0], |acc, &c| acc * x2 + c);
    let q = Q.iter().skip(1).fold(Q[0], |acc, &c| acc * x2 + c);
    x * p / q
}

/// e^x for x ≤ 88: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its degree-7 Taylor polynomial,
/// 2ⁿ built in the exponent bits. Inputs below −86 give exactly 0, never a subnormal (subnormal
/// operands make every later GEMM that reads them many times slower; masked attention scores of
/// −10⁴ land here).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let tiny = x < -86.0;
    let x = x.clamp(-86.0, 88.0);
    // Round to nearest by the 1.5·2²³ trick (vectorises, unlike `round`).
    let n = (x * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let mut p = 1.0 / 5040.0;
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p * r + c;
    }
    let e = p * f32::from_bits(((n as i32 + 127) as u32) << 23);
    if tiny {
        0.0
    } else {
        e
    }
}

/// Runs `f` compiled for the widest vector instructions this CPU has — AVX-512, else AVX2 + FMA
/// on x86-64, plain code elsewhere — chosen at run time (the addon is built for baseline x86-64,
/// where these loops compiled to scalar SSE). `f` and what it calls must inline into it (the
/// kernels' helpers are `#[inline(always)]`). Results do not depend on the instruction set: Rust
/// never fuses or reorders float operations by itself, so vector lanes round exactly as scalar
/// code does.
#[inline(always)]
pub fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// Dot product in 8 independent lanes, added in lane order at the end (the compiler vectorises
/// it; a single running sum it may not reorder).
#[inline(always)]
pub fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ca.remainder().iter().zip(cb.remainder()).fold(T::zero(), |acc, (&x, &y)| acc + x * y);
    for (xa, xb) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += xa[l] * xb[l];
        }
    }
    lanes.iter().fold(tail, |acc, &v| acc + v)
}

/// Sum in 8 independent lanes, like [`dot`].
#[inline(always)]
pub fn sum<T: Real>(a: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let ca = a.chunks_exact(8);
    let tail = ca.remainder().iter().fold(T::zero(), |acc, &x| acc + x);
    for xa in ca {
        for l in 0..8 {
            lanes[l] += xa[l];
        }
    }
    lanes.iter().fold(tail, |acc, &v| acc + v)
}

/// `dst += src` elementwise, in parallel blocks, vectorised (the residual adds of the fused
/// blocks; `a + b = b + a` exactly, so the order of the operands never matters).
pub fn add_assign<T: Real>(dst: &mut [T], src: &[T]) {
    dst.par_chunks_mut(1 << 14).zip(src.par_chunks(1 << 14)).for_each(|(dc, sc)| {
        vectorised(
            #[inline(always)]
            || {
                for (o, &v) in dc.iter_mut().zip(sc) {
                    *o += v;
                }
            },
        )
    });
}

/// Rows per parallel block (fixed: the summation order of partial sums never depends on threads).
pub const BLOCK_ROWS: usize = 16;

/// The contiguous slice a CPU storage holds for `layout`.
pub fn slice<'a, T: WithDType>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<T>()?[start..end]),
        None => bail!("fused kernel input must be contiguous"),
    }
}

/// Run `f` on the contiguous CPU data of `t` (no copy when `t` is already contiguous).
pub fn with_host<T: WithDType, R>(t: &Tensor, f: impl FnOnce(&[T]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(slice::<T>(cpu, layout)?),
        _ => bail!("fused kernels run on the CPU"),
    }
}

/// Run `f` on the contiguous CPU data of several tensors at once (no copy for contiguous ones).
pub fn with_hosts<T: WithDType, R, const N: usize>(ts: [&Tensor; N], f: impl FnOnce([&[T]; N]) -> Result<R>) -> Result<R> {
    let owned = ts.map(|t| t.contiguous());
    let owned: Vec<Tensor> = owned.into_iter().collect::<Result<_>>()?;
    let guards: Vec<_> = owned.iter().map(|t| t.storage_and_layout()).collect();
    let slices: Vec<&[T]> = guards
        .iter()
        .map(|(storage, layout)| match &**storage {
            Storage::Cpu(cpu) => slice::<T>(cpu, layout),
            _ => bail!("fused kernels run on the CPU"),
        })
        .collect::<Result<_>>()?;
    f(slices.try_into().unwrap_or_else(|_| unreachable!("N slices")))
}

/// A CPU tensor of `shape` holding `data`, on the device of `like`.
pub fn tensor_like<T: WithDType>(data: Vec<T>, shape: &[usize], like: &Tensor) -> Result<Tensor> {
    Tensor::from_vec(data, shape, like.device())
}

/// Sum per-block partial vectors in block order.
pub fn sum_blocks<T: Real>(partials: Vec<Vec<T>>, len: usize) -> Vec<T> {
    let mut out = vec![T::zero(); len];
    for p in partials {
        for (o, v) in out.iter_mut().zip(p) {
            *o += v;
        }
    }
    out
}
