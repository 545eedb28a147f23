#!/usr/bin/env bash
# Make a fresh Debian 12 machine (with Node >= 20.19 and Rust) ready to build and test:
# system packages only if missing, npm packages only if out of date, the static FFmpeg (cached,
# scripts/build-ffmpeg.sh), then an incremental build of the native addon (release) and the
# TypeScript layer. Safe to run again; each part is skipped when done.
# VIDEOBERT_FFMPEG=system links Debian's shared FFmpeg instead (scripts/ffmpeg-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

command -v node >/dev/null || { echo "setup: Node.js >= 20.19 is required (https://nodejs.org)" >&2; exit 1; }
command -v cargo >/dev/null || { echo "setup: Rust is required (https://rustup.rs)" >&2; exit 1; }

# System packages: a C toolchain and libclang (bindgen reads FFmpeg's headers); for the static FFmpeg
# its build tools (nasm for the SIMD code, meson + ninja for dav1d); for VIDEOBERT_FFMPEG=system the
# FFmpeg 5.1 headers and shared libraries instead.
packages=(gcc g++ make pkg-config clang libclang-dev)
# Open MPI's mpirun and libmpi.so.40, for the data-parallel tests (__test__/distributed.spec.ts); the
# addon loads MPI only when a run asks for it.
packages+=(openmpi-bin)
if [ "${VIDEOBERT_FFMPEG:-static}" = system ]; then
  packages+=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev)
else
  packages+=(nasm meson ninja-build patch xz-utils bzip2 openssl)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing system packages: ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages: `npm ci` when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi

log "FFmpeg: ${VIDEOBERT_FFMPEG:-static} (a first static build takes ~5 min on 2 cores, then it is cached)"
source scripts/ffmpeg-env.sh

log "building the native addon (release) and the TypeScript layer"
npm run --silent build:native -- --target "$VIDEOBERT_TARGET" "${CARGO_FFMPEG_FEATURES[@]}"
npm run --silent build:ts
