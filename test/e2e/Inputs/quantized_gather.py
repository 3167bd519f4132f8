"""Rows gathered from a quantized table, decoded as slm.dequantize_weight
defines it, against a float64 NumPy decode of the same codes.

    quantized_gather.py SLMC WORK_DIR

For each kind (int8 with and without zero points, int4 signed and with
zero points, nf4; groups of 4 along a row of 8), writes a model
`gather(dequantize_weight(codes, scales, zp), ids)` with random codes,
compiles it with slmc and runs it on ids that cover every row, negative
ones included. What slm-quantize-weights makes of an embedding tied to a
quantized LM head. Exact: |slm - ref| <= 1e-6 * max |ref|. Prints a line
per kind and "ok N".
"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
       -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
       0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
       0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
V, K, G = 6, 8, 4


def dense(values, type_):
    return f"dense<{np.array2string(np.asarray(values), separator=', ', threshold=10**6)}> : {type_}"


def case(kind, zero_points, rng):
    groups = K // G
    scales = rng.uniform(0.01, 0.1, (V, groups)).astype(np.float32)
    if kind == "int8":
        codes = rng.integers(-128, 128, (V, K)).astype(np.int8)
        zp = rng.integers(-20, 20, (V, groups)).astype(np.int8) if zero_points else None
        c = codes.astype(np.int64)
    else:
        nibbles = rng.integers(0, 16, (V, K))
        codes = (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).astype(np.uint8).view(np.int8)
        zp = rng.integers(0, 16, (V, groups)).astype(np.int8) if zero_points else None
        c = nibbles.astype(np.int64)
        if kind == "int4" and not zero_points:
            c = np.where(c >= 8, c - 16, c)
    s = np.repeat(scales.astype(np.float64), G, axis=1)
    if kind == "nf4":
        ref = np.asarray(NF4, np.float64)[c] * s
    else:
        z = np.repeat(zp.astype(np.int64), G, axis=1) if zp is not None else 0
        ref = (c - z) * s
    code_type = f"tensor<{V}x{codes.shape[1]}xi8>"
    zp_text = ""
    operand_types = [code_type, f"tensor<{V}x{groups}xf32>"]
    lines = [f"  %codes = arith.constant {dense(codes.astype(np.int64), code_type)}",
             f"  %scales = arith.constant {dense(scales, f'tensor<{V}x{groups}xf32>')}"]
    if zp is not None:
        lines.append(f"  %zp = arith.constant {dense(zp.astype(np.int64), f'tensor<{V}x{groups}xi8>')}")
        zp_text = " zero_points %zp"
        operand_types.append(f"tensor<{V}x{groups}xi8>")
    mlir = "\n".join([
        "func.func @main(%ids: tensor<?x?xi64> {slm.name = \"ids\"}) -> (tensor<?x?x8xf32> {slm.name = \"rows\"}) {",
        *lines,
        f"  %w = slm.dequantize_weight <{kind}> %codes, %scales{zp_text} group_size {G} : "
        f"({', '.join(operand_types)}) -> tensor<{V}x{K}xf32>",
        f"  %r = slm.gather %w[%ids] axis 0 : (tensor<{V}x{K}xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>",
        "  return %r : tensor<?x?x8xf32>",
        "}"])
    return mlir, ref


def main():
    slmc, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    ids = np.array([[0, 1, 2, 3], [4, 5, -1, -6]], np.int64)
    ok = 0
    cases = [("int8", False), ("int8", True), ("int4", False), ("int4", True), ("nf4", False)]
    for kind, zero_points in cases:
        name = kind + ("_zp" if zero_points else "")
        mlir, ref = case(kind, zero_points, rng)
        src, lib = os.path.join(work, name + ".mlir"), os.path.join(work, name + ".so")
        with open(src, "w") as f:
            f.write(mlir + "\n")
        subprocess.run([slmc, src, "--quiet", "-o", lib], check=True)
        out = slm.Model(lib).run({"ids": ids})["rows"]
        expect = ref[ids % V]
        err = float(np.abs(out - expect).max() / np.abs(expect).max())
        good = err <= 1e-6
        ok += good
        print(f"{name}: {'ok' if good else 'FAIL'} max error {err:.1e}")
    print(f"ok {ok}")
    return 0 if ok == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
