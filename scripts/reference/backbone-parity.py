"""PyTorch's side of the backbone parity check (crates/videobert-video/tests/backbone_real.rs).

Reads DIR/frames.bin (N frames of SIDE×SIDE packed RGB24, exactly the frames the addon decoded),
preprocesses them as torchvision's ImageNet models expect (ToTensor: /255, CHW; Normalize with
ImageNet's mean and std — the resize already done by the decoder, identical for both sides), runs
torchvision's mobilenet_v2 with the given .pth, and writes DIR/torch-pooled.f32 ([N, 1280], the
global average pool the classifier reads), DIR/torch-logits.f32 ([N, 1000]) and DIR/torch.json (the
timing: the best of 3 forward passes over the N frames at THREADS threads, in frames/s).

    python backbone-parity.py DIR SIDE WEIGHTS.pth THREADS
"""
import json
import sys
import time

import numpy as np
import torch
import torchvision

out, side, weights, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
torch.set_num_threads(threads)
frames = np.fromfile(f"{out}/frames.bin", dtype=np.uint8).reshape(-1, side, side, 3)
model = torchvision.models.mobilenet_v2()
model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
model.eval()
x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
x = (x - mean) / std
with torch.inference_mode():
    pooled = torch.nn.functional.adaptive_avg_pool2d(model.features(x), 1).flatten(1)
    logits = model.classifier(pooled)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        model(x)
        best = min(best, time.perf_counter() - t0)
pooled.numpy().astype(np.float32).tofile(f"{out}/torch-pooled.f32")
logits.numpy().astype(np.float32).tofile(f"{out}/torch-logits.f32")
json.dump({"frames_per_second": len(frames) / best, "threads": threads, "torch": torch.__version__, "torchvision": torchvision.__version__}, open(f"{out}/torch.json", "w"))
