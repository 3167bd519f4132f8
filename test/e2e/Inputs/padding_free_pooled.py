#!/usr/bin/env python3
"""A mean-pooled sentence encoder compiled with and without --padding-free:
the pooled embeddings must agree, and match ONNX Runtime, on batches of
random length mixes.

    padding_free_pooled.py SLMC WORK_DIR [--onnx MODEL] [--vocab N]

Without --onnx, exports bench/models.py's tiny BERT (2 layers, hidden 64;
SentenceEncoder: masked mean pooling and L2 normalization, MiniLM's
head). Batches (seed 0): batch sizes 1, 3 and 8, padded to 24 positions,
lengths drawn in [1, 24] with one full and one of length 1 where there is
room, right-padded. Every element: |pf - padded| <= 1e-5 + 1e-4 |padded|
and the same against ORT. Prints one line per batch and a summary.
"""
import argparse
import os
import subprocess
import sys

import onnx  # noqa: F401  (before anything importing Debian's onnx)
import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import slm  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def close(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= ATOL + RTOL * np.abs(b))), \
        float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("slmc")
    p.add_argument("work")
    p.add_argument("--onnx", default=None)
    p.add_argument("--vocab", type=int, default=30522)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    model = args.onnx
    if model is None:
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        import models
        model = os.path.join(args.work, "tiny-bert.onnx")
        models.export("tiny-bert", model)
    libs = {}
    for tag, flags in (("padded", []), ("padding-free", ["--padding-free"])):
        libs[tag] = os.path.join(args.work, f"{tag}.so")
        r = subprocess.run([args.slmc, model, "-o", libs[tag]] + flags,
                           capture_output=True, text=True)
        if r.returncode or "warning" in r.stderr:
            print(f"slmc {' '.join(flags)} failed or warned:\n{r.stderr}")
            return 1
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    padded, packed = slm.load(libs["padded"]), slm.load(libs["padding-free"])
    rng = np.random.default_rng(0)
    failures = 0
    for batch in (1, 3, 8):
        seq = 24
        lengths = rng.integers(1, seq + 1, batch)
        lengths[0] = seq
        if batch > 1:
            lengths[1] = 1
        mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
        ids = rng.integers(1000, min(args.vocab, 2000), (batch, seq)).astype(np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        ref = session.run(None, feeds)
        a = list(padded.run(feeds).values())
        b = list(packed.run(feeds).values())
        real = mask.astype(bool)
        for i, r in enumerate(ref):
            x, y = np.asarray(b[i]), np.asarray(a[i])
            if x.ndim >= 2 and x.shape[:2] == mask.shape:
                # Token outputs: real positions (pads are 0 in x).
                if np.count_nonzero(x[~real]):
                    print(f"output {i}: pad positions are not 0")
                    failures += 1
                x, y, r = x[real], y[real], np.asarray(r)[real]
            ok1, e1 = close(x, y)
            ok2, e2 = close(x, r)
            status = "ok" if ok1 and ok2 else "MISMATCH"
            failures += status != "ok"
            print(f"batch {batch} lengths {lengths.tolist()}: output {i} "
                  f"{list(np.asarray(b[i]).shape)}: {status}: max |pf - padded| "
                  f"{e1:.1e}, |pf - ort| {e2:.1e}")
    print(f"pooled padding-free: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
