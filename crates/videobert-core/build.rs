//! With the `cuda` feature: compiles `crates/videobert-core/src/kernels/cuda/attention.cu` to PTX with nvcc (from
//! `CUDA_HOME`/`PATH`; `scripts/cuda/setup.sh` installs one) for `CUDA_COMPUTE_CAP` (default 80;
//! the driver JIT-compiles it for newer GPUs). Without the feature it does nothing.

fn main() {
    println!("cargo:rerun-if-changed=src/kernels/cuda/attention.cu");
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("attention.ptx");
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "80".into());
    let nvcc = std::env::var_os("CUDA_HOME").map(|h| std::path::PathBuf::from(h).join("bin/nvcc")).filter(|p| p.exists()).unwrap_or_else(|| "nvcc".into());
    let status = std::process::Command::new(&nvcc)
        .args(["-ptx", "-O3", "-std=c++17", &format!("-arch=compute_{cap}"), "-o"])
        .arg(&out)
        .arg("src/kernels/cuda/attention.cu")
        .status()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): install the CUDA toolkit (scripts/cuda/setup.sh) and source scripts/cuda/env.sh", nvcc.display()));
    assert!(status.success(), "nvcc failed on the CUDA attention kernel (crates/videobert-core/src/kernels/cuda/attention.cu)");
}
