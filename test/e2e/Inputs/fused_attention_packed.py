"""Compiles slm.fused_attention on packed batches (`offsets`, what
--slm-padding-free makes) and compares it with a float64 NumPy reference:
each sequence b, rows [offsets[b], offsets[b + 1]) of Q, K and V, attends
within itself (causal within itself when asked). Tolerance:
|slm - ref| <= 1e-5 + 1e-5 * |ref|.

Cases: lengths with empty sequences, length 1, whole and partial 16- and
32-row tiles and key blocks, one long sequence among short ones (the
longest sets the tiles per sequence: the others' extra tiles must do
nothing); 1, 2 and 4 heads; head widths 8 to 64, value width unlike the
key's; causal and not.

usage: fused_attention_packed.py SLMC WORKDIR"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

slmc, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(5)
LOWEST = -np.finfo(np.float32).max
failures = 0


def model(heads, dk, dv, causal):
    """q, k [1, T, H, Dk], v [1, T, H, Dv], offsets as i64 [B + 1]."""
    q = f"tensor<1x?x{heads}x{dk}xf32>"
    v = f"tensor<1x?x{heads}x{dv}xf32>"
    out = f"tensor<1x?x{heads * dv}xf32>"
    attrs = f"num_heads = {heads} : i64, scale = {1 / np.sqrt(dk)!r} : f64, " \
            f"seq_dims = array<i64: 1, 1, 1>" + (", causal" if causal else "")
    return f"""func.func @main(%q: {q}, %k: {q}, %v: {v}, %o: tensor<?xi64>) -> {out} {{
  %c1 = arith.constant 1 : index
  %off = arith.index_cast %o : tensor<?xi64> to tensor<?xindex>
  %t = tensor.dim %q, %c1 : {q}
  %init = tensor.empty(%t) : {out}
  %a = slm.fused_attention %q, %k, %v offsets %off outs %init {{{attrs}}}
      : ({q}, {q}, {v}, tensor<?xindex>, {out}) -> {out}
  return %a : {out}
}}
"""


def reference(q, k, v, offsets, causal):
    _, total, heads, dk = q.shape
    dv = v.shape[3]
    out = np.zeros((1, total, heads * dv))
    for b in range(len(offsets) - 1):
        lo, hi = offsets[b], offsets[b + 1]
        if hi == lo:
            continue
        qh = q[0, lo:hi].transpose(1, 0, 2).astype(np.float64)
        kh = k[0, lo:hi].transpose(1, 0, 2).astype(np.float64)
        vh = v[0, lo:hi].transpose(1, 0, 2).astype(np.float64)
        s = qh @ kh.transpose(0, 2, 1) / np.sqrt(dk)
        if causal:
            n = hi - lo
            s = np.where(np.arange(n)[None, :] <= np.arange(n)[:, None], s, LOWEST)
        s = s - s.max(-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(-1, keepdims=True)
        out[0, lo:hi] = (p @ vh).transpose(1, 0, 2).reshape(hi - lo, heads * dv)
    return out


libraries = {}
for heads, dk, dv in ((1, 8, 8), (2, 16, 24), (4, 64, 64), (4, 32, 8)):
    for causal in (False, True):
        text = model(heads, dk, dv, causal)
        path = os.path.join(work, f"packed{len(libraries)}.mlir")
        with open(path, "w") as f:
            f.write(text)
        lib = path[:-len(".mlir")] + ".so"
        subprocess.run([slmc, path, "-o", lib], check=True)
        libraries[text] = lib
        for lengths in ([5], [0, 1, 17, 0, 40], [100, 3, 16, 33], [1, 1, 1], [64, 0, 32, 15]):
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            total = int(offsets[-1])
            q = rng.standard_normal((1, total, heads, dk)).astype(np.float32)
            k = rng.standard_normal((1, total, heads, dk)).astype(np.float32)
            v = rng.standard_normal((1, total, heads, dv)).astype(np.float32)
            expected = reference(q, k, v, offsets, causal)
            with slm.load(lib) as m:
                names = [i.name for i in m.inputs]
                got = list(m.run(dict(zip(names, [q, k, v, offsets]))).values())[0]
            err = np.abs(got.astype(np.float64) - expected)
            ok = got.shape == expected.shape and bool(
                np.all(err <= 1e-5 + 1e-5 * np.abs(expected)))
            failures += not ok
            print(f"heads {heads} dk {dk} dv {dv} {'causal' if causal else 'full'} "
                  f"lengths {lengths}: {'ok' if ok else 'MISMATCH'}: "
                  f"max abs err {err.max() if err.size else 0:.2e}")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
