"""int8 weight-only linear layers through the GEMM kernels, against a
float64 reference on the dequantized weights.

Each case is slm IR with an explicit `slm.dequantize_weight <int8>` (random
codes in [-127, 127], one scale per output channel, one all-zero row with
scale 0), compiled by slmc, run through the slm Python package, and
compared with x @ (codes * scales)^T + bias in float64:
|slm - ref| <= 1e-5 + 1e-5 * |ref|. Shapes cover whole and leftover 8-row
register tiles, columns padded to a 32-wide panel, masked tails, bias
folded into the accumulators (divided by the scale), and a ReLU epilogue.

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


failures = 0
for n, k, bias, act in [(32, 16, False, "none"), (40, 64, True, "none"), (64, 48, True, "relu"),
                        (96, 128, False, "relu"), (8, 32, True, "none")]:
    codes = rng.integers(-127, 128, (n, k)).astype(np.int8)
    scales = (rng.random((n, 1)) * 0.02 + 0.001).astype(np.float32)
    codes[n // 2] = 0
    scales[n // 2] = 0.0
    b = rng.standard_normal(n).astype(np.float32)
    bias_decl = f"  %b = arith.constant {dense(b)} : tensor<{n}xf32>\n" if bias else ""
    bias_use = ", %b" if bias else ""
    bias_type = f", tensor<{n}xf32>" if bias else ""
    act_attr = f" {{activation = #slm.activation<{act}>}}" if act != "none" else ""
    text = f"""func.func @main(%x: tensor<?x{k}xf32> {{slm.name = "x"}}) -> (tensor<?x{n}xf32> {{slm.name = "y"}}) {{
  %codes = arith.constant {dense(codes, 'i8')} : tensor<{n}x{k}xi8>
  %scales = arith.constant {dense(scales)} : tensor<{n}x1xf32>
{bias_decl}  %w = slm.dequantize_weight <int8> %codes, %scales : (tensor<{n}x{k}xi8>, tensor<{n}x1xf32>) -> tensor<{n}x{k}xf32>
  %y = slm.linear %x, %w{bias_use}{act_attr} : (tensor<?x{k}xf32>, tensor<{n}x{k}xf32>{bias_type}) -> tensor<?x{n}xf32>
  return %y : tensor<?x{n}xf32>
}}
"""
    path = os.path.join(work, f"int8_{n}x{k}.mlir")
    lib = path[:-5] + ".so"
    with open(path, "w") as f:
        f.write(text)
    subprocess.run([slmc, path, "-o", lib, *extra], check=True)
    model = slm.load(lib)
    w = codes.astype(np.float64) * scales.astype(np.float64)
    for m in (1, 7, 8, 9, 17):
        x = rng.standard_normal((m, k)).astype(np.float32)
        ref = x.astype(np.float64) @ w.T + (b.astype(np.float64) if bias else 0)
        if act == "relu":
            ref = np.maximum(ref, 0)
        y = model.run({"x": x})["y"]
        err = np.abs(y - ref)
        ok = bool(np.all(err <= 1e-5 + 1e-5 * np.abs(ref)))
        failures += not ok
        print(f"int8 {m}x{k} -> {n} bias={bias} {act}: {'ok' if ok else 'FAIL'}: max err {err.max():.2e}")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
