#!/usr/bin/env python3
"""PyTorch CPU peer of native inference: the same model (videobert_ref.Ref, op for op) under
torch.inference_mode, on a batch of B clips with their captions (nothing masked in the video):

- embed: the encoder's forward and the pooled outputs `embed` returns (CLS, mean text, mean video,
  the segments);
- match: the encoder and the matching head's probability of "match" (`scoreMatch`, the matching-head
  retrieval scorer);
- mask_log_probs: the same forward with one [MASK] per caption (its first word piece), the MLM head at the
  masks and the log-probability of the right word — the inner call of `retrieve`'s likelihood scorer.

    python3 scripts/reference/bench_inference.py --config '{"hidden_size": 256, ...}' --batch 32 --threads 2

prints one JSON line: {"threads", "batch", "embed_ms", "match_ms", "mask_log_probs_ms" (medians), "torch"}.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from videobert_ref import Ref  # noqa: E402


def batch(cfg, B, g):
    L, T, R, Fd, V = cfg["max_text_len"], cfg["max_segments"], cfg["num_regions"], cfg["feature_dim"], cfg["vocab_size"]
    shape = (B, T, R, Fd) if R > 0 else (B, T, Fd)
    return dict(
        text_ids=torch.randint(5, V, (B, L), generator=g), text_mask=torch.ones(B, L), video_features=torch.randn(shape, generator=g),
        visual_word_ids=torch.randint(0, cfg["num_visual_words"], (B, T), generator=g), video_mask=torch.ones(B, T), video_masked=torch.zeros(B, T),
    )


def embed(model, cfg, inp):
    L, T = cfg["max_text_len"], cfg["max_segments"]
    hid = model.encode(inp)
    off = L + 2
    mean = lambda h, m: (h * m.unsqueeze(2)).sum(1) / m.sum(1, keepdim=True)
    return hid[:, 0], mean(hid[:, 1:L + 1], inp["text_mask"]), mean(hid[:, off:off + T], inp["video_mask"]), hid[:, off:off + T]


def match(model, inp):
    cls = model.encode(inp)[:, 0]
    logits = model.linear("heads.vtm.classifier", torch.tanh(model.linear("heads.vtm.pooler", cls)))
    return F.softmax(logits, 1)[:, 1]


def mask_log_probs(model, cfg, inp, answers):
    hid = model.encode(inp)
    x = hid[:, 1]  # the [MASK] at the caption's first word piece
    x = model.ln("heads.mlm.norm", F.gelu(model.linear("heads.mlm.transform", x)))
    logits = x @ model.w("embeddings.word_embeddings.weight").t() + model.w("heads.mlm.bias")
    return F.log_softmax(logits, 1).gather(1, answers.unsqueeze(1))


def median_ms(f, runs, warmup):
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        f()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="the model config, snake_case JSON (e.g. a preset's)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=6, help="timed calls (after --warmup)")
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.loads(a.config)
    model = Ref(cfg, 0).eval()
    inp = batch(cfg, a.batch, torch.Generator().manual_seed(3))
    answers = inp["text_ids"][:, 0].clone()
    masked = dict(inp, text_ids=inp["text_ids"].clone())
    masked["text_ids"][:, 0] = cfg["mask_token_id"]
    with torch.inference_mode():
        e = median_ms(lambda: embed(model, cfg, inp), a.runs, a.warmup)
        v = median_ms(lambda: match(model, inp), a.runs, a.warmup)
        m = median_ms(lambda: mask_log_probs(model, cfg, masked, answers), a.runs, a.warmup)
    print(json.dumps({"threads": a.threads, "batch": a.batch, "embed_ms": e, "match_ms": v, "mask_log_probs_ms": m, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
