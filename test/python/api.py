"""Tests of the slm Python package: compile, load, metadata, run, errors,
and threads, on a small ONNX model checked against a float64 reference."""
import concurrent.futures
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import slm

work = sys.argv[1]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(0)
w = rng.standard_normal((8, 3)).astype(np.float32)
b = rng.standard_normal(3).astype(np.float32)
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["h"]),
     helper.make_node("Add", ["h", "b"], ["a"]),
     helper.make_node("Relu", ["a"], ["y"])],
    "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
    initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
model_path = os.path.join(work, "model.onnx")
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model_path)

lib = os.path.join(work, "model.so")
report = slm.compile(model_path, lib, report=True)
assert "raised: 1 slm.linear" in report, report
print("compiled")

m = slm.load(lib)
print("inputs", [(i.name, str(i.dtype), i.shape, i.dims) for i in m.inputs])
print("outputs", [(o.name, str(o.dtype), o.shape) for o in m.outputs])

for batch in (1, 5, 32):
    x = rng.standard_normal((batch, 8)).astype(np.float32)
    y = m.run({"x": x})["y"]
    want = np.maximum(x.astype(np.float64) @ w.astype(np.float64) + b, 0)
    err = np.max(np.abs(y - want) / (np.abs(want) + 1e-6))
    assert y.shape == (batch, 3) and err < 1e-4, (batch, err)
print("runs match float64 within 1e-4")

def expect_error(fn, text):
    try:
        fn()
    except slm.SlmError as e:
        assert text in str(e), str(e)
        print("error:", e)
        return
    raise AssertionError("no error for " + text)

expect_error(lambda: m.run({"x": np.zeros((2, 8), np.float64)}), "must be float32")
expect_error(lambda: m.run({"x": np.zeros((2, 7), np.float32)}), "must have shape [?, 8]")
expect_error(lambda: m.run({"nope": np.zeros((2, 8), np.float32)}), "unknown ['nope']")
expect_error(lambda: m.run({}), "missing ['x']")
expect_error(lambda: slm.load(os.path.join(work, "missing.so")), "does not exist")
expect_error(lambda: slm.compile(os.path.join(work, "missing.onnx"), lib), "does not exist")
junk = os.path.join(work, "junk.onnx")
open(junk, "w").write("junk")
expect_error(lambda: slm.compile(junk, os.path.join(work, "junk.so")), "not a valid ONNX model")
assert not os.path.exists(os.path.join(work, "junk.so"))

# Four threads, one model.
xs = [rng.standard_normal((4, 8)).astype(np.float32) for _ in range(40)]
want = [m.run({"x": x})["y"] for x in xs]
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    got = list(pool.map(lambda x: m.run({"x": x})["y"], xs))
assert all(np.array_equal(a, b) for a, b in zip(got, want))
print("threads agree")
m.close()
expect_error(lambda: m.run({"x": xs[0]}), "closed")
print("ok")
