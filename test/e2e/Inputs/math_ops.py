#!/usr/bin/env python3
"""Builds small ONNX models of math ops, losses and window functions,
compiles each with slmc and checks slm-run's outputs against ONNX Runtime
(or, where ONNX Runtime lacks a kernel, ONNX's reference evaluator).

    math_ops.py SLMC SLM_RUN WORK_DIR [--only NAME]
    math_ops.py --save DIR      (writes the models only, for importer tests)

Integer and bool outputs must match exactly, floats within
|slm - ref| <= 1e-5 + 1e-4 * |ref|. Prints one line per model; exits 1 on
any failure.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F, D, I8, I32, I64 = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT8,
                      TensorProto.INT32, TensorProto.INT64)
U8, U16, U32, U64 = (TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32,
                     TensorProto.UINT64)
B = TensorProto.BOOL


def model(name, nodes, inputs, outputs, opset=17, initializers=()):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def one(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


rng = np.random.default_rng(7)


def floats(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def cases():
    c = []
    # Mod: Python sign rule on integers with broadcasting, C fmod, unsigned.
    c.append(("mod_int32", model("m", [one("Mod", ["a", "b"], ["y"])],
                                 [("a", I32, [3, 4]), ("b", I32, [4])], [("y", I32, None)]),
              {"a": rng.integers(-50, 50, (3, 4)).astype(np.int32),
               "b": np.array([7, -3, 5, -8], np.int32)}))
    c.append(("mod_int64_fmod", model("m", [one("Mod", ["a", "b"], ["y"], fmod=1)],
                                      [("a", I64, ["n"]), ("b", I64, ["n"])], [("y", I64, None)]),
              {"a": np.array([-7, 7, -7, 7, 0, 9], np.int64),
               "b": np.array([3, -3, -3, 3, 5, 4], np.int64)}))
    c.append(("mod_float_fmod", model("m", [one("Mod", ["a", "b"], ["y"], fmod=1)],
                                      [("a", F, [2, 5]), ("b", F, [1, 5])], [("y", F, None)]),
              {"a": floats(2, 5) * 10, "b": np.array([[1.5, -2.0, 3.0, -0.7, 4.0]], np.float32)}))
    c.append(("mod_uint8", model("m", [one("Mod", ["a", "b"], ["y"])],
                                 [("a", U8, [4]), ("b", U8, [4])], [("y", U8, None)]),
              {"a": np.array([250, 200, 7, 255], np.uint8), "b": np.array([7, 130, 3, 254], np.uint8)}))
    # BitShift on unsigned types, values above the signed range.
    c.append(("bitshift_right_u8", model("m", [one("BitShift", ["a", "b"], ["y"], direction="RIGHT")],
                                         [("a", U8, [4]), ("b", U8, [4])], [("y", U8, None)]),
              {"a": np.array([255, 128, 16, 3], np.uint8), "b": np.array([1, 7, 2, 0], np.uint8)}))
    c.append(("bitshift_left_u64", model("m", [one("BitShift", ["a", "b"], ["y"], direction="LEFT")],
                                         [("a", U64, [3]), ("b", U64, [1])], [("y", U64, None)]),
              {"a": np.array([1, 3, 2**62], np.uint64), "b": np.array([1], np.uint64)}))
    # Integer Pow, and an integer base to a float power.
    c.append(("pow_int32", model("m", [one("Pow", ["a", "b"], ["y"])],
                                 [("a", I32, [5]), ("b", I32, [5])], [("y", I32, None)]),
              {"a": np.array([2, -3, 5, 7, 1], np.int32), "b": np.array([10, 3, 0, 2, 5], np.int32)}))
    c.append(("pow_int64_float", model("m", [one("Pow", ["a", "b"], ["y"])],
                                       [("a", I64, [4]), ("b", F, [4])], [("y", I64, None)]),
              {"a": np.array([2, 3, 4, 9], np.int64), "b": np.array([3.0, 1.5, 0.5, 2.0], np.float32)}))
    # Unsigned arithmetic and comparisons above 127.
    c.append(("uint8_div_max_less", model("m", [one("Div", ["a", "b"], ["q"]), one("Max", ["a", "b"], ["m"]),
                                                one("Less", ["a", "b"], ["l"])],
                                          [("a", U8, [4]), ("b", U8, [4])],
                                          [("q", U8, None), ("m", U8, None), ("l", B, None)]),
              {"a": np.array([200, 10, 255, 129], np.uint8), "b": np.array([3, 250, 2, 128], np.uint8)}))
    c.append(("uint8_clip", model("m", [one("Clip", ["a", "lo", "hi"], ["y"])],
                                  [("a", U8, [4]), ("lo", U8, []), ("hi", U8, [])], [("y", U8, None)]),
              {"a": np.array([200, 10, 255, 129], np.uint8), "lo": np.array(20, np.uint8),
               "hi": np.array(220, np.uint8)}))
    # IsInf, Shrink, PRelu.
    x = np.array([1.0, np.inf, -np.inf, np.nan, -2.0], np.float32)
    c.append(("isinf", model("m", [one("IsInf", ["x"], ["a"]),
                                   one("IsInf", ["x"], ["p"], detect_negative=0),
                                   one("IsInf", ["x"], ["n"], detect_positive=0)],
                             [("x", F, [5])], [("a", B, None), ("p", B, None), ("n", B, None)]),
              {"x": x}))
    c.append(("shrink", model("m", [one("Shrink", ["x"], ["y"], lambd=0.7, bias=0.2)],
                              [("x", F, ["n", 6])], [("y", F, None)]), {"x": floats(3, 6)}))
    c.append(("prelu", model("m", [one("PRelu", ["x", "s"], ["y"])],
                             [("x", F, ["n", 3, 4, 4]), ("s", F, [3, 1, 1])], [("y", F, None)]),
              {"x": floats(2, 3, 4, 4), "s": floats(3, 1, 1)}))
    # Einsum: attention scores (slm.matmul), batched matmul with a dynamic
    # batch, diagonal, sums, transposes, three operands.
    c.append(("einsum_attention", model("m", [one("Einsum", ["q", "k"], ["s"], equation="bhid,bhjd->bhij")],
                                        [("q", F, [2, 3, 5, 8]), ("k", F, [2, 3, 7, 8])], [("s", F, None)]),
              {"q": floats(2, 3, 5, 8), "k": floats(2, 3, 7, 8)}))
    c.append(("einsum_bmm_dynamic", model("m", [one("Einsum", ["a", "b"], ["c"], equation="bij, bjk -> bik")],
                                          [("a", F, ["n", 4, 6]), ("b", F, ["n", 6, 3])], [("c", F, None)]),
              {"a": floats(3, 4, 6), "b": floats(3, 6, 3)}))
    c.append(("einsum_diagonal", model("m", [one("Einsum", ["x"], ["y"], equation="...ii->...i")],
                                       [("x", F, [2, 3, 4, 4])], [("y", F, None)]), {"x": floats(2, 3, 4, 4)}))
    c.append(("einsum_trace_sum", model("m", [one("Einsum", ["x"], ["t"], equation="ii"),
                                              one("Einsum", ["z"], ["s"], equation="ij->")],
                                        [("x", F, [4, 4]), ("z", F, [3, 5])], [("t", F, None), ("s", F, None)]),
              {"x": floats(4, 4), "z": floats(3, 5)}))
    c.append(("einsum_implicit_transpose", model("m", [one("Einsum", ["x"], ["y"], equation="ji")],
                                                 [("x", F, [3, 5])], [("y", F, None)]), {"x": floats(3, 5)}))
    c.append(("einsum_chain_int", model("m", [one("Einsum", ["a", "b", "c"], ["y"], equation="ij,jk,kl->il")],
                                        [("a", I64, [2, 3]), ("b", I64, [3, 4]), ("c", I64, [4, 2])],
                                        [("y", I64, None)]),
              {"a": rng.integers(-5, 5, (2, 3)), "b": rng.integers(-5, 5, (3, 4)),
               "c": rng.integers(-5, 5, (4, 2))}))
    c.append(("einsum_outer_broadcast", model("m", [one("Einsum", ["a", "b"], ["y"], equation="...i,...j->...ij")],
                                              [("a", F, [2, 1, 3]), ("b", F, [4, 5])], [("y", F, None)]),
              {"a": floats(2, 1, 3), "b": floats(4, 5)}))
    # ReduceProd.
    c.append(("reduce_prod", model("m", [one("ReduceProd", ["x"], ["k"], axes=[1]),
                                         one("ReduceProd", ["x"], ["d"], axes=[0, -1], keepdims=0),
                                         one("ReduceProd", ["x"], ["a"])],
                                   [("x", F, ["n", 3, 4])], [("k", F, None), ("d", F, None), ("a", F, None)]),
              {"x": floats(2, 3, 4)}))
    # Losses.
    for reduction in ["none", "sum", "mean"]:
        c.append((f"nllloss_{reduction}",
                  model("m", [one("NegativeLogLikelihoodLoss", ["x", "t", "w"], ["l"], reduction=reduction,
                                  ignore_index=2)],
                        [("x", F, ["n", 5, 3]), ("t", I64, ["n", 3]), ("w", F, [5])], [("l", F, None)]),
                  {"x": floats(4, 5, 3), "t": rng.integers(0, 5, (4, 3)), "w": np.abs(floats(5))}))
    c.append(("sce_log_prob", model("m", [one("SoftmaxCrossEntropyLoss", ["x", "t"], ["l", "p"])],
                                    [("x", F, ["n", 6]), ("t", I32, ["n"])], [("l", F, None), ("p", F, None)]),
              {"x": floats(5, 6), "t": rng.integers(0, 6, (5,)).astype(np.int32)}))
    c.append(("sce_nd_weight_ii", model("m", [one("SoftmaxCrossEntropyLoss", ["x", "t", "w"], ["l"],
                                                  reduction="sum", ignore_index=-1)],
                                        [("x", F, [2, 4, 3, 2]), ("t", I64, [2, 3, 2]), ("w", F, [4])],
                                        [("l", F, None)]),
              {"x": floats(2, 4, 3, 2), "t": rng.integers(-1, 4, (2, 3, 2)), "w": np.abs(floats(4))}))
    # Windows of a run-time size.
    for op in ["HannWindow", "HammingWindow", "BlackmanWindow"]:
        for periodic in [0, 1]:
            c.append((f"{op.lower()}_p{periodic}",
                      model("m", [one(op, ["n"], ["y"], periodic=periodic)], [("n", I64, [])], [("y", F, None)]),
                      {"n": np.array(11, np.int64)}))
    c.append(("hannwindow_double", model("m", [one("HannWindow", ["n"], ["y"], output_datatype=D)],
                                         [("n", I32, [])], [("y", D, None)]), {"n": np.array(8, np.int32)}))
    # Normalizations and Det.
    c.append(("mvn", model("m", [one("MeanVarianceNormalization", ["x"], ["y"])],
                           [("x", F, [2, 3, 4, 5])], [("y", F, None)]), {"x": floats(2, 3, 4, 5)}))
    c.append(("lrn", model("m", [one("LRN", ["x"], ["y"], size=5, alpha=0.001, beta=0.6, bias=1.5)],
                           [("x", F, ["n", 6, 3, 3])], [("y", F, None)]), {"x": floats(2, 6, 3, 3)}))
    c.append(("det", model("m", [one("Det", ["x"], ["y"])], [("x", F, ["n", 4, 4])], [("y", F, None)]),
              {"x": np.concatenate([floats(2, 4, 4),
                                    np.array([[[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 2, 0]]],
                                             np.float32),
                                    np.ones((1, 4, 4), np.float32)])}))
    # DFT and STFT.
    c.append(("dft_real_onesided", model("m", [one("DFT", ["x"], ["y"], axis=1, onesided=1)],
                                         [("x", F, ["n", 12, 1])], [("y", F, None)]), {"x": floats(2, 12, 1)}))
    c.append(("dft_complex_axis2_len", model("m", [one("DFT", ["x", "l"], ["y"], axis=2)],
                                             [("x", F, [2, 3, 8, 2]), ("l", I64, [])], [("y", F, None)]),
              {"x": floats(2, 3, 8, 2), "l": np.array(10, np.int64)}))
    c.append(("dft_inverse", model("m", [one("DFT", ["x"], ["y"], axis=1, inverse=1)],
                                   [("x", F, [2, 9, 2])], [("y", F, None)]), {"x": floats(2, 9, 2)}))
    c.append(("stft_window", model("m", [one("STFT", ["s", "step", "w"], ["y"])],
                                   [("s", F, ["n", 64, 1]), ("step", I64, []), ("w", F, [16])], [("y", F, None)]),
              {"s": floats(2, 64, 1), "step": np.array(6, np.int64),
               "w": np.hanning(16).astype(np.float32)}))
    c.append(("stft_length", model("m", [one("STFT", ["s", "step", "", "fl"], ["y"], onesided=0)],
                                   [("s", F, [1, 40, 2]), ("step", I64, []), ("fl", I64, [])], [("y", F, None)]),
              {"s": floats(1, 40, 2), "step": np.array(5, np.int64), "fl": np.array(10, np.int64)},
              "onnx-reference"))  # ONNX Runtime 1.23 returns garbage for complex STFT
    c.append(("melweightmatrix", model("m", [one("MelWeightMatrix", ["m", "l", "r", "lo", "hi"], ["y"])],
                                       [("m", I32, []), ("l", I32, []), ("r", I32, []), ("lo", F, []),
                                        ("hi", F, [])], [("y", F, None)]),
              {"m": np.array(8, np.int32), "l": np.array(64, np.int32), "r": np.array(16000, np.int32),
               "lo": np.array(100, np.float32), "hi": np.array(6000, np.float32)}))
    # Cast of NaN, infinities and out-of-range floats: defined, and ORT's
    # x86 results (T5's relative buckets cast log(0) to int64).
    I16, U16_ = TensorProto.INT16, TensorProto.UINT16
    targets = [("i8", I8), ("u8", U8), ("i16", I16), ("u16", U16_), ("i32", I32),
               ("u32", U32), ("i64", I64), ("u64", U64)]
    c.append(("cast_out_of_range", model(
        "m", [one("Cast", ["x"], [k], to=t) for k, t in targets], [("x", F, ["n"])],
        [(k, t, None) for k, t in targets]),
        {"x": np.array([np.nan, np.inf, -np.inf, 1e20, -1e20, 3.7, -3.7, 300, -129, 70000, -1,
                        2**31, 2**32 + 512, 2**63, 2**64, 1.5e19], np.float32)}))
    # uint8 through data movement keeps its signedness (a T5 QDQ export:
    # Gather of uint8 codes, Transpose, DequantizeLinear with a zero point).
    codes = rng.integers(0, 256, (8, 4)).astype(np.uint8)
    c.append(("uint8_data_movement", model(
        "m", [one("Gather", ["codes", "ids"], ["g"]), one("Transpose", ["g"], ["t"], perm=[2, 0, 1]),
              one("Slice", ["t", "st", "en"], ["s"]), one("Concat", ["s", "t"], ["c"], axis=0),
              one("DequantizeLinear", ["c", "scale", "zp"], ["y"])],
        [("ids", I64, [2, 3])], [("y", F, None)],
        initializers=[numpy_helper.from_array(codes, "codes"),
                      numpy_helper.from_array(np.array([0], np.int64), "st"),
                      numpy_helper.from_array(np.array([2], np.int64), "en"),
                      numpy_helper.from_array(np.array(0.0125, np.float32), "scale"),
                      numpy_helper.from_array(np.array(103, np.uint8), "zp")]),
        {"ids": np.array([[0, 3, 7], [5, 1, 2]], np.int64)}))
    # DynamicQuantizeLinear of all zeros: scale 1 (ORT's; the formula's 0
    # would make the zero point NaN); of a range with -inf: scale inf, the
    # zero point NaN -> 255 as in ORT, codes of NaN quotients 0.
    dql = [one("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])]
    dql_out = [("y", U8, None), ("s", F, None), ("z", U8, None)]
    c.append(("dynamic_quantize_zeros", model("m", dql, [("x", F, [2, 3])], dql_out),
              {"x": np.zeros((2, 3), np.float32)}))
    c.append(("dynamic_quantize_infinite", model("m", dql, [("x", F, [2, 3])], dql_out),
              {"x": np.array([[1, -np.inf, -1], [0, 2, 3]], np.float32)}))
    # A QDQ pair with an infinite scale (calibration over a -inf mask writes
    # one): x / inf is NaN for x = +-inf, its code 0.
    c.append(("quantize_infinite_scale", model(
        "m", [one("QuantizeLinear", ["x", "scale", "zp"], ["q"]),
              one("DequantizeLinear", ["q", "scale", "zp"], ["y"])],
        [("x", F, [6])], [("q", U8, None), ("y", F, None)],
        initializers=[numpy_helper.from_array(np.array(np.inf, np.float32), "scale"),
                      numpy_helper.from_array(np.array(3, np.uint8), "zp")]),
        {"x": np.array([-np.inf, 1, np.inf, 0, -2, np.nan], np.float32)}))
    return c


def reference(m, feeds, source=None):
    if source == "onnx-reference":
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(m).run(None, feeds), source
    try:
        import onnxruntime as ort
        s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return s.run(None, feeds), "ort"
    except Exception:
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(m).run(None, feeds), "onnx-reference"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--save":
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, m, *_ in cases():
            onnx.save(m, os.path.join(sys.argv[2], name + ".onnx"))
        return 0
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("slm_run")
    p.add_argument("work")
    p.add_argument("--only")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    failures = 0
    for name, m, feeds, *source in cases():
        if args.only and args.only != name:
            continue
        path = os.path.join(args.work, name + ".onnx")
        onnx.save(m, path)
        lib = os.path.join(args.work, name + ".so")
        r = subprocess.run([args.slmc, path, "-o", lib], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: COMPILE FAILED\n{r.stderr}")
            failures += 1
            continue
        expected, source = reference(m, feeds, *source)
        cmd = [args.slm_run, lib, "--rtol", "1e-4", "--atol", "1e-5"]
        for k, v in feeds.items():
            fp = os.path.join(args.work, f"{name}.in.{k}.npy")
            np.save(fp, v)
            cmd += ["--input", f"{k}={fp}"]
        for o, v in zip(m.graph.output, expected):
            fp = os.path.join(args.work, f"{name}.out.{o.name}.npy")
            np.save(fp, np.asarray(v))
            cmd += ["--expect", fp]
        r = subprocess.run(cmd, capture_output=True, text=True)
        status = "ok" if r.returncode == 0 else "MISMATCH"
        failures += r.returncode != 0
        detail = "" if r.returncode == 0 else "\n" + r.stdout + r.stderr
        print(f"{name} ({source}): {status}{detail}")
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
