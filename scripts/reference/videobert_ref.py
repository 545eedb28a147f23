#!/usr/bin/env python3
"""PyTorch reference of videobert-core's model (SPEC §2.2), and the parity-fixture writer.

It mirrors crates/videobert-core/src/model/videobert.rs op for op, with the same tensor names, so
that the Rust implementation can be checked against an independent one:

    python3 scripts/reference/videobert_ref.py --out __test__/fixtures

writes parity-<variant>.safetensors files holding a config (metadata "config"), the weights
(`param.<name>`), one masked batch (`input.*`), the expected losses (`expected.*`) and the gradient of
the total loss for every parameter (`grad.<name>`). `cargo test --test parity` reads them.

Needs torch (CPU) and numpy: Debian's `apt-get install python3-torch`, or `pip install torch`.
Not run by CI; the fixtures it wrote are committed. It is also the PyTorch peer for benchmarks.
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F


# ----------------------------------------------------------------------------- safetensors I/O
_DT = {np.dtype("float32"): "F32", np.dtype("int64"): "I64", np.dtype("float64"): "F64"}


def save_safetensors(tensors, path, metadata=None):
    """Minimal safetensors writer (the format is an 8-byte header length, JSON header, raw data)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        data = arr.tobytes()
        header[name] = {"dtype": _DT[arr.dtype], "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------- the model
class Ref(torch.nn.Module):
    def __init__(self, cfg, seed):
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(seed)
        H, R, Fd = cfg["hidden_size"], cfg["num_regions"], cfg["feature_dim"]
        shapes = {}

        def lin(name, i, o):
            shapes[f"{name}.weight"] = (o, i)
            shapes[f"{name}.bias"] = (o,)

        def norm(name):
            shapes[f"{name}.weight"] = (H,)
            shapes[f"{name}.bias"] = (H,)

        def attn(name):
            for p in ("query", "key", "value", "output"):
                lin(f"{name}.{p}", H, H)

        e = "embeddings"
        shapes[f"{e}.word_embeddings.weight"] = (cfg["vocab_size"], H)
        shapes[f"{e}.text_position_embeddings.weight"] = (cfg["max_text_len"] + 2, H)
        shapes[f"{e}.temporal_embeddings.weight"] = (cfg["max_segments"] + 1, H)
        shapes[f"{e}.type_embeddings.weight"] = (2, H)
        shapes[f"{e}.video_mask_embedding"] = (H,)
        if cfg["video_input"] == "features":
            lin(f"{e}.segment_projection", Fd, H)
        else:
            shapes[f"{e}.visual_word_embeddings.weight"] = (cfg["num_visual_words"], H)
        if R > 0:
            shapes[f"{e}.spatial_embeddings.weight"] = (R + 1, H)
            lin(f"{e}.region_projection", Fd, H)
        norm(f"{e}.norm")
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layers.{i}"
            if R > 0:
                norm(f"{p}.spatial_norm")
                attn(f"{p}.spatial_attention")
            norm(f"{p}.joint_norm")
            attn(f"{p}.joint_attention")
            norm(f"{p}.ffn_norm")
            lin(f"{p}.ffn.intermediate", H, cfg["intermediate_size"])
            lin(f"{p}.ffn.output", cfg["intermediate_size"], H)
        norm("encoder.final_norm")
        lin("heads.mlm.transform", H, H)
        norm("heads.mlm.norm")
        shapes["heads.mlm.bias"] = (cfg["vocab_size"],)
        lin("heads.video.transform", H, H)
        norm("heads.video.norm")
        if cfg["video_loss"] == "ce":
            shapes["heads.video.bias"] = (cfg["num_visual_words"],)
        else:
            lin("heads.video.output", H, Fd)
        lin("heads.vtm.pooler", H, H)
        lin("heads.vtm.classifier", H, 2)

        self.p = torch.nn.ParameterDict()
        self.names = sorted(shapes)
        for name in self.names:
            # Random (not constant) biases and gains, so that parity checks every term.
            t = torch.randn(shapes[name], generator=g) * (0.3 if name.endswith("weight") else 0.1)
            if "norm." in name and name.endswith("weight"):
                t = 1.0 + t
            self.p[name.replace(".", "__")] = torch.nn.Parameter(t)

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def linear(self, name, x):
        return F.linear(x, self.w(f"{name}.weight"), self.w(f"{name}.bias"))

    def ln(self, name, x):
        return F.layer_norm(x, (x.shape[-1],), self.w(f"{name}.weight"), self.w(f"{name}.bias"), self.cfg["layer_norm_eps"])

    def attention(self, name, x, mask=None):
        n, s, h = x.shape
        nh = self.cfg["num_attention_heads"]
        hd = h // nh
        split = lambda t: t.reshape(n, s, nh, hd).transpose(1, 2)
        q, k, v = (split(self.linear(f"{name}.{p}", x)) for p in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        if mask is not None:
            scores = scores + mask
        ctx = torch.softmax(scores, -1) @ v
        return self.linear(f"{name}.output", ctx.transpose(1, 2).reshape(n, s, h))

    def embed(self, inp):
        c = self.cfg
        B, L = inp["text_ids"].shape
        T, R, H = c["max_segments"], c["num_regions"], c["hidden_size"]
        e = "embeddings"
        word = self.w(f"{e}.word_embeddings.weight")
        dev = inp["text_ids"].device
        ids = torch.cat([torch.full((B, 1), c["cls_token_id"], device=dev), inp["text_ids"], torch.full((B, 1), c["sep_token_id"], device=dev)], 1)
        typ = self.w(f"{e}.type_embeddings.weight")
        text = word[ids] + self.w(f"{e}.text_position_embeddings.weight") + typ[0]
        time = self.w(f"{e}.temporal_embeddings.weight")[:T]
        if c["video_input"] == "features":
            feats = inp["video_features"]
            pooled = feats.mean(2) if R > 0 else feats
            seg = self.linear(f"{e}.segment_projection", pooled)
        else:
            seg = self.w(f"{e}.visual_word_embeddings.weight")[inp["visual_word_ids"]]
        seg = seg + time + typ[1]
        if R > 0:
            seg = seg + self.w(f"{e}.spatial_embeddings.weight")[0]
        m = inp["video_masked"].unsqueeze(2)
        mask_emb = self.w(f"{e}.video_mask_embedding")
        seg = seg * (1 - m) + m * (mask_emb + time + typ[1])
        regions = None
        if R > 0:
            pos = time.unsqueeze(1) + self.w(f"{e}.spatial_embeddings.weight")[1:].unsqueeze(0)
            regions = self.linear(f"{e}.region_projection", inp["video_features"]) + pos + typ[1]
            m4 = m.unsqueeze(3)
            regions = regions * (1 - m4) + m4 * (pos + mask_emb + typ[1])
            regions = self.ln(f"{e}.norm", regions)
        tail = (word[c["sep_token_id"]] + self.w(f"{e}.temporal_embeddings.weight")[T] + typ[1]).expand(B, 1, H)
        seq = torch.cat([text, seg, tail], 1)
        return self.ln(f"{e}.norm", seq), regions

    def encode(self, inp):
        c = self.cfg
        B, L = inp["text_ids"].shape
        T, R, H = c["max_segments"], c["num_regions"], c["hidden_size"]
        ones = torch.ones(B, 1, device=inp["text_mask"].device)
        attend = torch.cat([ones, inp["text_mask"], ones, inp["video_mask"], ones], 1)
        mask = ((attend - 1.0) * 1e4).reshape(B, 1, 1, -1)
        seq, regions = self.embed(inp)
        off = L + 2
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layers.{i}"
            if R > 0:
                tok = torch.cat([seq[:, off:off + T].unsqueeze(2), regions], 2).reshape(B * T, R + 1, H)
                tok = (tok + self.attention(f"{p}.spatial_attention", self.ln(f"{p}.spatial_norm", tok))).reshape(B, T, R + 1, H)
                seq = torch.cat([seq[:, :off], tok[:, :, 0], seq[:, off + T:]], 1)
                regions = tok[:, :, 1:]
            seq = seq + self.attention(f"{p}.joint_attention", self.ln(f"{p}.joint_norm", seq), mask)
            ffn = lambda x: x + self.linear(f"{p}.ffn.output", F.gelu(self.linear(f"{p}.ffn.intermediate", self.ln(f"{p}.ffn_norm", x))))
            seq = ffn(seq)
            if regions is not None:
                regions = ffn(regions)
        return self.ln("encoder.final_norm", seq)

    def losses(self, inp):
        c = self.cfg
        B, L = inp["text_ids"].shape
        T = c["max_segments"]
        hid = self.encode(inp)
        off = L + 2
        text_h = hid[:, 1:L + 1]
        sel = inp["mlm_labels"] >= 0
        x = self.ln("heads.mlm.norm", F.gelu(self.linear("heads.mlm.transform", text_h[sel])))
        logits = x @ self.w("embeddings.word_embeddings.weight").t() + self.w("heads.mlm.bias")
        mlm = F.cross_entropy(logits, inp["mlm_labels"][sel])
        vsel = inp["video_masked"] > 0
        x = self.ln("heads.video.norm", F.gelu(self.linear("heads.video.transform", hid[:, off:off + T][vsel])))
        if c["video_loss"] == "ce":
            logits = x @ self.w("embeddings.visual_word_embeddings.weight").t() + self.w("heads.video.bias")
            video = F.cross_entropy(logits, inp["visual_word_ids"][vsel])
        else:
            pred = self.linear("heads.video.output", x)
            feats = inp["video_features"]
            target = (feats.mean(2) if c["num_regions"] > 0 else feats)[vsel]
            if c["video_loss"] == "l2":
                video = ((pred - target) ** 2).mean(-1).sum() / pred.shape[0]  # per-feature mean, per segment
            else:
                norm = lambda t: t / torch.sqrt((t * t).sum(-1, keepdim=True) + 1e-12)
                logits = norm(pred) @ norm(target).t() / c["nce_temperature"]
                video = F.cross_entropy(logits, torch.arange(pred.shape[0], device=pred.device))
        cls = hid[:, 0]
        vtm_logits = self.linear("heads.vtm.classifier", torch.tanh(self.linear("heads.vtm.pooler", cls)))
        vtm = F.cross_entropy(vtm_logits, inp["vtm_labels"])
        total = c["mlm_weight"] * mlm + c["video_weight"] * video + c["vtm_weight"] * vtm
        return total, mlm, video, vtm


# ----------------------------------------------------------------------------- fixtures
BASE = dict(
    vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    max_text_len=8, max_segments=4, num_regions=4, feature_dim=16, video_input="features",
    num_visual_words=40, video_loss="l2", nce_temperature=0.1, mlm_weight=1.0, video_weight=0.5,
    vtm_weight=2.0, text_mask_prob=0.15, video_mask_prob=0.15, layer_norm_eps=1e-5,
    initializer_range=0.02, pad_token_id=0, cls_token_id=2, sep_token_id=3, mask_token_id=4,
)
VARIANTS = {
    "l2": {},
    "nce-no-regions": dict(video_loss="nce", num_regions=0),
    "ce-visual-words": dict(video_loss="ce", video_input="visual_words"),
}


def make_batch(cfg, g, B=3):
    L, T, R, Fd = cfg["max_text_len"], cfg["max_segments"], cfg["num_regions"], cfg["feature_dim"]
    text = torch.randint(5, cfg["vocab_size"], (B, L), generator=g)
    lens = torch.tensor([L, L - 3, L // 2])[:B]
    text_mask = (torch.arange(L)[None] < lens[:, None]).float()
    text = text * text_mask.long()
    # Masked inputs: labels at ~25 % of real tokens (at least one), 80/10/10 like the Rust masker.
    mlm_labels = torch.full((B, L), -1, dtype=torch.long)
    for b in range(B):
        pos = torch.randperm(int(lens[b]), generator=g)[: max(1, int(lens[b]) // 4)]
        for j in pos.tolist():
            mlm_labels[b, j] = text[b, j]
            u = torch.rand(1, generator=g).item()
            text[b, j] = cfg["mask_token_id"] if u < 0.8 else (torch.randint(5, cfg["vocab_size"], (1,), generator=g).item() if u < 0.9 else text[b, j])
    video_mask = torch.ones(B, T)
    video_mask[1, T - 1] = 0
    video_masked = torch.zeros(B, T)
    video_masked[0, 1] = video_masked[1, 0] = video_masked[2, 2] = video_masked[2, 3] = 1
    shape = (B, T, R, Fd) if R > 0 else (B, T, Fd)
    feats = torch.randn(shape, generator=g)
    feats = feats / feats.norm(dim=-1, keepdim=True)
    return dict(
        text_ids=text, text_mask=text_mask, mlm_labels=mlm_labels, video_features=feats,
        visual_word_ids=torch.randint(0, cfg["num_visual_words"], (B, T), generator=g),
        video_mask=video_mask, video_masked=video_masked, vtm_labels=torch.tensor([1, 0, 1])[:B],
    )


def write_fixture(name, overrides, out, seed):
    cfg = dict(BASE, **overrides)
    torch.manual_seed(seed)
    model = Ref(cfg, seed)
    inp = make_batch(cfg, torch.Generator().manual_seed(seed + 1))
    total, mlm, video, vtm = model.losses(inp)
    total.backward()
    t = {}
    for n in model.names:
        t[f"param.{n}"] = model.w(n).detach().numpy()
        t[f"grad.{n}"] = model.w(n).grad.numpy()
    for k, v in inp.items():
        if k == "visual_word_ids" and cfg["video_input"] != "visual_words":
            continue
        t[f"input.{k}"] = v.numpy().astype(np.int64 if k in ("text_ids", "mlm_labels", "visual_word_ids", "vtm_labels") else np.float32)
    for k, v in dict(loss=total, mlm_loss=mlm, video_loss=video, vtm_loss=vtm).items():
        t[f"expected.{k}"] = np.array([v.item()], dtype=np.float32)
    path = os.path.join(out, f"parity-{name}.safetensors")
    save_safetensors(t, path, {"config": json.dumps(cfg), "torch": torch.__version__})
    print(f"{path}: loss {total.item():.6f} (mlm {mlm.item():.6f}, video {video.item():.6f}, vtm {vtm.item():.6f})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="__test__/fixtures")
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_default_dtype(torch.float32)
    for i, (name, overrides) in enumerate(VARIANTS.items()):
        write_fixture(name, overrides, a.out, a.seed + 10 * i)
