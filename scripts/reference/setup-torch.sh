#!/usr/bin/env bash
# The PyTorch peer for the benchmarks: a venv at .venv-torch with torch (the default PyPI wheel; it
# runs on the CPU here — a ~5 GB download with its CUDA libraries) and numpy. Not used by the tests.
#   bash scripts/reference/setup-torch.sh && npm run bench
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv-torch
.venv-torch/bin/pip install --quiet --upgrade pip
.venv-torch/bin/pip install --quiet torch numpy
.venv-torch/bin/python -c 'import torch; print("torch", torch.__version__, "at .venv-torch")'
