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

# Generation on a bigram LM (logits = table[input_ids]): the greedy path
# of each row is known.
V = 16
table = rng.standard_normal((V, V)).astype(np.float32)
lm_graph = helper.make_graph(
    [helper.make_node("Gather", ["table", "input_ids"], ["g"]),
     helper.make_node("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT),
     helper.make_node("Unsqueeze", ["mf", "axis"], ["m3"]),
     helper.make_node("Mul", ["g", "m3"], ["logits"])],
    "lm", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
           helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", V])],
    initializer=[numpy_helper.from_array(table, "table"),
                 numpy_helper.from_array(np.array([2], np.int64), "axis")])
lm_path = os.path.join(work, "lm.onnx")
onnx.save(helper.make_model(lm_graph, opset_imports=[helper.make_opsetid("", 17)]), lm_path)
slm.compile(lm_path, os.path.join(work, "lm.so"))
lm = slm.load(os.path.join(work, "lm.so"))
prompt = np.array([[0, 3, 5], [1, 2, 9]])
mask = np.array([[0, 1, 1], [1, 1, 1]])
seqs = lm.generate(prompt, max_new_tokens=6, attention_mask=mask)
assert seqs.dtype == np.int64 and seqs.shape == (2, 9), seqs
for row in seqs:
    for t in range(3, 9):
        assert row[t] == np.argmax(table[row[t - 1]]), seqs
steps = [t.copy() for t in lm.generate_stream(prompt, max_new_tokens=6, attention_mask=mask)]
assert np.array_equal(np.stack(steps, 1), seqs[:, 3:])
seen = []
short = lm.generate(prompt, max_new_tokens=6, attention_mask=mask,
                    streamer=lambda t: seen.append(t) or len(seen) == 2)
assert short.shape == (2, 5) and len(seen) == 2
a = lm.generate(prompt, max_new_tokens=20, do_sample=True, top_k=4, seed=11)
assert np.array_equal(a, lm.generate(prompt, max_new_tokens=20, do_sample=True, top_k=4,
                                     seed=11))
print("generation follows the table")
expect_error(lambda: lm.generate([[V]]), "outside the vocabulary [0, 16)")
expect_error(lambda: lm.generate(prompt, attention_mask=[[1, 0, 1], [1, 1, 1]]),
             "not left-padded")
expect_error(lambda: lm.generate(prompt, do_sample=True, top_p=0), "top_p must be in (0, 1]")
expect_error(lambda: lm.generate(prompt, max_new_tokens=-1), "max_new_tokens must be >= 0")
expect_error(lambda: m.generate([[1]]), "no role in generation")
lm.close()
expect_error(lambda: lm.generate(prompt), "closed")

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
