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
pub mod gelu;
pub mod layer_norm;
pub mod linear;

use std::sync::atomic::{AtomicU8, Ordering};

use candle_core::{bail, CpuStorage, DType, Layout, Result, Storage, Tensor, WithDType};

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

/// The float types the kernels are written for.
pub trait Real: WithDType + num_traits::Float + Send + Sync {
    fn erf(self) -> Self;
}

impl Real for f32 {
    fn erf(self) -> Self {
        libm::erff(self)
    }
}

impl Real for f64 {
    fn erf(self) -> Self {
        libm::erf(self)
    }
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
