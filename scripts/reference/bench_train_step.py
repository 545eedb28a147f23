#!/usr/bin/env python3
"""PyTorch CPU peer of the native train step: the same model (videobert_ref.Ref, op for op), one
AdamW step (forward, backward, clip to norm 1, update) on a random masked batch of the given config.

    python3 scripts/reference/bench_train_step.py --config '{"hidden_size": 256, ...}' --batch 8 --threads 2

prints one JSON line: {"threads", "batch", "steps", "ms_per_step" (median), "steps_per_s", "torch"}.
Masking follows the native masker's counts (15 % of the caption tokens, at least 2; 15 % of the
segments, at least 1). Needs torch (CPU): `apt-get install python3-torch` or `pip install torch`.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from videobert_ref import Ref  # noqa: E402


def masked_batch(cfg, B, g):
    L, T, R, Fd, V = cfg["max_text_len"], cfg["max_segments"], cfg["num_regions"], cfg["feature_dim"], cfg["vocab_size"]
    text = torch.randint(5, V, (B, L), generator=g)
    mlm_labels = torch.full((B, L), -1, dtype=torch.long)
    n_text = max(2, round(0.15 * L))
    n_seg = max(1, round(0.15 * T))
    video_masked = torch.zeros(B, T)
    for b in range(B):
        for j in torch.randperm(L, generator=g)[:n_text].tolist():
            mlm_labels[b, j] = text[b, j]
            text[b, j] = cfg["mask_token_id"]
        video_masked[b, torch.randperm(T, generator=g)[:n_seg]] = 1
    shape = (B, T, R, Fd) if R > 0 else (B, T, Fd)
    return dict(
        text_ids=text, text_mask=torch.ones(B, L), mlm_labels=mlm_labels, video_features=torch.randn(shape, generator=g),
        visual_word_ids=torch.randint(0, cfg["num_visual_words"], (B, T), generator=g),
        video_mask=torch.ones(B, T), video_masked=video_masked, vtm_labels=torch.randint(0, 2, (B,), generator=g),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="the model config, snake_case JSON (e.g. a preset's)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10, help="timed steps (after --warmup)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the GPU peer of scripts/cuda/device-check.sh)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (GPU peer)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = json.loads(a.config)
    dev = torch.device(a.device)
    model = Ref(cfg, 0).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    inp = {k: v.to(dev) for k, v in masked_batch(cfg, a.batch, torch.Generator().manual_seed(1)).items()}
    losses = torch.compile(model.losses) if a.compile else model.losses
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = []
    for i in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        total = losses(inp)[0]
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    ms = 1000 * statistics.median(times)
    print(json.dumps({"device": a.device, "compiled": a.compile, "threads": a.threads, "batch": a.batch, "steps": a.steps, "ms_per_step": ms, "steps_per_s": 1000 / ms, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
