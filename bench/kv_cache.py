#!/usr/bin/env python3
"""What a quantized KV cache costs in quality: the trained King James byte
LM (examples/compression/kjv-lm.onnx, exported without a cache) compiled
with `slmc --kv-cache --kv-cache-dtype=f32|f16|int8`.

    .venv/bin/python bench/kv_cache.py [--out DIR] [--threads 2] [--windows N]

On the 6 held-out books (examples/compression/kjv-eval.npz), in windows of
128 bytes:
  * prefill: each window in one run from an empty cache (every attention
    reads the keys and values in the cache's stored form, the window's own
    included): bits per byte of the next-byte predictions;
  * decode: the first 64 bytes of each window as the prompt, then the next
    64 one byte per run, teacher-forced (each step reads the cache the
    earlier steps wrote): bits per byte over those 64 positions;
  * greedy: 32 bytes generated after each of the first 32 windows' first
    64 bytes (Model.generate), the share the same as the f32 cache's;
  * the cache's bytes per token of context (all layers).
The f32 cache must match the model compiled without a cache (bits per byte
within 1e-6, prefill and the decoded positions), or the script fails. Writes DIR/kv_cache.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import slm  # noqa: E402

ONNX = os.path.join(ROOT, "examples", "compression", "kjv-lm.onnx")
WINDOW, PROMPT = 128, 64


def log_softmax(logits):
    logits = logits.astype(np.float64)
    logits -= logits.max(-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def empty_cache(model, batch):
    return {i.name: np.zeros([batch if d == 0 else (0 if s is None else s)
                              for d, s in enumerate(i.shape)], i.dtype)
            for i in model.inputs if i.name.startswith("past_key_values.")}


def run(model, ids, cache):
    out = model.run({"input_ids": ids, **cache})
    return out["logits"], {k: out[k.replace("past_key_values", "present")] for k in cache}


def bits(logp, targets):
    return -np.take_along_axis(logp, targets[..., None], -1).sum() / targets.size / np.log(2)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--windows", type=int, default=0, help="0: all (633)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    text = np.load(os.path.join(ROOT, "examples", "compression", "kjv-eval.npz"))["text"]
    text = text.astype(np.int64)
    n = (len(text) - 1) // WINDOW
    if args.windows:
        n = min(n, args.windows)
    x = text[:n * WINDOW].reshape(n, WINDOW)
    y = text[1:n * WINDOW + 1].reshape(n, WINDOW)

    libs = {}
    for setting, flags in (("no cache", []), ("f32", ["--kv-cache"]),
                           ("f16", ["--kv-cache", "--kv-cache-dtype=f16"]),
                           ("int8", ["--kv-cache", "--kv-cache-dtype=int8"])):
        libs[setting] = os.path.join(args.out, f"kjv-lm.{setting.replace(' ', '-')}.so")
        subprocess.run([args.slmc, ONNX, "-o", libs[setting], *flags], check=True)

    plain = slm.load(libs["no cache"], num_threads=args.threads)
    reference, reference_late = 0.0, 0.0
    for s in range(0, n, 32):
        logp = log_softmax(plain.run({"input_ids": x[s:s + 32]})["logits"])
        reference += bits(logp, y[s:s + 32]) * len(x[s:s + 32])
        reference_late += bits(logp[:, PROMPT:], y[s:s + 32, PROMPT:]) * len(x[s:s + 32])
    reference /= n
    reference_late /= n

    rows, greedy = {}, {}
    for setting in ("f32", "f16", "int8"):
        model = slm.load(libs[setting], num_threads=args.threads)
        per_token = sum(int(np.prod([d for d in i.shape[1:] if d])) * i.dtype.itemsize
                        for i in model.inputs if i.name.startswith("past_key_values."))
        start = time.perf_counter()
        prefill = 0.0
        for s in range(0, n, 32):
            logits, _ = run(model, x[s:s + 32], empty_cache(model, len(x[s:s + 32])))
            prefill += bits(log_softmax(logits), y[s:s + 32]) * len(x[s:s + 32])
        prefill /= n
        # Decode: 64 bytes of prompt, then one byte per run, all windows of
        # a batch of 32 at once.
        decode_nll, count = 0.0, 0
        for s in range(0, n, 32):
            xb, yb = x[s:s + 32], y[s:s + 32]
            _, cache = run(model, xb[:, :PROMPT], empty_cache(model, len(xb)))
            for t in range(PROMPT, WINDOW):
                logits, cache = run(model, xb[:, t:t + 1], cache)
                decode_nll += bits(log_softmax(logits[:, -1]), yb[:, t]) * len(xb)
                count += len(xb)
        decode = decode_nll / count
        greedy[setting] = model.generate(x[:32, :PROMPT], max_new_tokens=32)[:, PROMPT:]
        rows[setting] = dict(prefill_bits_per_byte=prefill, decode_bits_per_byte=decode,
                             cache_bytes_per_token=per_token,
                             seconds=time.perf_counter() - start)
    if abs(rows["f32"]["prefill_bits_per_byte"] - reference) > 1e-6 or abs(
            rows["f32"]["decode_bits_per_byte"] - reference_late) > 1e-6:
        sys.exit(f"the f32 cache gives {rows['f32']['prefill_bits_per_byte']:.6f} / "
                 f"{rows['f32']['decode_bits_per_byte']:.6f} bits/byte (prefill / decode), "
                 f"the model without a cache {reference:.6f} / {reference_late:.6f}")
    print(f"kjv-lm (trained byte LM, 4 layers, hidden 256), {n} held-out windows of "
          f"{WINDOW} bytes; without a cache {reference:.4f} bits/byte "
          f"({reference_late:.4f} on positions {PROMPT}-{WINDOW - 1})")
    print(f"{'cache':6}{'prefill bits/byte':>20}{'decode bits/byte':>20}"
          f"{'greedy same':>14}{'bytes/token':>13}")
    for setting, r in rows.items():
        same = float((greedy[setting] == greedy["f32"]).mean())
        r["greedy_same_as_f32"] = same
        base = rows["f32"]
        print(f"{setting:6}{r['prefill_bits_per_byte']:11.5f} ({r['prefill_bits_per_byte'] - base['prefill_bits_per_byte']:+.5f})"
              f"{r['decode_bits_per_byte']:11.5f} ({r['decode_bits_per_byte'] - base['decode_bits_per_byte']:+.5f})"
              f"{same:14.1%}{r['cache_bytes_per_token']:13d}")
    with open(os.path.join(args.out, "kv_cache.json"), "w") as f:
        json.dump(dict(model="kjv-lm", windows=n, no_cache_bits_per_byte=reference,
                       no_cache_late_bits_per_byte=reference_late, rows=rows), f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
