#!/usr/bin/env python3
"""PyTorch CPU peer of the attention benchmark: multi-head self-attention with its Q/K/V/output
projections (as in videobert_ref.Ref: separate nn.Linear layers, heads split by view/transpose,
softmax), forward + backward of sum(y * probe) on x [N, S, H]:

    python3 scripts/reference/bench_attention.py --n 8 --s 51 --h 256 --heads 4 --threads 1

prints one JSON line: {"n", "s", "h", "heads", "threads", "ms" (median of 20 after 3), "torch"}.
"""
import argparse
import json
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    for a in ("n", "s", "h", "heads", "threads"):
        ap.add_argument(f"--{a}", type=int, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n, s, h, heads = args.n, args.s, args.h, args.heads
    hd = h // heads
    q, k, v, o = (torch.nn.Linear(h, h) for _ in range(4))
    x = torch.randn(n, s, h, requires_grad=True)
    probe = torch.randn(n, s, h)

    def attention(x):
        split = lambda t: t.view(n, s, heads, hd).transpose(1, 2)
        scores = split(q(x)) @ split(k(x)).transpose(-1, -2) / hd**0.5
        ctx = torch.softmax(scores, dim=-1) @ split(v(x))
        return o(ctx.transpose(1, 2).reshape(n, s, h))

    times = []
    for i in range(23):
        t0 = time.perf_counter()
        (attention(x) * probe).sum().backward()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1e3)
        x.grad = None
    print(json.dumps({"n": n, "s": s, "h": h, "heads": heads, "threads": args.threads, "ms": statistics.median(times), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
