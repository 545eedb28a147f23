//! Distributed training (videobert_core::distributed): the launch the environment describes, the
//! process's collective group (one per process, like MPI itself), and the few collectives the TS
//! Trainer needs beside the train step (barrier, broadcast of rank 0's decisions, the group's end).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use vb::distributed::{launch, mpi::Mpi, Collective};
use videobert_core as vb;

use crate::errors::{coded, sync, ErrorCode};

/// What a launcher's environment variables say about this process (see `docs/distributed.md`).
#[napi(object)]
pub struct DistributedLaunch {
    /// "mpirun (Open MPI)", "mpiexec (MPICH/PMI)", "torchrun" or "srun (Slurm)".
    pub launcher: String,
    pub rank: u32,
    pub world_size: u32,
    /// The rank among this machine's processes (the GPU a CUDA run takes: `cuda:localRank`).
    pub local_rank: u32,
    /// torchrun's `MASTER_ADDR:MASTER_PORT`, when set.
    pub master: Option<String>,
}

/// The launch this process was started by, from the environment; null when it was not started as
/// one of several processes.
#[napi]
pub fn distributed_launch() -> Result<Option<DistributedLaunch>> {
    sync(|| Ok(launch::from_env()?.map(to_js)))
}

fn to_js(l: launch::Launch) -> DistributedLaunch {
    DistributedLaunch {
        launcher: l.launcher.name().to_string(),
        rank: l.rank as u32,
        world_size: l.world_size as u32,
        local_rank: l.local_rank as u32,
        master: l.master.map(|(a, p)| format!("{a}:{p}")),
    }
}

/// Options of `initDistributed`.
#[napi(object)]
#[derive(Default)]
pub struct NativeDistributedOptions {
    /// "mpi" (CPU, any launcher that starts an MPI world: mpirun, mpiexec, srun) or "nccl" (GPUs,
    /// also under torchrun, which starts no MPI: NCCL's id then travels through its rendezvous store). @default "mpi"
    pub backend: Option<String>,
    /// How long a collective may wait for the other ranks before failing with a `Distributed` error
    /// (a rank died or hangs), in seconds. @default 300
    pub timeout_s: Option<f64>,
    /// The MPI library to load. @default $VIDEOBERT_MPI_LIBRARY, else libmpi.so.40 (Open MPI), libmpich.so.12, libmpi.so.12
    pub mpi_library: Option<String>,
}

/// The process's group, once `initDistributed` made it.
#[napi(object)]
pub struct DistributedInfo {
    pub backend: String,
    pub rank: u32,
    pub world_size: u32,
    pub local_rank: u32,
    pub launcher: String,
    /// The library loaded and its version line.
    pub library: String,
    pub version: String,
}

struct Group {
    comm: Arc<dyn Collective>,
    backend: &'static str,
    local_rank: u32,
    launcher: &'static str,
    library: String,
    version: String,
}

static GROUP: OnceLock<Group> = OnceLock::new();

/// Default of `timeoutS`.
pub const DEFAULT_TIMEOUT_S: f64 = 300.0;

/// Join the process's collective group (a collective call: every rank makes it). The launch is read
/// from the environment and must be one (else a `Distributed` error); the library's world must be
/// the launcher's. A second call returns the same group.
#[napi]
pub fn init_distributed(options: Option<NativeDistributedOptions>) -> Result<DistributedInfo> {
    let o = options.unwrap_or_default();
    if let Some(g) = GROUP.get() {
        return Ok(info(g));
    }
    let timeout = o.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
    if !(timeout.is_finite() && timeout > 0.0) {
        return Err(coded(ErrorCode::InvalidConfig, format!("invalid config field `timeoutS`: must be a number of seconds > 0, got {timeout}")));
    }
    let group = sync(|| {
        let Some(l) = launch::from_env()? else {
            return Err(vb::Error::Distributed(
                "this process was not started as one of several (no mpirun, mpiexec, srun or torchrun variables with a world size above 1): see docs/distributed.md for the launch commands".into(),
            ));
        };
        let backend = o.backend.as_deref().unwrap_or("mpi");
        if backend != "mpi" && backend != "nccl" {
            return Err(vb::Error::config("backend", format!("must be \"mpi\" or \"nccl\", got {backend:?}")));
        }
        if backend == "nccl" && !cfg!(feature = "cuda") {
            return Err(vb::Error::Distributed(
                "the NCCL backend is in the CUDA build of the addon (docs/installing.md, \"GPU\"); this build is CPU-only: use the MPI backend".into(),
            ));
        }
        if !l.launcher.starts_mpi() {
            if backend != "nccl" {
                return Err(vb::Error::Distributed(format!(
                    "{} started {} processes without an MPI runtime: it launches GPU runs (--device cuda, the NCCL backend); on CPUs launch with mpirun, mpiexec or srun (docs/distributed.md)",
                    l.launcher.name(),
                    l.world_size
                )));
            }
            let Some(rendezvous) = vb::distributed::store::Rendezvous::from_env(|k| std::env::var(k).ok())? else {
                return Err(vb::Error::Distributed("torchrun's processes meet at MASTER_ADDR:MASTER_PORT, and neither is set".into()));
            };
            let comm = nccl_over_store(rendezvous, &l, timeout)?;
            return Ok(Group {
                comm,
                backend: "nccl",
                local_rank: l.local_rank as u32,
                launcher: l.launcher.name(),
                library: "NCCL".into(),
                version: nccl_version(),
            });
        }
        let mpi = Mpi::init(o.mpi_library.as_deref(), l.launcher == launch::Launcher::Pmi, Duration::from_secs_f64(timeout))?;
        if mpi.world_size() != l.world_size || mpi.rank() != l.rank {
            return Err(vb::Error::Distributed(format!(
                "{} says rank {} of {}, but {} sees rank {} of {}: the launcher and the MPI library do not belong together (set VIDEOBERT_MPI_LIBRARY to the launcher's libmpi.so)",
                l.launcher.name(),
                l.rank,
                l.world_size,
                mpi.library,
                mpi.rank(),
                mpi.world_size()
            )));
        }
        let (library, version) = (mpi.library.clone(), mpi.version.clone());
        let (comm, backend): (Arc<dyn Collective>, &'static str) = if backend == "nccl" { (nccl_over(mpi, timeout)?, "nccl") } else { (Arc::new(mpi), "mpi") };
        Ok(Group { comm, backend, local_rank: l.local_rank as u32, launcher: l.launcher.name(), library, version })
    })?;
    let _ = GROUP.set(group);
    Ok(info(GROUP.get().expect("just set")))
}

/// The NCCL backend (CUDA build) on the MPI group: NCCL reduces the gradients on the GPUs, MPI the rest.
#[cfg(feature = "cuda")]
fn nccl_over(mpi: Mpi, timeout: f64) -> vb::Result<Arc<dyn Collective>> {
    Ok(Arc::new(vb::distributed::nccl::Nccl::new(Arc::new(mpi), Duration::from_secs_f64(timeout))))
}

#[cfg(not(feature = "cuda"))]
fn nccl_over(_mpi: Mpi, _timeout: f64) -> vb::Result<Arc<dyn Collective>> {
    unreachable!("init_distributed refuses the NCCL backend in a CPU build before MPI starts")
}

/// The NCCL backend alone (torchrun): rank 0's unique id through torchrun's store, the rest over NCCL on `cuda:LOCAL_RANK`.
#[cfg(feature = "cuda")]
fn nccl_over_store(rendezvous: vb::distributed::store::Rendezvous, l: &launch::Launch, timeout: f64) -> vb::Result<Arc<dyn Collective>> {
    use vb::distributed::nccl::Nccl;
    Ok(Arc::new(Nccl::over_store(rendezvous, l.rank, l.world_size, l.local_rank, Duration::from_secs_f64(timeout))))
}

#[cfg(not(feature = "cuda"))]
fn nccl_over_store(_r: vb::distributed::store::Rendezvous, _l: &launch::Launch, _timeout: f64) -> vb::Result<Arc<dyn Collective>> {
    unreachable!("init_distributed refuses the NCCL backend in a CPU build before the rendezvous")
}

/// NCCL's version, e.g. "2.27.7" (CUDA build).
#[cfg(feature = "cuda")]
fn nccl_version() -> String {
    vb::distributed::nccl::version()
}

#[cfg(not(feature = "cuda"))]
fn nccl_version() -> String {
    unreachable!("init_distributed refuses the NCCL backend in a CPU build")
}

fn info(g: &Group) -> DistributedInfo {
    DistributedInfo {
        backend: g.backend.to_string(),
        rank: g.comm.rank() as u32,
        world_size: g.comm.world_size() as u32,
        local_rank: g.local_rank,
        launcher: g.launcher.to_string(),
        library: g.library.clone(),
        version: g.version.clone(),
    }
}

/// The group, or a `Distributed` error telling to call `initDistributed` first.
pub(crate) fn group() -> vb::Result<Arc<dyn Collective>> {
    GROUP.get().map(|g| g.comm.clone()).ok_or_else(|| vb::Error::Distributed("not initialised: call initDistributed() first".into()))
}

/// Wait until every rank arrives here (`what` names the place in errors).
#[napi]
pub fn distributed_barrier(what: String) -> Result<()> {
    sync(|| group()?.barrier(&what))
}

/// `root`'s values on every rank (each passes an array of the same length).
#[napi]
pub fn distributed_broadcast(values: Float64Array, root: u32, what: String) -> Result<Float64Array> {
    sync(|| {
        let mut bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        group()?.broadcast(&mut bytes, root as usize, &what)?;
        Ok(Float64Array::new(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()))
    })
}

/// End the group: `success` finalises it (every rank must), otherwise every rank is stopped
/// (MPI_Abort). Nothing happens without a group, or the second time.
#[napi]
pub fn distributed_finish(success: bool) {
    if let Some(g) = GROUP.get() {
        g.comm.finish(success);
    }
}
