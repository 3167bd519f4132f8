"""4-bit weight-only linear layers (int4 symmetric and asymmetric, NF4;
group-wise and per channel) through the GEMM kernels, against float64 on
the dequantized weights.

Each case is slm IR with an explicit `slm.dequantize_weight <int4|nf4>`
(random codes, two per byte, low nibble first; random scales and zero
points), compiled by slmc, run through the slm Python package and compared
with x @ dequant(W)^T + bias in float64: |slm - ref| <= 1e-5 + 1e-5 * |ref|.
The dequantization follows the op's documented semantics, written here
independently of the compiler's codecs.

usage: int4_kernels.py SLMC WORKDIR [slmc options...]"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
                0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0])

slmc, work, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(5)


def dense(a):
    if a.dtype == np.int8:
        return 'dense<"0x' + a.tobytes().hex().upper() + '">'
    text = np.array2string(a, separator=", ", threshold=1 << 30, floatmode="unique")
    return f"dense<{text.replace(chr(10), '')}>"


failures = 0
# (kind, n, k, group (0: per channel), zero points, bias, activation)
for kind, n, k, group, asym, bias, act in [
        ("int4", 32, 64, 32, False, True, "none"), ("int4", 40, 128, 64, True, False, "relu"),
        ("int4", 96, 256, 128, False, True, "none"), ("int4", 64, 48, 0, True, True, "none"),
        ("nf4", 32, 64, 32, False, False, "none"), ("nf4", 72, 256, 128, False, True, "relu")]:
    g = group or k
    groups = k // g
    # Codes: nibbles in [-8, 7] (symmetric int4) or [0, 15].
    nib = rng.integers(0, 16, (n, k)).astype(np.uint8)
    packed = (nib[:, 0::2] | (nib[:, 1::2] << 4)).astype(np.uint8).view(np.int8)
    scales = (rng.random((n, groups)) * 0.05 + 0.001).astype(np.float32)
    zps = rng.integers(0, 16, (n, groups)).astype(np.int8)
    codes_value = nib.astype(np.float64)
    if kind == "int4" and not asym:
        codes_value = np.where(nib >= 8, nib.astype(np.int64) - 16, nib).astype(np.float64)
    expand = np.repeat(np.arange(groups), g)
    if kind == "nf4":
        w = NF4[nib] * scales.astype(np.float64)[:, expand]
    else:
        zp = zps.astype(np.float64)[:, expand] if asym else 0.0
        w = (codes_value - zp) * scales.astype(np.float64)[:, expand]
    b = rng.standard_normal(n).astype(np.float32)
    zp_decl = f"  %zp = arith.constant {dense(zps)} : tensor<{n}x{groups}xi8>\n" if asym else ""
    zp_use = " zero_points %zp" if asym else ""
    zp_type = f", tensor<{n}x{groups}xi8>" if asym else ""
    group_use = f" group_size {g}" if group else ""
    bias_decl = f"  %b = arith.constant {dense(b)} : tensor<{n}xf32>\n" if bias else ""
    bias_use = ", %b" if bias else ""
    bias_type = f", tensor<{n}xf32>" if bias else ""
    act_attr = f" {{activation = #slm.activation<{act}>}}" if act != "none" else ""
    text = f"""func.func @main(%x: tensor<?x{k}xf32> {{slm.name = "x"}}) -> (tensor<?x{n}xf32> {{slm.name = "y"}}) {{
  %codes = arith.constant {dense(packed)} : tensor<{n}x{k // 2}xi8>
  %scales = arith.constant {dense(scales)} : tensor<{n}x{groups}xf32>
{zp_decl}{bias_decl}  %w = slm.dequantize_weight <{kind}> %codes, %scales{zp_use}{group_use} : (tensor<{n}x{k // 2}xi8>, tensor<{n}x{groups}xf32>{zp_type}) -> tensor<{n}x{k}xf32>
  %y = slm.linear %x, %w{bias_use}{act_attr} : (tensor<?x{k}xf32>, tensor<{n}x{k}xf32>{bias_type}) -> tensor<?x{n}xf32>
  return %y : tensor<?x{n}xf32>
}}
"""
    name = f"{kind}{'a' if asym else ''}_{n}x{k}_g{group}"
    path = os.path.join(work, name + ".mlir")
    lib = path[:-5] + ".so"
    with open(path, "w") as f:
        f.write(text)
    subprocess.run([slmc, path, "-o", lib, *extra], check=True)
    model = slm.load(lib)
    for m in (1, 7, 8, 9, 17):
        x = rng.standard_normal((m, k)).astype(np.float32)
        ref = x.astype(np.float64) @ w.T + (b.astype(np.float64) if bias else 0)
        if act == "relu":
            ref = np.maximum(ref, 0)
        y = model.run({"x": x})["y"]
        err = np.abs(y - ref)
        ok = bool(np.all(err <= 1e-5 + 1e-5 * np.abs(ref)))
        failures += not ok
        print(f"{name} m={m} bias={bias} {act}: {'ok' if ok else 'FAIL'}: max err {err.max():.2e}")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
