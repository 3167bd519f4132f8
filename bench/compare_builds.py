#!/usr/bin/env python3
"""Two slm builds side by side: compile time, compile memory and dense speed.

    bench/compare_builds.py SLMC_A SLMC_B [--cases "bert-base b1 s128" ...]
                            [--rounds 3] [--threads 2] [--out DIR]

Compiles each benchmark model (bench/models.py) with both compilers,
alternating A and B (--rounds times each; median wall time and peak RSS),
checks that the two libraries give the same outputs (max |A - B|), then
times them in alternating rounds, each run in its own process through this
checkout's runtime (bench.py's worker). Prints one line per case with the
B/A ratios. For "is this refactor within noise of before?".
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

CASES = ["bert-base b1 s128", "bert-base b8 s128", "minilm b1 s32", "minilm b8 s128"]


def compile_once(slmc, onnx_path, lib):
    start = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", slmc, onnx_path, "-o", lib],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{slmc} {onnx_path} failed:\n{r.stderr[-2000:]}")
    return time.perf_counter() - start, int(r.stderr.strip().splitlines()[-1]) / 1024


def outputs(lib, names, batch, seq):
    import numpy as np
    import slm
    from bench import inputs_for
    feeds = inputs_for(names, batch, seq)
    model = slm.load(lib)
    return {k: np.asarray(v) for k, v in model.run(feeds).items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("slmc_a")
    p.add_argument("slmc_b")
    p.add_argument("--cases", nargs="*", default=CASES)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget", type=float, default=10.0, help="seconds per timing run")
    p.add_argument("--minilm", default=os.path.join(ROOT, "build", "models", "minilm", "model"))
    p.add_argument("--out", default=os.path.join(ROOT, "build", "compare-builds"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    python = os.path.join(ROOT, ".venv", "bin", "python")
    python = python if os.path.exists(python) else sys.executable
    from models import export, input_names
    import bench
    import numpy as np

    libs = {}
    for case in args.cases:
        model_name, b, s = case.split()
        if model_name in libs:
            continue
        onnx_path = os.path.join(args.out, model_name + ".onnx")
        if not os.path.exists(onnx_path):
            export(model_name, onnx_path, args.minilm)
        times = {"A": [], "B": []}
        peaks = {"A": [], "B": []}
        for _ in range(args.rounds):
            for tag, slmc in (("A", args.slmc_a), ("B", args.slmc_b)):
                lib = os.path.join(args.out, f"{model_name}-{tag}.so")
                t, peak = compile_once(slmc, onnx_path, lib)
                times[tag].append(t)
                peaks[tag].append(peak)
        libs[model_name] = {tag: os.path.join(args.out, f"{model_name}-{tag}.so") for tag in "AB"}
        ta, tb = statistics.median(times["A"]), statistics.median(times["B"])
        print(f"compile {model_name:10s} A {ta:6.2f} s {max(peaks['A']):6.0f} MB | "
              f"B {tb:6.2f} s {max(peaks['B']):6.0f} MB | B/A {tb / ta:.3f}", flush=True)

    class Args:
        threads = args.threads
        reps = 1000
        budget = args.budget
        minilm = args.minilm
        slm_python = python

    for case in args.cases:
        model_name, b, s = case.split()
        batch, seq = int(b[1:]), int(s[1:])
        onnx_path = os.path.join(args.out, model_name + ".onnx")
        ya = outputs(libs[model_name]["A"], input_names(model_name), batch, seq)
        yb = outputs(libs[model_name]["B"], input_names(model_name), batch, seq)
        diff = max(float(np.max(np.abs(ya[k] - yb[k]))) for k in ya)
        medians = {"A": [], "B": []}
        for _ in range(args.rounds):
            for tag in "AB":
                m = bench.run_worker("slm", (model_name, batch, seq), args.out, onnx_path,
                                     libs[model_name][tag], Args,
                                     os.path.join(args.out, "output.npy"))
                if "times_s" not in m:
                    sys.exit(f"{case} {tag}: {m}")
                medians[tag].append(statistics.median(m["times_s"]))
        ma, mb = statistics.median(medians["A"]), statistics.median(medians["B"])
        print(f"run     {case:18s} A {ma * 1e3:8.2f} ms | B {mb * 1e3:8.2f} ms | "
              f"B/A {mb / ma:.3f} | rounds A {[round(x * 1e3, 2) for x in medians['A']]} "
              f"B {[round(x * 1e3, 2) for x in medians['B']]} | max |A-B| {diff:.3g}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
