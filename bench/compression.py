#!/usr/bin/env python3
"""Pruning speed on the benchmark shapes: slm compressed vs slm fp32.

    .venv/bin/python bench/compression.py [--only CASE...] [--threads N]

Compiles each benchmark model (bench/models.py: same seeded weights as
bench/bench.py) dense and under each setting, and times them in one
process, alternating settings round by round so that the VM's drift hits
all alike. Settings: 30% of heads and FFN neurons pruned (the weights'
magnitude picks them; every method removes the same amount), and 2 blocks
dropped (measured on random-token calibration samples). Prints median
latency per setting and the speedup over dense; writes DIR/compression.json.
Quality is measured by bench/eval.py on trained models, not here.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)
import slm  # noqa: E402
from bench import inputs_for  # noqa: E402

CASES = {
    "bert-base b1 s128": ("bert-base", 1, 128),
    "bert-base b8 s128": ("bert-base", 8, 128),
    "gpt2 prefill 128": ("gpt2", 1, 128),
    "minilm b32 s128": ("minilm", 32, 128),
}
SETTINGS = {
    "dense": [],
    "prune 30% heads+ffn": ["--prune-heads=0.3", "--prune-ffn=0.3", "--prune-method=magnitude"],
    "drop 2 layers": ["--prune-layers=2", "CALIB"],
}


def calibration(folder, names):
    rng = np.random.default_rng(3)
    for i in range(8):
        d = os.path.join(folder, f"{i:02d}")
        os.makedirs(d, exist_ok=True)
        ids = rng.integers(1000, 2000, (1, 32)).astype(np.int64)
        np.save(os.path.join(d, "input_ids.npy"), ids)
        if "attention_mask" in names:
            np.save(os.path.join(d, "attention_mask.npy"), np.ones_like(ids))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--only", nargs="*")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--minilm", default=os.path.join(ROOT, "build", "models", "minilm", "model"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    from models import export, input_names
    cases = {k: v for k, v in CASES.items() if not args.only or any(o in k for o in args.only)}
    results = {}
    for case, (name, batch, seq) in cases.items():
        if name == "minilm" and not os.path.exists(os.path.join(args.minilm, "config.json")):
            print(f"{case}: skipped (no all-MiniLM-L6-v2; run scripts/fetch-minilm.sh)")
            continue
        onnx = os.path.join(args.out, name + ".onnx")
        if not os.path.exists(onnx):
            export(name, onnx, args.minilm)
        names = input_names(name)
        calib = os.path.join(args.out, "calibration-" + name)
        if not os.path.isdir(calib):
            calibration(calib, names)
        models = {}
        for setting, flags in SETTINGS.items():
            lib = os.path.join(args.out, f"{name}-{setting.replace(' ', '-').replace('%', '')}.so")
            flags = [f"--calibration={calib}" if f == "CALIB" else f for f in flags]
            r = subprocess.run([args.slmc, onnx, "-o", lib] + flags, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{case} {setting}: not applicable: {r.stderr.strip().splitlines()[0][-200:]}")
                continue
            models[setting] = slm.load(lib, num_threads=args.threads)
        feeds = inputs_for(names, batch, seq)
        times = {s: [] for s in models}
        for m in models.values():
            m.run(feeds)
        for _ in range(args.rounds):
            for s, m in models.items():
                t = time.perf_counter()
                m.run(feeds)
                times[s].append(time.perf_counter() - t)
        medians = {s: statistics.median(v) for s, v in times.items()}

        results[case] = {s: {"median_s": medians[s], "speedup": medians["dense"] / medians[s]}
                         for s in models}
        print(f"{case:20s} " + " | ".join(
            f"{s} {medians[s] * 1e3:8.2f} ms ({medians['dense'] / medians[s]:.2f}x)" for s in models),
            flush=True)
        for m in models.values():
            m.close()
    with open(os.path.join(args.out, "compression.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
