"""int8 weight-only and W8A8 linear layers through the GEMM kernels.

Each case is slm IR with an explicit `slm.dequantize_weight <int8>` (random
codes in [-127, 127], one scale per output channel, one all-zero row with
scale 0), compiled by slmc and run through the slm Python package.
Weight-only cases are compared with x @ (codes * scales)^T + bias in
float64; W8A8 cases (`input_quant = per_token`) with the same per-token
uint8 quantization done here in f32, the exact integer product, and the
scaling in float64 (rows with an outlier, negative-only rows and an
all-zero row exercise the range and zero point). Tolerance
|slm - ref| <= 1e-5 + 1e-5 * |ref|. Shapes cover whole and leftover
register tiles, columns padded to a panel, bias folded into the
accumulators, and a ReLU epilogue.

usage: int8_kernels.py SLMC WORKDIR [slmc options...]"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

slmc, work, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(11)


def dense(a, kind="f32"):
    text = np.array2string(a, separator=", ", threshold=1 << 30,
                           floatmode="unique" if kind == "f32" else "maxprec").replace("\n", "")
    return f"dense<{text}>"


def w8a8_reference(x, codes, scales, b):
    """Per-token uint8 quantization of x as the compiled code does it (f32
    arithmetic of ONNX DynamicQuantizeLinear), the integer product exactly,
    and the scaling in float64."""
    mn = np.minimum(x.min(axis=1), 0).astype(np.float32)
    mx = np.maximum(x.max(axis=1), 0).astype(np.float32)
    s = ((mx - mn) / np.float32(255)).astype(np.float32)
    s = np.where(s <= 0, np.float32(1), s).astype(np.float32)
    z = np.clip(np.rint(-mn / s), 0, 255).astype(np.float32)
    inv = (np.float32(1) / s).astype(np.float32)
    q = np.clip(np.rint(x * inv[:, None]) + z[:, None], 0, 255).astype(np.int64)
    acc = (q - z.astype(np.int64)[:, None]) @ codes.astype(np.int64).T
    return acc * (s.astype(np.float64)[:, None] * scales.astype(np.float64).reshape(1, -1)) + b


failures = 0
for n, k, bias, act, w8a8 in [(32, 16, False, "none", False), (40, 64, True, "none", False),
                              (64, 48, True, "relu", False), (96, 128, False, "relu", False),
                              (8, 32, True, "none", False), (32, 16, False, "none", True),
                              (40, 64, True, "none", True), (64, 48, True, "relu", True),
                              (96, 128, False, "relu", True), (8, 32, True, "none", True)]:
    codes = rng.integers(-127, 128, (n, k)).astype(np.int8)
    scales = (rng.random((n, 1)) * 0.02 + 0.001).astype(np.float32)
    codes[n // 2] = 0
    scales[n // 2] = 0.0
    b = rng.standard_normal(n).astype(np.float32)
    bias_decl = f"  %b = arith.constant {dense(b)} : tensor<{n}xf32>\n" if bias else ""
    bias_use = ", %b" if bias else ""
    bias_type = f", tensor<{n}xf32>" if bias else ""
    attrs = ([f"activation = #slm.activation<{act}>"] if act != "none" else []) + \
        (["input_quant = #slm.input_quant<per_token>"] if w8a8 else [])
    act_attr = f" {{{', '.join(attrs)}}}" if attrs else ""
    text = f"""func.func @main(%x: tensor<?x{k}xf32> {{slm.name = "x"}}) -> (tensor<?x{n}xf32> {{slm.name = "y"}}) {{
  %codes = arith.constant {dense(codes, 'i8')} : tensor<{n}x{k}xi8>
  %scales = arith.constant {dense(scales)} : tensor<{n}x1xf32>
{bias_decl}  %w = slm.dequantize_weight <int8> %codes, %scales : (tensor<{n}x{k}xi8>, tensor<{n}x1xf32>) -> tensor<{n}x{k}xf32>
  %y = slm.linear %x, %w{bias_use}{act_attr} : (tensor<?x{k}xf32>, tensor<{n}x{k}xf32>{bias_type}) -> tensor<?x{n}xf32>
  return %y : tensor<?x{n}xf32>
}}
"""
    path = os.path.join(work, f"{'w8a8' if w8a8 else 'int8'}_{n}x{k}.mlir")
    lib = path[:-5] + ".so"
    with open(path, "w") as f:
        f.write(text)
    subprocess.run([slmc, path, "-o", lib, *extra], check=True)
    model = slm.load(lib)
    w = codes.astype(np.float64) * scales.astype(np.float64)
    for m in (1, 7, 8, 9, 17):
        x = rng.standard_normal((m, k)).astype(np.float32)
        if w8a8:
            # Rows with a large value next to small ones, a negative-only
            # row and an all-zero row test the zero point and the range.
            x[0, 0] = 40.0
            if m > 1:
                x[-1] = 0.0
            if m > 2:
                x[1] = -np.abs(x[1])
            ref = w8a8_reference(x, codes, scales, b.astype(np.float64) if bias else 0)
        else:
            ref = x.astype(np.float64) @ w.T + (b.astype(np.float64) if bias else 0)
        if act == "relu":
            ref = np.maximum(ref, 0)
        y = model.run({"x": x})["y"]
        err = np.abs(y - ref)
        ok = bool(np.all(err <= 1e-5 + 1e-5 * np.abs(ref)))
        failures += not ok
        kind = "w8a8" if w8a8 else "int8"
        print(f"{kind} {m}x{k} -> {n} bias={bias} {act}: {'ok' if ok else 'FAIL'}: max err {err.max():.2e}")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
