#!/usr/bin/env bash
# Peak RSS of `videobert tokenize` on a 10-minute 1280×720 H.264 clip (made with FFmpeg's lavfi
# testsrc2 if missing), measured with /usr/bin/time -v. Decoding streams: memory should be bounded
# by a segment, not by the video's length. Needs the ffmpeg CLI and GNU time (`apt-get install time`).
set -euo pipefail
cd "$(dirname "$0")/.."
clip=benches/.data/ten-minutes-720p.mp4
mkdir -p benches/.data
if [ ! -f "$clip" ]; then
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=600" \
    -c:v libx264 -preset ultrafast -crf 30 -pix_fmt yuv420p "$clip"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for workers in 1 2; do
  log=$(mktemp)
  /usr/bin/time -v node dist/cli/main.js tokenize "$clip" --out "$out/w$workers" --workers "$workers" --json >"$log.json" 2>"$log"
  rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
  segs=$(node -e "const s=JSON.parse(require('fs').readFileSync('$log.json','utf8'));console.log(s.progress.segments+' segments, '+s.progress.frames+' sampled frames')")
  echo "workers=$workers: peak RSS $((rss_kb / 1024)) MiB, wall $wall, $segs"
done
