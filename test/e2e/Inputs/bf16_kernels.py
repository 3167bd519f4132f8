"""bf16 linear layers (--precision=bf16) through the dot kernels.

Each case is slm IR with one `slm.linear` carrying `precision =
#slm.precision<bf16>` (a float constant weight), compiled by slmc and run
through the slm Python package. The reference rounds the input and the
weight to bfloat16 here (to nearest, ties to even, on the f32 bits), takes
the products exactly and sums them in float64. The products are exact in
f32 too, so only the order and precision of the f32 sums differ:
|slm - ref| <= 4e-6 * (|x_bf16| @ |w_bf16|^T) + 1e-6. Rounding by
truncation, or no rounding at all, is off by ~1e-3 of that scale and
fails. Shapes cover whole and leftover register tiles, 64-column and
32-column panels, columns padded to a panel, an odd number of k pairs,
the bias folded into the accumulators and a ReLU epilogue. The last case
is a layer whose in_features is odd: --slm-set-precision keeps it f32.

usage: bf16_kernels.py SLMC WORKDIR [slmc options...]"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

slmc, work, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(5)


def to_bf16(a):
    """float32 -> bfloat16 (round to nearest even), returned as float32."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def dense(a):
    text = np.array2string(a, separator=", ", threshold=1 << 30,
                           floatmode="unique").replace("\n", "")
    return f"dense<{text}>"


failures = 0
cases = [(32, 16, False, "none"), (40, 64, True, "none"), (128, 48, True, "relu"),
         (96, 128, False, "relu"), (8, 34, True, "none"), (64, 768, True, "none")]
for n, k, bias, act in cases:
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    bias_decl = f"  %b = arith.constant {dense(b)} : tensor<{n}xf32>\n" if bias else ""
    bias_use = ", %b" if bias else ""
    bias_type = f", tensor<{n}xf32>" if bias else ""
    attrs = ["precision = #slm.precision<bf16>"] + \
        ([f"activation = #slm.activation<{act}>"] if act != "none" else [])
    text = f"""func.func @main(%x: tensor<?x{k}xf32> {{slm.name = "x"}}) -> (tensor<?x{n}xf32> {{slm.name = "y"}}) {{
  %w = arith.constant {dense(w)} : tensor<{n}x{k}xf32>
{bias_decl}  %y = slm.linear %x, %w{bias_use} {{{', '.join(attrs)}}} : (tensor<?x{k}xf32>, tensor<{n}x{k}xf32>{bias_type}) -> tensor<?x{n}xf32>
  return %y : tensor<?x{n}xf32>
}}
"""
    path = os.path.join(work, f"bf16_{n}x{k}.mlir")
    lib = path[:-5] + ".so"
    with open(path, "w") as f:
        f.write(text)
    subprocess.run([slmc, path, "-o", lib, *extra], check=True)
    model = slm.load(lib)
    wb = to_bf16(w).astype(np.float64)
    for m in (1, 7, 8, 9, 17):
        x = rng.standard_normal((m, k)).astype(np.float32)
        x[0, : min(k, 4)] = [1.00390625, -3.0078125, 0.0, 1e-3][: min(k, 4)]
        xb = to_bf16(x).astype(np.float64)
        ref = xb @ wb.T + (b.astype(np.float64) if bias else 0)
        scale = np.abs(xb) @ np.abs(wb).T
        if act == "relu":
            ref = np.maximum(ref, 0)
        y = model.run({"x": x})["y"]
        err = np.abs(y - ref)
        ok = bool(np.all(err <= 4e-6 * scale + 1e-6))
        # Unrounded f32 products would be this far off: the test can tell.
        f32_err = np.abs(x.astype(np.float64) @ w.astype(np.float64).T
                         + (b if bias else 0) - (ref if act == "none" else 0))
        failures += not ok
        print(f"bf16 {m}x{k} -> {n} bias={bias} {act}: {'ok' if ok else 'FAIL'}: "
              f"max err {err.max():.2e} (bound {(4e-6 * scale + 1e-6).min():.1e}; "
              f"f32 products differ by {f32_err.max() if act == 'none' else float('nan'):.1e})")

# An odd in_features stays f32 through slmc --precision=bf16.
k, n = 15, 16
w = rng.standard_normal((n, k)).astype(np.float32)
path = os.path.join(work, "odd.mlir")
with open(path, "w") as f:
    f.write(f"""func.func @main(%x: tensor<?x{k}xf32> {{slm.name = "x"}}) -> (tensor<?x{n}xf32> {{slm.name = "y"}}) {{
  %w = arith.constant {dense(w)} : tensor<{n}x{k}xf32>
  %y = slm.linear %x, %w : (tensor<?x{k}xf32>, tensor<{n}x{k}xf32>) -> tensor<?x{n}xf32>
  return %y : tensor<?x{n}xf32>
}}
""")
run = subprocess.run([slmc, path, "-o", path[:-5] + ".so", "--precision=bf16", *extra],
                     capture_output=True, text=True)
x = rng.standard_normal((3, k)).astype(np.float32)
ref = x.astype(np.float64) @ w.astype(np.float64).T
y = slm.load(path[:-5] + ".so").run({"x": x})["y"] if run.returncode == 0 else None
ok = y is not None and bool(np.all(np.abs(y - ref) <= 1e-5 + 1e-5 * np.abs(ref))) and \
    "kept in f32" in run.stderr
failures += not ok
print(f"odd in_features kept f32: {'ok' if ok else 'FAIL'}: {run.stderr.strip().splitlines()[:1]}")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
