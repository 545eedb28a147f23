#!/usr/bin/env bash
# The PyTorch peer for the benchmarks: a venv at .venv-torch with torch (the default PyPI wheel; it
# runs on the CPU here — a ~5 GB download with its CUDA libraries), numpy, and the reference models of
# the backbone parity check: torchvision (MobileNetV2) and efficientnet_lite_pytorch 0.1.0
# (EfficientNet-Lite0). Not used by the default tests.
#   bash scripts/reference/setup-torch.sh && npm run bench
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv-torch
.venv-torch/bin/pip install --quiet --upgrade pip
.venv-torch/bin/pip install --quiet torch numpy torchvision efficientnet_lite_pytorch==0.1.0
.venv-torch/bin/python -c 'import torch; print("torch", torch.__version__, "at .venv-torch")'
