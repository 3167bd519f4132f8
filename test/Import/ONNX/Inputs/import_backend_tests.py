#!/usr/bin/env python3
"""Imports every model of the ONNX backend node tests with slmc.

    import_backend_tests.py SLMC DATA_DIR --floor N [--list-failures]

Prints how many imported, the unsupported op types by how often they
blocked a model, and fails (exit 1) when fewer than N imported. A crash or
hang of slmc fails whatever the count: bad input must give an error.
"""
import argparse
import collections
import concurrent.futures
import os
import re
import subprocess
import sys


def run(slmc, model):
    try:
        p = subprocess.run([slmc, model, "-o", os.devnull], capture_output=True,
                           text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "hang", ""
    if p.returncode == 0:
        return "ok", ""
    if p.returncode != 1 or "PLEASE submit a bug report" in p.stderr:
        return "crash", p.stderr[-2000:]
    return "error", p.stderr


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("slmc")
    parser.add_argument("data_dir")
    parser.add_argument("--floor", type=int, required=True)
    parser.add_argument("--list-failures", action="store_true")
    args = parser.parse_args()
    tests = sorted(d for d in os.listdir(args.data_dir)
                   if os.path.isfile(os.path.join(args.data_dir, d, "model.onnx")))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda t: (t, run(args.slmc, os.path.join(args.data_dir, t, "model.onnx"))), tests))
    ok = [t for t, (status, _) in results if status == "ok"]
    broken = [(t, status, err) for t, (status, err) in results if status in ("crash", "hang")]
    blockers = collections.Counter()
    for t, (status, err) in results:
        if status == "error":
            for op in set(re.findall(r"^\s+(\w+) \(node", err, re.M)):
                blockers[op] += 1
    print(f"imported {len(ok)} of {len(tests)} ONNX backend node tests (floor {args.floor})")
    print("most frequent unsupported ops: " +
          ", ".join(f"{op} {n}" for op, n in blockers.most_common(15)))
    if args.list_failures:
        for t, (status, err) in results:
            if status != "ok":
                line = next((l for l in err.splitlines() if "error:" in l), status)
                print(f"  {t}: {line[-160:]}")
    for t, status, err in broken:
        print(f"{status.upper()}: {t}\n{err}")
    return 1 if broken or len(ok) < args.floor else 0


if __name__ == "__main__":
    sys.exit(main())
