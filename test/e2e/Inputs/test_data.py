#!/usr/bin/env python3
"""Writes an ONNX model's inputs and ONNX Runtime's outputs in the ONNX
backend test-data layout (DIR/input_<i>.pb, DIR/output_<i>.pb), which
`slm-run --test-data DIR` reads and checks.

    test_data.py MODEL.onnx DIR [--seq N]

Inputs are parity.py's seeded random inputs (batch 2, the second row's
mask half padded).
"""
import argparse
import os

import numpy as np
import onnxruntime as ort
from onnx import numpy_helper

from parity import make_inputs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("dir")
    p.add_argument("--seq", type=int, default=8)
    a = p.parse_args()
    session = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    feeds = make_inputs(session, a.seq, np.random.default_rng(0))
    outputs = session.run(None, feeds)
    os.makedirs(a.dir, exist_ok=True)
    for kind, values in (("input", [feeds[i.name] for i in session.get_inputs()]),
                         ("output", outputs)):
        for i, value in enumerate(values):
            with open(os.path.join(a.dir, f"{kind}_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(np.asarray(value)).SerializeToString())
    print(f"wrote {len(feeds)} inputs and {len(outputs)} outputs to {a.dir}")


if __name__ == "__main__":
    main()
