#!/usr/bin/env python3
"""Small ONNX models whose shapes, axes and counts are graph inputs (known
only at run time), and dynamic extents that broadcast at run time.

    runtime_shapes.py models OUT_DIR
        writes one model per case (OUT_DIR/<case>.onnx)
    runtime_shapes.py check SLMC SLM_RUN WORK_DIR [CASE...]
        compiles each case once with slmc and runs every data set of the
        case through slm-run against ONNX Runtime's outputs

Each case is one compiled library run on several data sets that differ in
the run-time values (shapes, starts/ends/steps, axes, split sizes, repeats,
k, extents of 1 against larger ones). Integer outputs must match exactly,
floats within 1e-5 + 1e-5 * |ort|. Prints one line per data set and
"N failures"; exits 1 on any failure.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

F, I64, I32 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32
rng = np.random.default_rng(0)


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs, outputs, opset=17):
    graph = helper.make_graph(nodes, "runtime_shapes", inputs, outputs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def dyn(rank, prefix="d"):
    return [f"{prefix}{i}" for i in range(rank)]


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def i64(*values):
    return np.array(values, np.int64)


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


@case
def reshape():
    """Reshape to a shape input holding 0 (copy) and -1 (infer)."""
    m = model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
              [vi("x", F, dyn(3)), vi("shape", I64, [3])], [vi("y", F, dyn(3))])
    data = [{"x": f32(2, 3, 4), "shape": i64(0, -1, 2)},
            {"x": f32(2, 3, 4), "shape": i64(4, 0, 2)},
            {"x": f32(2, 3, 4), "shape": i64(-1, 1, 4)},
            {"x": f32(1, 6, 2), "shape": i64(3, 2, 2)}]
    return m, data


@case
def reshape_allowzero():
    """Opset 14 allowzero: a 0 in the shape is an extent of 0."""
    m = model([helper.make_node("Reshape", ["x", "shape"], ["y"], allowzero=1)],
              [vi("x", F, dyn(2)), vi("shape", I64, [3])], [vi("y", F, dyn(3))],
              opset=14)
    data = [{"x": f32(3, 4), "shape": i64(2, 3, 2)},
            {"x": f32(3, 4), "shape": i64(3, -1, 1)}]
    return m, data


@case
def slice():
    """Starts, ends, axes and steps all graph inputs: negative steps,
    bounds past the ends (clamped), negative axes."""
    m = model([helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])],
              [vi("x", F, dyn(3)), vi("starts", I64, [2]), vi("ends", I64, [2]),
               vi("axes", I64, [2]), vi("steps", I64, [2])], [vi("y", F, dyn(3))])
    x = f32(4, 5, 6)
    big = np.iinfo(np.int64).max
    data = [{"x": x, "starts": i64(0, 1), "ends": i64(3, 5), "axes": i64(0, 2), "steps": i64(1, 2)},
            {"x": x, "starts": i64(-1, 4), "ends": i64(-big, 0), "axes": i64(1, 2), "steps": i64(-1, -2)},
            {"x": x, "starts": i64(-100, 2), "ends": i64(100, 3), "axes": i64(-1, -3), "steps": i64(3, 1)},
            {"x": f32(2, 3, 7), "starts": i64(5, 0), "ends": i64(1, 2), "axes": i64(2, 0), "steps": i64(-2, 1)}]
    return m, data


@case
def slice_runtime_ends():
    """Only the ends at run time, default axes and steps."""
    m = model([helper.make_node("Slice", ["x", "starts", "ends"], ["y"])],
              [vi("x", F, dyn(2)), vi("starts", I64, [2]), vi("ends", I64, [2])],
              [vi("y", F, dyn(2))])
    x = f32(5, 6)
    data = [{"x": x, "starts": i64(1, 0), "ends": i64(4, 10)},
            {"x": x, "starts": i64(-2, -3), "ends": i64(5, -1)}]
    return m, data


@case
def squeeze():
    m = model([helper.make_node("Squeeze", ["x", "axes"], ["y"])],
              [vi("x", F, dyn(3)), vi("axes", I64, [1])], [vi("y", F, dyn(2))])
    data = [{"x": f32(3, 1, 4), "axes": i64(1)},
            {"x": f32(1, 3, 4), "axes": i64(0)},
            {"x": f32(3, 4, 1), "axes": i64(-1)}]
    return m, data


@case
def unsqueeze():
    m = model([helper.make_node("Unsqueeze", ["x", "axes"], ["y"])],
              [vi("x", F, dyn(2)), vi("axes", I64, [2])], [vi("y", F, dyn(4))])
    data = [{"x": f32(3, 4), "axes": i64(0, 3)},
            {"x": f32(3, 4), "axes": i64(1, -1)},
            {"x": f32(2, 5), "axes": i64(2, 1)}]
    return m, data


@case
def reduce_sum_keepdims():
    m = model([helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)],
              [vi("x", F, dyn(3)), vi("axes", I64, [1])], [vi("y", F, dyn(3))], opset=13)
    data = [{"x": f32(2, 3, 4), "axes": i64(1)},
            {"x": f32(2, 3, 4), "axes": i64(-1)}]
    return m, data


@case
def reduce_sum_no_keepdims():
    m = model([helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)],
              [vi("x", F, dyn(3)), vi("axes", I64, [2])], [vi("y", F, dyn(1))], opset=13)
    data = [{"x": f32(2, 3, 4), "axes": i64(0, 2)},
            {"x": f32(2, 3, 4), "axes": i64(-1, 1)}]
    return m, data


@case
def reduce_mean_max_opset18():
    m = model([helper.make_node("ReduceMean", ["x", "axes"], ["mean"], keepdims=1),
               helper.make_node("ReduceMax", ["x", "axes"], ["max"], keepdims=0)],
              [vi("x", F, dyn(3)), vi("axes", I64, [1])],
              [vi("mean", F, dyn(3)), vi("max", F, dyn(2))], opset=18)
    data = [{"x": f32(2, 3, 4), "axes": i64(0)},
            {"x": f32(2, 3, 4), "axes": i64(2)}]
    return m, data


@case
def split_sizes():
    m = model([helper.make_node("Split", ["x", "split"], ["a", "b", "c"], axis=1)],
              [vi("x", F, dyn(2)), vi("split", I64, [3])],
              [vi("a", F, dyn(2)), vi("b", F, dyn(2)), vi("c", F, dyn(2))], opset=13)
    data = [{"x": f32(2, 6), "split": i64(1, 2, 3)},
            {"x": f32(3, 6), "split": i64(0, 4, 2)}]
    return m, data


@case
def split_num_outputs():
    """Opset 18 num_outputs on a dynamic extent: the last chunk smaller."""
    m = model([helper.make_node("Split", ["x"], ["a", "b", "c"], axis=0, num_outputs=3)],
              [vi("x", F, ["n"])], [vi("a", F, ["p"]), vi("b", F, ["q"]), vi("c", F, ["r"])],
              opset=18)
    data = [{"x": f32(7)}, {"x": f32(9)}]
    return m, data


@case
def expand():
    m = model([helper.make_node("Expand", ["x", "shape"], ["y"])],
              [vi("x", F, dyn(2)), vi("shape", I64, [3])], [vi("y", F, dyn(3))])
    data = [{"x": f32(3, 1), "shape": i64(2, 1, 6)},
            {"x": f32(1, 4), "shape": i64(1, 3, 1)},
            {"x": f32(3, 4), "shape": i64(2, 3, 4)}]
    return m, data


@case
def expand_to_shape_of():
    """Expand to Shape(y): shape arithmetic where a dynamic 1 stretches."""
    m = model([helper.make_node("Shape", ["y"], ["s"]),
               helper.make_node("Expand", ["x", "s"], ["z"])],
              [vi("x", F, dyn(2, "a")), vi("y", F, dyn(2, "b"))], [vi("z", F, dyn(2, "c"))])
    data = [{"x": f32(1, 4), "y": f32(3, 4)},
            {"x": f32(3, 1), "y": f32(3, 4)},
            {"x": f32(3, 4), "y": f32(1, 1)}]
    return m, data


@case
def tile():
    m = model([helper.make_node("Tile", ["x", "repeats"], ["y"])],
              [vi("x", F, dyn(2)), vi("repeats", I64, [2])], [vi("y", F, dyn(2))])
    data = [{"x": f32(2, 3), "repeats": i64(2, 1)},
            {"x": f32(2, 3), "repeats": i64(1, 3)},
            {"x": f32(1, 2), "repeats": i64(3, 0)}]
    return m, data


@case
def constant_of_shape():
    value = helper.make_tensor("value", I64, [1], [7])
    m = model([helper.make_node("ConstantOfShape", ["shape"], ["y"], value=value)],
              [vi("shape", I64, [2])], [vi("y", I64, dyn(2))])
    data = [{"shape": i64(2, 3)}, {"shape": i64(4, 1)}]
    return m, data


@case
def range_float():
    m = model([helper.make_node("Range", ["start", "limit", "delta"], ["y"])],
              [vi("start", F, []), vi("limit", F, []), vi("delta", F, [])], [vi("y", F, ["n"])])
    s = lambda v: np.array(v, np.float32)
    data = [{"start": s(1.0), "limit": s(5.5), "delta": s(0.5)},
            {"start": s(3.0), "limit": s(-1.0), "delta": s(-1.5)},
            {"start": s(0.0), "limit": s(-1.0), "delta": s(1.0)}]
    return m, data


@case
def range_int():
    m = model([helper.make_node("Range", ["start", "limit", "delta"], ["y"])],
              [vi("start", I32, []), vi("limit", I32, []), vi("delta", I32, [])], [vi("y", I32, ["n"])])
    s = lambda v: np.array(v, np.int32)
    data = [{"start": s(2), "limit": s(11), "delta": s(3)},
            {"start": s(10), "limit": s(4), "delta": s(-2)}]
    return m, data


@case
def trilu():
    m = model([helper.make_node("Trilu", ["x", "k"], ["u"], upper=1),
               helper.make_node("Trilu", ["x", "k"], ["l"], upper=0)],
              [vi("x", F, dyn(2)), vi("k", I64, [])], [vi("u", F, dyn(2)), vi("l", F, dyn(2))])
    data = [{"x": f32(4, 5), "k": np.array(1, np.int64)},
            {"x": f32(4, 5), "k": np.array(-2, np.int64)}]
    return m, data


@case
def broadcast_add():
    """Two dynamic extents meet: either may be 1 at run time."""
    m = model([helper.make_node("Add", ["a", "b"], ["y"]),
               helper.make_node("Mul", ["y", "c"], ["z"])],
              [vi("a", F, dyn(2, "a")), vi("b", F, dyn(2, "b")), vi("c", F, ["n"])],
              [vi("z", F, dyn(2, "z"))])
    data = [{"a": f32(3, 4), "b": f32(3, 4), "c": f32(4)},
            {"a": f32(3, 1), "b": f32(1, 4), "c": f32(1)},
            {"a": f32(1, 4), "b": f32(3, 4), "c": f32(4)},
            {"a": f32(1, 1), "b": f32(2, 5), "c": f32(5)}]
    return m, data


@case
def broadcast_where():
    """Where with a dynamic condition against a static operand."""
    m = model([helper.make_node("Where", ["c", "x", "y"], ["z"])],
              [vi("c", TensorProto.BOOL, ["m", "n"]), vi("x", F, [3, 4]), vi("y", F, ["k"])],
              [vi("z", F, [3, 4])])
    data = [{"c": rng.random((3, 4)) > 0.5, "x": f32(3, 4), "y": f32(4)},
            {"c": rng.random((1, 4)) > 0.5, "x": f32(3, 4), "y": f32(1)},
            {"c": rng.random((3, 1)) > 0.5, "x": f32(3, 4), "y": f32(4)}]
    return m, data


def check(slmc, slm_run, work, names):
    import onnxruntime as ort
    os.makedirs(work, exist_ok=True)
    failures = 0
    for name in names or CASES:
        m, data = CASES[name]()
        path = os.path.join(work, name + ".onnx")
        onnx.save(m, path)
        lib = os.path.join(work, name + ".so")
        r = subprocess.run([slmc, path, "-o", lib], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: COMPILE FAILED\n{r.stderr}")
            failures += 1
            continue
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for k, feeds in enumerate(data):
            expected = session.run(None, feeds)
            cmd = [slm_run, lib, "--rtol", "1e-5", "--atol", "1e-5"]
            for key, value in feeds.items():
                p = os.path.join(work, f"{name}.{k}.in.{key}.npy")
                np.save(p, value)
                cmd += ["--input", f"{key}={p}"]
            for o, value in zip(session.get_outputs(), expected):
                p = os.path.join(work, f"{name}.{k}.out.{o.name}.npy")
                np.save(p, value)
                cmd += ["--expect", p]
            r = subprocess.run(cmd, capture_output=True, text=True)
            ok = r.returncode == 0
            failures += not ok
            shapes = " ".join(str(list(v.shape)) for v in expected)
            print(f"{name} data {k}: {'ok' if ok else 'MISMATCH'}: {shapes}"
                  + ("" if ok else "\n" + r.stdout + r.stderr))
    print(f"{failures} failures")
    return 1 if failures else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "models":
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, fn in CASES.items():
            onnx.save(fn()[0], os.path.join(sys.argv[2], name + ".onnx"))
        return 0
    if len(sys.argv) >= 5 and sys.argv[1] == "check":
        return check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
