"""Bad vision-op models for vision-ops.test: OUT_DIR/<case>.onnx."""
import os
import sys

from onnx import TensorProto, helper, save

F = TensorProto.FLOAT
out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def write(name, nodes, inputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, name, inputs,
                              [helper.make_tensor_value_info("y", F, None)],
                              list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    save(m, os.path.join(out, name + ".onnx"))


x = helper.make_tensor_value_info("x", F, ["N", 4, 8, 8])
write("conv_dynamic_weight", [helper.make_node("Conv", ["x", "w"], ["y"])],
      [x, helper.make_tensor_value_info("w", F, ["O", 4, 3, 3])])
write("conv_group", [helper.make_node("Conv", ["x", "w"], ["y"], group=3)],
      [x], [helper.make_tensor("w", F, [4, 1, 1, 1], [1.0] * 4)])
write("resize_antialias",
      [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear",
                        antialias=1)],
      [x], [helper.make_tensor("s", F, [4], [1, 1, 0.5, 0.5])], opset=18)
write("pool_window",
      [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[5, 5])],
      [helper.make_tensor_value_info("x", F, ["N", 4, 3, 3])])
