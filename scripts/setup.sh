#!/usr/bin/env bash
# Make a fresh Debian 12 machine (with Node >= 20.17 and Rust) ready to build and test:
# system packages only if missing, npm packages only if out of date, then an incremental build of
# the native addon (release) and the TypeScript layer. Safe to run again; each part is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

command -v node >/dev/null || { echo "setup: Node.js >= 20.17 is required (https://nodejs.org)" >&2; exit 1; }
command -v cargo >/dev/null || { echo "setup: Rust is required (https://rustup.rs)" >&2; exit 1; }

# System packages: a C toolchain and FFmpeg 5.1 (headers + libclang for bindgen) to build the addon;
# the ffmpeg command line for `videobert demo` (it renders its clips) and the benchmarks.
packages=(gcc g++ make pkg-config clang libclang-dev ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev)
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

log "building the native addon (release) and the TypeScript layer"
npm run --silent build
