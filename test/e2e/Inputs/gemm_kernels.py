"""Compiles linear layers and matrix products with shapes that exercise
every path of the GEMM kernels (whole register tiles, leftover rows, columns
padded to a panel, masked columns, broadcast batch operands, folded bias and
zero fills), runs them through the slm Python package and compares with a
float64 NumPy reference: |slm - ref| <= 1e-5 + 1e-5 * |ref|.

usage: gemm_kernels.py SLMC WORKDIR [slmc options...]"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

slmc, work, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(7)


def dense(a):
    return "dense<" + np.array2string(a.astype(np.float32), separator=", ", threshold=1 << 30,
                                      floatmode="unique").replace("\n", "") + ">"


def tensor(shape):
    return "tensor<" + "x".join("?" if d is None else str(d) for d in shape) + "xf32>"


failures = 0
libraries = {}  # model text: compiled library


def check(name, text, inputs, expected):
    global failures
    if text not in libraries:
        path = os.path.join(work, f"model{len(libraries)}.mlir")
        with open(path, "w") as f:
            f.write(text)
        libraries[text] = path[:-len(".mlir")] + ".so"
        subprocess.run([slmc, path, "-o", libraries[text], *extra], check=True)
    lib = libraries[text]
    with slm.load(lib) as model:
        names = [i.name for i in model.inputs]
        got = list(model.run(dict(zip(names, inputs.values()))).values())[0]
    err = np.abs(got.astype(np.float64) - expected)
    ok = got.shape == expected.shape and bool(np.all(err <= 1e-5 + 1e-5 * np.abs(expected)))
    failures += not ok
    print(f"{name}: {'ok' if ok else 'MISMATCH'}: shape {got.shape} max abs err {err.max():.2e}")


# Linear layers: x [rows, K] * W^T [K, N] + b, activation relu or none.
for n, k, act in [(40, 24, "none"), (64, 48, "relu"), (16, 8, "none"), (96, 33, "relu")]:
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    text = f"""func.func @main(%x: {tensor((None, k))}) -> {tensor((None, n))} {{
  %w = arith.constant {dense(w)} : {tensor((n, k))}
  %b = arith.constant {dense(b)} : {tensor((n,))}
  %y = slm.linear %x, %w, %b {{activation = #slm.activation<{act}>}} : ({tensor((None, k))}, {tensor((n, k))}, {tensor((n,))}) -> {tensor((None, n))}
  return %y : {tensor((None, n))}
}}
"""
    for rows in (1, 7, 8, 67):
        x = rng.standard_normal((rows, k)).astype(np.float32)
        ref = x.astype(np.float64) @ w.astype(np.float64).T + b
        if act == "relu":
            ref = np.maximum(ref, 0)
        check(f"linear_n{n}_k{k}_{act}_rows{rows}", text, {"x": x}, ref)

# Batched products of two inputs: [B, H, M, K] x [B or 1, H, K, N], N dynamic.
text = f"""func.func @main(%a: {tensor((None, 3, None, 16))}, %b: {tensor((1, 3, 16, None))}) -> {tensor((None, 3, None, None))} {{
  %c = slm.matmul %a, %b : ({tensor((None, 3, None, 16))}, {tensor((1, 3, 16, None))}) -> {tensor((None, 3, None, None))}
  return %c : {tensor((None, 3, None, None))}
}}
"""
for batch, m, n in [(2, 5, 13), (1, 9, 40), (3, 16, 1)]:
    a = rng.standard_normal((batch, 3, m, 16)).astype(np.float32)
    b = rng.standard_normal((1, 3, 16, n)).astype(np.float32)
    check(f"matmul_b{batch}_m{m}_n{n}", text, {"a": a, "b": b},
          np.matmul(a.astype(np.float64), b.astype(np.float64)))

print(f"{failures} failures")
sys.exit(1 if failures else 0)
