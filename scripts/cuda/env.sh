# Sourced (after scripts/cuda/setup.sh) by the CUDA build scripts: the toolkit of .cuda/ on PATH
# and the library paths, the compute capability candle's kernels are compiled for (90 = H100/H200;
# override with CUDA_COMPUTE_CAP) and the CUDA version cudarc binds (13.0).
cuda_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cuda
CU=$cuda_root/nvidia/cu13
export PATH=$CU/bin:$PATH CUDA_HOME=$CU CUDA_PATH=$CU CUDA_ROOT=$CU
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} CUDARC_CUDA_VERSION=13000
NCCL_LIB=$cuda_root/nvidia/nccl/lib
export LIBRARY_PATH=$CU/lib:$NCCL_LIB:$cuda_root/stub${LIBRARY_PATH:+:$LIBRARY_PATH}
export RUSTFLAGS="${RUSTFLAGS:-} -L native=$CU/lib -L native=$NCCL_LIB -L native=$cuda_root/stub"
