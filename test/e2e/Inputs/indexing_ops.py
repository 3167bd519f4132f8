#!/usr/bin/env python3
"""Indexing, selection and scan ops with run-time shapes and run-time index
values, compiled by slmc and compared with ONNX Runtime.

    indexing_ops.py SLMC SLM_RUN WORK_DIR        run every case against ORT
    indexing_ops.py --write NAME OUT.onnx        write one model (no ORT)
    indexing_ops.py --list                       the model names

Every model has symbolic extents; each is run with two sets of extents and
seeded random data (indices include negative ones and duplicates where the
op allows them). Integer outputs must match exactly and with ORT's dtype;
float outputs within |slm - ort| <= 1e-5 + 1e-5 * |ort|. Prints one line
per model and data set; exits 1 on any mismatch.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP, helper

MODELS = {}


def model_def(fn):
    MODELS[fn.__name__] = fn
    return fn


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def make(nodes, inputs, outputs, opset=17, inits=()):
    graph = helper.make_graph(nodes, "indexing", inputs, outputs,
                              initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


# Each model function returns (model, feeds(rng, size) -> dict); size is 0
# or 1 (two different sets of run-time extents).

@model_def
def gather_elements():
    m = make([helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)],
             [vi("x", TP.FLOAT, ["n", "m"]), vi("i", TP.INT64, ["n", "k"])],
             [vi("y", TP.FLOAT, ["n", "k"])], opset=13)

    def feeds(rng, s):
        n, mm, k = [(3, 5, 4), (6, 2, 7)][s]
        return {"x": rng.standard_normal((n, mm)).astype(np.float32),
                "i": rng.integers(-mm, mm, (n, k)).astype(np.int64)}
    return m, feeds


@model_def
def gathernd_batch():
    m = make([helper.make_node("GatherND", ["x", "i"], ["y"], batch_dims=1)],
             [vi("x", TP.INT32, ["b", "n", "d"]),
              vi("i", TP.INT64, ["b", "k", 1])],
             [vi("y", TP.INT32, ["b", "k", "d"])], opset=13)

    def feeds(rng, s):
        b, n, d, k = [(2, 5, 3, 4), (3, 2, 6, 1)][s]
        return {"x": rng.integers(-100, 100, (b, n, d)).astype(np.int32),
                "i": rng.integers(-n, n, (b, k, 1)).astype(np.int64)}
    return m, feeds


@model_def
def gathernd_pairs():
    m = make([helper.make_node("GatherND", ["x", "i"], ["y"])],
             [vi("x", TP.FLOAT, ["n", "m", 2]), vi("i", TP.INT64, ["k", 2])],
             [vi("y", TP.FLOAT, ["k", 2])], opset=12)

    def feeds(rng, s):
        n, mm, k = [(4, 3, 5), (2, 7, 3)][s]
        i = np.stack([rng.integers(-n, n, k), rng.integers(0, mm, k)], 1)
        return {"x": rng.standard_normal((n, mm, 2)).astype(np.float32),
                "i": i.astype(np.int64)}
    return m, feeds


@model_def
def scatternd():
    m = make([helper.make_node("ScatterND", ["x", "i", "u"], ["y"])],
             [vi("x", TP.FLOAT, ["n", "d"]), vi("i", TP.INT64, ["k", 1]),
              vi("u", TP.FLOAT, ["k", "d"])],
             [vi("y", TP.FLOAT, ["n", "d"])], opset=13)

    def feeds(rng, s):
        n, d, k = [(6, 3, 4), (3, 5, 2)][s]
        rows = rng.permutation(n)[:k] - n * (rng.random(k) < 0.5)
        return {"x": rng.standard_normal((n, d)).astype(np.float32),
                "i": rows.reshape(k, 1).astype(np.int64),
                "u": rng.standard_normal((k, d)).astype(np.float32)}
    return m, feeds


@model_def
def scatternd_add():
    m = make([helper.make_node("ScatterND", ["x", "i", "u"], ["y"],
                               reduction="add")],
             [vi("x", TP.INT64, ["n", "m"]), vi("i", TP.INT64, ["k", 2]),
              vi("u", TP.INT64, ["k"])],
             [vi("y", TP.INT64, ["n", "m"])], opset=16)

    def feeds(rng, s):
        n, mm, k = [(3, 4, 9), (5, 2, 3)][s]
        i = np.stack([rng.integers(-n, n, k), rng.integers(-mm, mm, k)], 1)
        return {"x": rng.integers(-9, 9, (n, mm)).astype(np.int64),
                "i": i.astype(np.int64),
                "u": rng.integers(-9, 9, k).astype(np.int64)}
    return m, feeds


@model_def
def scatter_elements_mul():
    m = make([helper.make_node("ScatterElements", ["x", "i", "u"], ["y"],
                               axis=0, reduction="mul")],
             [vi("x", TP.INT32, ["n", "m"]), vi("i", TP.INT64, ["k", "m"]),
              vi("u", TP.INT32, ["k", "m"])],
             [vi("y", TP.INT32, ["n", "m"])], opset=16)

    def feeds(rng, s):
        n, mm, k = [(3, 4, 5), (4, 2, 2)][s]
        return {"x": rng.integers(-5, 5, (n, mm)).astype(np.int32),
                "i": rng.integers(-n, n, (k, mm)).astype(np.int64),
                "u": rng.integers(-3, 3, (k, mm)).astype(np.int32)}
    return m, feeds


@model_def
def scatter_elements():
    m = make([helper.make_node("ScatterElements", ["x", "i", "u"], ["y"],
                               axis=-1)],
             [vi("x", TP.FLOAT, ["n", "m"]), vi("i", TP.INT64, ["n", 1]),
              vi("u", TP.FLOAT, ["n", 1])],
             [vi("y", TP.FLOAT, ["n", "m"])], opset=13)

    def feeds(rng, s):
        n, mm = [(3, 4), (5, 2)][s]
        return {"x": rng.standard_normal((n, mm)).astype(np.float32),
                "i": rng.integers(-mm, mm, (n, 1)).astype(np.int64),
                "u": rng.standard_normal((n, 1)).astype(np.float32)}
    return m, feeds


@model_def
def cumsum_runtime_axis():
    m = make([helper.make_node("CumSum", ["x", "a"], ["y"], exclusive=1,
                               reverse=1)],
             [vi("x", TP.FLOAT, ["n", "m", 3]), vi("a", TP.INT64, [])],
             [vi("y", TP.FLOAT, ["n", "m", 3])], opset=14)

    def feeds(rng, s):
        n, mm = [(2, 5), (4, 3)][s]
        return {"x": rng.standard_normal((n, mm, 3)).astype(np.float32),
                "a": np.array([1, -1][s], np.int64)}
    return m, feeds


@model_def
def cumsum_int():
    m = make([helper.make_node("CumSum", ["x", "a"], ["y"])],
             [vi("x", TP.INT32, ["n", "m"])], [vi("y", TP.INT32, ["n", "m"])],
             opset=11,
             inits=[onnx.numpy_helper.from_array(np.array([0], np.int32), "a")])

    def feeds(rng, s):
        n, mm = [(4, 3), (7, 1)][s]
        return {"x": rng.integers(-50, 50, (n, mm)).astype(np.int32)}
    return m, feeds


@model_def
def topk_largest():
    m = make([helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1)],
             [vi("x", TP.INT32, ["n", "m"]), vi("k", TP.INT64, [1])],
             [vi("v", TP.INT32, ["n", "kk"]), vi("i", TP.INT64, ["n", "kk"])],
             opset=11)

    def feeds(rng, s):
        n, mm, k = [(3, 9, 4), (2, 5, 5)][s]
        # Few distinct values: many ties (lower index first).
        return {"x": rng.integers(0, 4, (n, mm)).astype(np.int32),
                "k": np.array([k], np.int64)}
    return m, feeds


@model_def
def topk_smallest():
    m = make([helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=0,
                               largest=0)],
             [vi("x", TP.FLOAT, ["n", 3]), vi("k", TP.INT64, [1])],
             [vi("v", TP.FLOAT, ["kk", 3]), vi("i", TP.INT64, ["kk", 3])],
             opset=11)

    def feeds(rng, s):
        n, k = [(8, 3), (4, 1)][s]
        x = rng.integers(-3, 3, (n, 3)).astype(np.float32) / 2
        return {"x": x, "k": np.array([k], np.int64)}
    return m, feeds


@model_def
def argmax_last():
    m = make([helper.make_node("ArgMax", ["x"], ["y"], axis=1, keepdims=0,
                               select_last_index=1)],
             [vi("x", TP.INT32, ["n", "m"])], [vi("y", TP.INT64, ["n"])],
             opset=13)

    def feeds(rng, s):
        n, mm = [(4, 6), (3, 2)][s]
        return {"x": rng.integers(0, 3, (n, mm)).astype(np.int32)}
    return m, feeds


@model_def
def argmin_keepdims():
    m = make([helper.make_node("ArgMin", ["x"], ["y"], axis=-2)],
             [vi("x", TP.FLOAT, ["n", "m"])], [vi("y", TP.INT64, [1, "m"])],
             opset=11)

    def feeds(rng, s):
        n, mm = [(4, 6), (7, 2)][s]
        return {"x": (rng.integers(0, 3, (n, mm)) / 4).astype(np.float32)}
    return m, feeds


@model_def
def hardmax():
    m = make([helper.make_node("Hardmax", ["x"], ["y"], axis=1)],
             [vi("x", TP.FLOAT, ["n", "m", 3])],
             [vi("y", TP.FLOAT, ["n", "m", 3])], opset=13)

    def feeds(rng, s):
        n, mm = [(2, 5), (3, 1)][s]
        return {"x": rng.integers(0, 3, (n, mm, 3)).astype(np.float32)}
    return m, feeds


@model_def
def hardmax_coerced():
    m = make([helper.make_node("Hardmax", ["x"], ["y"], axis=1)],
             [vi("x", TP.FLOAT, ["n", 2, 3])],
             [vi("y", TP.FLOAT, ["n", 2, 3])], opset=11)

    def feeds(rng, s):
        n = [2, 4][s]
        return {"x": rng.integers(0, 4, (n, 2, 3)).astype(np.float32)}
    return m, feeds


@model_def
def onehot():
    m = make([helper.make_node("OneHot", ["i", "d", "v"], ["y"], axis=0)],
             [vi("i", TP.INT64, ["n"]), vi("d", TP.INT64, []),
              vi("v", TP.FLOAT, [2])],
             [vi("y", TP.FLOAT, ["d", "n"])], opset=11)

    def feeds(rng, s):
        n, d = [(5, 4), (3, 7)][s]
        # Out-of-range indices give a row of off values.
        return {"i": rng.integers(-d - 2, d + 2, n).astype(np.int64),
                "d": np.array(d, np.int64),
                "v": np.array([-1, 3], np.float32)}
    return m, feeds


@model_def
def nonzero():
    m = make([helper.make_node("NonZero", ["x"], ["y"])],
             [vi("x", TP.FLOAT, ["n", "m"])], [vi("y", TP.INT64, [2, "k"])],
             opset=13)

    def feeds(rng, s):
        n, mm = [(3, 4), (5, 2)][s]
        x = rng.standard_normal((n, mm)).astype(np.float32)
        x[rng.random((n, mm)) < 0.5] = 0
        return {"x": x}
    return m, feeds


@model_def
def compress():
    m = make([helper.make_node("Compress", ["x", "c"], ["y"], axis=1)],
             [vi("x", TP.INT64, ["n", "m"]), vi("c", TP.BOOL, ["l"])],
             [vi("y", TP.INT64, ["n", "k"])], opset=11)

    def feeds(rng, s):
        n, mm, l = [(3, 5, 4), (2, 3, 3)][s]
        return {"x": rng.integers(-9, 9, (n, mm)).astype(np.int64),
                "c": rng.random(l) < 0.5}
    return m, feeds


@model_def
def compress_flat():
    m = make([helper.make_node("Compress", ["x", "c"], ["y"])],
             [vi("x", TP.FLOAT, ["n", 2]), vi("c", TP.BOOL, ["l"])],
             [vi("y", TP.FLOAT, ["k"])], opset=11)

    def feeds(rng, s):
        n, l = [(3, 5), (4, 8)][s]
        return {"x": rng.standard_normal((n, 2)).astype(np.float32),
                "c": rng.random(l) < 0.5}
    return m, feeds


@model_def
def eyelike():
    m = make([helper.make_node("EyeLike", ["x"], ["y"], k=1,
                               dtype=TP.INT64)],
             [vi("x", TP.FLOAT, ["n", "m"])], [vi("y", TP.INT64, ["n", "m"])],
             opset=9)

    def feeds(rng, s):
        n, mm = [(3, 4), (5, 2)][s]
        return {"x": np.zeros((n, mm), np.float32)}
    return m, feeds


@model_def
def reverse_sequence():
    m = make([helper.make_node("ReverseSequence", ["x", "l"], ["y"],
                               batch_axis=1, time_axis=0)],
             [vi("x", TP.FLOAT, ["t", "b", 2]), vi("l", TP.INT64, ["b"])],
             [vi("y", TP.FLOAT, ["t", "b", 2])], opset=10)

    def feeds(rng, s):
        t, b = [(4, 3), (6, 2)][s]
        return {"x": rng.standard_normal((t, b, 2)).astype(np.float32),
                "l": rng.integers(0, t + 1, b).astype(np.int64)}
    return m, feeds


@model_def
def unique_rows():
    m = make([helper.make_node("Unique", ["x"], ["y", "i", "inv", "c"],
                               axis=0, sorted=1)],
             [vi("x", TP.INT64, ["n", 2])],
             [vi("y", TP.INT64, ["u", 2]), vi("i", TP.INT64, ["u"]),
              vi("inv", TP.INT64, ["n"]), vi("c", TP.INT64, ["u"])],
             opset=11)

    def feeds(rng, s):
        n = [7, 3][s]
        return {"x": rng.integers(0, 2, (n, 2)).astype(np.int64)}
    return m, feeds


@model_def
def scatter_elements_max():
    m = make([helper.make_node("ScatterElements", ["x", "i", "u"], ["y"],
                               axis=1, reduction="max")],
             [vi("x", TP.FLOAT, ["n", "m"]), vi("i", TP.INT64, ["n", "k"]),
              vi("u", TP.FLOAT, ["n", "k"])],
             [vi("y", TP.FLOAT, ["n", "m"])], opset=18)

    def feeds(rng, s):
        n, mm, k = [(3, 4, 6), (2, 5, 2)][s]
        return {"x": rng.standard_normal((n, mm)).astype(np.float32),
                "i": rng.integers(-mm, mm, (n, k)).astype(np.int64),
                "u": rng.standard_normal((n, k)).astype(np.float32)}
    return m, feeds


@model_def
def scatternd_min():
    m = make([helper.make_node("ScatterND", ["x", "i", "u"], ["y"],
                               reduction="min")],
             [vi("x", TP.INT32, ["n", "d"]), vi("i", TP.INT64, ["k", 1]),
              vi("u", TP.INT32, ["k", "d"])],
             [vi("y", TP.INT32, ["n", "d"])], opset=18)

    def feeds(rng, s):
        n, d, k = [(4, 3, 7), (2, 2, 3)][s]
        return {"x": rng.integers(-20, 20, (n, d)).astype(np.int32),
                "i": rng.integers(-n, n, (k, 1)).astype(np.int64),
                "u": rng.integers(-20, 20, (k, d)).astype(np.int32)}
    return m, feeds


# Models the importer must reject with a clear error (not run against ORT).
ERRORS = {}


def error_def(fn):
    ERRORS[fn.__name__] = fn
    return fn


@error_def
def gathernd_dynamic_k():
    return make([helper.make_node("GatherND", ["x", "i"], ["y"])],
                [vi("x", TP.FLOAT, ["n", 3]), vi("i", TP.INT64, ["k", "j"])],
                [vi("y", TP.FLOAT, None)], opset=13)


@error_def
def scatternd_max_at_16():
    return make([helper.make_node("ScatterND", ["x", "i", "u"], ["y"],
                                  reduction="max")],
                [vi("x", TP.FLOAT, ["n"]), vi("i", TP.INT64, ["k", 1]),
                 vi("u", TP.FLOAT, ["k"])],
                [vi("y", TP.FLOAT, ["n"])], opset=16)


def run_all(slmc, slm_run, work):
    import onnxruntime as ort
    os.makedirs(work, exist_ok=True)
    failures = 0
    for name, fn in MODELS.items():
        m, feeds_fn = fn()
        path = os.path.join(work, name + ".onnx")
        onnx.save(m, path)
        lib = os.path.join(work, name + ".so")
        r = subprocess.run([slmc, path, "-o", lib], capture_output=True,
                           text=True)
        if r.returncode != 0:
            print(f"{name}: COMPILE FAILED\n{r.stderr}")
            failures += 1
            continue
        session = ort.InferenceSession(path,
                                       providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        for s in range(2):
            feeds = feeds_fn(rng, s)
            expected = session.run(None, feeds)
            out_dir = os.path.join(work, f"{name}.{s}.out")
            os.makedirs(out_dir, exist_ok=True)
            cmd = [slm_run, lib, "--output-dir", out_dir]
            for k, v in feeds.items():
                p = os.path.join(work, f"{name}.{s}.in.{k}.npy")
                np.save(p, v)
                cmd += ["--input", f"{k}={p}"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            problems = []
            if r.returncode != 0:
                problems.append(f"slm-run failed: {r.stdout}{r.stderr}")
            else:
                for o, want in zip(session.get_outputs(), expected):
                    got = np.load(os.path.join(out_dir, o.name + ".npy"))
                    if got.dtype != want.dtype or got.shape != want.shape:
                        problems.append(f"{o.name}: {got.dtype}{got.shape} vs "
                                        f"ORT {want.dtype}{want.shape}")
                    elif want.dtype.kind == "f":
                        if not np.allclose(got, want, rtol=1e-5, atol=1e-5):
                            problems.append(f"{o.name}: values differ")
                    elif not np.array_equal(got, want):
                        problems.append(f"{o.name}: values differ\n{got}\n"
                                        f"ORT:\n{want}")
            shapes = ",".join(f"{k}{list(v.shape)}" for k, v in feeds.items())
            status = "ok" if not problems else "MISMATCH " + "; ".join(problems)
            failures += bool(problems)
            print(f"{name} set {s} ({shapes}): {status}")
    print(f"{failures} failures")
    return 1 if failures else 0


def main():
    if sys.argv[1:2] == ["--list"]:
        print("\n".join(list(MODELS) + list(ERRORS)))
        return 0
    if sys.argv[1:2] == ["--write"] and len(sys.argv) == 4:
        name = sys.argv[2]
        m = ERRORS[name]() if name in ERRORS else MODELS[name]()[0]
        onnx.save(m, sys.argv[3])
        return 0
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    return run_all(*sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
