#!/usr/bin/env python3
"""Decode-step speed against this machine's memory bandwidth.

    python3 bench/decode.py [--threads N] [--rounds R]

Measures read bandwidth with bench/stream.c (a 2 GiB buffer: DRAM; 64 MiB:
the 480 MiB L3 of this VM holds it), then times one decode step (batch 1,
one token, no KV cache) of the GPT-2-sized bench model (bench/models.py,
124M parameters) compiled fp32, int8, int4 and NF4 (groups of 128), and
one 4096 -> 8192 linear layer at one row (the kernel alone). Each setting
is timed twice in one process: alternating with the others round by round
(their weights evict each other's: closer to DRAM-bound), and back to back
(a decode loop: weights that fit stay in the L3). Bytes per step are the
layers' weight bytes as stored (codes + scales + offsets; slmc's compression
report): what a step must read. Prints ms, GB/s and the share of each
bandwidth; writes DIR/decode.json.
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

SETTINGS = {"fp32": [], "int8": ["--quantize=int8"],
            "int4 g128": ["--quantize=int4", "--quant-group-size=128"],
            "nf4 g128": ["--quantize=nf4", "--quant-group-size=128"]}


def stream(out, threads, megabytes):
    exe = os.path.join(out, "stream")
    if not os.path.exists(exe):
        subprocess.run(["cc", "-O3", "-march=native", "-pthread", os.path.join(HERE, "stream.c"),
                        "-o", exe], check=True)
    text = subprocess.run([exe, str(threads), str(megabytes), "2"], capture_output=True,
                          text=True, check=True).stdout
    return float(text.split()[0])


def layer_model(path, k=4096, n=8192):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = np.random.default_rng(0).standard_normal((k, n)).astype(np.float32) * 0.02
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "layer",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dram = stream(args.out, args.threads, 2048)
    cache = stream(args.out, args.threads, 64)
    print(f"read bandwidth, {args.threads} threads: {dram:.1f} GB/s (2 GiB buffer), "
          f"{cache:.1f} GB/s (64 MiB buffer, in L3)")
    gpt2 = os.path.join(args.out, "gpt2.onnx")
    if not os.path.exists(gpt2):
        from models import export
        export("gpt2", gpt2, None)
    layer = os.path.join(args.out, "layer-4096x8192.onnx")
    if not os.path.exists(layer):
        layer_model(layer)
    results = {"bandwidth_gbs": {"dram": dram, "l3": cache}, "models": {}}
    for name, onnx_path, feeds in [
            ("gpt2 decode step", gpt2, {"input_ids": np.array([[464]], dtype=np.int64)}),
            ("linear 4096x8192, 1 row", layer,
             {"x": np.random.default_rng(1).standard_normal((1, 4096)).astype(np.float32)})]:
        models, sizes = {}, {}
        for setting, flags in SETTINGS.items():
            lib = os.path.join(args.out, f"decode-{os.path.basename(onnx_path)[:-5]}-"
                               f"{setting.replace(' ', '-')}.so")
            report = lib[:-3] + ".json"
            # fp32 has no compression report: its sizes are the "before"
            # side of the others' ([after, before]).
            subprocess.run([args.slmc, onnx_path, "-o", lib] +
                           (["--compression-report=" + report] if flags else []) + flags,
                           check=True, capture_output=True)
            if flags:
                with open(report) as f:
                    r = json.load(f)
                # Layers' weights when the report finds blocks, else the model's.
                layers = r.get("layers", [])
                for side, key in ((0, setting), (1, "fp32")):
                    sizes[key] = (sum(l["weight_bytes"][side] for l in layers) if layers
                                  else r["weight_bytes"][side])
            models[setting] = slm.load(lib, num_threads=args.threads)
        for m in models.values():
            m.run(feeds)
        # Alternating: each model's weights partly evicted by the others'
        # (closer to DRAM-bound). Resident: one model back to back, as a
        # decode loop runs (weights that fit stay in the L3).
        alternating = {s: [] for s in models}
        for _ in range(args.rounds):
            for s, m in models.items():
                t = time.perf_counter()
                m.run(feeds)
                alternating[s].append(time.perf_counter() - t)
        resident = {s: [] for s in models}
        for s, m in models.items():
            for _ in range(args.rounds):
                t = time.perf_counter()
                m.run(feeds)
                resident[s].append(time.perf_counter() - t)
        results["models"][name] = {}
        print(f"\n{name}")
        for label, times in (("alternating", alternating), ("resident", resident)):
            print(f"  {label:11s} {'weights MB':>10s} {'ms':>8s} {'GB/s':>7s} {'of DRAM':>8s} "
                  f"{'of L3':>6s} {'vs fp32':>8s}")
            for s in models:
                med = statistics.median(times[s])
                gbs = sizes[s] / med / 1e9
                results["models"][name].setdefault(s, {"weight_bytes": sizes[s]})[label] = {
                    "median_s": med, "gbs": gbs}
                print(f"  {s:11s} {sizes[s] / 1e6:10.1f} {med * 1e3:8.3f} {gbs:7.1f} "
                      f"{gbs / dram:8.0%} {gbs / cache:6.0%} "
                      f"{statistics.median(times['fp32']) / med:7.2f}x")
        for m in models.values():
            m.close()
    with open(os.path.join(args.out, "decode.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
