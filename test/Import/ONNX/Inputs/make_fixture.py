#!/usr/bin/env python3
"""Writes one small ONNX fixture model for the importer's lit tests.

    make_fixture.py NAME OUT.onnx      (make_fixture.py --list: the names)

Every fixture is built with onnx.helper (Debian's python3-onnx), with
symbolic batch/sequence dimensions where the importer must keep them
dynamic. Weights are seeded random values.
"""
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FIXTURES = {}
rng = np.random.default_rng(0)


def fixture(fn):
    FIXTURES[fn.__name__] = fn
    return fn


def tensor(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def weight(name, shape, scale=0.1):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "fixture", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


@fixture
def elementwise():
    n = [helper.make_node("Add", ["x", "b"], ["a"]),
         helper.make_node("Sub", ["a", "x"], ["s"]),
         helper.make_node("Mul", ["s", "b"], ["m"]),
         helper.make_node("Div", ["m", "two"], ["d"]),
         helper.make_node("Pow", ["d", "two"], ["p"]),
         helper.make_node("Sqrt", ["p"], ["q"]),
         helper.make_node("Erf", ["q"], ["e"]),
         helper.make_node("Tanh", ["e"], ["t"]),
         helper.make_node("Relu", ["t"], ["r"]),
         helper.make_node("Sigmoid", ["r"], ["g"]),
         helper.make_node("Equal", ["ids", "zero"], ["eq"]),
         helper.make_node("Where", ["eq", "g", "x"], ["w"]),
         helper.make_node("Cast", ["ids"], ["f"], to=TensorProto.FLOAT),
         helper.make_node("Identity", ["w"], ["y"])]
    return model(n, [tensor("x", ["batch", "seq", 8]), tensor("ids", ["batch", "seq", 1], TensorProto.INT64)],
                 [tensor("y", None), tensor("f", None)],
                 [weight("b", [8]), const("two", 2.0), const("zero", 0, np.int64)])


@fixture
def shape_arith():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape: the head split of
    an exported attention, with the head count and width static."""
    n = [helper.make_node("Shape", ["x"], ["shape"]),
         helper.make_node("Gather", ["shape", "i0"], ["b"], axis=0),
         helper.make_node("Gather", ["shape", "i1"], ["s"], axis=0),
         helper.make_node("Unsqueeze", ["b", "axes0"], ["b1"]),
         helper.make_node("Unsqueeze", ["s", "axes0"], ["s1"]),
         helper.make_node("Concat", ["b1", "s1", "heads"], ["target"], axis=0),
         helper.make_node("Reshape", ["x", "target"], ["split"]),
         helper.make_node("Transpose", ["split"], ["y"], perm=[0, 2, 1, 3]),
         helper.make_node("Flatten", ["x"], ["flat"], axis=2),
         helper.make_node("Reshape", ["x", "static"], ["z"])]
    return model(n, [tensor("x", ["batch", "seq", 64])], [tensor("y", None), tensor("flat", None), tensor("z", None)],
                 [const("i0", 0, np.int64), const("i1", 1, np.int64), const("axes0", [0], np.int64),
                  const("heads", [4, 16], np.int64), const("static", [0, -1, 8, 8], np.int64)])


@fixture
def slice_split_concat():
    n = [helper.make_node("Slice", ["x", "st", "en", "ax"], ["sl"]),
         helper.make_node("Split", ["x", "sizes"], ["p0", "p1"], axis=2),
         helper.make_node("Concat", ["p1", "p0"], ["cat"], axis=2),
         helper.make_node("Squeeze", ["one", "ax0"], ["sq"]),
         helper.make_node("Expand", ["sq", "eshape"], ["ex"]),
         helper.make_node("ConstantOfShape", ["cshape"], ["zeros"],
                          value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])),
         helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1], keepdims=1),
         helper.make_node("Softmax", ["x"], ["sm"], axis=-1)]
    return model(n, [tensor("x", ["batch", "seq", 8]), tensor("one", [1, 4])],
                 [tensor(o, None) for o in ["sl", "cat", "ex", "zeros", "mean", "sm"]],
                 [const("st", [2], np.int64), const("en", [6], np.int64), const("ax", [2], np.int64),
                  const("sizes", [3, 5], np.int64), const("ax0", [0], np.int64),
                  const("eshape", [3, 4], np.int64), const("cshape", [2, 3], np.int64)], opset=17)


@fixture
def linear_matmul_add():
    n = [helper.make_node("MatMul", ["x", "w"], ["h"]),
         helper.make_node("Add", ["h", "b"], ["y"]),
         helper.make_node("Gemm", ["x2", "w2", "b2"], ["z"], transB=1)]
    return model(n, [tensor("x", ["batch", "seq", 16]), tensor("x2", ["batch", 16])],
                 [tensor("y", None), tensor("z", None)],
                 [weight("w", [16, 32]), weight("b", [32]), weight("w2", [24, 16]), weight("b2", [24])])


def layernorm_nodes(x, out, prefix, rsqrt=False, square="Pow"):
    n = [helper.make_node("ReduceMean", [x], [prefix + "mean"], axes=[-1]),
         helper.make_node("Sub", [x, prefix + "mean"], [prefix + "d"])]
    if square == "Pow":
        n.append(helper.make_node("Pow", [prefix + "d", "two"], [prefix + "sq"]))
    else:
        n.append(helper.make_node("Mul", [prefix + "d", prefix + "d"], [prefix + "sq"]))
    n += [helper.make_node("ReduceMean", [prefix + "sq"], [prefix + "var"], axes=[-1]),
          helper.make_node("Add", [prefix + "var", "eps"], [prefix + "ve"]),
          helper.make_node("Sqrt", [prefix + "ve"], [prefix + "std"]),
          helper.make_node("Div", [prefix + "d", prefix + "std"], [prefix + "n"]),
          helper.make_node("Mul", ["gamma", prefix + "n"], [prefix + "g"]),
          helper.make_node("Add", [prefix + "g", "beta"], [out])]
    return n


@fixture
def layernorm_decomposed():
    n = layernorm_nodes("x", "y", "a_") + layernorm_nodes("y", "z", "b_", square="Mul")
    return model(n, [tensor("x", ["batch", "seq", 32])], [tensor("z", None)],
                 [const("two", 2.0), const("eps", 1e-12), weight("gamma", [32]), weight("beta", [32])], opset=13)


@fixture
def gelu_forms():
    n = [  # erf, PyTorch's order: x * (1 + erf(x / sqrt2)) * 0.5
        helper.make_node("Div", ["x", "sqrt2"], ["a1"]),
        helper.make_node("Erf", ["a1"], ["a2"]),
        helper.make_node("Add", ["a2", "one"], ["a3"]),
        helper.make_node("Mul", ["x", "a3"], ["a4"]),
        helper.make_node("Mul", ["a4", "half"], ["erf_gelu"]),
        # erf, HF's order: x * 0.5 * (1 + erf(x * 1/sqrt2))
        helper.make_node("Mul", ["x", "half"], ["b0"]),
        helper.make_node("Mul", ["x", "rsqrt2"], ["b1"]),
        helper.make_node("Erf", ["b1"], ["b2"]),
        helper.make_node("Add", ["one", "b2"], ["b3"]),
        helper.make_node("Mul", ["b0", "b3"], ["erf_gelu2"]),
        # tanh: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
        helper.make_node("Pow", ["x", "three"], ["c1"]),
        helper.make_node("Mul", ["c1", "c044715"], ["c2"]),
        helper.make_node("Add", ["x", "c2"], ["c3"]),
        helper.make_node("Mul", ["c3", "sqrt2pi"], ["c4"]),
        helper.make_node("Tanh", ["c4"], ["c5"]),
        helper.make_node("Add", ["c5", "one"], ["c6"]),
        helper.make_node("Mul", ["half", "x"], ["c7"]),
        helper.make_node("Mul", ["c7", "c6"], ["tanh_gelu"]),
        # not a GELU: the wrong constant under the erf
        helper.make_node("Div", ["x", "three"], ["d1"]),
        helper.make_node("Erf", ["d1"], ["d2"]),
        helper.make_node("Add", ["d2", "one"], ["d3"]),
        helper.make_node("Mul", ["x", "d3"], ["not_gelu"])]
    return model(n, [tensor("x", ["batch", 16])],
                 [tensor(o, None) for o in ["erf_gelu", "erf_gelu2", "tanh_gelu", "not_gelu"]],
                 [const("sqrt2", math.sqrt(2)), const("rsqrt2", 1 / math.sqrt(2)), const("one", 1.0),
                  const("half", 0.5), const("three", 3.0), const("c044715", 0.044715),
                  const("sqrt2pi", math.sqrt(2 / math.pi))])


def attention_nodes(q, k, v, out, heads, head_dim, mask=None, mask_kind="add",
                    scale_on="scores", scale_op="Div"):
    """The HF-style block: split heads, Q K^T, scale, mask, softmax, V, merge."""
    hidden = heads * head_dim
    n = [helper.make_node("Shape", [q], ["shape"]),
         helper.make_node("Gather", ["shape", "i0"], ["bsz"], axis=0),
         helper.make_node("Gather", ["shape", "i1"], ["len"], axis=0),
         helper.make_node("Unsqueeze", ["bsz", "axes0"], ["bsz1"]),
         helper.make_node("Unsqueeze", ["len", "axes0"], ["len1"]),
         helper.make_node("Concat", ["bsz1", "len1", "hd"], ["split_shape"], axis=0),
         helper.make_node("Concat", ["bsz1", "len1", "hidden"], ["merge_shape"], axis=0)]
    for name in (q, k, v):
        n += [helper.make_node("Reshape", [name, "split_shape"], [name + "_h"]),
              helper.make_node("Transpose", [name + "_h"], [name + "_t"], perm=[0, 2, 1, 3])]
    scale = math.sqrt(head_dim) if scale_op == "Div" else 1 / math.sqrt(head_dim)
    qt = q + "_t"
    if scale_on == "q":
        n.append(helper.make_node(scale_op, [qt, "scale"], ["q_scaled"]))
        qt = "q_scaled"
    n += [helper.make_node("Transpose", [k + "_h"], ["k_T"], perm=[0, 2, 3, 1]),
          helper.make_node("MatMul", [qt, "k_T"], ["scores"])]
    s = "scores"
    if scale_on == "scores":
        n.append(helper.make_node(scale_op, [s, "scale"], ["scaled"]))
        s = "scaled"
    if mask is not None:
        if mask_kind == "add":
            n.append(helper.make_node("Add", [s, mask], ["masked"]))
        else:  # Where(keep, scores, -big)
            n.append(helper.make_node("Where", [mask, s, "neg"], ["masked"]))
        s = "masked"
    n += [helper.make_node("Softmax", [s], ["probs"], axis=-1),
          helper.make_node("MatMul", ["probs", v + "_t"], ["ctx"]),
          helper.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]),
          helper.make_node("Reshape", ["ctx_t", "merge_shape"], [out])]
    inits = [const("i0", 0, np.int64), const("i1", 1, np.int64), const("axes0", [0], np.int64),
             const("hd", [heads, head_dim], np.int64), const("hidden", [hidden], np.int64),
             const("scale", scale), const("neg", -3.4e38)]
    return n, inits


@fixture
def attention_separate_qkv():
    """Separate Q/K/V projections, scale on the scores by Div, additive
    [B, 1, 1, S] mask."""
    n = [helper.make_node("MatMul", ["x", "wq"], ["q"]),
         helper.make_node("MatMul", ["x", "wk"], ["k"]),
         helper.make_node("MatMul", ["x", "wv"], ["v"])]
    a, inits = attention_nodes("q", "k", "v", "y", 4, 8, mask="mask")
    return model(n + a, [tensor("x", ["batch", "seq", 32]), tensor("mask", ["batch", 1, 1, "seq"])],
                 [tensor("y", None)],
                 inits + [weight("wq", [32, 32]), weight("wk", [32, 32]), weight("wv", [32, 32])])


@fixture
def attention_fused_qkv():
    """One QKV projection split three ways, scale on Q by Mul, a Where keep
    mask."""
    n = [helper.make_node("MatMul", ["x", "wqkv"], ["qkv"]),
         helper.make_node("Split", ["qkv", "sizes"], ["q", "k", "v"], axis=2)]
    a, inits = attention_nodes("q", "k", "v", "y", 2, 16, mask="keep", mask_kind="where",
                               scale_on="q", scale_op="Mul")
    return model(n + a, [tensor("x", ["batch", "seq", 32]), tensor("keep", ["batch", 1, "seq", "seq"], TensorProto.BOOL)],
                 [tensor("y", None)],
                 inits + [weight("wqkv", [32, 96]), const("sizes", [32, 32, 32], np.int64)])


@fixture
def attention_no_mask_not_raised():
    """The context is used twice before the heads merge: left alone."""
    n = [helper.make_node("MatMul", ["x", "wq"], ["q"])]
    a, inits = attention_nodes("q", "q", "q", "y", 4, 8)
    a.append(helper.make_node("Identity", ["ctx"], ["ctx_copy"]))
    return model(n + a, [tensor("x", ["batch", "seq", 32])], [tensor("y", None), tensor("ctx_copy", None)],
                 inits + [weight("wq", [32, 32])])


@fixture
def unsupported_ops():
    n = [helper.make_node("StringNormalizer", ["x"], ["y"], name="strnorm_1"),
         helper.make_node("TfIdfVectorizer", ["x"], ["nz"], name="tfidf_2"),
         helper.make_node("FusedMatMul", ["x", "w"], ["q"], domain="com.microsoft", name="fused_3"),
         helper.make_node("Softmax", ["x"], ["s"], name="fine")]
    return model(n, [tensor("x", [1, 2, 4]), tensor("w", [1, 16, 4]), tensor("r", [1, 16, 4])],
                 [tensor("y", None)])


def matmul_nbits(bits=4, k=64, block=32, g_idx=False, constant_b=True):
    """ONNX Runtime's com.microsoft.MatMulNBits with N = 8 (a variant made
    to fail in one way)."""
    n = 8
    blocks = -(-k // block)
    b = numpy_helper.from_array(
        rng.integers(0, 256, (n, blocks, block * bits // 8)).astype(np.uint8), "b")
    inputs = ["x", "b", "scales", "", "g_idx" if g_idx else ""]
    inits = [numpy_helper.from_array(rng.random(n * blocks).astype(np.float32), "scales")]
    if constant_b:
        inits.append(b)
    if g_idx:
        inits.append(const("g_idx", np.zeros(k), np.int32))
    node = helper.make_node("MatMulNBits", [i for i in inputs if i or inputs.index(i) < 4][:5],
                            ["y"], domain="com.microsoft", name="nbits_0",
                            K=k, N=n, bits=bits, block_size=block)
    graph_inputs = [tensor("x", ["batch", k])]
    if not constant_b:
        graph_inputs.append(tensor("b", [n, blocks, block * bits // 8], TensorProto.UINT8))
    m = model([node], graph_inputs, [tensor("y", None)], inits)
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return m


FIXTURES["nbits_bits8"] = lambda: matmul_nbits(bits=8)
FIXTURES["nbits_ragged_k"] = lambda: matmul_nbits(k=48)
FIXTURES["nbits_g_idx"] = lambda: matmul_nbits(g_idx=True)
FIXTURES["nbits_runtime_b"] = lambda: matmul_nbits(constant_b=False)


@fixture
def missing_input():
    n = [helper.make_node("Add", ["x", "nowhere"], ["y"], name="add_0")]
    return model(n, [tensor("x", [2])], [tensor("y", None)])


@fixture
def bad_reshape():
    n = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_0")]
    return model(n, [tensor("x", [2, 3])], [tensor("y", None)], [const("shape", [4, 2], np.int64)])


@fixture
def huge_runtime_shape():
    """A Reshape to a run-time shape whose declared length is absurd (found by
    the fuzzer: each entry used to become code, and import hung)."""
    n = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_0")]
    return model(n, [tensor("x", [2, 3]), tensor("shape", [100000000], TensorProto.INT64)],
                 [tensor("y", None)])


@fixture
def scalar_matmul():
    n = [helper.make_node("MatMul", ["a", "b"], ["y"], name="matmul_0")]
    return model(n, [tensor("a", []), tensor("b", [3, 4])], [tensor("y", None)])


@fixture
def placeholder_dim_names():
    """dim_params that mean "unknown" (PaddlePaddle's "?", "None") name no
    dimension: two of them are two independent extents."""
    n = [helper.make_node("Relu", ["x"], ["y"], name="relu_0")]
    return model(n, [tensor("x", ["?", "?", "None", "batch"])], [tensor("y", None)])


@fixture
def type_mismatch():
    n = [helper.make_node("Add", ["x", "ids"], ["y"], name="add_0")]
    return model(n, [tensor("x", [2]), tensor("ids", [2], TensorProto.INT64)], [tensor("y", None)])


@fixture
def string_input():
    n = [helper.make_node("Identity", ["s"], ["y"])]
    return model(n, [tensor("s", [2], TensorProto.STRING)], [tensor("y", None)])


@fixture
def external_data():
    """Weights in a side file next to the model."""
    n = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    return model(n, [tensor("x", ["batch", 64])], [tensor("y", None)], [weight("w", [64, 64])])


@fixture
def external_escape():
    n = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    return model(n, [tensor("x", ["batch", 64])], [tensor("y", None)], [weight("w", [64, 64])])


@fixture
def old_opset():
    n = [helper.make_node("Softmax", ["x"], ["y"], axis=1, name="softmax_0")]
    return model(n, [tensor("x", [2, 3, 4])], [tensor("y", None)], opset=11)


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(FIXTURES))
        return 0
    if len(sys.argv) != 3 or sys.argv[1] not in FIXTURES:
        print(__doc__, file=sys.stderr)
        return 2
    name, out = sys.argv[1], sys.argv[2]
    m = FIXTURES[name]()
    if name == "external_data":
        onnx.save(m, out, save_as_external_data=True, all_tensors_to_one_file=True,
                  location=os.path.basename(out) + ".data", size_threshold=0)
    elif name == "external_escape":
        onnx.save(m, out, save_as_external_data=True, all_tensors_to_one_file=True,
                  location=os.path.basename(out) + ".data", size_threshold=0)
        m = onnx.load(out, load_external_data=False)
        for t in m.graph.initializer:
            for e in t.external_data:
                if e.key == "location":
                    e.value = "../../etc/passwd"
        onnx.save(m, out)
    else:
        onnx.save(m, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
