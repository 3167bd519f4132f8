#!/usr/bin/env python3
"""Dense CPU speed: slm against ONNX Runtime and PyTorch, in one run.

    bench/bench.py [--threads 2] [--out DIR] [--smoke] [--only CASE...]

Every engine runs the same ONNX model (exported from the same PyTorch
module) on the same inputs, warm, with the same thread count, each in its
own process (so peak memory is its own). Prints median latency, GFLOP/s and
fraction of this machine's measured fp32 peak, slm/peer ratios, peak memory
and slm's compile time; writes DIR/bench.json and DIR/bench.png.
--smoke runs a tiny model once: it checks the harness, not speed.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

CASES = {  # name: (model, batch, seq)
    "linear 128x768x3072": ("linear", 1, 128),
    "bert-base b1 s128": ("bert-base", 1, 128),
    "bert-base b8 s128": ("bert-base", 8, 128),
    "gpt2 prefill 128": ("gpt2", 1, 128),
    "minilm b1 s32": ("minilm", 1, 32),
    "minilm b32 s128": ("minilm", 32, 128),
}
SMOKE = {"tiny-bert b2 s16": ("tiny-bert", 2, 16)}


def inputs_for(names, batch, seq):
    import numpy as np
    rng = np.random.default_rng(0)
    if names == ["hidden"]:
        return {"hidden": rng.standard_normal((batch, seq, 768)).astype(np.float32)}
    feeds = {"input_ids": rng.integers(1000, 2000, (batch, seq)).astype(np.int64)}
    if "attention_mask" in names:
        feeds["attention_mask"] = np.ones((batch, seq), np.int64)
    return feeds


def timed(fn, reps, budget):
    fn()  # warm
    times = []
    start = time.perf_counter()
    while len(times) < reps and (len(times) < 2 or time.perf_counter() - start < budget):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def peak_rss_mb():
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it
    does not inherit the parent's peak across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_output(engine, lib, onnx_path, threads):
    """A function of the feeds returning the first output of `engine`: an
    slm library ("slm ...": `lib`) or ONNX Runtime on `onnx_path`
    (ORT_ENABLE_ALL, `threads` intra-op threads, inter-op 1)."""
    if engine.startswith("slm"):
        import slm
        m = slm.load(lib, num_threads=threads)
        return lambda feeds: list(m.run(feeds).values())[0]
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    return lambda feeds: s.run(None, feeds)[0]


def worker(args):
    """One engine on one case; prints JSON."""
    model_name, batch, seq = args.case
    onnx_path = args.onnx
    sys.path.insert(0, HERE)
    from models import input_names
    names = input_names(model_name)
    feeds = inputs_for(names, int(batch), int(seq))
    if args.engine == "slm":
        import slm
        m = slm.load(args.lib, num_threads=args.threads)
        fn = lambda: m.run(feeds)
    elif args.engine == "onnxruntime":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        fn = lambda: s.run(None, feeds)
    else:
        import torch
        sys.path.insert(0, HERE)
        from models import build
        torch.set_num_threads(args.threads)
        module, _, _ = build(model_name, args.minilm)
        tensors = [torch.from_numpy(feeds[n]) for n in names]
        def fn():
            with torch.no_grad():
                module(*tensors)
    median, reps = timed(fn, args.reps, args.budget)
    print(json.dumps({"median_s": median, "reps": reps, "peak_rss_mb": peak_rss_mb()}))


def run_worker(engine, case, onnx_path, lib, args, python):
    cmd = [python, __file__, "--worker", engine, "--case", *map(str, case), "--onnx", onnx_path,
           "--threads", str(args.threads), "--reps", str(args.reps), "--budget", str(args.budget)]
    if lib:
        cmd += ["--lib", lib]
    if args.minilm:
        cmd += ["--minilm", args.minilm]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout).strip().splitlines()[-1:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--only", nargs="*")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--budget", type=float, default=60.0, help="seconds per engine and case")
    p.add_argument("--minilm", default=os.path.join(ROOT, "build", "models", "minilm", "model"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    p.add_argument("--worker")
    p.add_argument("--case", nargs=3)
    p.add_argument("--onnx")
    p.add_argument("--lib")
    args = p.parse_args()
    if args.worker:
        args.engine = args.worker
        return worker(args)

    os.makedirs(args.out, exist_ok=True)
    python = os.path.join(ROOT, ".venv", "bin", "python")
    python = python if os.path.exists(python) else sys.executable
    os.environ.setdefault("SLMC", args.slmc)
    cases = SMOKE if args.smoke else CASES
    if args.smoke:
        args.reps, args.budget = 1, 1.0
    if args.only:
        cases = {k: v for k, v in cases.items() if any(o in k for o in args.only)}

    # This machine's fp32 FMA peak with the same thread count.
    peak_bin = os.path.join(args.out, "peak_fma")
    subprocess.run(["cc", "-O3", "-march=native", "-pthread", os.path.join(HERE, "peak_fma.c"),
                    "-o", peak_bin], check=True)
    peak = json.loads(subprocess.run([peak_bin, str(args.threads), "0.3" if args.smoke else "2"],
                                     capture_output=True, text=True, check=True).stdout)["gflops"]
    print(f"machine fp32 FMA peak: {peak:.1f} GFLOP/s on {args.threads} threads")

    sys.path.insert(0, HERE)
    from models import export, build, flops
    results = {"threads": args.threads, "peak_gflops": peak, "cases": {}}
    compiled = {}
    for case, (model_name, batch, seq) in cases.items():
        if model_name == "minilm" and not os.path.exists(os.path.join(args.minilm, "config.json")):
            print(f"{case}: skipped (no all-MiniLM-L6-v2; run scripts/fetch-minilm.sh)")
            continue
        onnx_path = os.path.join(args.out, model_name + ".onnx")
        if not os.path.exists(onnx_path):
            export(model_name, onnx_path, args.minilm)
        if model_name not in compiled:
            lib = os.path.join(args.out, model_name + ".so")
            start = time.perf_counter()
            r = subprocess.run(["/usr/bin/time", "-f", "%M", os.environ["SLMC"], onnx_path, "-o", lib],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{case}: slmc failed: {r.stderr.strip()[-300:]}")
                continue
            compiled[model_name] = {"lib": lib, "compile_s": time.perf_counter() - start,
                                    "compile_peak_mb": int(r.stderr.strip().splitlines()[-1]) / 1024}
        c = compiled[model_name]
        _, _, cfg = build(model_name, args.minilm) if model_name == "minilm" else (None, None, None)
        if cfg is None:
            cfg = build(model_name)[2]
        gflop = flops(cfg, batch, seq) / 1e9
        row = {"batch": batch, "seq": seq, "gflop": gflop, "compile_s": c["compile_s"],
               "compile_peak_mb": c["compile_peak_mb"]}
        for engine in ("slm", "onnxruntime", "pytorch"):
            row[engine] = run_worker(engine, (model_name, batch, seq), onnx_path, c["lib"], args, python)
            m = row[engine]
            if "median_s" in m:
                m["gflops"] = gflop / m["median_s"]
                m["peak_fraction"] = m["gflops"] / peak
        for peer in ("onnxruntime", "pytorch"):
            if "median_s" in row["slm"] and "median_s" in row[peer]:
                row[f"slm_over_{peer}"] = row["slm"]["median_s"] / row[peer]["median_s"]
        results["cases"][case] = row
        line = f"{case:20s}"
        for engine in ("slm", "onnxruntime", "pytorch"):
            m = row[engine]
            line += (f" | {engine} {m['median_s'] * 1e3:9.2f} ms {m['gflops']:6.1f} GF/s "
                     f"{100 * m['peak_fraction']:5.1f}% {m['peak_rss_mb']:6.0f} MB"
                     if "median_s" in m else f" | {engine} failed: {m.get('error')}")
        for peer in ("onnxruntime", "pytorch"):
            if f"slm_over_{peer}" in row:
                line += f" | slm/{peer} {row[f'slm_over_{peer}']:.2f}x"
        line += f" | compile {c['compile_s']:.1f} s {c['compile_peak_mb']:.0f} MB"
        print(line, flush=True)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(results, f, indent=2)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        names = list(results["cases"])
        fig, ax = plt.subplots(figsize=(9, 4))
        width = 0.27
        for i, engine in enumerate(("slm", "onnxruntime", "pytorch")):
            values = [results["cases"][n][engine].get("median_s", 0) * 1e3 for n in names]
            ax.bar([x + (i - 1) * width for x in range(len(names))], values, width, label=engine)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=15)
        ax.set_ylabel("median latency (ms, log)")
        ax.set_yscale("log")
        ax.set_title(f"dense fp32, {args.threads} threads (lower is better)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "bench.png"), dpi=100)
        print(f"wrote {args.out}/bench.json and bench.png")
    except ImportError:
        print(f"wrote {args.out}/bench.json (no matplotlib: no chart)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
