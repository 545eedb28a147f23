//! The MPI backend: Open MPI or MPICH (and MPICH-ABI libraries such as Intel MPI), loaded at run
//! time with `dlopen` so that the prebuilt binary needs no MPI to load and works with whichever MPI
//! the cluster has. Only the handful of calls the collectives need are bound.
//!
//! The two ABIs differ in their handles: Open MPI's `MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, … are
//! addresses of exported globals (`ompi_mpi_comm_world`, …), MPICH's are integer constants from its
//! `mpi.h`. Handles travel here as `usize`; MPICH's are C `int`s, which on the x86-64 and aarch64
//! calling conventions occupy the low half of the same register or stack slot.
//!
//! Every collective is non-blocking (`MPI_Iallreduce`, `MPI_Ibcast`, `MPI_Ibarrier`) and polled with
//! `MPI_Test` until it completes or the timeout passes: a rank that died or hangs turns into a coded
//! error on the others instead of a hang. A communicator that timed out is not used again.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    status_ignore: usize,
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
    status_ignore: 1,
    errors_return: 0x5400_0001,
};

type FnInitialized = unsafe extern "C" fn(*mut c_int) -> c_int;
type FnInitThread = unsafe extern "C" fn(*mut c_int, *mut c_void, c_int, *mut c_int) -> c_int;
type FnCommInt = unsafe extern "C" fn(usize, *mut c_int) -> c_int;
type FnSetErrhandler = unsafe extern "C" fn(usize, usize) -> c_int;
type FnIallreduce = unsafe extern "C" fn(*const c_void, *mut c_void, c_int, usize, usize, usize, *mut usize) -> c_int;
type FnIbcast = unsafe extern "C" fn(*mut c_void, c_int, usize, c_int, usize, *mut usize) -> c_int;
type FnIbarrier = unsafe extern "C" fn(usize, *mut usize) -> c_int;
type FnTest = unsafe extern "C" fn(*mut usize, *mut c_int, usize) -> c_int;
type FnAbort = unsafe extern "C" fn(usize, c_int) -> c_int;
type FnFinalize = unsafe extern "C" fn() -> c_int;
type FnErrorString = unsafe extern "C" fn(c_int, *mut c_char, *mut c_int) -> c_int;
type FnLibraryVersion = unsafe extern "C" fn(*mut c_char, *mut c_int) -> c_int;

struct Fns {
    iallreduce: FnIallreduce,
    ibcast: FnIbcast,
    ibarrier: FnIbarrier,
    test: FnTest,
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
                status_ignore: 0,
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
                iallreduce: std::mem::transmute::<usize, FnIallreduce>(need("MPI_Iallreduce")?),
                ibcast: std::mem::transmute::<usize, FnIbcast>(need("MPI_Ibcast")?),
                ibarrier: std::mem::transmute::<usize, FnIbarrier>(need("MPI_Ibarrier")?),
                test: std::mem::transmute::<usize, FnTest>(need("MPI_Test")?),
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

    /// Start a request with `start`, then poll it to completion or the timeout.
    fn run(&self, what: &str, start: impl FnOnce(*mut usize) -> c_int) -> Result<()> {
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
        let mut request: usize = 0;
        let rc = start(&mut request);
        if rc != MPI_SUCCESS {
            self.broken.store(true, Ordering::SeqCst);
            return Err(Error::Distributed(format!("rank {}: {what} failed: {}", self.rank, self.error_text(rc))));
        }
        let t0 = Instant::now();
        let mut polls: u64 = 0;
        loop {
            let mut flag: c_int = 0;
            // SAFETY: `request` is the live request just started.
            let rc = unsafe { (self.f.test)(&mut request, &mut flag, self.abi.status_ignore) };
            if rc != MPI_SUCCESS {
                self.broken.store(true, Ordering::SeqCst);
                return Err(Error::Distributed(format!("rank {}: {what} failed (another rank may have died): {}", self.rank, self.error_text(rc))));
            }
            if flag != 0 {
                return Ok(());
            }
            polls += 1;
            if t0.elapsed() > self.timeout {
                self.broken.store(true, Ordering::SeqCst);
                return Err(Error::Distributed(format!(
                    "rank {} of {}: {what} did not complete within {} s: another rank died or hangs (raise the limit with --distributed-timeout)",
                    self.rank,
                    self.size,
                    self.timeout.as_secs_f64()
                )));
            }
            // Spin briefly (a collective of a step usually completes in microseconds to
            // milliseconds), then poll at 100 µs so a waiting rank leaves the cores to the others.
            if polls < 2_000 {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }

    fn datatype_op(&self, op: ReduceOp) -> usize {
        match op {
            ReduceOp::Sum => self.abi.sum,
            ReduceOp::Max => self.abi.max,
            ReduceOp::Min => self.abi.min,
        }
    }

    fn all_reduce_raw(&self, ptr: *mut c_void, len: usize, datatype: usize, op: usize, what: &str) -> Result<()> {
        let count = c_int::try_from(len).map_err(|_| Error::Distributed(format!("{what}: {len} elements exceed MPI's int count")))?;
        // SAFETY: `ptr` points at `len` elements of `datatype`, alive until `run` returns.
        self.run(what, |req| unsafe { (self.f.iallreduce)(self.abi.in_place as *const c_void, ptr, count, datatype, op, self.abi.comm_world, req) })
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

    fn all_reduce_f32(&self, buf: &mut [f32], what: &str) -> Result<()> {
        self.all_reduce_raw(buf.as_mut_ptr().cast(), buf.len(), self.abi.float, self.abi.sum, what)
    }

    fn all_reduce_f64(&self, buf: &mut [f64], op: ReduceOp, what: &str) -> Result<()> {
        self.all_reduce_raw(buf.as_mut_ptr().cast(), buf.len(), self.abi.double, self.datatype_op(op), what)
    }

    fn broadcast(&self, buf: &mut [u8], root: usize, what: &str) -> Result<()> {
        let count = c_int::try_from(buf.len()).map_err(|_| Error::Distributed(format!("{what}: {} bytes exceed MPI's int count", buf.len())))?;
        let ptr = buf.as_mut_ptr().cast::<c_void>();
        // SAFETY: `buf` is alive and exclusively borrowed until `run` returns.
        self.run(what, |req| unsafe { (self.f.ibcast)(ptr, count, self.abi.byte, root as c_int, self.abi.comm_world, req) })
    }

    fn barrier(&self, what: &str) -> Result<()> {
        // SAFETY: no buffers.
        self.run(what, |req| unsafe { (self.f.ibarrier)(self.abi.comm_world, req) })
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
