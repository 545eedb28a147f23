//! The fused attention on CUDA: `kernels/cuda/attention.cu` (compiled to PTX by build.rs with the
//! `cuda` feature), launched from candle custom ops with the geometry of `kernels::flash`. Same
//! contract as the CPU kernel (`fused::attention`): `qkv [N, S, 3H]`, optional additive key mask
//! `[N, S]`, `ctx [N, S, H]`; memory linear in `S` (the forward keeps a log-sum-exp per query row,
//! the backward recomputes the probabilities from it). f32, bf16 and f16 storage, f32 arithmetic.
//!
//! Opt-in (`VIDEOBERT_CUDA_ATTENTION=fused`) until it has run on a GPU: no session has had one
//! yet, so the model uses candle's composed ops on CUDA by default.

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{CudaView, DeviceRepr, LaunchArgs, LaunchConfig, PushKernelArg, ValidAsZeroBits};
use candle_core::cuda_backend::{CudaDType, WrapErr};
use candle_core::{CpuStorage, CudaStorage, CustomOp1, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor};

use super::flash;

const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/attention.ptx"));
const MODULE: &str = "videobert_attention";

/// Whether the CUDA kernel takes this input: a CUDA tensor of f32/bf16/f16, a head size it is
/// built for, and the opt-in set.
pub fn applies(qkv_like: &Tensor, hidden: usize, heads: usize) -> bool {
    std::env::var("VIDEOBERT_CUDA_ATTENTION").is_ok_and(|v| v == "fused")
        && qkv_like.device().is_cuda()
        && matches!(qkv_like.dtype(), DType::F32 | DType::BF16 | DType::F16)
        && hidden % heads == 0
        && flash::HEAD_DIMS.contains(&(hidden / heads))
}

#[derive(Clone, Copy)]
struct Dims {
    n: usize,
    s: usize,
    h: usize,
    heads: usize,
}

impl Dims {
    fn d(&self) -> usize {
        self.h / self.heads
    }
    fn scale(&self) -> f32 {
        1.0 / (self.d() as f32).sqrt()
    }
    fn config(&self) -> LaunchConfig {
        let (grid, block) = flash::launch(self.n, self.s, self.heads);
        LaunchConfig { grid_dim: grid, block_dim: block, shared_mem_bytes: 0 }
    }
}

fn dtype_name(dt: DType) -> Result<&'static str> {
    Ok(match dt {
        DType::F32 => "f32",
        DType::BF16 => "bf16",
        DType::F16 => "f16",
        dt => candle_core::bail!("CUDA attention: unsupported dtype {dt:?}"),
    })
}

/// The entry point's name (candle does not export the type of a loaded function, so each call
/// site loads it: `dev.get_or_load_custom_func(&name(..)?, MODULE, PTX)`; loaded once per device).
fn name(kind: &str, dt: DType, d: usize) -> Result<String> {
    flash::kernel_name(kind, dtype_name(dt)?, d).ok_or_else(|| candle_core::Error::Msg(format!("CUDA attention: no kernel for head size {d}")))
}

/// Runs `f` on the CUDA storage of `t` (contiguous).
fn with_cuda<R>(t: &Tensor, f: impl FnOnce(&CudaStorage, &Layout) -> Result<R>) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cuda(c) if layout.is_contiguous() => f(c, layout),
        _ => candle_core::bail!("CUDA attention: expected a contiguous CUDA tensor"),
    }
}

/// The mask argument: its device pointer, or a null pointer for "no mask".
fn push_mask<'a>(b: &mut LaunchArgs<'a>, mask: Option<&'a CudaView<'a, f32>>) {
    const NULL: u64 = 0;
    match mask {
        Some(m) => b.arg(m),
        None => b.arg(&NULL),
    };
}

fn offset(l: &Layout) -> usize {
    l.start_offset()
}

/// Forward: `ctx`, and the log-sum-exp written into `lse` (f32 `[N, heads, S]`, allocated by the
/// caller; a kernel output passed by its device pointer).
struct Forward {
    heads: usize,
    mask: Option<Tensor>,
    lse: Tensor,
}

impl Forward {
    fn run<T: CudaDType + DeviceRepr>(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (n, seq, h3) = l.shape().dims3()?;
        let d = Dims { n, s: seq, h: h3 / 3, heads: self.heads };
        let dev = s.device().clone();
        let qkv = s.as_cuda_slice::<T>()?.slice(offset(l)..);
        let out = unsafe { dev.alloc::<T>(n * seq * d.h)? };
        let f = dev.get_or_load_custom_func(&name("fwd", s.dtype(), d.d())?, MODULE, PTX)?;
        with_cuda(&self.lse, |lse, ll| {
            let lse = lse.as_cuda_slice::<f32>()?.slice(offset(ll)..);
            let (si, hi, ni, sc) = (seq as i32, d.h as i32, self.heads as i32, d.scale());
            let launch = |mask: Option<&CudaView<'_, f32>>| -> Result<()> {
                let mut b = f.builder();
                b.arg(&qkv);
                push_mask(&mut b, mask);
                b.arg(&out).arg(&lse).arg(&si).arg(&hi).arg(&ni).arg(&sc);
                // SAFETY: the arguments match the kernel's signature (attention.cu); every index
                // it forms stays inside the shapes checked above.
                unsafe { b.launch(d.config()) }.w()?;
                Ok(())
            };
            match &self.mask {
                Some(m) => with_cuda(m, |ms, ml| launch(Some(&ms.as_cuda_slice::<f32>()?.slice(offset(ml)..)))),
                None => launch(None),
            }
        })?;
        Ok((CudaStorage::wrap_cuda_slice(out, dev), Shape::from((n, seq, d.h))))
    }
}

impl CustomOp1 for Forward {
    fn name(&self) -> &'static str {
        "videobert-cuda-attention"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("CUDA attention on a CPU tensor (the CPU uses fused::attention)")
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        match s.dtype() {
            DType::F32 => self.run::<f32>(s, l),
            DType::BF16 => self.run::<half::bf16>(s, l),
            DType::F16 => self.run::<half::f16>(s, l),
            dt => candle_core::bail!("CUDA attention: unsupported dtype {dt:?}"),
        }
    }

    fn bwd(&self, qkv: &Tensor, ctx: &Tensor, dctx: &Tensor) -> Result<Option<Tensor>> {
        let op = Backward { heads: self.heads, mask: self.mask.clone(), lse: self.lse.clone() };
        Ok(Some(qkv.apply_op3(ctx, &dctx.contiguous()?, op)?))
    }
}

/// Backward: `dqkv` from `qkv`, `ctx`, `dctx` (and the forward's mask and log-sum-exp).
struct Backward {
    heads: usize,
    mask: Option<Tensor>,
    lse: Tensor,
}

impl Backward {
    fn run<T: CudaDType + DeviceRepr + ValidAsZeroBits>(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
        s3: &CudaStorage,
        l3: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (n, seq, h3) = l1.shape().dims3()?;
        let d = Dims { n, s: seq, h: h3 / 3, heads: self.heads };
        let dev = s1.device().clone();
        let qkv = s1.as_cuda_slice::<T>()?.slice(offset(l1)..);
        let ctx = s2.as_cuda_slice::<T>()?.slice(offset(l2)..);
        let dctx = s3.as_cuda_slice::<T>()?.slice(offset(l3)..);
        let rows = n * self.heads * seq;
        let delta = dev.alloc_zeros::<f32>(rows)?;
        let dqkv = dev.alloc_zeros::<T>(n * seq * h3)?;
        let (ni, si, hi, heads, sc) = (n as i32, seq as i32, d.h as i32, self.heads as i32, d.scale());
        // delta = rowsum(dctx ∘ ctx) per head: one thread per (n, head, row).
        {
            let f = dev.get_or_load_custom_func(&name("delta", s1.dtype(), d.d())?, MODULE, PTX)?;
            let mut b = f.builder();
            b.arg(&ctx).arg(&dctx).arg(&delta).arg(&ni).arg(&si).arg(&hi).arg(&heads);
            let cfg = LaunchConfig { grid_dim: (rows.div_ceil(256) as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
            // SAFETY: as in the forward pass.
            unsafe { b.launch(cfg) }.w()?;
        }
        with_cuda(&self.lse, |lse, ll| {
            let lse = lse.as_cuda_slice::<f32>()?.slice(offset(ll)..);
            let launch = |kind: &str, mask: Option<&CudaView<'_, f32>>| -> Result<()> {
                let f = dev.get_or_load_custom_func(&name(kind, s1.dtype(), d.d())?, MODULE, PTX)?;
                let mut b = f.builder();
                b.arg(&qkv);
                push_mask(&mut b, mask);
                b.arg(&dctx).arg(&lse).arg(&delta).arg(&dqkv).arg(&si).arg(&hi).arg(&heads).arg(&sc);
                // SAFETY: as in the forward pass; dQ writes the query columns, dK/dV the others.
                unsafe { b.launch(d.config()) }.w()?;
                Ok(())
            };
            let both = |mask: Option<&CudaView<'_, f32>>| -> Result<()> {
                launch("dq", mask)?;
                launch("dkv", mask)
            };
            match &self.mask {
                Some(m) => with_cuda(m, |ms, ml| both(Some(&ms.as_cuda_slice::<f32>()?.slice(offset(ml)..)))),
                None => both(None),
            }
        })?;
        Ok((CudaStorage::wrap_cuda_slice(dqkv, dev), l1.shape().clone()))
    }
}

impl CustomOp3 for Backward {
    fn name(&self) -> &'static str {
        "videobert-cuda-attention-backward"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("CUDA attention backward on CPU tensors")
    }

    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout, s2: &CudaStorage, l2: &Layout, s3: &CudaStorage, l3: &Layout) -> Result<(CudaStorage, Shape)> {
        match s1.dtype() {
            DType::F32 => self.run::<f32>(s1, l1, s2, l2, s3, l3),
            DType::BF16 => self.run::<half::bf16>(s1, l1, s2, l2, s3, l3),
            DType::F16 => self.run::<half::f16>(s1, l1, s2, l2, s3, l3),
            dt => candle_core::bail!("CUDA attention: unsupported dtype {dt:?}"),
        }
    }
}

/// Attention of `qkv [N, S, 3H]` with `heads` heads and an optional additive f32 key mask
/// `[N, S]` on CUDA: `[N, S, H]`.
pub fn attention(qkv: &Tensor, mask: Option<&Tensor>, heads: usize) -> Result<Tensor> {
    let qkv = qkv.contiguous()?;
    let (n, s, _) = qkv.dims3()?;
    let lse = Tensor::zeros((n, heads, s), DType::F32, qkv.device())?;
    let mask = mask.map(|m| m.detach().to_dtype(DType::F32)?.contiguous()).transpose()?;
    qkv.apply_op1(Forward { heads, mask, lse })
}
