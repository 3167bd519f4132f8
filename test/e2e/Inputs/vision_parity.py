#!/usr/bin/env python3
"""Compiles the models written by vision_models.py with slmc and checks each
against ONNX Runtime at every size set of the manifest, from one compiled
library per model.

    vision_parity.py SLMC SLM_RUN WORK_DIR MODEL_DIR [--rtol R] [--atol A]

Float inputs are seeded N(0, 1); integer inputs come from the manifest (None
entries stand for the batch size N). Prints one line per model and size set
("<model> <sizes>: ok" or MISMATCH with slm-run's report), then the number
of failures; exits 1 on any failure.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("slm_run")
    p.add_argument("work")
    p.add_argument("models")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--only", default="")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    with open(os.path.join(args.models, "manifest.json")) as f:
        manifest = json.load(f)
    rng = np.random.default_rng(0)
    failures = 0
    for name, info in manifest.items():
        if args.only and args.only not in name:
            continue
        model = os.path.join(args.models, name + ".onnx")
        lib = os.path.join(args.work, name + ".so")
        r = subprocess.run([args.slmc, model, "-o", lib, "--quiet"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: COMPILE FAILED\n{r.stderr}")
            failures += 1
            continue
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(model, options,
                                       providers=["CPUExecutionProvider"])
        for k, sizes in enumerate(info["sizes"]):
            feeds = {}
            for i in session.get_inputs():
                if i.name in info["ints"]:
                    v = [sizes["N"] if e is None else e for e in info["ints"][i.name]]
                    feeds[i.name] = np.array(v, np.int64)
                    continue
                shape = [sizes[d] if isinstance(d, str) else d for d in i.shape]
                feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
            expected = session.run(None, feeds)
            cmd = [args.slm_run, lib, "--rtol", str(args.rtol), "--atol",
                   str(args.atol)]
            for key, v in feeds.items():
                path = os.path.join(args.work, f"{name}.{k}.in.{key}.npy")
                np.save(path, v)
                cmd += ["--input", f"{key}={path}"]
            for o, v in zip(session.get_outputs(), expected):
                path = os.path.join(args.work, f"{name}.{k}.out.{o.name}.npy")
                np.save(path, v)
                cmd += ["--expect", path]
            r = subprocess.run(cmd, capture_output=True, text=True)
            status = "ok" if r.returncode == 0 else "MISMATCH"
            failures += r.returncode != 0
            label = ",".join(f"{d}={v}" for d, v in sizes.items())
            detail = "" if r.returncode == 0 else "\n" + r.stdout + r.stderr
            print(f"{name} {label}: {status}{detail}")
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
