#!/usr/bin/env python3
"""Mutation fuzzing of the importer: flips, deletes and inserts bytes in
valid models and checks that slmc never crashes or hangs on the result
(exit 0 or 1, no stack dump).

    mutate_models.py SLMC WORK_DIR SEED COUNT MODEL.onnx...
"""
import os
import random
import subprocess
import sys


def main():
    slmc, work, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    models = sys.argv[5:]
    os.makedirs(work, exist_ok=True)
    rng = random.Random(seed)
    bad = 0
    for i in range(count):
        data = bytearray(open(rng.choice(models), "rb").read())
        for _ in range(rng.choice([1, 2, 4, 8, 16])):
            pos = rng.randrange(len(data))
            r = rng.random()
            if r < 0.6:
                data[pos] = rng.randrange(256)
            elif r < 0.8:
                del data[pos:pos + rng.randrange(1, 8)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        path = os.path.join(work, f"case{i}.onnx")
        with open(path, "wb") as f:
            f.write(data)
        try:
            p = subprocess.run([slmc, path, "-o", os.path.join(work, "out.mlir")],
                               capture_output=True, text=True, errors="replace", timeout=60)
        except subprocess.TimeoutExpired:
            print(f"HANG {path}")
            bad += 1
            continue
        if p.returncode not in (0, 1) or "PLEASE submit" in p.stderr:
            print(f"CRASH {path} (exit {p.returncode})")
            bad += 1
    print(f"{count} mutated models, {bad} crashes or hangs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
