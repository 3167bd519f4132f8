#!/usr/bin/env python3
"""What the fused attention's importance sums cost: one slm.fused_attention
(BERT-base-shaped heads: 12 of 64, batch 1) compiled by slmc with and
without its `importance` destination, timed in one process, the two
alternating for --rounds rounds (median of 5 warm runs each), 2 threads.

    bench/attention_importance.py [--seqs 512,2048] [--threads 2] [--rounds 3]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))


def kernel(importance):
    q, out, imp = "tensor<1x?x12x64xf32>", "tensor<1x?x768xf32>", "tensor<1x?xf32>"
    results = f"({out}, {imp})" if importance else out
    lines = ["func.func @main(%q: " + q + ", %k: " + q + ", %v: " + q + ") -> " + results + " {",
             "  %c1 = arith.constant 1 : index",
             f"  %t = tensor.dim %q, %c1 : {q}",
             f"  %init = tensor.empty(%t) : {out}"]
    attrs = "{num_heads = 12 : i64, scale = 0.125 : f64, seq_dims = array<i64: 1, 1, 1>}"
    if importance:
        lines += [f"  %i0 = tensor.empty(%t) : {imp}",
                  f"  %a:2 = slm.fused_attention %q, %k, %v outs %init importance %i0 {attrs}",
                  f"      : ({q}, {q}, {q}, {out}, {imp}) -> {results}",
                  f"  return %a#0, %a#1 : {out}, {imp}"]
    else:
        lines += [f"  %a = slm.fused_attention %q, %k, %v outs %init {attrs}",
                  f"      : ({q}, {q}, {q}, {out}) -> {out}",
                  f"  return %a : {out}"]
    return "\n".join(lines + ["}"]) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seqs", default="512,2048")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    args = p.parse_args()
    import numpy as np
    import slm
    work = tempfile.mkdtemp(prefix="slm-importance-")
    libs = {}
    for name, importance in (("attention", False), ("with importance", True)):
        path = os.path.join(work, f"{int(importance)}.mlir")
        with open(path, "w") as f:
            f.write(kernel(importance))
        libs[name] = path[:-5] + ".so"
        subprocess.run([args.slmc, path, "-o", libs[name]], check=True)
    rng = np.random.default_rng(0)
    print(f"| seq | attention | with importance | ratio |  ({args.threads} threads)")
    print("|---|---|---|---|")
    for seq in (int(s) for s in args.seqs.split(",")):
        x = [rng.standard_normal((1, seq, 12, 64)).astype(np.float32) for _ in range(3)]
        times = {name: [] for name in libs}
        for _ in range(args.rounds):
            for name, lib in libs.items():
                with slm.load(lib, num_threads=args.threads) as m:
                    feeds = dict(zip([i.name for i in m.inputs], x))
                    m.run(feeds)
                    runs = []
                    for _ in range(5):
                        t = time.perf_counter()
                        m.run(feeds)
                        runs.append(time.perf_counter() - t)
                    times[name].append(statistics.median(runs))
        a, b = (statistics.median(times[n]) for n in libs)
        print(f"| {seq} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
