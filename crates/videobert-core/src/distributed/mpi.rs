//! The MPI backend: Open MPI or MPICH (and MPICH-ABI libraries such as Intel MPI), loaded at run
//! time with `dlopen` so that the prebuilt binary needs no MPI to load and works with whichever MPI
//! the cluster has. Only the handful of calls the collectives need are bound.
//!
//! The two ABIs differ in their handles: Open MPI's `MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, … are
//! addresses of exported globals (`ompi_mpi_comm_world`, …), MPICH's are integer constants from its
//! `mpi.h`. Handles travel here as `usize`; MPICH's are C `int`s, which on the x86-64 and aarch64
//! calling conventions occupy the low half of the same register or stack slot.
//!
//! Every collective is a blocking call (`MPI_Allreduce`, `MPI_Bcast`, `MPI_Barrier`: the MPI
//! library's tuned algorithms — its non-blocking ones, advanced only by `MPI_Test`, took twice as
//! long for a step's gradient) made on a helper thread that owns the buffer, while the calling
//! thread waits at most the timeout, as PyTorch's ProcessGroupMPI runs its calls on a worker thread:
//! a rank that died or hangs turns into a coded error on the others instead of a hang. A
//! communicator that timed out is not used again, and the helper keeps its buffer (MPI may still
//! write into it) until the process ends.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use super::{Collective, ReduceOp};
use crate::error::{Error, Result};

/// The libraries tried, in order, when none is named: Open MPI's, then MPICH's and the MPICH-ABI name.
const OPEN_MPI: &str = "libmpi.so.40";
const MPICH: [&str; 2] = ["libmpich.so.12", "libmpi.so.12"];

/// What a missing MPI should tell the user.
pub const INSTALL_HINT: &str = "install Open MPI (Debian/Ubuntu: `apt install openmpi-bin`, which brings libopenmpi3) or MPICH (`apt install mpich`), or set VIDEOBERT_MPI_LIBRARY to the path of your libmpi.so";

const MPI_THREAD_SERIALIZED: c_int = 2;
const MPI_SUCCESS: c_int = 0;

/// The handles and constants of one ABI.
#[derive(Debug, Clone, Copy)]
struct Abi {
    open_mpi: bool,
    comm_world: usize,
    float: usize,
    double: usize,
    byte: usize,
    sum: usize,
    max: usize,
    min: usize,
    in_place: usize,
    errors_return: usize,
}

const MPICH_ABI: Abi = Abi {
    open_mpi: false,
    comm_world: 0x4400_0000,
    float: 0x4c00_040a,
    double: 0x4c00_080b,
    byte: 0x4c00_010d,
    sum: 0x5800_0003,
    max: 0x5800_0001,
    min: 0x5800_0002,
    in_place: usize::MAX, // (void *) -1
    errors_return: 0x5400_0001,
};

type FnInitialized = unsafe extern "C" fn(*mut c_int) -> c_int;
type FnInitThread = unsafe extern "C" fn(*mut c_int, *mut c_void, c_int, *mut c_int) -> c_int;
type FnCommInt = unsafe extern "C" fn(usize, *mut c_int) -> c_int;
type FnSetErrhandler = unsafe extern "C" fn(usize, usize) -> c_int;
type FnAllreduce = unsafe extern "C" fn(*const c_void, *mut c_void, c_int, usize, usize, usize) -> c_int;
type FnBcast = unsafe extern "C" fn(*mut c_void, c_int, usize, c_int, usize) -> c_int;
type FnBarrier = unsafe extern "C" fn(usize) -> c_int;
type FnAbort = unsafe extern "C" fn(usize, c_int) -> c_int;
type FnFinalize = unsafe extern "C" fn() -> c_int;
type FnErrorString = unsafe extern "C" fn(c_int, *mut c_char, *mut c_int) -> c_int;
type FnLibraryVersion = unsafe extern "C" fn(*mut c_char, *mut c_int) -> c_int;

struct Fns {
    allreduce: FnAllreduce,
    bcast: FnBcast,
    barrier: FnBarrier,
    abort: FnAbort,
    finalize: FnFinalize,
    error_string: FnErrorString,
}

/// An initialised MPI world (`MPI_COMM_WORLD`).
pub struct Mpi {
    abi: Abi,
    f: Fns,
    rank: usize,
    size: usize,
    timeout: Duration,
    /// MPI is initialised for `MPI_THREAD_SERIALIZED`: one call at a time.
    lock: Mutex<()>,
    broken: AtomicBool,
    finalized: AtomicBool,
    /// The file that was loaded and `MPI_Get_library_version`'s first line.
    pub library: String,
    pub version: String,
}

// SAFETY: the handle values are process-wide constants and every MPI call is made under `lock`
// (MPI_THREAD_SERIALIZED).
unsafe impl Send for Mpi {}
unsafe impl Sync for Mpi {}

fn dlerror() -> String {
    // SAFETY: dlerror returns a thread-local C string or null.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-null, NUL-terminated by dlerror's contract.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

/// `dlopen` with `RTLD_GLOBAL`: Open MPI's plugins resolve their symbols against the library.
fn open(name: &str) -> std::result::Result<*mut c_void, String> {
    let c = CString::new(name).map_err(|_| format!("{name:?} holds a NUL byte"))?;
    // SAFETY: a valid C string; the handle is kept for the life of the process.
    let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if h.is_null() {
        Err(dlerror())
    } else {
        Ok(h)
    }
}

fn symbol(lib: *mut c_void, name: &str) -> Option<usize> {
    let c = CString::new(name).ok()?;
    // SAFETY: `lib` is a live handle from dlopen and `c` a valid C string.
    let p = unsafe { libc::dlsym(lib, c.as_ptr()) };
    (!p.is_null()).then_some(p as usize)
}

impl Mpi {
    /// Load MPI (`library`, else `VIDEOBERT_MPI_LIBRARY`, else the usual names with `prefer_mpich`
    /// deciding the order), initialise it for `MPI_THREAD_SERIALIZED` unless the process already
    /// did, and make errors return instead of aborting.
    pub fn init(library: Option<&str>, prefer_mpich: bool, timeout: Duration) -> Result<Self> {
        let named = library.map(str::to_string).or_else(|| std::env::var("VIDEOBERT_MPI_LIBRARY").ok().filter(|s| !s.is_empty()));
        let candidates: Vec<String> = match &named {
            Some(n) => vec![n.clone()],
            None if prefer_mpich => MPICH.iter().chain([&OPEN_MPI]).map(|s| s.to_string()).collect(),
            None => [OPEN_MPI].iter().chain(MPICH.iter()).map(|s| s.to_string()).collect(),
        };
        let mut tried = Vec::new();
        let (lib, path) = 'found: {
            for c in &candidates {
                match open(c) {
                    Ok(h) => break 'found (h, c.clone()),
                    Err(e) => tried.push(e),
                }
            }
            let what = if named.is_some() {
                format!("cannot load the MPI library {}", candidates[0])
            } else {
                format!("no MPI library found (tried {})", candidates.join(", "))
            };
            return Err(Error::Distributed(format!("{what}: {}; {INSTALL_HINT}", tried.join("; "))));
        };
        let need = |name: &str| symbol(lib, name).ok_or_else(|| Error::Distributed(format!("{path} has no {name}: not an MPI-3 library")));
        let abi = match symbol(lib, "ompi_mpi_comm_world") {
            Some(comm_world) => Abi {
                open_mpi: true,
                comm_world,
                float: need("ompi_mpi_float")?,
                double: need("ompi_mpi_double")?,
                byte: need("ompi_mpi_byte")?,
                sum: need("ompi_mpi_op_sum")?,
                max: need("ompi_mpi_op_max")?,
                min: need("ompi_mpi_op_min")?,
                in_place: 1,
                errors_return: need("ompi_mpi_errors_return")?,
            },
            None => MPICH_ABI,
        };
        // SAFETY (all transmutes below): each symbol is the MPI function of that name, whose C
        // prototype the type alias spells out.
        unsafe {
            let initialized: FnInitialized = std::mem::transmute(need("MPI_Initialized")?);
            let init_thread: FnInitThread = std::mem::transmute(need("MPI_Init_thread")?);
            let comm_rank: FnCommInt = std::mem::transmute(need("MPI_Comm_rank")?);
            let comm_size: FnCommInt = std::mem::transmute(need("MPI_Comm_size")?);
            let set_errhandler: FnSetErrhandler = std::mem::transmute(need("MPI_Comm_set_errhandler")?);
            let version: FnLibraryVersion = std::mem::transmute(need("MPI_Get_library_version")?);
            let f = Fns {
                allreduce: std::mem::transmute::<usize, FnAllreduce>(need("MPI_Allreduce")?),
                bcast: std::mem::transmute::<usize, FnBcast>(need("MPI_Bcast")?),
                barrier: std::mem::transmute::<usize, FnBarrier>(need("MPI_Barrier")?),
                abort: std::mem::transmute::<usize, FnAbort>(need("MPI_Abort")?),
                finalize: std::mem::transmute::<usize, FnFinalize>(need("MPI_Finalize")?),
                error_string: std::mem::transmute::<usize, FnErrorString>(need("MPI_Error_string")?),
            };
            let mut done: c_int = 0;
            initialized(&mut done);
            if done == 0 {
                let mut provided: c_int = 0;
                let rc = init_thread(std::ptr::null_mut(), std::ptr::null_mut(), MPI_THREAD_SERIALIZED, &mut provided);
                if rc != MPI_SUCCESS {
                    return Err(Error::Distributed(format!("MPI_Init_thread failed ({path}, code {rc})")));
                }
                if provided < MPI_THREAD_SERIALIZED {
                    return Err(Error::Distributed(format!("{path} offers thread level {provided}; training needs MPI_THREAD_SERIALIZED (2)")));
                }
            }
            set_errhandler(abi.comm_world, abi.errors_return);
            let (mut rank, mut size) = (0, 0);
            comm_rank(abi.comm_world, &mut rank);
            comm_size(abi.comm_world, &mut size);
            let mut buf = vec![0 as c_char; 8192];
            let mut len: c_int = 0;
            version(buf.as_mut_ptr(), &mut len);
            let version = CStr::from_ptr(buf.as_ptr()).to_string_lossy().lines().next().unwrap_or("").trim().trim_end_matches(',').to_string();
            Ok(Self {
                abi,
                f,
                rank: rank as usize,
                size: size as usize,
                timeout,
                lock: Mutex::new(()),
                broken: AtomicBool::new(false),
                finalized: AtomicBool::new(false),
                library: path,
                version,
            })
        }
    }

    /// Whether the library is Open MPI's (else MPICH's ABI).
    pub fn is_open_mpi(&self) -> bool {
        self.abi.open_mpi
    }

    fn error_text(&self, rc: c_int) -> String {
        let mut buf = vec![0 as c_char; 1024];
        let mut len: c_int = 0;
        // SAFETY: MPI_Error_string writes at most MPI_MAX_ERROR_STRING (≤ 512 here) bytes.
        unsafe { (self.f.error_string)(rc, buf.as_mut_ptr(), &mut len) };
        // SAFETY: NUL-terminated by MPI_Error_string.
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
    }

    /// Make the blocking MPI call `call` on a helper thread that owns `buf` (and hands it back),
    /// waiting at most the timeout. One call at a time (MPI_THREAD_SERIALIZED: the waiting thread
    /// makes no MPI call meanwhile).
    fn run<T: Send + 'static>(&self, what: &str, mut buf: Vec<T>, call: impl FnOnce(*mut c_void) -> c_int + Send + 'static) -> Result<Vec<T>> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(Error::Distributed(format!("rank {}: {what}: an earlier collective failed; the run cannot go on", self.rank)));
        }
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // The fault tests' rank that hangs (stops answering, as a stuck or swapped-out process does)
        // or dies at its n-th collective (`VIDEOBERT_FAULT_POINT=collective:hang@n` / `collective:kill@n`).
        if videobert_common::fault::reached("collective", "hang") {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        videobert_common::fault::point("collective", "kill");
        let (tx, rx) = sync_channel(1);
        std::thread::Builder::new()
            .name("videobert-mpi".into())
            .spawn(move || {
                let rc = call(buf.as_mut_ptr().cast());
                let _ = tx.send((rc, buf));
            })
            .map_err(|e| Error::Distributed(format!("rank {}: {what}: cannot start the MPI thread: {e}", self.rank)))?;
        let failed = |message: String| {
            self.broken.store(true, Ordering::SeqCst);
            Err(Error::Distributed(message))
        };
        match rx.recv_timeout(self.timeout) {
            Ok((MPI_SUCCESS, buf)) => Ok(buf),
            Ok((rc, _)) => failed(format!("rank {}: {what} failed (another rank may have died): {}", self.rank, self.error_text(rc))),
            Err(RecvTimeoutError::Timeout) => failed(format!(
                "rank {} of {}: {what} did not complete within {} s: another rank died or hangs (raise the limit with --distributed-timeout)",
                self.rank,
                self.size,
                self.timeout.as_secs_f64()
            )),
            Err(RecvTimeoutError::Disconnected) => failed(format!("rank {}: {what}: the MPI call ended without an answer", self.rank)),
        }
    }

    fn datatype_op(&self, op: ReduceOp) -> usize {
        match op {
            ReduceOp::Sum => self.abi.sum,
            ReduceOp::Max => self.abi.max,
            ReduceOp::Min => self.abi.min,
        }
    }

    /// All-reduce `buf` in place (owned: the helper thread holds it during the call).
    fn all_reduce_owned<T: Send + 'static>(&self, buf: Vec<T>, datatype: usize, op: usize, what: &str) -> Result<Vec<T>> {
        let count = c_int::try_from(buf.len()).map_err(|_| Error::Distributed(format!("{what}: {} elements exceed MPI's int count", buf.len())))?;
        let (allreduce, in_place, comm) = (self.f.allreduce, self.abi.in_place, self.abi.comm_world);
        // SAFETY: the pointer is the owned buffer's, `count` elements of `datatype`, alive for the call.
        self.run(what, buf, move |ptr| unsafe { allreduce(in_place as *const c_void, ptr, count, datatype, op, comm) })
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.size
    }

    fn backend(&self) -> &'static str {
        "mpi"
    }

    fn all_reduce_f32(&self, buf: Vec<f32>, what: &str) -> Result<Vec<f32>> {
        self.all_reduce_owned(buf, self.abi.float, self.abi.sum, what)
    }

    fn all_reduce_f64(&self, buf: &mut [f64], op: ReduceOp, what: &str) -> Result<()> {
        // Small (counts and metrics): copied to an owned buffer and back.
        let out = self.all_reduce_owned(buf.to_vec(), self.abi.double, self.datatype_op(op), what)?;
        buf.copy_from_slice(&out);
        Ok(())
    }

    fn broadcast(&self, buf: &mut [u8], root: usize, what: &str) -> Result<()> {
        let count = c_int::try_from(buf.len()).map_err(|_| Error::Distributed(format!("{what}: {} bytes exceed MPI's int count", buf.len())))?;
        let (bcast, byte, comm) = (self.f.bcast, self.abi.byte, self.abi.comm_world);
        // SAFETY: the pointer is the owned copy's, `count` bytes, alive for the call.
        let out = self.run(what, buf.to_vec(), move |ptr| unsafe { bcast(ptr, count, byte, root as c_int, comm) })?;
        buf.copy_from_slice(&out);
        Ok(())
    }

    fn barrier(&self, what: &str) -> Result<()> {
        let barrier = self.f.barrier;
        let comm = self.abi.comm_world;
        // SAFETY: a plain call, no buffer.
        self.run(what, Vec::<u8>::new(), move |_| unsafe { barrier(comm) }).map(drop)
    }

    fn finish(&self, success: bool) {
        if self.finalized.swap(true, Ordering::SeqCst) {
            return;
        }
        // SAFETY: plain calls on the initialised library; after a failure MPI_Abort ends every rank
        // (MPI_Finalize would wait for ranks that may be gone).
        unsafe {
            if success && !self.broken.load(Ordering::SeqCst) {
                (self.f.finalize)();
            } else {
                (self.f.abort)(self.abi.comm_world, 1);
            }
        }
    }
}
