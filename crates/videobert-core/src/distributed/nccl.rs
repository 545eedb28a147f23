//! The NCCL backend (the CUDA build): one process per GPU, the gradients all-reduced by NCCL in
//! device memory, on the CUDA stream candle computes them on (so the reduction is ordered after the
//! backward pass and before the update without a host round trip). Everything small — the loss
//! counts, the step metrics, the parameter check, barriers — and the exchange of NCCL's unique id
//! (made by rank 0) go through the host group it is built on: MPI under mpirun or srun, or `Alone`
//! for a world of one (the device check).
//!
//! The communicator is made at the first gradient all-reduce, on the stream of the device the
//! gradients live on. A reduction that has not finished within the timeout (a rank died or hangs)
//! aborts the communicator (`ncclCommAbort`) and is a `Distributed` error, as with MPI.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candle_core::op::BackpropOp;
use candle_core::{CudaDevice, CudaStorage, DType, Device, Storage, Tensor};
use cudarc::nccl::safe::{Comm, Id, ReduceOp as NcclOp};

use super::{Collective, ReduceOp};
use crate::error::{Error, Result};

/// NCCL for the gradients, `host` for the rest.
pub struct Nccl {
    host: Arc<dyn Collective>,
    timeout: Duration,
    /// Made at the first gradient all-reduce (the device and stream are the gradients').
    comm: Mutex<Option<Comm>>,
}

// SAFETY: the communicator is used under its mutex, one call at a time; NCCL communicators may be
// used from any thread of the process that made them.
unsafe impl Send for Nccl {}
unsafe impl Sync for Nccl {}

impl Nccl {
    pub fn new(host: Arc<dyn Collective>, timeout: Duration) -> Self {
        Self { host, timeout, comm: Mutex::new(None) }
    }

    fn nccl_error(&self, what: &str, e: impl std::fmt::Debug) -> Error {
        Error::Distributed(format!("rank {}: {what}: NCCL error {e:?}", self.host.rank()))
    }

    /// The communicator on `dev`'s stream (made on first use: rank 0's unique id broadcast by the host group).
    fn comm<'a>(&self, guard: &'a mut Option<Comm>, dev: &CudaDevice) -> Result<&'a Comm> {
        if guard.is_none() {
            let mut id = [0u8; 128];
            if self.host.rank() == 0 {
                let made = Id::new().map_err(|e| self.nccl_error("ncclGetUniqueId", e))?;
                for (o, c) in id.iter_mut().zip(made.internal()) {
                    *o = *c as u8;
                }
            }
            self.host.broadcast(&mut id, 0, "the NCCL unique id")?;
            let id = Id::uninit(id.map(|b| b as std::ffi::c_char));
            let comm = Comm::from_rank(dev.cuda_stream(), self.host.rank(), self.host.world_size(), id).map_err(|e| self.nccl_error("ncclCommInitRank", e))?;
            *guard = Some(comm);
        }
        Ok(guard.as_ref().expect("made above"))
    }

    /// Sum `flat` (one contiguous f32 tensor on `dev`) over the ranks into a new tensor.
    fn all_reduce_flat(&self, comm: &Comm, flat: &Tensor, dev: &CudaDevice) -> Result<Tensor> {
        let n = flat.elem_count();
        let (storage, layout) = flat.storage_and_layout();
        let Storage::Cuda(cuda) = &*storage else {
            return Err(Error::Distributed("the NCCL backend reduces CUDA tensors only".into()));
        };
        if !layout.is_contiguous() || layout.start_offset() != 0 {
            return Err(Error::Distributed("the NCCL all-reduce needs a fresh contiguous tensor".into()));
        }
        let src = cuda.as_cuda_slice::<f32>()?;
        let mut dst = dev.alloc_zeros::<f32>(n)?;
        comm.all_reduce(src, &mut dst, &NcclOp::Sum).map_err(|e| self.nccl_error("ncclAllReduce", e))?;
        drop(storage);
        self.wait(&dev.cuda_stream())?;
        Ok(Tensor::from_storage(Storage::Cuda(CudaStorage::wrap_cuda_slice(dst, dev.clone())), n, BackpropOp::none(), false))
    }

    /// Wait for the stream's work (the all-reduce) at most the timeout (the caller then aborts the communicator).
    fn wait(&self, stream: &Arc<cudarc::driver::CudaStream>) -> Result<()> {
        let event = stream.record_event(None).map_err(|e| self.nccl_error("cuEventRecord", e))?;
        let t0 = Instant::now();
        loop {
            match event.try_is_complete() {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(self.nccl_error("the gradient all-reduce", e)),
            }
            if t0.elapsed() > self.timeout {
                return Err(Error::Distributed(format!(
                    "rank {} of {}: the gradient all-reduce (NCCL) did not complete within {} s: another rank died or hangs (raise the limit with --distributed-timeout)",
                    self.host.rank(),
                    self.host.world_size(),
                    self.timeout.as_secs_f64()
                )));
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    fn reduce_buckets(&self, guard: &mut Option<Comm>, dev: &CudaDevice, tensors: &[Tensor], bucket_bytes: usize) -> Result<Vec<Tensor>> {
        let comm = self.comm(guard, dev)?;
        let mut out = Vec::with_capacity(tensors.len());
        for bucket in super::buckets(tensors, bucket_bytes) {
            let bucket = &tensors[bucket];
            let parts: Vec<Tensor> = bucket.iter().map(|t| t.to_dtype(DType::F32)?.flatten_all()).collect::<candle_core::Result<_>>()?;
            // `cat` (or `copy` for one tensor) makes a fresh contiguous tensor NCCL reads.
            let flat = if parts.len() == 1 { parts[0].copy()? } else { Tensor::cat(&parts, 0)? };
            let summed = self.all_reduce_flat(comm, &flat, dev)?;
            let mut at = 0;
            for t in bucket {
                let k = t.elem_count();
                out.push(summed.narrow(0, at, k)?.reshape(t.shape())?.to_dtype(t.dtype())?);
                at += k;
            }
        }
        Ok(out)
    }
}

impl Collective for Nccl {
    fn rank(&self) -> usize {
        self.host.rank()
    }
    fn world_size(&self) -> usize {
        self.host.world_size()
    }
    fn backend(&self) -> &'static str {
        "nccl"
    }
    fn all_reduce_f32(&self, buf: Vec<f32>, what: &str) -> Result<Vec<f32>> {
        self.host.all_reduce_f32(buf, what)
    }
    fn all_reduce_f64(&self, buf: &mut [f64], op: ReduceOp, what: &str) -> Result<()> {
        self.host.all_reduce_f64(buf, op, what)
    }
    fn broadcast(&self, buf: &mut [u8], root: usize, what: &str) -> Result<()> {
        self.host.broadcast(buf, root, what)
    }
    fn barrier(&self, what: &str) -> Result<()> {
        self.host.barrier(what)
    }

    /// CUDA tensors in buckets of about `bucket_bytes` (each concatenated into one f32 tensor,
    /// summed by NCCL, split back); tensors elsewhere go through the host group.
    fn all_reduce_tensors(&self, tensors: &[Tensor], bucket_bytes: usize) -> Result<Vec<Tensor>> {
        let Some(Device::Cuda(dev)) = tensors.first().map(|t| t.device().clone()) else {
            return self.host.all_reduce_tensors(tensors, bucket_bytes);
        };
        let mut guard = self.comm.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.reduce_buckets(&mut guard, &dev, tensors, bucket_bytes);
        if result.is_err() {
            abort(guard.take()); // a failed or timed-out reduction leaves the communicator unusable
        }
        result
    }

    fn finish(&self, success: bool) {
        if !success {
            abort(self.comm.lock().unwrap_or_else(|e| e.into_inner()).take());
        }
        self.host.finish(success);
    }
}

/// Abort a communicator: cudarc's `Drop` calls `ncclCommAbort` (and panics should it fail, which
/// is contained here: the run is failing already).
fn abort(comm: Option<Comm>) {
    if let Some(c) = comm {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(c)));
    }
}
