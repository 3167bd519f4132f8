#!/usr/bin/env python3
"""Writes small ONNX models of the convolutional and image ops (Conv,
ConvTranspose, pools, normalizations, Resize, Pad, DepthToSpace, ...) with
dynamic batch and spatial sizes, and a manifest of the sizes to run them at.

    vision_models.py OUT_DIR [--torch]

OUT_DIR/<name>.onnx for each model and OUT_DIR/manifest.json:
{name: {"sizes": [{"N": 1, "H": 8, "W": 8}, ...], "ints": {input: [values]}}}.
Symbolic dimensions are named N, C, H, W, D (D: depth or length). Integer
graph inputs (run-time pads, sizes) get the values in "ints". With --torch a
small CNN (Conv+BN+ReLU+MaxPool+interpolate+AvgPool) exported by
torch.onnx.export at opset 13 and 17 is added.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)
F = TensorProto.FLOAT


def weight(name, *shape, scale=0.3):
    return numpy_helper.from_array(
        (RNG.standard_normal(shape) * scale).astype(np.float32), name)


def positive(name, *shape):
    return numpy_helper.from_array(
        (RNG.random(shape) + 0.5).astype(np.float32), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def floats(name, values):
    return numpy_helper.from_array(np.array(values, np.float32), name)


def model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def tin(name, dims, t=F):
    return helper.make_tensor_value_info(name, t, dims)


MODELS = {}


def add(name, m, sizes, ints_=None):
    MODELS[name] = (m, {"sizes": sizes, "ints": ints_ or {}})


S2 = [{"N": 1, "H": 9, "W": 9}, {"N": 2, "H": 12, "W": 7}]


def build():
    # Conv: pads, strides, dilation, bias (im2col + matmul).
    add("conv2d_pads_strides", model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 2, 0, 1],
                          strides=[2, 1], dilations=[1, 2])],
        [tin("x", ["N", 3, "H", "W"])], [tin("y", None)],
        [weight("w", 4, 3, 3, 3), weight("b", 4)]), S2)
    # Depthwise conv with SAME_UPPER; grouped 1-D conv with SAME_LOWER.
    add("conv2d_depthwise_same", model(
        [helper.make_node("Conv", ["x", "w"], ["y"], group=4,
                          auto_pad="SAME_UPPER", strides=[2, 2],
                          kernel_shape=[3, 3])],
        [tin("x", ["N", 4, "H", "W"])], [tin("y", None)],
        [weight("w", 8, 1, 3, 3)]), S2)
    add("conv1d_grouped_same_lower", model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], group=2,
                          auto_pad="SAME_LOWER", strides=[2])],
        [tin("x", ["N", 4, "D"])], [tin("y", None)],
        [weight("w", 6, 2, 4), weight("b", 6)]),
        [{"N": 1, "D": 10}, {"N": 3, "D": 17}])
    add("conv3d", model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 1, 0, 1, 1])],
        [tin("x", ["N", 2, "D", "H", "W"])], [tin("y", None)],
        [weight("w", 3, 2, 2, 3, 2), weight("b", 3)]),
        [{"N": 1, "D": 4, "H": 5, "W": 6}, {"N": 2, "D": 3, "H": 6, "W": 4}])
    # The patch embedding of vision transformers stays one slm.linear.
    add("conv2d_patch_embedding", model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[4, 4])],
        [tin("x", ["N", 3, 8, 12])], [tin("y", None)],
        [weight("w", 6, 3, 4, 4), weight("b", 6)]), [{"N": 1}, {"N": 3}])
    add("conv2d_pointwise", model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"])],
        [tin("x", ["N", 5, "H", "W"])], [tin("y", None)],
        [weight("w", 7, 5, 1, 1), weight("b", 7)]), S2)
    # ConvTranspose: strides, pads, output_padding; grouped with dilation;
    # SAME_UPPER; output_shape.
    add("convtranspose2d", model(
        [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"],
                          strides=[2, 3], pads=[1, 0, 0, 1],
                          output_padding=[1, 0])],
        [tin("x", ["N", 3, "H", "W"])], [tin("y", None)],
        [weight("w", 3, 2, 3, 3), weight("b", 2)]), S2)
    add("convtranspose2d_grouped", model(
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], group=2,
                          strides=[2, 2], dilations=[2, 1])],
        [tin("x", ["N", 4, "H", "W"])], [tin("y", None)],
        [weight("w", 4, 3, 2, 3)]), S2)
    add("convtranspose1d_same", model(
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2],
                          auto_pad="SAME_UPPER")],
        [tin("x", ["N", 2, "D"])], [tin("y", None)],
        [weight("w", 2, 3, 3)]), [{"N": 1, "D": 5}, {"N": 2, "D": 8}])
    add("convtranspose2d_output_shape", model(
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[3, 2],
                          output_shape=[10, 8])],
        [tin("x", ["N", 1, 3, 4])], [tin("y", None)],
        [weight("w", 1, 2, 3, 3)]), [{"N": 1}, {"N": 2}])
    # Conv + BatchNormalization (constant) + Relu; BatchNormalization with
    # run-time statistics.
    add("conv_bn_relu", model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"],
                          ["n"], epsilon=1e-3),
         helper.make_node("Relu", ["n"], ["y"])],
        [tin("x", ["N", 3, "H", "W"])], [tin("y", None)],
        [weight("w", 4, 3, 3, 3), weight("b", 4), positive("s", 4),
         weight("bb", 4), weight("m", 4), positive("v", 4)]), S2)
    add("batchnorm_runtime", model(
        [helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"],
                          ["y"])],
        [tin("x", ["N", 3, "H", "W"]), tin("s", [3]), tin("bb", [3]),
         tin("m", [3]), tin("v", [3])], [tin("y", None)], opset=9),
        [{"N": 2, "H": 4, "W": 5}])
    add("instancenorm", model(
        [helper.make_node("InstanceNormalization", ["x", "s", "bb"], ["y"],
                          epsilon=1e-4)],
        [tin("x", ["N", 3, "H", "W"])], [tin("y", None)],
        [positive("s", 3), weight("bb", 3)]), S2)
    add("groupnorm_opset21", model(
        [helper.make_node("GroupNormalization", ["x", "s", "bb"], ["y"],
                          num_groups=2)],
        [tin("x", ["N", 6, "H", "W"])], [tin("y", None)],
        [positive("s", 6), weight("bb", 6)], opset=21), S2)
    add("groupnorm_opset18", model(
        [helper.make_node("GroupNormalization", ["x", "s", "bb"], ["y"],
                          num_groups=3, epsilon=1e-3)],
        [tin("x", ["N", 6, "H", "W"])], [tin("y", None)],
        [positive("s", 3), weight("bb", 3)], opset=18), S2)
    # Pools.
    add("maxpool_indices", model(
        [helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 2],
                          pads=[1, 0, 1, 1], strides=[2, 2], ceil_mode=1)],
        [tin("x", ["N", 2, "H", "W"])],
        [tin("y", None), tin("i", None, TensorProto.INT64)]), S2)
    add("maxpool_dilated", model(
        [helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2, 2],
                          dilations=[2, 1], pads=[1, 0, 1, 1],
                          storage_order=1)],
        [tin("x", ["N", 2, "H", "W"])],
        [tin("y", None), tin("i", None, TensorProto.INT64)], opset=12), S2)
    # (ONNX Runtime sizes SAME pads of dilated pools from the undilated
    # kernel, against the ONNX definition slm follows: no dilation here.)
    add("maxpool_same_lower", model(
        [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2],
                          strides=[2, 1], auto_pad="SAME_LOWER")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)]), S2)
    add("averagepool_pads", model(
        [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3],
                          pads=[1, 1, 1, 1], strides=[2, 2], ceil_mode=1)],
        [tin("x", ["N", 3, "H", "W"])], [tin("y", None)]), S2)
    add("averagepool_include_pad", model(
        [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 3],
                          pads=[1, 0, 0, 2], count_include_pad=1)],
        [tin("x", ["N", 3, "H", "W"])], [tin("y", None)]), S2)
    add("averagepool1d_same", model(
        [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[4],
                          strides=[3], auto_pad="SAME_UPPER")],
        [tin("x", ["N", 3, "D"])], [tin("y", None)]),
        [{"N": 1, "D": 10}, {"N": 2, "D": 16}])
    add("lppool", model(
        [helper.make_node("LpPool", ["x"], ["y"], kernel_shape=[2, 2],
                          strides=[1, 2], p=3)],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)], opset=11), S2)
    add("global_pools", model(
        [helper.make_node("GlobalAveragePool", ["x"], ["a"]),
         helper.make_node("GlobalMaxPool", ["x"], ["m"]),
         helper.make_node("GlobalLpPool", ["x"], ["l"], p=2)],
        [tin("x", ["N", 3, "H", "W"])],
        [tin("a", None), tin("m", None), tin("l", None)]), S2)
    # Resize and Upsample.
    add("resize_linear_scales", model(
        [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [floats("scales", [1, 1, 2, 1.5])]), S2)
    # (align_corners with scales whose output size is fractional: ONNX
    # Runtime divides by the rounded size, the ONNX reference and slm by
    # input * scale; sizes here.)
    add("resize_cubic_align_corners", model(
        [helper.make_node("Resize", ["x", "", "", "sizes"], ["y"],
                          mode="cubic",
                          coordinate_transformation_mode="align_corners")],
        [tin("x", [1, 2, "H", "W"])], [tin("y", None)],
        [ints("sizes", [1, 2, 5, 13])]), S2)
    add("resize_linear_align_corners_scales", model(
        [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                          coordinate_transformation_mode="align_corners")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [floats("scales", [1, 1, 2, 1.5])]), [{"N": 1, "H": 9, "W": 8},
                                               {"N": 2, "H": 5, "W": 6}])
    add("resize_cubic_exclude", model(
        [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="cubic",
                          exclude_outside=1, cubic_coeff_a=-0.5)],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [floats("scales", [1, 1, 2, 2])]), S2)
    # Sizes from the input's shape (as torch exports F.interpolate).
    add("resize_nearest_shape_sizes", model(
        [helper.make_node("Shape", ["x"], ["shape"]),
         helper.make_node("Slice", ["shape", "zero", "two"], ["nc"]),
         helper.make_node("Slice", ["shape", "two", "four"], ["hw"]),
         helper.make_node("Mul", ["hw", "three"], ["hw3"]),
         helper.make_node("Concat", ["nc", "hw3"], ["sizes"], axis=0),
         helper.make_node("Resize", ["x", "", "", "sizes"], ["y"],
                          mode="nearest", nearest_mode="floor",
                          coordinate_transformation_mode="asymmetric")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [ints("zero", [0]), ints("two", [2]), ints("four", [4]),
         ints("three", [3])]), S2)
    add("resize_nearest_runtime_sizes", model(
        [helper.make_node("Resize", ["x", "", "", "sizes"], ["y"],
                          mode="nearest", nearest_mode="round_prefer_ceil",
                          coordinate_transformation_mode="half_pixel")],
        [tin("x", ["N", 2, "H", "W"]), tin("sizes", [4], TensorProto.INT64)],
        [tin("y", None)]), S2, {"sizes": [None, 2, 13, 5]})
    add("resize_linear_pytorch_axes", model(
        [helper.make_node("Resize", ["x", "", "", "sizes"], ["y"],
                          mode="linear", axes=[3, 2],
                          coordinate_transformation_mode="pytorch_half_pixel")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [ints("sizes", [1, 6])], opset=18), S2)
    add("resize_tf_crop", model(
        [helper.make_node("Resize", ["x", "roi", "", "sizes"], ["y"],
                          mode="linear", extrapolation_value=-1.0,
                          coordinate_transformation_mode="tf_crop_and_resize")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [floats("roi", [0, 0, 0.2, -0.1, 1, 1, 0.9, 1.2]),
         ints("sizes", [1, 2, 5, 6])]), [{"N": 1, "H": 9, "W": 9}])
    add("upsample_nearest_opset9", model(
        [helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [floats("scales", [1, 1, 2, 3])], opset=9), S2)
    add("resize_linear_opset10", model(
        [helper.make_node("Resize", ["x", "scales"], ["y"], mode="linear")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [floats("scales", [1, 1, 2, 0.5])], opset=10), S2)
    # Pad.
    add("pad_reflect", model(
        [helper.make_node("Pad", ["x", "pads"], ["y"], mode="reflect")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [ints("pads", [0, 0, 2, 3, 0, 0, 1, 2])]), S2)
    add("pad_edge_crop", model(
        [helper.make_node("Pad", ["x", "pads"], ["y"], mode="edge")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [ints("pads", [0, 0, -1, 2, 0, 0, 3, -2])]), S2)
    add("pad_runtime_constant", model(
        [helper.make_node("Pad", ["x", "pads", "value"], ["y"])],
        [tin("x", ["N", 2, "H", "W"]), tin("pads", [8], TensorProto.INT64),
         tin("value", [])], [tin("y", None)]), S2,
        {"pads": [0, 0, 1, -1, 1, 0, 2, 3]})
    add("pad_wrap_axes", model(
        [helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"], mode="wrap")],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)],
        [ints("pads", [2, 1, 3, 2]), ints("axes", [2, -1])], opset=19), S2)
    add("pad_constant_opset2", model(
        [helper.make_node("Pad", ["x"], ["y"], pads=[0, 1, 2, 0, 0, 1],
                          value=1.5)],
        [tin("x", ["N", 2, "W"])], [tin("y", None)], opset=7),
        [{"N": 1, "W": 4}, {"N": 2, "W": 9}])
    # DepthToSpace, SpaceToDepth.
    add("depth_to_space", model(
        [helper.make_node("DepthToSpace", ["x"], ["a"], blocksize=2),
         helper.make_node("DepthToSpace", ["x"], ["b"], blocksize=2,
                          mode="CRD")],
        [tin("x", ["N", 8, "H", "W"])], [tin("a", None), tin("b", None)]), S2)
    add("space_to_depth", model(
        [helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=3)],
        [tin("x", ["N", 2, "H", "W"])], [tin("y", None)]),
        [{"N": 1, "H": 6, "W": 9}, {"N": 2, "H": 12, "W": 3}])


def torch_cnn(out, manifest):
    import torch
    import torch.nn as nn
    import torch.nn.functional as fn

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(8)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
            self.bn2 = nn.BatchNorm2d(8)
            self.conv3 = nn.Conv2d(8, 4, 1)
            self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)

        def forward(self, x):
            y = fn.relu(self.bn1(self.conv1(x)))
            y = fn.max_pool2d(y, 2)
            y = fn.relu(self.bn2(self.conv2(y)))
            y = self.conv3(y)
            z = fn.interpolate(y, scale_factor=2.0, mode="bilinear",
                               align_corners=False)
            return self.up(fn.avg_pool2d(z, 2) + y)

    torch.manual_seed(0)
    net = CNN()
    for bn in (net.bn1, net.bn2):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 1.5)
    net.eval()
    for opset in (13, 17):
        name = f"torch_cnn_opset{opset}"
        torch.onnx.export(
            net, torch.randn(1, 3, 16, 16), os.path.join(out, name + ".onnx"),
            input_names=["x"], output_names=["y"], opset_version=opset,
            dynamic_axes={"x": {0: "N", 2: "H", 3: "W"}, "y": {0: "N"}})
        manifest[name] = {"sizes": [{"N": 1, "H": 16, "W": 16},
                                    {"N": 2, "H": 12, "W": 20}], "ints": {}}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    build()
    manifest = {}
    for name, (m, info) in MODELS.items():
        onnx.save(m, os.path.join(out, name + ".onnx"))
        manifest[name] = info
    if "--torch" in sys.argv:
        torch_cnn(out, manifest)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
