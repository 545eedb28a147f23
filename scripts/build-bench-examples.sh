#!/usr/bin/env bash
# The Rust examples `npm run bench` runs (attention_speed, step_speed, backbone_speed), in the addon's target dir
# and profile so nothing builds twice.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ffmpeg-env.sh >/dev/null
cargo build --release --target "$VIDEOBERT_TARGET" -p videobert-core --example attention_speed --example step_speed
cargo build --release --target "$VIDEOBERT_TARGET" "${CARGO_FFMPEG_FEATURES[@]}" -p videobert-video --example backbone_speed
