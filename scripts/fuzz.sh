#!/usr/bin/env bash
# Coverage-guided fuzzing of the readers of untrusted bytes (fuzz/: libFuzzer through cargo-fuzz,
# on the stable toolchain with --sanitizer none): config.json, checkpoint safetensors, token shards,
# tokenizer.json, manifests, and video demux + decode + sampling (seeded with the video fixtures).
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
#   FUZZ_JOBS=2 bash scripts/fuzz.sh 2000                      (two targets at a time)
# CI runs `FUZZ_JOBS=2 bash scripts/fuzz.sh 30` (.ci/run).
# Needs the built package (npm run build: the seeds are made with it) and installs cargo-fuzz.
# Prints, per target, the runs, the corpus size and the CPU seconds spent (user + system), and
# appends them to fuzz/artifacts/cpu-time.tsv (the running total across runs on this machine).
# A crash is written to fuzz/artifacts/ and the script exits 1; each becomes a fixed bug and a
# regression test (see crates/videobert-video/tests/fixtures/fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config_json tokenizer_json manifest shards checkpoint decode subtitles_srt subtitles_vtt subtitles_json subtitle_tracks)
jobs="${FUZZ_JOBS:-1}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
source scripts/ffmpeg-env.sh
# libFuzzer is C++17, built by the system compiler: link with it, not the old-glibc cross toolchain
# the prebuilt addon is linked with.
unset CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER CC CC_x86_64_unknown_linux_gnu
node scripts/fuzz-seeds.mjs
# 16 codegen units (cargo-fuzz's default is 1): the build is much faster on 2 cores, the
# targets a little slower to run.
(cd fuzz && cargo +stable fuzz build -s none --codegen-units 16 --features static-ffmpeg)
mkdir -p fuzz/artifacts

# One target for $seconds of wall time; writes "<rc> <cpu seconds>" to fuzz/artifacts/<t>.result.
fuzz_one() {
  local t="$1" log="fuzz/artifacts/$1.log" rc=0 TIMEFORMAT='%U %S'
  { time "fuzz/target/x86_64-unknown-linux-gnu/release/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -malloc_limit_mb=2048 -timeout=30 -artifact_prefix="fuzz/artifacts/$t-" "fuzz/corpus/$t" \
      >"$log" 2>&1 || rc=$?; } 2>"fuzz/artifacts/$t.cpu"
  echo "$rc $(awk '{ printf "%.0f", $1 + $2 }' "fuzz/artifacts/$t.cpu")" >"fuzz/artifacts/$t.result"
}

for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait

status=0
for t in "${targets[@]}"; do
  read -r rc cpu <"fuzz/artifacts/$t.result"
  runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "fuzz/artifacts/$t.log" | tail -1 || true)
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$cpu" "$rc" "${runs:-?}" >>fuzz/artifacts/cpu-time.tsv
  if [ "$rc" -eq 0 ]; then
    echo "$t: ok — ${runs:-?}, ${cpu} CPU-s, corpus $corpus inputs"
  else
    echo "$t: CRASH (exit $rc) after ${cpu} CPU-s — see fuzz/artifacts/$t.log and fuzz/artifacts/$t-*"
    status=1
  fi
done
exit $status
