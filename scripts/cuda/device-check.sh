#!/usr/bin/env bash
# The one-call GPU check. Here (no GPU needed): builds the CUDA test binary of videobert-core
# (crates/videobert-core/tests/cuda.rs, `--features cuda`) and packs what the GPU machine needs into
# target/device-check/ (xz-compressed, well under the 64 MiB a device call carries):
#   cuda-tests.xz   the test binary (candle's CUDA kernels inside as PTX)
#   reference/      the PyTorch peer (bench_train_step.py, videobert_ref.py)
#   presets/        the small and base configs as JSON (for the peer)
#   run.sh          what runs there
# Then, on the GPU machine (CUDA 13 libraries inside PyTorch's wheels, nvcc, PyTorch; no Rust, no
# Node, no network), from the repository root:
#   bash target/device-check/run.sh            (device tool: carry ["target/device-check"])
# which prints, and writes to $OUT (or target/device-check/out): the fused CUDA attention against
# candle's composed ops (forward and every gradient, f32/bf16/f16), NCCL on one GPU (a data-parallel
# world of one steps to the bit like no group), the GPU-vs-CPU train-step check
# and the GPU steps/s of the native step, composed and fused (`GPU-CHECK {json}` lines), then
# PyTorch eager and torch.compile on the same GPU, same models.
# Built with the system compiler (glibc of this machine as the floor); the GPU machine's loader
# finds libcuda.so.1 in the driver's directory and the CUDA 13 libraries in PyTorch's wheels.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/cuda/setup.sh >/dev/null
source scripts/cuda/env.sh
pack=target/device-check
rm -rf "$pack" && mkdir -p "$pack/reference" "$pack/presets"
CARGO_TARGET_DIR=target/cuda cargo test --release -p videobert-core --features cuda --test cuda --no-run --message-format=json \
  2> >(grep -v '^ *\(Compiling\|Finished\|Executable\)' >&2) > "$pack/cargo.json" || { echo "[device-check] the CUDA build failed (above)" >&2; exit 1; }
bin=$(python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, open(sys.argv[1])) if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "cuda"][-1])' "$pack/cargo.json")
rm "$pack/cargo.json"
xz -T0 -6 -c "$bin" > "$pack/cuda-tests.xz"
cp scripts/reference/bench_train_step.py scripts/reference/videobert_ref.py "$pack/reference/"
for p in small base; do
  node --input-type=module -e "import { configToJson, presets } from './dist/index.js'; process.stdout.write(configToJson(presets['$p']))" > "$pack/presets/$p.json"
done
cat > "$pack/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs on the GPU machine (see scripts/cuda/device-check.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}; mkdir -p "$out"
torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(os.path.dirname(torch.__file__)), "nvidia", "cu13", "lib"))')
# NCCL (the data-parallel backend, linked by the CUDA build) from PyTorch's nvidia-nccl wheel.
nccl_lib=$(python3 -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH=$torch_lib${nccl_lib:+:$nccl_lib}:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
xz -dc "$here/cuda-tests.xz" > /tmp/videobert-cuda-tests && chmod +x /tmp/videobert-cuda-tests
# The kernel check, then the train steps and their speed with candle's composed attention (the
# default on CUDA) and with our kernel.
/tmp/videobert-cuda-tests --nocapture --test-threads 1 2>&1 | tee "$out/native.log"
VIDEOBERT_CUDA_ATTENTION=fused /tmp/videobert-cuda-tests --nocapture --test-threads 1 train_steps gpu_train_step_speed 2>&1 \
  | sed 's/^GPU-CHECK {/GPU-CHECK {"attention":"fused",/' | tee "$out/native-fused.log"
for preset in small base; do
  batch=$([ $preset = small ] && echo 8 || echo 32)
  for compile in "" --compile; do
    python3 "$here/reference/bench_train_step.py" --config "$(cat "$here/presets/$preset.json")" --batch "$batch" \
      --device cuda $compile --steps 10 --warmup 3 2>&1 | tail -1 | sed "s/^/TORCH $preset /" | tee -a "$out/torch.log"
  done
done
RUN
chmod +x "$pack/run.sh"
du -sh "$pack" | sed 's/^/[device-check] /'
echo "[device-check] on the GPU machine: bash $pack/run.sh"
