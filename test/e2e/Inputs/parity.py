#!/usr/bin/env python3
"""Compiles ONNX models with slmc and checks their outputs against ONNX
Runtime's, at several sequence lengths from one compiled library.

    parity.py SLMC SLM_RUN WORK_DIR MODEL.onnx... [--seq 5,8,13]
              [--rtol 1e-4] [--atol 1e-5]

Inputs are seeded random: token ids in [0, 100), an attention mask with the
second half of the second row padded, floats from N(0, 1). Symbolic
dimensions named like a batch get 2, every other symbolic one the sequence
length. Prints one line per model and length; exits 1 on any mismatch.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort


def make_inputs(session, seq, rng):
    feeds = {}
    for i in session.get_inputs():
        shape = [2 if d == "batch" else seq if isinstance(d, str) or d is None else d
                 for d in i.shape]
        if "int64" in i.type:
            if "mask" in i.name:
                a = np.ones(shape, np.int64)
                a[-1, seq // 2:] = 0
            else:
                a = rng.integers(0, 100, shape).astype(np.int64)
        elif "bool" in i.type:
            a = rng.random(shape) > 0.3
        else:
            a = rng.standard_normal(shape).astype(np.float32)
        feeds[i.name] = a
    return feeds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("slm_run")
    p.add_argument("work")
    p.add_argument("models", nargs="+")
    p.add_argument("--seq", default="5,8,13")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--atol", type=float, default=1e-5)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    failures = 0
    for model in args.models:
        name = os.path.splitext(os.path.basename(model))[0]
        lib = os.path.join(args.work, name + ".so")
        r = subprocess.run([args.slmc, model, "-o", lib], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: COMPILE FAILED\n{r.stderr}")
            failures += 1
            continue
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        for seq in [int(s) for s in args.seq.split(",")]:
            feeds = make_inputs(session, seq, rng)
            expected = session.run(None, feeds)
            cmd = [args.slm_run, lib, "--rtol", str(args.rtol), "--atol", str(args.atol)]
            for k, v in feeds.items():
                path = os.path.join(args.work, f"{name}.s{seq}.in.{k}.npy")
                np.save(path, v)
                cmd += ["--input", f"{k}={path}"]
            for o, v in zip(session.get_outputs(), expected):
                path = os.path.join(args.work, f"{name}.s{seq}.out.{o.name}.npy")
                np.save(path, v)
                cmd += ["--expect", path]
            r = subprocess.run(cmd, capture_output=True, text=True)
            status = "ok" if r.returncode == 0 else "MISMATCH"
            failures += r.returncode != 0
            print(f"{name} seq {seq}: {status}: " + " | ".join(r.stdout.split("\n")[:1]) + r.stderr)
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
