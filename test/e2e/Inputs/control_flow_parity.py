#!/usr/bin/env python3
"""Compiles the control-flow models (If, Loop, Scan, sequences, RNN/GRU/LSTM)
with slmc and checks slm-run's outputs against ONNX Runtime's, for several
data sets per model (conditions both ways, trip counts, padded sequences).

    control_flow_parity.py SLMC SLM_RUN WORK_DIR MODEL.onnx...

Prints one line per model and data set; exits 1 on any mismatch. Integer
outputs must match exactly (slm-run compares them exactly).
"""
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort


def data_sets(name, rng):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    if name == "if_runtime":
        return [{"c": np.array(v), "x": f(n, 4)} for v, n in [(True, 3), (False, 5)]]
    if name == "if_static":
        return [{"x": f(3, 4)}]
    if name == "loop_for":
        return [{"x": f(3), "s0": f(3)}]
    if name == "loop_while":
        return [{"trip": np.array(t, np.int64), "limit": np.array(l, np.float32),
                 "v0": np.abs(f(n))} for t, l, n in [(10, 100.0, 4), (3, 1e9, 2),
                                                     (10, -1.0, 3), (0, 1e9, 2)]]
    if name == "loop_grow":
        return [{"n": np.array(n, np.int64), "v0": f(2)} for n in (0, 1, 4)]
    if name == "loop_outer":
        return [{"trip": np.array(t, np.int64), "a0": f(b, 4)} for t, b in [(3, 2), (0, 1), (7, 5)]]
    if name == "scan_reverse":
        return [{"s0": f(3), "x": f(t, 3)} for t in (1, 6)]
    if name == "sequence_ops":
        return [{"x": f(n, 4), "y": f(n, 1), "p": np.array(p, np.int64)}
                for n, p in [(2, 0), (3, 2), (1, -1)]]
    if name == "torch_for_if":
        return [{"x": f(b, 4), "n": np.array(n, np.int64)} for b, n in [(2, 3), (3, 0), (1, 5)]]
    if name == "torch_while":
        return [{"x": f(b, 3) * s} for b, s in [(2, 1.0), (3, 100.0), (1, 0.01)]]
    if name.startswith(("lstm", "gru", "rnn")):
        sets = []
        for batch, seq in [(3, 5), (2, 7)]:
            d = {"X": f(seq, batch, 4)}
            dirs = 2 if name in ("lstm_bidir", "gru_lens") else 1
            hidden = {"lstm_bidir": 5, "gru_reverse": 4, "gru_lens": 4, "rnn_relu": 6}[name]
            if name in ("lstm_bidir", "gru_lens"):
                d["lens"] = rng.integers(1, seq + 1, batch).astype(np.int32)
                d["lens"][0] = seq
            if name != "gru_lens":
                d["h0"] = f(dirs, batch, hidden)
            if name == "lstm_bidir":
                d["c0"] = f(dirs, batch, hidden)
            sets.append(d)
        return sets
    raise SystemExit(f"no data sets for {name}")


def main():
    slmc, slm_run, work, *models = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    failures = 0
    for model in models:
        name = os.path.splitext(os.path.basename(model))[0]
        lib = os.path.join(work, name + ".so")
        r = subprocess.run([slmc, model, "-o", lib], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: COMPILE FAILED\n{r.stderr}")
            failures += 1
            continue
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        for index, feeds in enumerate(data_sets(name, rng)):
            expected = session.run(None, feeds)
            cmd = [slm_run, lib, "--rtol", "1e-4", "--atol", "1e-5"]
            for k, v in feeds.items():
                path = os.path.join(work, f"{name}.{index}.in.{k}.npy")
                np.save(path, v)
                cmd += ["--input", f"{k}={path}"]
            for o, v in zip(session.get_outputs(), expected):
                path = os.path.join(work, f"{name}.{index}.out.{o.name}.npy")
                np.save(path, v)
                cmd += ["--expect", path]
            r = subprocess.run(cmd, capture_output=True, text=True)
            status = "ok" if r.returncode == 0 else "MISMATCH"
            failures += r.returncode != 0
            print(f"{name} set {index}: {status}: " +
                  " | ".join(r.stdout.split("\n")[:1]) + r.stderr)
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
