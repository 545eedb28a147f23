#!/usr/bin/env bash
# `npm run build:cuda`: the CUDA variant of the addon, videobert-native.linux-x64-gnu-cuda.node at
# the repository root, beside (never over) the CPU addon. Load it with VIDEOBERT_CUDA=1 (docs/installing.md
# "GPU"). Needs no GPU: the toolkit comes from scripts/cuda/setup.sh; candle's CUDA kernels are
# compiled by nvcc here (≈ 5.5 min on 2 cores the first time). Its own target dir (target/cuda):
# the CUDA features and link flags would otherwise rebuild the CPU addon's crates.
# The result links libcudart/libcublas/libcurand/libnvrtc (CUDA 13.0) and the driver's
# libcuda.so.1 dynamically: they must be on the library path where it runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "build:cuda: only linux-x64 is supported" >&2; exit 1; }
bash scripts/cuda/setup.sh >/dev/null
source scripts/cuda/env.sh
source scripts/ffmpeg-env.sh >/dev/null
# One --features list: the FFmpeg feature of scripts/ffmpeg-env.sh (if any) and cuda.
features=cuda
[ ${#CARGO_FFMPEG_FEATURES[@]} -eq 2 ] && features="${CARGO_FFMPEG_FEATURES[1]},cuda"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CARGO_TARGET_DIR=target/cuda npx napi build --platform --release --esm --no-const-enum \
  --manifest-path crates/videobert-node/Cargo.toml --package-json-path package.json -o "$out" \
  --target "$VIDEOBERT_TARGET" --features "$features"
mv "$out"/videobert-native.*.node videobert-native.linux-x64-gnu-cuda.node
echo "[build:cuda] videobert-native.linux-x64-gnu-cuda.node (load it with VIDEOBERT_CUDA=1)"
