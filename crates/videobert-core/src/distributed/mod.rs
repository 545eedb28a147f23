//! Data-parallel training over existing collective libraries: the collectives a train step needs
//! (`Collective`: all-reduce, broadcast, barrier), the MPI backend (`mpi`, loaded at run time), the
//! NCCL backend for GPUs (`nccl`, in the CUDA build), how a launcher describes the process's
//! place (`launch`), and torchrun's rendezvous store (`store`).
//!
//! A data-parallel step (`train::train_step` with a `DataParallel`): every rank trains on its own
//! rows of the step's global batch; the losses are weighted by each rank's share of the global
//! count of what they average (masked words, masked segments, rows, caption word pieces), so the
//! summed gradients are exactly those of one process on the whole global batch; the gradients are
//! summed over the ranks in buckets; every rank applies the same update. Every `check_every` steps
//! the ranks compare a fingerprint of their parameters, and stop with a `Distributed` error if they
//! drifted apart.

pub mod launch;
pub mod mpi;
#[cfg(feature = "cuda")]
pub mod nccl;
pub mod store;

use std::sync::Arc;

use candle_core::{Tensor, Var};

use crate::error::{Error, Result};

/// Reduction of `all_reduce_f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
    Min,
}

/// The collectives of data-parallel training, over one group of `world_size` processes. Every call
/// is collective (all ranks make it, in the same order); `what` names it in errors. Calls fail with
/// a `Distributed` error when another rank dies or does not arrive within the backend's timeout.
pub trait Collective: Send + Sync {
    fn rank(&self) -> usize;
    fn world_size(&self) -> usize;
    /// "mpi", "nccl", …
    fn backend(&self) -> &'static str;
    /// Element-wise sum over the ranks (the buffer is handed over and returned: a backend may need
    /// to own it while the call runs).
    fn all_reduce_f32(&self, buf: Vec<f32>, what: &str) -> Result<Vec<f32>>;
    fn all_reduce_f64(&self, buf: &mut [f64], op: ReduceOp, what: &str) -> Result<()>;
    /// `root`'s bytes into every rank's `buf` (all of the same length).
    fn broadcast(&self, buf: &mut [u8], root: usize, what: &str) -> Result<()>;
    fn barrier(&self, what: &str) -> Result<()>;
    /// The sum over the ranks of each tensor. The default goes through host memory in buckets of
    /// about `bucket_bytes`, one after another (copied out, reduced, copied back); a backend that reduces device
    /// memory (NCCL) overrides it.
    fn all_reduce_tensors(&self, tensors: &[Tensor], bucket_bytes: usize) -> Result<Vec<Tensor>> {
        all_reduce_on_host(self, tensors, bucket_bytes)
    }
    /// End the group: `success` finalises it, otherwise it is aborted (every rank stops). Idempotent.
    fn finish(&self, success: bool);
}

/// A group of one process: every collective returns its input (a world of one, e.g. NCCL checked on one GPU).
pub struct Alone;

impl Collective for Alone {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn backend(&self) -> &'static str {
        "alone"
    }
    fn all_reduce_f32(&self, buf: Vec<f32>, _what: &str) -> Result<Vec<f32>> {
        Ok(buf)
    }
    fn all_reduce_f64(&self, _buf: &mut [f64], _op: ReduceOp, _what: &str) -> Result<()> {
        Ok(())
    }
    fn broadcast(&self, _buf: &mut [u8], _root: usize, _what: &str) -> Result<()> {
        Ok(())
    }
    fn barrier(&self, _what: &str) -> Result<()> {
        Ok(())
    }
    fn finish(&self, _success: bool) {}
}

/// Gradients are reduced in buckets of this many bytes by default (PyTorch DDP's 25 MiB).
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;
/// Parameters are compared across ranks every this many steps by default.
pub const DEFAULT_CHECK_EVERY: u64 = 100;

/// How a `Session` trains data-parallel: the group, and its settings.
#[derive(Clone)]
pub struct DataParallel {
    pub comm: Arc<dyn Collective>,
    /// Compare the parameters' fingerprints every this many steps (0 = never).
    pub check_every: u64,
    pub bucket_bytes: usize,
}

impl DataParallel {
    pub fn new(comm: Arc<dyn Collective>) -> Self {
        Self { comm, check_every: DEFAULT_CHECK_EVERY, bucket_bytes: DEFAULT_BUCKET_BYTES }
    }
}

impl std::fmt::Debug for DataParallel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DataParallel {{ backend: {}, rank: {}/{}, check_every: {} }}",
            self.comm.backend(),
            self.comm.rank(),
            self.comm.world_size(),
            self.check_every
        )
    }
}

/// The buckets a gradient all-reduce sends: consecutive runs of `tensors` of at most `bucket_bytes`
/// of f32 each (a larger tensor alone).
pub fn buckets(tensors: &[Tensor], bucket_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let per_bucket = (bucket_bytes / 4).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < tensors.len() {
        let (mut end, mut n) = (start, 0);
        while end < tensors.len() && (end == start || n + tensors[end].elem_count() <= per_bucket) {
            n += tensors[end].elem_count();
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

fn all_reduce_on_host<C: Collective + ?Sized>(c: &C, tensors: &[Tensor], bucket_bytes: usize) -> Result<Vec<Tensor>> {
    let mut out = Vec::with_capacity(tensors.len());
    for bucket in buckets(tensors, bucket_bytes) {
        let bucket = &tensors[bucket];
        let n: usize = bucket.iter().map(Tensor::elem_count).sum();
        let mut flat = Vec::with_capacity(n);
        for t in bucket {
            flat.extend(t.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?);
        }
        let flat = c.all_reduce_f32(flat, &format!("the gradient all-reduce (bucket of {n} values)"))?;
        let mut at = 0;
        for t in bucket {
            let k = t.elem_count();
            out.push(Tensor::from_slice(&flat[at..at + k], t.shape(), t.device())?.to_dtype(t.dtype())?);
            at += k;
        }
    }
    Ok(out)
}

/// A fingerprint of the parameters' bits (order-sensitive; cheap: one pass, no allocation beyond
/// a host copy of each tensor).
pub fn fingerprint(params: &[(String, Var)]) -> Result<u64> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, (_, v)) in params.iter().enumerate() {
        let t = v.as_tensor().flatten_all()?;
        let mut acc: u64 = i as u64;
        match t.dtype() {
            candle_core::DType::F64 => {
                for (j, x) in t.to_vec1::<f64>()?.iter().enumerate() {
                    acc = acc.wrapping_add(x.to_bits().rotate_left((j % 61) as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                }
            }
            _ => {
                for (j, x) in t.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?.iter().enumerate() {
                    acc = acc.wrapping_add(((x.to_bits() as u64) << (j % 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                }
            }
        }
        h = (h ^ acc).wrapping_mul(0x0100_0000_01b3);
    }
    Ok(h)
}

/// Whether every rank holds the same parameters: rank 0's fingerprint is broadcast and compared;
/// a `Distributed` error on every rank when any differs.
pub fn check_in_sync(c: &dyn Collective, params: &[(String, Var)], step: u64) -> Result<()> {
    let mine = fingerprint(params)?;
    let mut root = mine.to_le_bytes();
    c.broadcast(&mut root, 0, "the parameter check")?;
    let mut differs = [f64::from(u8::from(u64::from_le_bytes(root) != mine)), 0.0];
    differs[1] = if differs[0] > 0.0 { c.rank() as f64 } else { -1.0 };
    c.all_reduce_f64(&mut differs, ReduceOp::Max, "the parameter check")?;
    if differs[0] > 0.0 {
        return Err(Error::Distributed(format!(
            "after step {step} the parameters of rank {} differ from rank 0's: the ranks drifted apart (different data, code or floating-point path per rank)",
            differs[1] as usize
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::buckets;
    use candle_core::{Device, Tensor};

    #[test]
    fn buckets_fill_up_to_the_size_and_a_larger_tensor_goes_alone() {
        let t = |n: usize| Tensor::zeros(n, candle_core::DType::F32, &Device::Cpu).unwrap();
        let ts = [t(10), t(10), t(30), t(5), t(5), t(1)];
        // 80 bytes = 20 floats per bucket.
        assert_eq!(buckets(&ts, 80), [0..2, 2..3, 3..6]);
        assert_eq!(buckets(&ts, 4), [0..1, 1..2, 2..3, 3..4, 4..5, 5..6]);
        assert_eq!(buckets(&ts, 1 << 20), vec![std::ops::Range { start: 0, end: 6 }]);
        assert!(buckets(&[], 80).is_empty());
    }
}
