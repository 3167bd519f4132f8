#!/usr/bin/env python3
"""Long sequences: slm's fused attention against its decomposed attention
and ONNX Runtime, in one run.

    bench/attention.py [--threads 2] [--layers 2] [--seqs 512 1024 2048 4096]
                       [--rounds 3] [--out DIR] [--smoke]

The model is BERT-base-shaped (hidden 768, 12 heads, FFN 3072, 4096
positions; --layers of them, default 2 to keep the run short), exported once
from PyTorch. Engines: slm as compiled by default (fused attention), slm
with --fused-attention=false (the decomposition: [B, H, S, S] scores), ONNX
Runtime (all graph optimizations). Each engine runs in its own process,
batch 1, warm, in --rounds rounds whose engine order rotates; the table has
the median over rounds of each round's median latency, the peak resident
memory (VmHWM) and each output's largest difference from ORT's.
Writes DIR/attention.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

ENGINES = ("slm fused", "slm decomposed", "onnxruntime")


def worker(args):
    """One engine at one length; prints JSON (median seconds, reps, peak
    RSS, and the output saved for the error against ORT)."""
    import numpy as np
    from bench import first_output, peak_rss_mb, timed
    seq = args.seq
    rng = np.random.default_rng(0)
    feeds = {"input_ids": rng.integers(1000, 2000, (1, seq)).astype(np.int64),
             "attention_mask": np.ones((1, seq), np.int64)}
    run = first_output(args.engine, args.lib, args.onnx, args.threads)
    fn = lambda: run(feeds)
    median, reps = timed(fn, args.reps, args.budget)
    np.save(args.save, fn())
    print(json.dumps({"median_s": median, "reps": reps, "peak_rss_mb": peak_rss_mb()}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seqs", type=int, nargs="*", default=[512, 1024, 2048, 4096])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--budget", type=float, default=20.0, help="seconds per engine, length and round")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench-attention"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    p.add_argument("--smoke", action="store_true", help="1 layer, length 64, 1 round: checks the harness")
    p.add_argument("--worker")
    p.add_argument("--seq", type=int)
    p.add_argument("--onnx")
    p.add_argument("--lib")
    p.add_argument("--save")
    args = p.parse_args()
    if args.worker:
        args.engine = args.worker
        return worker(args)
    if args.smoke:
        args.layers, args.seqs, args.rounds, args.reps, args.budget = 1, [64], 1, 1, 1.0
    import numpy as np
    import onnx  # noqa: F401  (before torch: Debian's onnx)
    from models import export

    os.makedirs(args.out, exist_ok=True)
    python = os.path.join(ROOT, ".venv", "bin", "python")
    python = python if os.path.exists(python) else sys.executable
    name = f"bert-long-{args.layers}"
    onnx_path = os.path.join(args.out, name + ".onnx")
    if not os.path.exists(onnx_path):
        export(name, onnx_path)
    libs = {}
    for engine, flags in (("slm fused", []), ("slm decomposed", ["--fused-attention=false"])):
        libs[engine] = os.path.join(args.out, name + ("-decomposed" if flags else "") + ".so")
        subprocess.run([args.slmc, onnx_path, "-o", libs[engine], "--quiet", *flags], check=True)

    results = {"threads": args.threads, "layers": args.layers, "rounds": args.rounds, "seqs": {}}
    print(f"BERT-base-shaped, {args.layers} layers, batch 1, {args.threads} threads, "
          f"{args.rounds} rotated rounds (median ms | peak RSS MB | max |diff| vs ORT)")
    for seq in args.seqs:
        runs = {e: [] for e in ENGINES}
        for r in range(args.rounds):
            order = ENGINES[r % len(ENGINES):] + ENGINES[:r % len(ENGINES)]
            for engine in order:
                save = os.path.join(args.out, f"out-{engine.replace(' ', '-')}-{seq}.npy")
                cmd = [python, __file__, "--worker", engine, "--seq", str(seq), "--onnx", onnx_path,
                       "--threads", str(args.threads), "--reps", str(args.reps),
                       "--budget", str(args.budget), "--save", save]
                if engine in libs:
                    cmd += ["--lib", libs[engine]]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    runs[engine].append({"error": (out.stderr or out.stdout).strip()[-300:]})
                else:
                    runs[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = {}
        reference = os.path.join(args.out, f"out-onnxruntime-{seq}.npy")
        for engine in ENGINES:
            ok = [x for x in runs[engine] if "median_s" in x]
            if not ok:
                row[engine] = {"error": runs[engine][-1]["error"]}
                continue
            row[engine] = {"median_ms": 1e3 * statistics.median(x["median_s"] for x in ok),
                           "peak_rss_mb": max(x["peak_rss_mb"] for x in ok)}
            save = os.path.join(args.out, f"out-{engine.replace(' ', '-')}-{seq}.npy")
            if os.path.exists(reference) and os.path.exists(save):
                row[engine]["max_abs_diff_vs_ort"] = float(
                    np.abs(np.load(save).astype(np.float64) - np.load(reference)).max())
        results["seqs"][seq] = row
        line = f"seq {seq:5d}"
        for engine in ENGINES:
            m = row[engine]
            line += (f" | {engine} {m['median_ms']:9.1f} ms {m['peak_rss_mb']:6.0f} MB "
                     f"{m.get('max_abs_diff_vs_ort', float('nan')):.1e}"
                     if "median_ms" in m else f" | {engine} failed: {m['error']}")
        f, d, o = (row[e].get("median_ms") for e in ENGINES)
        if f and d and o:
            line += f" | fused/decomposed {f / d:.2f}x fused/ORT {f / o:.2f}x"
        print(line, flush=True)
    with open(os.path.join(args.out, "attention.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"wrote {args.out}/attention.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
