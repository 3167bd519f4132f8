"""Pruning checked against an independent float64 reference.

    pruning_reference.py WORK_DIR

Builds a small BERT-style encoder (2 post-norm layers, hidden 64, 4 heads,
FFN 128; seeded random weights) in PyTorch and exports it to ONNX. Then,
for each setting, slmc prunes and compiles it, and this script applies the
same pruning in float64 NumPy from its own reading of the method: FLAP
scores from float64 calibration statistics (variance of the output
projection's / down projection's input channels times squared column
norms), the lowest heads/neurons removed per layer, their mean
contribution folded into the bias; block importance = 1 - mean cosine of
the residual stream across a block. The compiled pruned model must match
the float64 pruned model: |slm - ref| <= 2e-4 (unit-norm embeddings), and
must differ from the unpruned model (pruning happened).
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "minilm"))
from export_minilm import SentenceEncoder  # noqa: E402
import slm  # noqa: E402

CFG = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
       "num_hidden_layers": 2, "layer_norm_eps": 1e-12, "vocab_size": 500,
       "max_position_embeddings": 64, "type_vocab_size": 2}
H, D = CFG["num_attention_heads"], CFG["hidden_size"]


def params(model):
    p = {k: v.detach().double().numpy().copy() for k, v in model.state_dict().items()}
    layers = []
    for i in range(CFG["num_hidden_layers"]):
        g = lambda n: p[f"layers.{i}.{n}"]
        layers.append({
            "wq": g("attention.query.weight"), "bq": g("attention.query.bias"),
            "wk": g("attention.key.weight"), "bk": g("attention.key.bias"),
            "wv": g("attention.value.weight"), "bv": g("attention.value.bias"),
            "wo": g("attention_output.weight"), "bo": g("attention_output.bias"),
            "g1": g("attention_norm.weight"), "b1": g("attention_norm.bias"),
            "wi": g("intermediate.weight"), "bi": g("intermediate.bias"),
            "wd": g("output.weight"), "bd": g("output.bias"),
            "g2": g("output_norm.weight"), "b2": g("output_norm.bias"), "heads": H})
    return p, layers


def layer_norm(x, g, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def forward(p, layers, ids, probes=None):
    """float64 SentenceEncoder on one unpadded sample [1, S]."""
    s = ids.shape[1]
    x = p["word.weight"][ids] + p["position.weight"][np.arange(s)][None] + p["token_type.weight"][0]
    x = layer_norm(x, p["norm.weight"], p["norm.bias"])
    for i, L in enumerate(layers):
        block_in = x
        q, k, v = x @ L["wq"].T + L["bq"], x @ L["wk"].T + L["bk"], x @ L["wv"].T + L["bv"]
        h = L["heads"]
        dk = q.shape[-1] // h
        split = lambda t: t.reshape(1, s, h, -1).transpose(0, 2, 1, 3)
        sc = split(q) @ split(k).transpose(0, 1, 3, 2) / math.sqrt(dk)
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        ctx = (sc / sc.sum(-1, keepdims=True)) @ split(v)
        ctx = ctx.transpose(0, 2, 1, 3).reshape(1, s, -1)
        x = layer_norm(x + ctx @ L["wo"].T + L["bo"], L["g1"], L["b1"])
        f = gelu(x @ L["wi"].T + L["bi"])
        x = layer_norm(x + f @ L["wd"].T + L["bd"], L["g2"], L["b2"])
        if probes is not None:
            probes.setdefault(("ctx", i), []).append(ctx.reshape(-1, ctx.shape[-1]))
            probes.setdefault(("ffn", i), []).append(f.reshape(-1, f.shape[-1]))
            a, b = block_in.reshape(-1, D), x.reshape(-1, D)
            cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
            probes.setdefault(("block", i), []).append(cos)
    mean = x.mean(1)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def prune(layers, probes, head_ratio, ffn_ratio, drop_layers):
    out = []
    importance = [1 - np.concatenate(probes[("block", i)]).mean() for i in range(len(layers))]
    dropped = set(np.argsort(importance, kind="stable")[:drop_layers].tolist())
    for i, L in enumerate(layers):
        if i in dropped:
            continue
        L = dict(L)
        if head_ratio:
            X = np.concatenate(probes[("ctx", i)])
            mean, var = X.mean(0), X.var(0)
            col = (L["wo"] ** 2).sum(0)
            dh = D // H
            score = [(var * col)[h * dh:(h + 1) * dh].sum() for h in range(H)]
            removed = np.argsort(score, kind="stable")[:int(round(head_ratio * H))]
            keep = np.concatenate([np.arange(h * dh, (h + 1) * dh) for h in range(H) if h not in removed])
            gone = np.setdiff1d(np.arange(D), keep)
            L["bo"] = L["bo"] + L["wo"][:, gone] @ mean[gone]
            for w in ("wq", "wk", "wv"):
                L[w] = L[w][keep]
            for b in ("bq", "bk", "bv"):
                L[b] = L[b][keep]
            L["wo"] = L["wo"][:, keep]
            L["heads"] = H - len(removed)
        if ffn_ratio:
            X = np.concatenate(probes[("ffn", i)])
            mean, var = X.mean(0), X.var(0)
            score = var * (L["wd"] ** 2).sum(0)
            n = len(score)
            kept = int(round((n - round(ffn_ratio * n)) / 32)) * 32  # multiple of 32
            order = np.argsort(score, kind="stable")
            gone, keep = order[:n - kept], np.sort(order[n - kept:])
            L["bd"] = L["bd"] + L["wd"][:, gone] @ mean[gone]
            L["wi"], L["bi"], L["wd"] = L["wi"][keep], L["bi"][keep], L["wd"][:, keep]
        out.append(L)
    return out


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = SentenceEncoder(CFG).eval()
    onnx = os.path.join(work, "encoder.onnx")
    ids = torch.randint(5, 500, (2, 16))
    with torch.no_grad():
        torch.onnx.export(model, (ids, torch.ones_like(ids)), onnx, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask")})
    p, layers = params(model)
    rng = np.random.default_rng(0)
    calib = os.path.join(work, "calibration")
    samples = []
    for i in range(8):
        x = rng.integers(5, 500, (1, int(rng.integers(6, 20)))).astype(np.int64)
        os.makedirs(os.path.join(calib, f"{i}"), exist_ok=True)
        np.save(os.path.join(calib, f"{i}", "input_ids.npy"), x)
        np.save(os.path.join(calib, f"{i}", "attention_mask.npy"), np.ones_like(x))
        samples.append(x)
    probes = {}
    for x in samples:
        forward(p, layers, x, probes)
    tests = [rng.integers(5, 500, (1, n)).astype(np.int64) for n in (5, 12, 23)]
    failures = 0
    for name, flags, heads, ffn, drop in [
            ("heads", ["--prune-heads=0.5"], 0.5, 0, 0),
            ("ffn", ["--prune-ffn=0.5"], 0, 0.5, 0),
            ("heads+ffn", ["--prune-heads=0.25", "--prune-ffn=0.5"], 0.25, 0.5, 0),
            ("layer", ["--prune-layers=1"], 0, 0, 1)]:
        lib = os.path.join(work, name + ".so")
        report = os.path.join(work, name + ".json")
        cmd = [os.environ["SLMC"], onnx, "-o", lib, "--prune-method=flap",
               f"--calibration={calib}", f"--compression-report={report}"] + flags
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: slmc failed: {r.stderr}")
            failures += 1
            continue
        pruned = prune(layers, probes, heads, ffn, drop)
        kept = json.load(open(report))["layers"]
        ref_heads = [L["heads"] for L in pruned]
        slm_heads = [l["heads"][0] for l in kept if not l["dropped"]]
        m = slm.load(lib)
        worst, moved = 0.0, 0.0
        for x in tests:
            y = m.run({"input_ids": x, "attention_mask": np.ones_like(x)})["embedding"]
            ref = forward(p, pruned, x)
            dense = forward(p, layers, x)
            worst = max(worst, float(np.abs(y - ref).max()))
            moved = max(moved, float(np.abs(ref - dense).max()))
        ok = worst <= 2e-4 and moved > 1e-3 and ref_heads == slm_heads
        failures += not ok
        print(f"{name}: {'ok' if ok else 'FAIL'}: max |slm - float64 pruned| {worst:.2e}, "
              f"pruning moved the output by {moved:.2e}, heads per layer {slm_heads} (reference {ref_heads})")
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
