//! The NCCL backend (the CUDA build): one process per GPU, the gradients all-reduced by NCCL in
//! device memory, on the CUDA stream candle computes them on (so the reduction is ordered after the
//! backward pass and before the update without a host round trip). Everything small — the loss
//! counts, the step metrics, the parameter check, barriers — and the exchange of NCCL's unique id
//! (made by rank 0) go through the host group it is built on: MPI under mpirun or srun, or `Alone`
//! for a world of one (the device check). Under torchrun, which starts no MPI, the id travels
//! through torchrun's rendezvous store (`store`) and the small exchanges through NCCL itself, in
//! small device buffers on the rank's GPU.
//!
//! The communicator is made at the first gradient all-reduce, on the stream of the device the
//! gradients live on. A reduction that has not finished within the timeout (a rank died or hangs)
//! aborts the communicator (`ncclCommAbort`) and is a `Distributed` error, as with MPI.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candle_core::op::BackpropOp;
use candle_core::{CudaDevice, CudaStorage, DType, Device, Storage, Tensor};
use cudarc::driver::{DeviceRepr, ValidAsZeroBits};
use cudarc::nccl::safe::{Comm, Id, NcclType, ReduceOp as NcclOp};

use super::store::Rendezvous;
use super::{Collective, ReduceOp};
use crate::error::{Error, Result};

/// What carries NCCL's unique id and the small exchanges.
enum Control {
    /// A host group (MPI; `Alone` for a world of one) carries both.
    Host(Arc<dyn Collective>),
    /// torchrun: the id through its rendezvous store, the small exchanges through NCCL on GPU `ordinal`.
    Store { rendezvous: Rendezvous, rank: usize, world_size: usize, ordinal: usize, device: std::sync::OnceLock<CudaDevice> },
}

/// NCCL for the gradients; the small exchanges through the host group, or through NCCL under torchrun.
pub struct Nccl {
    control: Control,
    timeout: Duration,
    /// Made at the first collective that needs it (the device and stream are the caller's).
    comm: Mutex<Option<Comm>>,
}

// SAFETY: the communicator is used under its mutex, one call at a time; NCCL communicators may be
// used from any thread of the process that made them.
unsafe impl Send for Nccl {}
unsafe impl Sync for Nccl {}

impl Nccl {
    /// NCCL over `host` (MPI under mpirun or srun; `Alone` for one process).
    pub fn new(host: Arc<dyn Collective>, timeout: Duration) -> Self {
        Self { control: Control::Host(host), timeout, comm: Mutex::new(None) }
    }

    /// NCCL alone, for processes torchrun started: rank 0's unique id through `rendezvous`, the
    /// small exchanges on GPU `ordinal` (the rank's `cuda:LOCAL_RANK`).
    pub fn over_store(rendezvous: Rendezvous, rank: usize, world_size: usize, ordinal: usize, timeout: Duration) -> Self {
        let control = Control::Store { rendezvous, rank, world_size, ordinal, device: std::sync::OnceLock::new() };
        Self { control, timeout, comm: Mutex::new(None) }
    }

    fn nccl_error(&self, what: &str, e: impl std::fmt::Debug) -> Error {
        Error::Distributed(format!("rank {}: {what}: NCCL error {e:?}", self.rank()))
    }

    fn make_id(&self) -> Result<[u8; 128]> {
        let made = Id::new().map_err(|e| self.nccl_error("ncclGetUniqueId", e))?;
        Ok(made.internal().map(|c| c as u8))
    }

    /// The communicator on `dev`'s stream (made on first use from rank 0's unique id).
    fn comm<'a>(&self, guard: &'a mut Option<Comm>, dev: &CudaDevice) -> Result<&'a Comm> {
        if guard.is_none() {
            let id: [u8; 128] = match &self.control {
                Control::Host(host) => {
                    let mut id = if host.rank() == 0 { self.make_id()? } else { [0u8; 128] };
                    host.broadcast(&mut id, 0, "the NCCL unique id")?;
                    id
                }
                Control::Store { rendezvous, rank, world_size, .. } => {
                    let shared = rendezvous.share(*rank, *world_size, "nccl-unique-id", self.timeout, || Ok(self.make_id()?.to_vec()))?;
                    shared
                        .try_into()
                        .map_err(|v: Vec<u8>| Error::Distributed(format!("the NCCL unique id in the rendezvous store has {} bytes, not 128", v.len())))?
                }
            };
            let id = Id::uninit(id.map(|b| b as std::ffi::c_char));
            let comm = Comm::from_rank(dev.cuda_stream(), self.rank(), self.world_size(), id).map_err(|e| self.nccl_error("ncclCommInitRank", e))?;
            *guard = Some(comm);
        }
        Ok(guard.as_ref().expect("made above"))
    }

    /// Under torchrun: the GPU the small exchanges use.
    fn small_device(&self, ordinal: usize, device: &std::sync::OnceLock<CudaDevice>) -> Result<CudaDevice> {
        if let Some(d) = device.get() {
            return Ok(d.clone());
        }
        let Device::Cuda(d) = Device::new_cuda(ordinal)? else { unreachable!("new_cuda makes a CUDA device") };
        Ok(device.get_or_init(|| d).clone())
    }

    /// Under torchrun, `op` over the ranks of `buf`, through NCCL in a device buffer (`None`: a
    /// broadcast from `root`).
    fn small<T: NcclType + DeviceRepr + ValidAsZeroBits + Copy>(&self, buf: &mut [T], op: Option<NcclOp>, root: usize, what: &str) -> Result<()> {
        let Control::Store { ordinal, device, .. } = &self.control else { unreachable!("the host group carries the small exchanges") };
        let dev = self.small_device(*ordinal, device)?;
        let mut guard = self.comm.lock().unwrap_or_else(|e| e.into_inner());
        let result = (|| {
            let comm = self.comm(&mut guard, &dev)?;
            let stream = dev.cuda_stream();
            let mut d = stream.clone_htod(&*buf).map_err(|e| self.nccl_error(what, e))?;
            match op {
                Some(op) => {
                    comm.all_reduce_in_place(&mut d, &op).map_err(|e| self.nccl_error(what, e))?;
                }
                None => {
                    comm.broadcast_in_place(&mut d, root as i32).map_err(|e| self.nccl_error(what, e))?;
                }
            }
            self.wait(&stream, what)?;
            let back = stream.clone_dtoh(&d).map_err(|e| self.nccl_error(what, e))?;
            buf.copy_from_slice(&back);
            Ok(())
        })();
        if result.is_err() {
            abort(guard.take());
        }
        result
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
        self.wait(&dev.cuda_stream(), "the gradient all-reduce")?;
        Ok(Tensor::from_storage(Storage::Cuda(CudaStorage::wrap_cuda_slice(dst, dev.clone())), n, BackpropOp::none(), false))
    }

    /// Wait for the stream's work (the collective `what`) at most the timeout (the caller then aborts the communicator).
    fn wait(&self, stream: &Arc<cudarc::driver::CudaStream>, what: &str) -> Result<()> {
        let event = stream.record_event(None).map_err(|e| self.nccl_error("cuEventRecord", e))?;
        let t0 = Instant::now();
        loop {
            match event.try_is_complete() {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(self.nccl_error(what, e)),
            }
            if t0.elapsed() > self.timeout {
                return Err(Error::Distributed(format!(
                    "rank {} of {}: {what} (NCCL) did not complete within {} s: another rank died or hangs (raise the limit with --distributed-timeout)",
                    self.rank(),
                    self.world_size(),
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
        match &self.control {
            Control::Host(host) => host.rank(),
            Control::Store { rank, .. } => *rank,
        }
    }
    fn world_size(&self) -> usize {
        match &self.control {
            Control::Host(host) => host.world_size(),
            Control::Store { world_size, .. } => *world_size,
        }
    }
    fn backend(&self) -> &'static str {
        "nccl"
    }
    fn all_reduce_f32(&self, mut buf: Vec<f32>, what: &str) -> Result<Vec<f32>> {
        match &self.control {
            Control::Host(host) => host.all_reduce_f32(buf, what),
            Control::Store { .. } => self.small(&mut buf, Some(NcclOp::Sum), 0, what).map(|()| buf),
        }
    }
    fn all_reduce_f64(&self, buf: &mut [f64], op: ReduceOp, what: &str) -> Result<()> {
        match &self.control {
            Control::Host(host) => host.all_reduce_f64(buf, op, what),
            Control::Store { .. } => {
                let op = match op {
                    ReduceOp::Sum => NcclOp::Sum,
                    ReduceOp::Max => NcclOp::Max,
                    ReduceOp::Min => NcclOp::Min,
                };
                self.small(buf, Some(op), 0, what)
            }
        }
    }
    fn broadcast(&self, buf: &mut [u8], root: usize, what: &str) -> Result<()> {
        match &self.control {
            Control::Host(host) => host.broadcast(buf, root, what),
            Control::Store { .. } => self.small(buf, None, root, what),
        }
    }
    fn barrier(&self, what: &str) -> Result<()> {
        match &self.control {
            Control::Host(host) => host.barrier(what),
            Control::Store { .. } => self.small(&mut [0.0f64], Some(NcclOp::Sum), 0, what),
        }
    }

    /// CUDA tensors in buckets of about `bucket_bytes` (each concatenated into one f32 tensor,
    /// summed by NCCL, split back); tensors elsewhere go through the host group.
    fn all_reduce_tensors(&self, tensors: &[Tensor], bucket_bytes: usize) -> Result<Vec<Tensor>> {
        let Some(Device::Cuda(dev)) = tensors.first().map(|t| t.device().clone()) else {
            return match &self.control {
                Control::Host(host) => host.all_reduce_tensors(tensors, bucket_bytes),
                Control::Store { .. } => Err(Error::Distributed("under torchrun the NCCL backend reduces CUDA tensors only: train with --device cuda".into())),
            };
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
        if let Control::Host(host) = &self.control {
            host.finish(success);
        }
    }
}

/// The NCCL library's version, e.g. "2.27.7".
pub fn version() -> String {
    match cudarc::nccl::result::get_nccl_version() {
        Ok(v) => format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100),
        Err(e) => format!("unknown ({e:?})"),
    }
}

/// Abort a communicator: cudarc's `Drop` calls `ncclCommAbort` (and panics should it fail, which
/// is contained here: the run is failing already).
fn abort(comm: Option<Comm>) {
    if let Some(c) = comm {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(c)));
    }
}
