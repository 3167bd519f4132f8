#!/usr/bin/env python3
"""Compiles and runs the ONNX backend node tests with slmc + slm-run, and
(with --onnxruntime) runs ONNX Runtime on the same tests, comparing both
with the tests' own expected outputs.

    run_backend_tests.py SLMC SLM_RUN DATA_DIR WORK_DIR --floor N
                         [--onnxruntime] [--list-failures]

Tolerance as in ONNX's backend tests: |got - want| <= 1e-7 + 1e-3 * |want|
(slm-run's --atol/--rtol). Prints "slm passed X of Y" (and ONNX Runtime's
count); fails when slm passes fewer than N, any run crashes, or any test
gives a wrong answer (a "mismatch": an output whose values, shape or dtype
differ from the expected one).
"""
import argparse
import concurrent.futures
import glob
import os
import subprocess
import sys


def slm_case(slmc, slm_run, test_dir, work):
    name = os.path.basename(test_dir)
    lib = os.path.join(work, name + ".so")
    r = subprocess.run([slmc, os.path.join(test_dir, "model.onnx"), "-o", lib],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        crashed = r.returncode != 1 or "PLEASE submit" in r.stderr
        return name, "crash" if crashed else "unsupported", r.stderr[-400:]
    data = sorted(glob.glob(os.path.join(test_dir, "test_data_set_*")))
    for d in data:
        r = subprocess.run([slm_run, lib, "--test-data", d, "--rtol", "1e-3",
                            "--atol", "1e-7"], capture_output=True, text=True,
                           timeout=300)
        if r.returncode == 1:
            return name, "mismatch", r.stdout[-400:]
        if r.returncode != 0:
            crashed = r.returncode < 0
            return name, "crash" if crashed else "error", (r.stdout + r.stderr)[-400:]
    os.remove(lib)
    return name, "pass", ""


def ort_case(test_dir):
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
    try:
        session = ort.InferenceSession(os.path.join(test_dir, "model.onnx"),
                                       providers=["CPUExecutionProvider"])
        for d in sorted(glob.glob(os.path.join(test_dir, "test_data_set_*"))):
            def load(f):
                t = onnx.TensorProto()
                t.ParseFromString(open(f, "rb").read())
                return numpy_helper.to_array(t)
            inputs = [load(f) for f in sorted(glob.glob(os.path.join(d, "input_*.pb")))]
            wants = [load(f) for f in sorted(glob.glob(os.path.join(d, "output_*.pb")))]
            feeds = {i.name: v for i, v in zip(session.get_inputs(), inputs)}
            gots = session.run(None, feeds)
            for got, want in zip(gots, wants):
                if got.shape != want.shape:
                    return False
                if want.dtype.kind in "fc":
                    if not np.allclose(got, want, rtol=1e-3, atol=1e-7, equal_nan=True):
                        return False
                elif not np.array_equal(got, want):
                    return False
        return True
    except Exception:
        return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("slm_run")
    p.add_argument("data_dir")
    p.add_argument("work")
    p.add_argument("--floor", type=int, required=True)
    p.add_argument("--onnxruntime", action="store_true")
    p.add_argument("--list-failures", action="store_true")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    tests = sorted(d for d in glob.glob(os.path.join(args.data_dir, "*"))
                   if os.path.isfile(os.path.join(d, "model.onnx")))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda t: slm_case(args.slmc, args.slm_run, t, args.work), tests))
    counts = {}
    for _, status, _ in results:
        counts[status] = counts.get(status, 0) + 1
    passed = counts.get("pass", 0)
    print(f"slm passed {passed} of {len(tests)} ONNX backend node tests (floor {args.floor}); "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "pass"))
    if args.onnxruntime:
        ort_passed = sum(ort_case(t) for t in tests)
        print(f"onnxruntime passed {ort_passed} of {len(tests)}")
    broken = [r for r in results if r[1] in ("crash", "mismatch")]
    print(f"wrong answers: {counts.get('mismatch', 0)}")
    for name, status, detail in results:
        if status in ("crash", "mismatch", "error") or (args.list_failures and status != "pass"):
            print(f"  {status}: {name}: {detail.strip().splitlines()[-1] if detail.strip() else ''}")
    return 1 if broken or passed < args.floor else 0


if __name__ == "__main__":
    sys.exit(main())
