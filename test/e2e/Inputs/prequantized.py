"""Models quantized by ONNX Runtime's own tools, compiled by slmc, against
ONNX Runtime on the same quantized model.

For a two-layer MLP and for the trained KJV byte LM
(examples/compression/kjv-lm.onnx), each quantized by
  - MatMulNBitsQuantizer (4-bit, block 32, asymmetric and symmetric):
    com.microsoft.MatMulNBits, imported as slm.dequantize_weight <int4>
    and compiled to the int4 GEMM kernels;
  - quantize_dynamic (int8 weights, DynamicQuantizeLinear + MatMulInteger);
  - quantize_static in QDQ format (QuantizeLinear/DequantizeLinear pairs,
    calibrated on random inputs),
slm's outputs must match ONNX Runtime's: relative L2 error
||slm - ort|| / ||ort|| <= 1e-4 for MatMulNBits (both dequantize the same
codes and multiply in f32), <= 2e-2 for the int8 forms (ONNX Runtime's
integer kernels round activations and requantize in their own order; a
single flipped rounding moves an output by a quantization step). The
script also checks that slmc's IR holds dequantize_weight <int4> for the
MatMulNBits models and W8A8 linear layers (input_quant per_tensor for
quantize_dynamic, fixed for QDQ) for the int8 ones, and that no matrix
product was left to plain loops (W8A8 ones excepted on a CPU with neither
AVX-512 VNNI nor AVX2, where --report must say why).

usage: prequantized.py SLMC WORKDIR"""
import os
import subprocess
import sys

import numpy as np
import onnx  # before torch or anything importing Debian's onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_dynamic, quantize_static)
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
import slm  # noqa: E402

slmc, work = sys.argv[1], sys.argv[2]
# slmc targets this machine: W8A8 kernels need AVX-512 VNNI or AVX2.
with open("/proc/cpuinfo") as f:
    FLAGS = set(f.read().split())
DOT = bool(FLAGS & {"avx512_vnni", "avx2"})
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(7)


def mlp(path):
    w1 = rng.standard_normal((64, 128)).astype(np.float32) * 0.2
    b1 = rng.standard_normal(128).astype(np.float32) * 0.1
    w2 = rng.standard_normal((128, 64)).astype(np.float32) * 0.2
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"]),
             helper.make_node("Add", ["h0", "b1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["h"]),
             helper.make_node("MatMul", ["h", "w2"], ["y"])]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "s", 64])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
         numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def feeds_for(model_path, n):
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    if inp.type == "tensor(int64)":
        return [{inp.name: rng.integers(0, 256, (2, 48)).astype(np.int64)} for _ in range(n)]
    return [{inp.name: rng.standard_normal((2, 5, 64)).astype(np.float32)} for _ in range(n)]


class Reader(CalibrationDataReader):
    def __init__(self, feeds):
        self.it = iter(feeds)

    def get_next(self):
        return next(self.it, None)


def quantized(kind, src, dst):
    if kind.startswith("nbits"):
        model = onnx.load(src)
        q = MatMulNBitsQuantizer(model, block_size=32, is_symmetric=kind == "nbits-sym")
        q.process()
        q.model.save_model_to_file(dst, use_external_data_format=False)
    elif kind == "dynamic":
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
    elif kind == "qdq":
        quantize_static(src, dst, Reader(feeds_for(src, 8)), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


failures = 0
models = {"mlp": os.path.join(work, "mlp.onnx"),
          "kjv-lm": os.path.join(ROOT, "examples", "compression", "kjv-lm.onnx")}
mlp(models["mlp"])
for name, src in models.items():
    for kind, tol in [("nbits-asym", 1e-4), ("nbits-sym", 1e-4), ("dynamic", 2e-2), ("qdq", 2e-2)]:
        dst = os.path.join(work, f"{name}-{kind}.onnx")
        quantized(kind, src, dst)
        ops = {n.op_type for n in onnx.load(dst).graph.node}
        lib = dst[:-5] + ".so"
        r = subprocess.run([slmc, dst, "-o", lib, "--report"], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name} {kind}: FAIL: slmc: {r.stderr.strip()[-400:]}")
            failures += 1
            continue
        loops = [l for l in r.stderr.splitlines() if "left as loops" in l]
        mlir = subprocess.run([slmc, dst, "--emit=mlir", "-o", "-"], capture_output=True,
                              text=True).stdout
        uses_int4 = "dequantize_weight <int4>" in mlir
        raised = mlir.count("input_quant = #slm.input_quant<per_tensor>") + \
            mlir.count("input_quant = #slm.input_quant<fixed>")
        session = ort.InferenceSession(dst, providers=["CPUExecutionProvider"])
        model = slm.load(lib)
        worst = 0.0
        for feeds in feeds_for(src, 3):
            ref = session.run(None, feeds)[0].astype(np.float64)
            got = model.run(feeds)[model.outputs[0].name].astype(np.float64)
            worst = max(worst, float(np.linalg.norm(got - ref) / np.linalg.norm(ref)))
        checks = [worst <= tol]
        if kind.startswith("nbits"):
            checks += ["MatMulNBits" in ops, uses_int4, not loops]
        else:
            # The integer products run as W8A8 (VNNI or AVX2) linear layers;
            # a CPU with neither runs them as loops, and --report says so.
            checks += [raised > 0, not loops if DOT else
                       len(loops) == raised and all("neither AVX-512 VNNI" in l for l in loops)]
        ok = all(checks)
        failures += not ok
        print(f"{name} {kind}: {'ok' if ok else 'FAIL'}: relative L2 error {worst:.2e} "
              f"(tolerance {tol:g}); ops {sorted(ops & {'MatMulNBits', 'MatMulInteger', 'DynamicQuantizeLinear', 'DequantizeLinear', 'QuantizeLinear'})}; "
              f"int4 weights {uses_int4}; W8A8 layers {raised}; matrix products left as loops {len(loops)}")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
