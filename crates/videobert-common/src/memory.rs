//! Giving freed memory back to the system.
//!
//! glibc's malloc raises its mmap threshold as large blocks are freed, so a model's tensors (about
//! a megabyte each) soon come from the heap, and freeing them leaves the pages resident: RSS would
//! not fall when a model is disposed. `malloc_trim` hands every free page back.

/// Return free heap pages to the operating system (glibc); a no-op elsewhere.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks malloc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
