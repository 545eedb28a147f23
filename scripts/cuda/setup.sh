#!/usr/bin/env bash
# The CUDA 13.0 toolkit pieces a CUDA build of the addon needs, from NVIDIA's PyPI wheels (no GPU
# or system toolkit needed on the build machine), into .cuda/ at the repository root:
#   .cuda/nvidia/cu13/{bin,include,lib,nvvm}   nvcc, headers, cudart/cublas/curand/nvrtc
#   .cuda/nvidia/nccl/lib                      NCCL (the data-parallel GPU backend)
#   .cuda/stub/libcuda.so                       a link stub of the driver API (SONAME libcuda.so.1)
# Pinned to 13.0.x: the GPU machines this is checked on run driver 580 (CUDA 13.0), which cannot
# load PTX from a newer toolkit. Idempotent (a stamp file records the pins). Then
# `source scripts/cuda/env.sh` sets PATH, CUDA_* and the library paths for cargo.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=$root/.cuda
pins=(
  nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88
  nvidia-cuda-cccl==13.0.85 nvidia-cuda-runtime==13.0.96
  "nvidia-cublas==13.0.*" "nvidia-cuda-nvrtc==13.0.*" "nvidia-curand==10.4.0.*"
  nvidia-nccl-cu13==2.27.7
)
stamp=$dest/.installed
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pins[*]}" ]; then
  echo "[cuda] toolkit already in $dest" >&2
else
  command -v python3 >/dev/null || { echo "[cuda] python3 is required (apt-get install python3 python3-pip)" >&2; exit 1; }
  python3 -m pip --version >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null; }
  echo "[cuda] installing ${pins[*]} into $dest (a ~1 GB download)" >&2
  rm -rf "$dest" && mkdir -p "$dest"
  python3 -m pip install --quiet --no-deps --break-system-packages --target "$dest" "${pins[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --no-deps --target "$dest" "${pins[@]}"
  echo "${pins[*]}" > "$stamp"
fi
cu=$dest/nvidia/cu13
[ -x "$cu/bin/nvcc" ] || { echo "[cuda] no nvcc in $cu/bin after the install" >&2; exit 1; }
# Unversioned names for the linker (the wheels ship only lib*.so.N).
( cd "$cu/lib" && for l in cudart cublas cublasLt curand nvrtc; do
    f=$(ls lib$l.so.* 2>/dev/null | head -1); [ -n "$f" ] && ln -sf "$f" lib$l.so
  done )
( cd "$dest/nvidia/nccl/lib" && ln -sf libnccl.so.2 libnccl.so )
# The driver API is not on PyPI: a stub that defines every cu* entry point of cuda.h (after macro
# expansion, so the _v2/_v3 names cudarc links are there too), so binaries link; at run time the
# real libcuda.so.1 of the driver is loaded instead (same SONAME).
mkdir -p "$dest/stub"
if [ ! -f "$dest/stub/libcuda.so" ] || [ "$cu/include/cuda.h" -nt "$dest/stub/libcuda.so" ]; then
  { gcc -E -P -I"$cu/include" "$cu/include/cuda.h" 2>/dev/null; cat "$cu/include/cuda.h"; } \
    | grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' | tr -d ' (\t' | sort -u \
    | awk '{ printf "void %s(void) {}\n", $1 }' > "$dest/stub/cuda_stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$dest/stub/libcuda.so" "$dest/stub/cuda_stub.c"
  ln -sf libcuda.so "$dest/stub/libcuda.so.1"
  echo "[cuda] driver stub: $(wc -l < "$dest/stub/cuda_stub.c") entry points" >&2
fi
echo "$cu"
