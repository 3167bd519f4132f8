#!/usr/bin/env python3
"""Pruning speed on the benchmark shapes: slm compressed vs slm fp32.

    .venv/bin/python bench/compression.py [--only CASE...] [--settings S...] [--threads N]

Compiles each benchmark model (bench/models.py: same seeded weights as
bench/bench.py) dense and under each setting, and times them in one
process, alternating settings round by round so that the VM's drift hits
all alike. Settings: 30% of heads and FFN neurons pruned (the weights'
magnitude picks them; every method removes the same amount), and 2 blocks
dropped (measured on random-token calibration samples). Prints median
latency per setting and the speedup over dense; writes DIR/compression.json.
Settings also include int8 weight-only, W8A8 and 30% pruning + W8A8; ONNX
Runtime on the fp32 model and on its own quantize_dynamic model run in the
same rounds (with .venv/bin/python, which has onnxruntime).
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

try:
    # Before torch (bench/models.py): Debian's torch imported first makes
    # PyPI's onnx, which onnxruntime.quantization needs, fail to import.
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
except ImportError:
    ort = None

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
PRUNE30 = ["--prune-heads=0.3", "--prune-ffn=0.3", "--prune-method=magnitude"]
SETTINGS = {
    "dense": [],
    "prune 30% heads+ffn": PRUNE30,
    "drop 2 layers": ["--prune-layers=2", "CALIB"],
    "int8": ["--quantize=int8"],
    "w8a8": ["--quantize=w8a8"],
    "prune 30% + w8a8": PRUNE30 + ["--quantize=w8a8"],
    "int4 g128": ["--quantize=int4", "--quant-group-size=128"],
}
# Peers, timed in the same rounds: ONNX Runtime on the fp32 model and on
# the model its own quantize_dynamic made (int8 weights, uint8 activations
# quantized per tensor as it runs: MatMulInteger / DynamicQuantizeLinear).
PEERS = ["ort fp32", "ort dynamic int8"]


def calibration(folder, names):
    rng = np.random.default_rng(3)
    for i in range(8):
        d = os.path.join(folder, f"{i:02d}")
        os.makedirs(d, exist_ok=True)
        ids = rng.integers(1000, 2000, (1, 32)).astype(np.int64)
        np.save(os.path.join(d, "input_ids.npy"), ids)
        if "attention_mask" in names:
            np.save(os.path.join(d, "attention_mask.npy"), np.ones_like(ids))


def ort_peers(onnx, feeds, threads):
    """ONNX Runtime sessions on `onnx` and on its quantize_dynamic model, as
    callables; empty when onnxruntime is not installed."""
    if ort is None:
        print("ONNX Runtime peers skipped: onnxruntime is not installed (use .venv/bin/python)")
        return {}
    quantized = onnx[:-5] + ".ort-dynamic-int8.onnx"
    if not os.path.exists(quantized):
        quantize_dynamic(onnx, quantized, weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    runners = {}
    for name, path in zip(PEERS, [onnx, quantized]):
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        wanted = {i.name for i in session.get_inputs()}
        runners[name] = (lambda s=session, f={k: v for k, v in feeds.items() if k in wanted}:
                         s.run(None, f))
    return runners


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--only", nargs="*")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--settings", nargs="*", help="only these settings (dense always runs)")
    p.add_argument("--no-peers", action="store_true", help="skip ONNX Runtime")
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
        settings = {k: v for k, v in SETTINGS.items()
                    if k == "dense" or not args.settings or k in args.settings}
        for setting, flags in settings.items():
            lib = os.path.join(args.out, f"{name}-{setting.replace(' ', '-').replace('%', '')}.so")
            flags = [f"--calibration={calib}" if f == "CALIB" else f for f in flags]
            r = subprocess.run([args.slmc, onnx, "-o", lib] + flags, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{case} {setting}: not applicable: {r.stderr.strip().splitlines()[0][-200:]}")
                continue
            models[setting] = slm.load(lib, num_threads=args.threads)
        feeds = inputs_for(names, batch, seq)
        runners = {s: (lambda m=m: m.run(feeds)) for s, m in models.items()}
        if not args.no_peers:
            runners.update(ort_peers(onnx, feeds, args.threads))
        times = {s: [] for s in runners}
        for run in runners.values():
            run()
        for _ in range(args.rounds):
            for s, run in runners.items():
                t = time.perf_counter()
                run()
                times[s].append(time.perf_counter() - t)
        medians = {s: statistics.median(v) for s, v in times.items()}

        results[case] = {s: {"median_s": medians[s], "speedup": medians["dense"] / medians[s]}
                         for s in runners}
        print(f"{case:20s} " + " | ".join(
            f"{s} {medians[s] * 1e3:8.2f} ms ({medians['dense'] / medians[s]:.2f}x)" for s in runners),
            flush=True)
        for m in models.values():
            m.close()
    with open(os.path.join(args.out, "compression.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
