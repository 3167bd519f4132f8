#!/usr/bin/env python3
"""Run-time token pruning (slmc --prune-tokens) against an independent
float64 NumPy implementation of the same cascade.

    prune_tokens.py SLMC WORK_DIR
    prune_tokens.py SLMC WORK_DIR --minilm MODEL_DIR ONNX

With --minilm, the model is the real all-MiniLM-L6-v2 (its PyTorch module
from MODEL_DIR, its export ONNX; output: the normalized embedding) and two
schedules per mode are checked on a batch of 6 random-length sequences.

The model: a 4-layer BERT encoder (hidden 64, 4 heads, vocab 1000; the
MiniLM export's modules with seeded random weights, query weights x3 for
sharper attention) exported by PyTorch with three outputs, the last hidden
states [B, S, 64], the masked mean [B, 64] and that L2-normalized.

The reference runs each sequence alone on its real tokens. After attention
l >= start it adds the attention probabilities each token received (summed
over heads and query rows) to the token's cumulative importance, and keeps
k = min(n, max(ceil(keep n), min_tokens, leading)) of the n current tokens
(ceil in integers: (round(keep 1e6) n + 999999) // 1e6): the first
`leading`, then the highest importance, ties to the earlier position, in
order. The rest of the model runs on the kept tokens. Dropped (the
default), a pruned token is padding from then on: expected hidden states
are 0 at pruned and pad positions, the mean is the kept tokens'. With
--prune-tokens-skip a pruned token skips the remaining layers: its state is
the input of the layer at whose attention it was pruned, the hidden states
hold each token's last state (0 at pads), the mean is over all real tokens.
Each schedule runs in both modes.

Checks, per schedule and batch: the unpruned reference equals ONNX Runtime
(validating the reference); slm's hidden states at every position (which
tell the kept tokens: a pruned one is 0 or an earlier layer's state), the
mean and the embedding within 1e-4 + 1e-4 |ref|, pads exactly 0. A
selection whose k-th and (k+1)-th importance differ by less than 1e-4 is
reported as a near tie and not compared (f32 rounding may order them
either way); none is expected and the test fails on more than one.
"""
import math
import os
import re
import subprocess
import sys

import onnx  # noqa: F401  (before anything importing Debian's onnx)
import numpy as np
import onnxruntime as ort
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import slm  # noqa: E402
import models  # noqa: E402
from pruning_reference import gelu, layer_norm  # noqa: E402  (float64, exact erf)

LAYERS, HIDDEN, HEADS, FFN, VOCAB = 4, 64, 4, 128, 1000
RTOL, ATOL = 1e-4, 1e-4
SCHEDULES = [  # keep, start, leading, min
    (0.5, 0, 1, 1),
    (0.7, 1, 1, 2),
    (0.3, 2, 0, 1),
    (0.6, 3, 2, 3),
]


class Both(nn.Module):
    """SentenceEncoder's computation, returning the hidden states too."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, input_ids, attention_mask):
        e = self.enc
        s = input_ids.size(1)
        positions = torch.arange(s, dtype=torch.long).unsqueeze(0)
        x = e.word(input_ids) + e.position(positions) + e.token_type(torch.zeros_like(input_ids))
        x = e.norm(x)
        mask = attention_mask.to(torch.float32)
        additive = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        for layer in e.layers:
            x = layer(x, additive)
        summed = (x * mask[:, :, None]).sum(dim=1)
        count = mask.sum(dim=1, keepdim=True).clamp(min=1e-9)
        mean = summed / count
        return x, mean / mean.norm(dim=1, keepdim=True).clamp(min=1e-12), mean


def weights(module):
    return {k: v.detach().double().numpy() for k, v in module.state_dict().items()}


def compile_pruned(slmc, onnx_path, lib, keep, start, leading=1, least=1, skip=False):
    """None, or slmc's complaint (a failure or any warning)."""
    r = subprocess.run([slmc, onnx_path, "-o", lib, f"--prune-tokens={keep}",
                        f"--prune-tokens-start={start}", f"--prune-tokens-leading={leading}",
                        f"--prune-tokens-min={least}"] +
                       (["--prune-tokens-skip"] if skip else []),
                       capture_output=True, text=True)
    if r.returncode or "warning" in r.stderr:
        return f"slmc failed or warned:\n{r.stderr}"
    return None


def reference(w, ids, schedule, skip=False):
    """One sequence's real tokens -> (kept positions, hidden [n, H],
    pooled [H], mean [H], near ties). Pruned tokens are dropped (hidden 0,
    the mean over the kept ones), or with `skip` skip the remaining layers
    (hidden: the state they were pruned with; the mean over all)."""
    n = len(ids)
    x = w["enc.word.weight"][ids] + w["enc.position.weight"][:n] + w["enc.token_type.weight"][0]
    x = layer_norm(x, w["enc.norm.weight"], w["enc.norm.bias"])
    alive = np.arange(n)
    final = np.zeros((n, HIDDEN))
    cum = np.zeros(n)
    ties = 0
    d = HIDDEN // HEADS
    for l in range(LAYERS):
        p = f"enc.layers.{l}."
        lin = lambda t, name: t @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        split = lambda t: t.reshape(len(t), HEADS, d).transpose(1, 0, 2)
        q, k, v = (split(lin(x, "attention." + m)) for m in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = s - s.max(-1, keepdims=True)
        prob = np.exp(s)
        prob /= prob.sum(-1, keepdims=True)
        ctx = (prob @ v).transpose(1, 0, 2).reshape(len(x), HIDDEN)
        cum = cum + prob.sum(axis=(0, 1))
        if schedule is not None and l >= schedule[1]:
            keep, _, leading, least = schedule
            m = len(alive)
            kk = min(m, max((round(keep * 1e6) * m + 999999) // 1000000, least, leading))
            eff = np.where(np.arange(m) < leading, np.inf, cum)
            order = sorted(range(m), key=lambda i: (-eff[i], i))
            if kk < m and np.isfinite(eff[order[kk - 1]]) and \
                    abs(eff[order[kk - 1]] - eff[order[kk]]) < 1e-4:
                ties += 1
            chosen = sorted(order[:kk])
            # The pruned tokens skip the remaining layers: their state is
            # this layer's input.
            if skip:
                final[alive] = x
            x, ctx, cum, alive = x[chosen], ctx[chosen], cum[chosen], alive[chosen]
        x = layer_norm(x + lin(ctx, "attention_output"),
                       w[p + "attention_norm.weight"], w[p + "attention_norm.bias"])
        h = gelu(lin(x, "intermediate"))
        x = layer_norm(x + lin(h, "output"), w[p + "output_norm.weight"], w[p + "output_norm.bias"])
    final[alive] = x
    mean = final.mean(0) if skip else x.mean(0)
    return alive, final, mean / max(np.linalg.norm(mean), 1e-12), mean, ties


def close(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False, float("inf")
    err = np.abs(a - b)
    return bool(np.all(err <= ATOL + RTOL * np.abs(b))), float(err.max()) if err.size else 0.0


def check_minilm(slmc, work, model_dir, onnx_path):
    """The real MiniLM: embeddings of pruned compiled models vs the
    reference's, both modes."""
    global LAYERS, HIDDEN, HEADS
    sys.path.insert(0, os.path.join(ROOT, "examples", "minilm"))
    from export_minilm import load
    enc = load(model_dir)
    LAYERS, HIDDEN = len(enc.layers), enc.word.weight.shape[1]
    HEADS = enc.layers[0].attention.heads
    w = weights(Both(enc))
    rng = np.random.default_rng(4)
    lengths = np.array([48, 1, 17, 30, 9, 40])
    seq = int(lengths.max())
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    ids = rng.integers(1000, 30000, (len(lengths), seq)).astype(np.int64) * mask
    failures = ties = 0
    for (keep, start), skip in [(s, k) for k in (False, True) for s in ((0.7, 1), (0.5, 3))]:
        lib = os.path.join(work, f"minilm-{keep}-{start}-{skip}.so")
        error = compile_pruned(slmc, onnx_path, lib, keep, start, skip=skip)
        if error:
            print(error)
            return 1
        with slm.load(lib) as m:
            got = np.asarray(list(m.run({"input_ids": ids, "attention_mask": mask}).values())[0])
        worst, ok = 0.0, True
        for b, n in enumerate(lengths):
            _, _, p, _, t = reference(w, ids[b, :n], (keep, start, 1, 1), skip)
            ties += t
            good, err = close(got[b], p)
            ok &= good or bool(t)
            worst = max(worst, err)
        failures += not ok
        print(f"minilm {'skip' if skip else 'drop'} keep {keep} start {start}: "
              f"{'ok' if ok else 'MISMATCH'}: max err {worst:.1e}")
    print(f"prune-tokens minilm: {failures} failures, {ties} near ties")
    return 1 if failures or ties > 1 else 0


def main():
    slmc, work = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3 and sys.argv[3] == "--minilm":
        os.makedirs(work, exist_ok=True)
        return check_minilm(slmc, work, sys.argv[4], sys.argv[5])
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    cfg = models.bert_config(LAYERS, HIDDEN, HEADS, FFN)
    cfg["vocab_size"] = VOCAB
    enc = models.SentenceEncoder(cfg).eval()
    with torch.no_grad():
        for layer in enc.layers:
            layer.attention.query.weight.mul_(3.0)
    model = Both(enc).eval()
    path = os.path.join(work, "encoder.onnx")
    ids = torch.randint(0, VOCAB, (2, 16))
    with torch.no_grad():
        torch.onnx.export(model, (ids, torch.ones_like(ids)), path, opset_version=17,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["hidden", "pooled", "mean"],
                          dynamic_axes={n: {0: "batch", 1: "seq"}
                                        for n in ("input_ids", "attention_mask", "hidden")})
    w = weights(model)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    batches = []
    for batch, seq in ((1, 24), (3, 24), (8, 40)):
        lengths = rng.integers(1, seq + 1, batch)
        lengths[0] = seq
        if batch > 1:
            lengths[1] = 1
        mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
        batches.append((rng.integers(0, VOCAB, (batch, seq)).astype(np.int64), mask, lengths))

    failures = ties = 0
    # The reference without pruning is the model: ORT agrees.
    for ids_b, mask, lengths in batches:
        hidden, pooled, mean = session.run(None, {"input_ids": ids_b, "attention_mask": mask})
        for b, n in enumerate(lengths):
            _, x, p, mu, _ = reference(w, ids_b[b, :n], None)
            ok1, e1 = close(hidden[b, :n], x)
            ok2, e2 = close(np.stack([pooled[b], mean[b]]), np.stack([p, mu]))
            if not (ok1 and ok2):
                failures += 1
                print(f"reference vs ORT: MISMATCH at length {n}: {e1:.1e} {e2:.1e}")
    print(f"reference vs ORT (unpruned): {'ok' if not failures else 'MISMATCH'}")

    for (keep, start, leading, least), skip in [(s, k) for k in (False, True) for s in SCHEDULES]:
        lib = os.path.join(work, f"pruned-{keep}-{start}-{leading}-{least}-{skip}.so")
        error = compile_pruned(slmc, path, lib, keep, start, leading, least, skip)
        if error:
            print(error)
            return 1
        with slm.load(lib) as m:
            for ids_b, mask, lengths in batches:
                out = m.run({"input_ids": ids_b, "attention_mask": mask})
                hidden, pooled, mean = (np.asarray(v) for v in out.values())
                status, worst, kept_total = "ok", 0.0, 0
                for b, n in enumerate(lengths):
                    alive, x, p, mu, t = reference(w, ids_b[b, :n], (keep, start, leading, least),
                                                   skip)
                    if t:
                        ties += t
                        print(f"  near tie in sequence {b} (length {n}): not compared")
                        continue
                    kept_total += len(alive)
                    if np.count_nonzero(hidden[b, n:]):
                        status = "MISMATCH"
                        print(f"  sequence {b}: pad positions are not 0")
                    ok1, e1 = close(hidden[b, :n], x)
                    ok2, e2 = close(np.stack([pooled[b], mean[b]]), np.stack([p, mu]))
                    worst = max(worst, e1, e2)
                    if not (ok1 and ok2):
                        status = "MISMATCH"
                failures += status != "ok"
                print(f"{'skip' if skip else 'drop'} keep {keep} start {start} leading {leading} "
                      f"min {least} "
                      f"batch {len(lengths)} lengths {lengths.tolist()}: {status}: "
                      f"kept {kept_total} of {int(lengths.sum())} tokens, max err {worst:.1e}")
    # The accuracy guard measures token pruning: the reference outputs are
    # the unpruned model's (4 unpadded calibration samples).
    calib = os.path.join(work, "calibration")
    for i in range(4):
        d = os.path.join(calib, f"{i:04d}")
        os.makedirs(d, exist_ok=True)
        n = 12 + 5 * i
        np.save(os.path.join(d, "input_ids.npy"), rng.integers(0, VOCAB, (1, n)).astype(np.int64))
        np.save(os.path.join(d, "attention_mask.npy"), np.ones((1, n), np.int64))
    for limit in ("1e-6", "100"):
        lib = os.path.join(work, f"guarded-{limit}.so")
        r = subprocess.run([slmc, path, "-o", lib, "--prune-tokens=0.5", "--prune-tokens-start=1",
                            "--calibration", calib, f"--max-error={limit}"],
                           capture_output=True, text=True)
        errors = [float(x) for x in re.findall(r"relative L2 ([0-9.]+)", r.stdout + r.stderr)]
        print(f"guard --max-error={limit}: exit {r.returncode}, library "
              f"{'written' if os.path.exists(lib) else 'not written'}, smallest output error "
              f"{min(errors) if errors else float('nan'):.3g}")
    print(f"prune-tokens: {failures} failures, {ties} near ties")
    return 1 if failures or ties > 1 else 0


if __name__ == "__main__":
    sys.exit(main())
