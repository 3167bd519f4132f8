#!/usr/bin/env python3
"""Writes one small ONNX model holding ONNX Runtime's com.microsoft
transformer ops, or ONNX's opset-23 ones, for the importer's lit tests.

    contrib_fixtures.py NAME OUT.onnx      (contrib_fixtures.py --list)

Built with onnx.helper; batch and sequence dimensions are symbolic.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FIXTURES = {}
rng = np.random.default_rng(0)
F, I32, I64 = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64
D, N, V = 32, 4, 50


def fixture(fn):
    FIXTURES[fn.__name__] = fn
    return fn


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def w(name, *shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name)


def ms(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, domain="com.microsoft", **attrs)


def model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "fixture", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


@fixture
def bert_layer():
    """What the optimizer makes of a BERT layer."""
    nodes = [
        ms("EmbedLayerNormalization", ["ids", "", "word", "pos", "", "g", "b", "mask"],
           ["e", "mi"], epsilon=1e-12),
        ms("Attention", ["e", "qkv", "qkv_b", "mi"], ["a"], num_heads=N),
        helper.make_node("MatMul", ["a", "wo"], ["o"]),
        ms("SkipLayerNormalization", ["o", "e", "g", "b", "bo"], ["h"], epsilon=1e-12),
        helper.make_node("MatMul", ["h", "w1"], ["f1"]),
        ms("BiasGelu", ["f1", "b1"], ["f2"]),
        helper.make_node("MatMul", ["f2", "w2"], ["f3"]),
        ms("SkipLayerNormalization", ["f3", "h", "g", "b", "b"], ["y"], epsilon=1e-12),
    ]
    inits = [w("word", V, D), w("pos", 16, D), w("g", D), w("b", D), w("qkv", D, 3 * D),
             w("qkv_b", 3 * D), w("wo", D, D), w("bo", D), w("w1", D, 64), w("b1", 64),
             w("w2", 64, D)]
    return model(nodes, [vi("ids", I32, ["batch", "seq"]), vi("mask", I32, ["batch", "seq"])],
                 [vi("y", F, ["batch", "seq", D])], inits)


@fixture
def decoder_ops():
    """GQA with rotary, RMS norms, MatMulNBits (8-bit), FastGelu."""
    H, NKV = D // N, 2
    half = H // 2
    nodes = [
        ms("SkipSimplifiedLayerNormalization", ["x", "r", "g"], ["n", "", "", "s"], epsilon=1e-6),
        ms("MatMulNBits", ["n", "qb", "qs"], ["q"], K=D, N=D, bits=8, block_size=D),
        ms("GroupQueryAttention", ["q", "k", "v", "", "", "lens", "total", "cos", "sin"], ["a"],
           num_heads=N, kv_num_heads=NKV, do_rotary=1),
        helper.make_node("SimplifiedLayerNormalization", ["a", "g"], ["y0"], epsilon=1e-6),
        ms("FastGelu", ["y0"], ["y"]),
    ]
    inits = [w("g", D), w("cos", 32, half), w("sin", 32, half),
             numpy_helper.from_array(rng.integers(0, 256, (D, 1, D)).astype(np.uint8), "qb"),
             numpy_helper.from_array(np.full(D, 0.01, np.float32), "qs")]
    return model(nodes, [vi("x", F, ["batch", "seq", D]), vi("r", F, ["batch", "seq", D]),
                         vi("k", F, ["batch", "seq", NKV * H]), vi("v", F, ["batch", "seq", NKV * H]),
                         vi("lens", I32, ["batch"]), vi("total", I32, [])],
                 [vi("y", F, ["batch", "seq", D]), vi("s", F, ["batch", "seq", D])], inits)


@fixture
def opset23():
    """ONNX's own Attention (3-D, grouped, causal), RMSNormalization,
    RotaryEmbedding."""
    H = D // N
    nodes = [
        helper.make_node("RMSNormalization", ["x", "g"], ["n"], epsilon=1e-6),
        helper.make_node("RotaryEmbedding", ["n", "cos", "sin", "pos"], ["r"], num_heads=N),
        helper.make_node("Attention", ["r", "k", "v"], ["y"], q_num_heads=N, kv_num_heads=2,
                         is_causal=1),
    ]
    inits = [w("g", D), w("cos", 32, H // 2), w("sin", 32, H // 2)]
    return model(nodes, [vi("x", F, ["batch", "seq", D]), vi("pos", I64, ["batch", "seq"]),
                         vi("k", F, ["batch", "seq", D // 2]), vi("v", F, ["batch", "seq", D // 2])],
                 [vi("y", F, ["batch", "seq", D])], inits, opset=23)


@fixture
def attention_past():
    """com.microsoft Attention with past state: unsupported, reported."""
    nodes = [ms("Attention", ["x", "qkv", "qkv_b", "", "past"], ["y", "present"], num_heads=N)]
    return model(nodes, [vi("x", F, ["batch", "seq", D]), vi("past", F, [2, "batch", N, "p", D // N])],
                 [vi("y", F, ["batch", "seq", D]), vi("present", F, [2, "batch", N, "t", D // N])],
                 [w("qkv", D, 3 * D), w("qkv_b", 3 * D)])


@fixture
def nbits_bits2():
    """MatMulNBits with 2 bits: unsupported, reported."""
    nodes = [ms("MatMulNBits", ["x", "b", "s"], ["y"], K=D, N=8, bits=2, block_size=D)]
    inits = [numpy_helper.from_array(rng.integers(0, 256, (8, 1, D // 4)).astype(np.uint8), "b"),
             numpy_helper.from_array(np.full(8, 0.1, np.float32), "s")]
    return model(nodes, [vi("x", F, ["batch", D])], [vi("y", F, ["batch", 8])], inits)


if __name__ == "__main__":
    if sys.argv[1] == "--list":
        print("\n".join(FIXTURES))
    else:
        onnx.save(FIXTURES[sys.argv[1]](), sys.argv[2])
