"""Compiles slm.fused_attention with its `importance` destination and
compares both results with a float64 NumPy reference: the attention, and
importance[b, j] = sum over heads h and query rows i of softmax_j(s[b, h, i,
:]) (SpAtten's token importance: the probability key j receives).

Cases: padded batches with a key-padding mask (additive -10000 at pads) or
a full [B, H, Sq, Skv] additive bias or none; [B, S, H, D] and [B, H, S, D]
layouts; multi-head, grouped-query (4 heads on 2) and multi-query (6 on 1);
causal and not; fewer queries than keys (a decode step, the causal offset);
lengths 1 to 70 (whole and partial tiles of 16 and 32 rows, more than the
4 tile groups the kernel sums separately); packed batches (`offsets`,
importance [1, T]) with empty and length-1 sequences.

Tolerances: attention |err| <= 1e-5 + 1e-5 |ref|; importance |err| <= 1e-5
(1 + rows), rows = heads x query positions, the largest a sum can be.

usage: fused_attention_importance.py SLMC WORKDIR"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

slmc, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(11)
LOWEST = -np.finfo(np.float32).max
failures = 0
cases = 0


def tensor(shape):
    return "tensor<" + "x".join("?" if d is None else str(d) for d in shape) + "xf32>"


def attrs(heads, dk, seq_dim, causal):
    return (f"num_heads = {heads} : i64, scale = {1 / np.sqrt(dk)!r} : f64, "
            f"seq_dims = array<i64: {seq_dim}, {seq_dim}, {seq_dim}>"
            + (", causal" if causal else ""))


def padded_model(heads, kv, dk, dv, seq_dim, mask, causal):
    def operand(h, d):
        return tensor([None, None, h, d] if seq_dim == 1 else [None, h, None, d])
    q, k, v = operand(heads, dk), operand(kv, dk), operand(kv, dv)
    out = tensor([None, None, heads * dv])
    imp = tensor([None, None])
    m = {"keys": tensor([None, 1, 1, None]),
         "full": tensor([None, heads, None, None])}.get(mask)
    args = f"%q: {q}, %k: {k}, %v: {v}" + (f", %m: {m}" if m else "")
    use = " mask %m" if m else ""
    types = f"{q}, {k}, {v}" + (f", {m}" if m else "")
    return f"""func.func @main({args}) -> ({out}, {imp}) {{
  %c0 = arith.constant 0 : index
  %cs = arith.constant {seq_dim} : index
  %b = tensor.dim %q, %c0 : {q}
  %sq = tensor.dim %q, %cs : {q}
  %skv = tensor.dim %k, %cs : {k}
  %init = tensor.empty(%b, %sq) : {out}
  %iinit = tensor.empty(%b, %skv) : {imp}
  %a, %i = slm.fused_attention %q, %k, %v{use} outs %init importance %iinit {{{attrs(heads, dk, seq_dim, causal)}}}
      : ({types}, {out}, {imp}) -> ({out}, {imp})
  return %a, %i : {out}, {imp}
}}
"""


def packed_model(heads, kv, dk, dv, causal):
    q, k, v = (tensor([1, None, h, d]) for h, d in ((heads, dk), (kv, dk), (kv, dv)))
    out = tensor([1, None, heads * dv])
    imp = tensor([1, None])
    return f"""func.func @main(%q: {q}, %k: {k}, %v: {v}, %o: tensor<?xi64>) -> ({out}, {imp}) {{
  %c1 = arith.constant 1 : index
  %off = arith.index_cast %o : tensor<?xi64> to tensor<?xindex>
  %t = tensor.dim %q, %c1 : {q}
  %init = tensor.empty(%t) : {out}
  %iinit = tensor.empty(%t) : {imp}
  %a, %i = slm.fused_attention %q, %k, %v offsets %off outs %init importance %iinit {{{attrs(heads, dk, 1, causal)}}}
      : ({q}, {k}, {v}, tensor<?xindex>, {out}, {imp}) -> ({out}, {imp})
  return %a, %i : {out}, {imp}
}}
"""


def attend(q, k, v, bias, causal):
    """q [H, Sq, Dk], k [Hkv, Skv, Dk], v [Hkv, Skv, Dv] in float64 ->
    out [Sq, H * Dv], importance [Skv]."""
    heads, sq, dk = q.shape
    kv, skv, _ = k.shape
    g = heads // kv
    k = np.repeat(k, g, axis=0)
    v = np.repeat(v, g, axis=0)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(dk)
    if bias is not None:
        s = s + bias
    if causal:
        visible = np.arange(skv)[None, :] <= np.arange(sq)[:, None] + (skv - sq)
        s = np.where(visible, s, LOWEST)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    out = (p @ v).transpose(1, 0, 2).reshape(sq, -1)
    return out, p.sum(axis=(0, 1))


def compile_model(text):
    path = os.path.join(work, f"imp{compile_model.count}.mlir")
    compile_model.count += 1
    with open(path, "w") as f:
        f.write(text)
    lib = path[:-len(".mlir")] + ".so"
    subprocess.run([slmc, path, "-o", lib], check=True)
    return lib


compile_model.count = 0


def check(label, lib, inputs, expected_out, expected_imp, rows):
    global failures, cases
    with slm.load(lib) as m:
        names = [i.name for i in m.inputs]
        got = list(m.run(dict(zip(names, inputs))).values())
    out, imp = got
    err_out = np.abs(out.astype(np.float64) - expected_out)
    err_imp = np.abs(imp.astype(np.float64) - expected_imp)
    ok = (out.shape == expected_out.shape and imp.shape == expected_imp.shape
          and bool(np.all(err_out <= 1e-5 + 1e-5 * np.abs(expected_out)))
          and bool(np.all(err_imp <= 1e-5 * (1 + rows))))
    failures += not ok
    cases += 1
    print(f"{label}: {'ok' if ok else 'MISMATCH'}: max abs err attention "
          f"{err_out.max() if err_out.size else 0:.2e} importance "
          f"{err_imp.max() if err_imp.size else 0:.2e}")


def layout(x, seq_dim):
    """[B, S, H, D] -> the operand's layout."""
    return x if seq_dim == 1 else np.ascontiguousarray(x.transpose(0, 2, 1, 3))


for heads, kv, dk, dv in ((1, 1, 8, 8), (4, 4, 16, 24), (4, 2, 32, 32), (6, 1, 16, 8)):
    for seq_dim, mask, causal in ((1, "keys", False), (2, "full", False),
                                  (1, None, True), (2, "keys", True)):
        lib = compile_model(padded_model(heads, kv, dk, dv, seq_dim, mask, causal))
        for batch, sq, skv in ((1, 1, 1), (3, 7, 7), (2, 33, 33), (1, 70, 70),
                               (2, 1, 40), (1, 3, 50)):
            q = rng.standard_normal((batch, sq, heads, dk)).astype(np.float32)
            k = rng.standard_normal((batch, skv, kv, dk)).astype(np.float32)
            v = rng.standard_normal((batch, skv, kv, dv)).astype(np.float32)
            inputs = [layout(q, seq_dim), layout(k, seq_dim), layout(v, seq_dim)]
            if mask == "keys":
                lengths = rng.integers(1, skv + 1, size=batch)
                lengths[0] = skv
                bias = np.where(np.arange(skv)[None, :] < lengths[:, None], 0.0,
                                -10000.0).astype(np.float32).reshape(batch, 1, 1, skv)
                inputs.append(bias)
            elif mask == "full":
                bias = rng.standard_normal((batch, heads, sq, skv)).astype(np.float32)
                inputs.append(bias)
            else:
                bias = None
            out = np.zeros((batch, sq, heads * dv))
            imp = np.zeros((batch, skv))
            for b in range(batch):
                out[b], imp[b] = attend(
                    q[b].transpose(1, 0, 2).astype(np.float64),
                    k[b].transpose(1, 0, 2).astype(np.float64),
                    v[b].transpose(1, 0, 2).astype(np.float64),
                    None if bias is None else bias[b].astype(np.float64), causal)
            check(f"padded heads {heads}/{kv} dk {dk} dv {dv} seq_dim {seq_dim} "
                  f"mask {mask} {'causal' if causal else 'full'} b {batch} "
                  f"sq {sq} skv {skv}", lib, inputs, out, imp, heads * sq)

for heads, kv, dk, dv in ((1, 1, 8, 8), (4, 2, 16, 24)):
    for causal in (False, True):
        lib = compile_model(packed_model(heads, kv, dk, dv, causal))
        for lengths in ([5], [0, 1, 17, 0, 40], [100, 3, 16, 33], [1, 1, 1]):
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            total = int(offsets[-1])
            q = rng.standard_normal((1, total, heads, dk)).astype(np.float32)
            k = rng.standard_normal((1, total, kv, dk)).astype(np.float32)
            v = rng.standard_normal((1, total, kv, dv)).astype(np.float32)
            out = np.zeros((1, total, heads * dv))
            imp = np.zeros((1, total))
            for b in range(len(lengths)):
                lo, hi = offsets[b], offsets[b + 1]
                if hi == lo:
                    continue
                out[0, lo:hi], imp[0, lo:hi] = attend(
                    q[0, lo:hi].transpose(1, 0, 2).astype(np.float64),
                    k[0, lo:hi].transpose(1, 0, 2).astype(np.float64),
                    v[0, lo:hi].transpose(1, 0, 2).astype(np.float64), None, causal)
            check(f"packed heads {heads}/{kv} dk {dk} dv {dv} "
                  f"{'causal' if causal else 'full'} lengths {lengths}", lib,
                  [q, k, v, offsets], out, imp, heads * max(lengths))
print(f"{cases} cases, {failures} failures")
sys.exit(1 if failures else 0)
