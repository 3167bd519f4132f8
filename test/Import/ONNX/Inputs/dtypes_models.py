#!/usr/bin/env python3
"""ONNX models for dtypes.test: dtypes.py KIND OUT.onnx."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inputs, outputs, inits=(), opset=13):
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def io(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


KINDS = {
    # uint8 in and out: the signature records it.
    "unsigned": lambda: model(
        [helper.make_node("Identity", ["x"], ["y"]),
         helper.make_node("Cast", ["x"], ["z"], to=TensorProto.UINT16)],
        [io("x", TensorProto.UINT8, [4])],
        [io("y", TensorProto.UINT8, [4]), io("z", TensorProto.UINT16, [4])]),
    # float32 -> bfloat16 truncates; bfloat16 -> int goes through float32.
    "bfloat16": lambda: model(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.BFLOAT16),
         helper.make_node("Cast", ["y"], ["z"], to=TensorProto.INT32)],
        [io("x", TensorProto.FLOAT, [4])],
        [io("y", TensorProto.BFLOAT16, [4]), io("z", TensorProto.INT32, [4])]),
    # Dropout's mask, constant training_mode false.
    "dropout_mask": lambda: model(
        [helper.make_node("Dropout", ["x", "r", "t"], ["y", "m"])],
        [io("x", TensorProto.FLOAT, ["n", 3])],
        [io("y", TensorProto.FLOAT, ["n", 3]), io("m", TensorProto.BOOL, ["n", 3])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "r"),
         numpy_helper.from_array(np.array(False), "t")]),
    # Constant training mode with a ratio: random, an import error.
    "dropout_training": lambda: model(
        [helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="drop")],
        [io("x", TensorProto.FLOAT, [3])], [io("y", TensorProto.FLOAT, [3])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "r"),
         numpy_helper.from_array(np.array(True), "t")]),
    # A declared output dtype the graph does not compute.
    "declared_mismatch": lambda: model(
        [helper.make_node("Identity", ["x"], ["y"])],
        [io("x", TensorProto.FLOAT, [3])], [io("y", TensorProto.INT32, [3])]),
}

if __name__ == "__main__":
    onnx.save(KINDS[sys.argv[1]](), sys.argv[2])
