"""Uses an installed slm Python package the way a user would: from another
folder, with no PYTHONPATH, SLMC, SLM_HOME or SLM_RUNTIME.

usage: use_slm.py PREFIX WORK

Checks that `slm` comes from the interpreter's site-packages (not the source
tree), that it finds PREFIX's slmc and libslmrt.so, that its version metadata
agrees, and that a small ONNX model compiled with slm.compile runs and matches
numpy.
"""
import importlib.metadata
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

import slm
from slm import _paths

prefix, work = (os.path.realpath(p) for p in sys.argv[1:3])
os.makedirs(work, exist_ok=True)
for name in ("PYTHONPATH", "SLMC", "SLM_HOME", "SLM_RUNTIME"):
    assert name not in os.environ, name

package = os.path.realpath(slm.__file__)
site = os.path.realpath(sys.prefix)
assert package.startswith(site + os.sep) and "site-packages" in package, package
print("slm from site-packages")

slmc, runtime = _paths.find_slmc(), _paths.find_runtime()
assert slmc and runtime, _paths.search_locations()
where = next(name for name, candidate, _ in _paths.search_locations()
             if candidate and os.path.isfile(candidate))
print("found via", where)
print("slmc", os.path.relpath(os.path.realpath(slmc), prefix))
print("runtime", os.path.relpath(os.path.realpath(runtime), prefix).split(".so")[0] + ".so")

version = importlib.metadata.version("slm")
assert version == slm.__version__, (version, slm.__version__)
assert importlib.metadata.requires("slm") == ["numpy"], importlib.metadata.requires("slm")
print("version", version)

rng = np.random.default_rng(0)
w = rng.standard_normal((6, 4)).astype(np.float32)
b = rng.standard_normal(4).astype(np.float32)
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["h"]),
     helper.make_node("Add", ["h", "b"], ["a"]),
     helper.make_node("Relu", ["a"], ["y"])],
    "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
onnx_path = os.path.join(work, "model.onnx")
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), onnx_path)
library = os.path.join(work, "model.so")
slm.compile(onnx_path, library)
model = slm.load(library)
x = rng.standard_normal((3, 6)).astype(np.float32)
y = model.run({"x": x})["y"]
want = np.maximum(x.astype(np.float64) @ w + b, 0)
error = np.max(np.abs(y - want))
assert y.shape == (3, 4) and error < 1e-4, (y.shape, error)
print("compiled, ran, matches numpy")
