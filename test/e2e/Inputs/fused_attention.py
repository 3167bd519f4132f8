"""Compiles attentions that exercise every path of the fused attention kernel
(--slm-fuse-attention, --slm-lower-fused-attention) and compares them with a
float64 NumPy reference of slm.attention's semantics: scores scaled, an
additive mask added or an i1 mask's false entries and the causal limit
j > i + (Skv - Sq) set to the lowest finite value, softmax over the keys.
Tolerance: |slm - ref| <= 1e-5 + 1e-5 * |ref|.

Cases: merged [B, S, H*D] inputs and HF's [B, H, S, D] layout with the
grouped-query head repeat; lengths 1, 5, 16, 17, 40, 100 (whole and partial
16-row tiles and 16-key blocks); causal with and without a mask, decode
shapes (Sq < Skv) and Sq > Skv; padding masks ([B, 1, 1, Skv]: one value per
key), per-row masks ([B, 1, Sq, Skv], [B, H, Sq, Skv]), i1 masks of rank 2,
a fully masked row; head widths 8 to 64, value width unlike the key's.

usage: fused_attention.py SLMC SLM_OPT WORKDIR [slmc options...]
With --fused-attention=false among the options the same cases run on the
decomposition; otherwise each model is also checked to have been fused."""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

slmc, slm_opt, work, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
fused = "--fused-attention=false" not in extra
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(11)
LOWEST = -np.finfo(np.float32).max


def t(shape, dtype="f32"):
    return "tensor<" + "x".join("?" if d is None else str(d) for d in shape) + f"x{dtype}>"


def reference(q, k, v, heads, mask=None, causal=False, scale=None):
    """q [B, Sq, H*Dk], k [B, Skv, H*Dk], v [B, Skv, H*Dv] (float64)."""
    b, sq, width = q.shape
    skv = k.shape[1]
    dk, dv = width // heads, v.shape[2] // heads
    qh = q.reshape(b, sq, heads, dk).transpose(0, 2, 1, 3).astype(np.float64)
    kh = k.reshape(b, skv, heads, dk).transpose(0, 2, 1, 3).astype(np.float64)
    vh = v.reshape(b, skv, heads, dv).transpose(0, 2, 1, 3).astype(np.float64)
    s = qh @ kh.transpose(0, 1, 3, 2) * (scale if scale else 1 / np.sqrt(dk))
    if mask is not None:
        if mask.dtype == np.bool_:
            s = np.where(mask, s, LOWEST)
        else:
            s = s + mask.astype(np.float64)
    if causal:
        keep = np.arange(skv)[None, :] <= np.arange(sq)[:, None] + (skv - sq)
        s = np.where(keep, s, LOWEST)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return (p @ vh).transpose(0, 2, 1, 3).reshape(b, sq, heads * dv)


failures = 0
libraries = {}


def compile_model(text):
    if text not in libraries:
        path = os.path.join(work, f"model{len(libraries)}.mlir")
        with open(path, "w") as f:
            f.write(text)
        if fused:
            ir = subprocess.run([slm_opt, path, "--slm-fuse-attention"], check=True,
                                capture_output=True, text=True).stdout
            if "slm.attention" in ir or "slm.fused_attention" not in ir:
                sys.exit(f"{path}: --slm-fuse-attention left the attention unfused")
        libraries[text] = path[:-len(".mlir")] + ".so"
        subprocess.run([slmc, path, "-o", libraries[text], *extra], check=True)
    return libraries[text]


def check(name, text, inputs, expected):
    global failures
    with slm.load(compile_model(text)) as model:
        names = [i.name for i in model.inputs]
        got = list(model.run(dict(zip(names, inputs))).values())[0]
    err = np.abs(got.astype(np.float64) - expected)
    ok = got.shape == expected.shape and bool(np.all(err <= 1e-5 + 1e-5 * np.abs(expected)))
    failures += not ok
    print(f"{name}: {'ok' if ok else 'MISMATCH'}: shape {got.shape} max abs err {err.max():.2e}")


def merged_model(heads, dk, dv, mask_shape=None, mask_dtype="f32", causal=False):
    """Inputs [B, S, H*D] as slm.attention takes them."""
    args = [f"%q: {t([None, None, heads * dk])}", f"%k: {t([None, None, heads * dk])}",
            f"%v: {t([None, None, heads * dv])}"]
    operands, types = "%q, %k, %v", [t([None, None, heads * dk]), t([None, None, heads * dk]),
                                       t([None, None, heads * dv])]
    if mask_shape is not None:
        args.append(f"%m: {t(mask_shape, mask_dtype)}")
        operands += ", %m"
        types.append(t(mask_shape, mask_dtype))
    attrs = f"num_heads = {heads} : i64" + (", causal" if causal else "")
    out = t([None, None, heads * dv])
    return (f"func.func @main({', '.join(args)}) -> {out} {{\n"
            f"  %a = slm.attention {operands} {{{attrs}}} : ({', '.join(types)}) -> {out}\n"
            f"  return %a : {out}\n}}\n")


def hf_gqa_model(heads, kv_heads, dk, dv, mask=False, causal=False):
    """HF's layout: q [B, H, S, D], k/v [B, Hkv, T, D], the head repeat
    (reshape to [B, Hkv, 1, T, D], broadcast, reshape to [B, H, T, D]), the
    merge (transpose, reshape) in front of slm.attention."""
    g = heads // kv_heads
    lines = []

    def merge(name, src, d):
        lines.append(f"  %{name}t = slm.transpose {src} [0, 2, 1, 3] : {t([None, heads, None, d])} -> {t([None, None, heads, d])}")
        lines.append(f"  %{name}0 = tensor.dim %{name}t, %c0 : {t([None, None, heads, d])}")
        lines.append(f"  %{name}1 = tensor.dim %{name}t, %c1 : {t([None, None, heads, d])}")
        lines.append(f"  %{name}c = arith.constant {heads * d} : index")
        lines.append(f"  %{name}s = tensor.from_elements %{name}0, %{name}1, %{name}c : tensor<3xindex>")
        lines.append(f"  %{name} = slm.reshape %{name}t, %{name}s : ({t([None, None, heads, d])}, tensor<3xindex>) -> {t([None, None, heads * d])}")

    def repeat(name, src, d):
        lines.append(f"  %{name}b = tensor.dim {src}, %c0 : {t([None, kv_heads, None, d])}")
        lines.append(f"  %{name}n = tensor.dim {src}, %c2 : {t([None, kv_heads, None, d])}")
        lines.append(f"  %{name}d = arith.constant {d} : index")
        lines.append(f"  %{name}s5 = tensor.from_elements %{name}b, %ckv, %c1, %{name}n, %{name}d : tensor<5xindex>")
        lines.append(f"  %{name}5 = slm.reshape {src}, %{name}s5 : ({t([None, kv_heads, None, d])}, tensor<5xindex>) -> {t([None, kv_heads, 1, None, d])}")
        lines.append(f"  %{name}e5 = tensor.from_elements %{name}b, %ckv, %cg, %{name}n, %{name}d : tensor<5xindex>")
        lines.append(f"  %{name}x = slm.broadcast_to %{name}5, %{name}e5 : ({t([None, kv_heads, 1, None, d])}, tensor<5xindex>) -> {t([None, kv_heads, g, None, d])}")
        lines.append(f"  %{name}s4 = tensor.from_elements %{name}b, %ch, %{name}n, %{name}d : tensor<4xindex>")
        lines.append(f"  %{name}r = slm.reshape %{name}x, %{name}s4 : ({t([None, kv_heads, g, None, d])}, tensor<4xindex>) -> {t([None, heads, None, d])}")
        return f"%{name}r"

    lines += ["  %c0 = arith.constant 0 : index", "  %c1 = arith.constant 1 : index",
              "  %c2 = arith.constant 2 : index", f"  %ckv = arith.constant {kv_heads} : index",
              f"  %cg = arith.constant {g} : index", f"  %ch = arith.constant {heads} : index"]
    merge("qm", "%q", dk)
    merge("km", repeat("kr", "%k", dk), dk)
    merge("vm", repeat("vr", "%v", dv), dv)
    args = [f"%q: {t([None, heads, None, dk])}", f"%k: {t([None, kv_heads, None, dk])}",
            f"%v: {t([None, kv_heads, None, dv])}"]
    operands = "%qm, %km, %vm"
    types = [t([None, None, heads * dk])] * 2 + [t([None, None, heads * dv])]
    if mask:
        args.append(f"%m: {t([None, 1, None, None])}")
        operands += ", %m"
        types.append(t([None, 1, None, None]))
    out = t([None, None, heads * dv])
    attrs = f"num_heads = {heads} : i64" + (", causal" if causal else "")
    lines.append(f"  %a = slm.attention {operands} {{{attrs}}} : ({', '.join(types)}) -> {out}")
    return (f"func.func @main({', '.join(args)}) -> {out} {{\n" + "\n".join(lines)
            + f"\n  return %a : {out}\n}}\n")


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def padding_mask(b, skv, lengths):
    m = np.zeros((b, 1, 1, skv), np.float32)
    for i, n in enumerate(lengths):
        m[i, ..., n:] = LOWEST
    return m


# Merged inputs, no mask: tiles and key blocks whole and partial.
for heads, dk, dv in [(2, 8, 8), (3, 16, 16), (2, 64, 64), (2, 8, 20)]:
    text = merged_model(heads, dk, dv)
    for b, sq, skv in [(2, 1, 1), (2, 5, 5), (1, 16, 16), (2, 17, 17), (1, 40, 33), (1, 3, 100)]:
        q, k, v = randn(b, sq, heads * dk), randn(b, skv, heads * dk), randn(b, skv, heads * dv)
        check(f"plain H={heads} Dk={dk} Dv={dv} B={b} Sq={sq} Skv={skv}", text, [q, k, v],
              reference(q, k, v, heads))

# Causal, no mask (key blocks past a tile's limit are skipped): prefill,
# decode-like Sq < Skv, and Sq > Skv (rows that see nothing: uniform).
text = merged_model(2, 16, 16, causal=True)
for b, sq, skv in [(1, 1, 1), (2, 17, 17), (1, 40, 40), (2, 1, 37), (1, 3, 20), (1, 20, 4)]:
    q, k, v = randn(b, sq, 32), randn(b, skv, 32), randn(b, skv, 32)
    check(f"causal B={b} Sq={sq} Skv={skv}", text, [q, k, v], reference(q, k, v, 2, causal=True))

# Padding masks: one value per key, the same for every row.
text = merged_model(2, 32, 32, mask_shape=[None, 1, 1, None])
for b, s, lengths in [(3, 20, [20, 7, 1]), (2, 33, [33, 16])]:
    q, k, v = randn(b, s, 64), randn(b, s, 64), randn(b, s, 64)
    m = padding_mask(b, s, lengths)
    check(f"padding mask B={b} S={s}", text, [q, k, v, m], reference(q, k, v, 2, mask=m))
# With causal too (then no key block is skipped).
text = merged_model(2, 32, 32, mask_shape=[None, 1, 1, None], causal=True)
q, k, v = randn(3, 19, 64), randn(3, 19, 64), randn(3, 19, 64)
m = padding_mask(3, 19, [19, 10, 4])
check("padding mask + causal B=3 S=19", text, [q, k, v, m], reference(q, k, v, 2, mask=m, causal=True))

# Per-row masks: gathered per lane.
for shape in [[None, 1, None, None], [None, 3, None, None], [1, 1, None, None]]:
    text = merged_model(3, 8, 8, mask_shape=shape, causal=True)
    for b, sq, skv in [(2, 18, 18), (1, 2, 21)]:
        q, k, v = randn(b, sq, 24), randn(b, skv, 24), randn(b, skv, 24)
        ms = [b if shape[0] is None else 1, shape[1], sq, skv]
        m = randn(*ms)
        check(f"mask {ms} + causal B={b} Sq={sq} Skv={skv}", text, [q, k, v, m],
              reference(q, k, v, 3, mask=m, causal=True))

# Masks of dynamic extents that are 1 at run time (broadcast, as ONNX does).
text = merged_model(2, 8, 8, mask_shape=[None, None, None, None], causal=True)
for ms in [(2, 1, 9, 9), (2, 1, 1, 9), (1, 2, 9, 9), (2, 2, 1, 9)]:
    q, k, v = randn(2, 9, 16), randn(2, 9, 16), randn(2, 9, 16)
    m = randn(*ms)
    check(f"mask of dynamic extents {list(ms)} + causal", text, [q, k, v, m],
          reference(q, k, v, 2, mask=m, causal=True))

# i1 masks of rank 2, one row fully masked (the decomposition's uniform
# average over the keys).
text = merged_model(2, 8, 8, mask_shape=[None, None], mask_dtype="i1")
q, k, v = randn(2, 9, 16), randn(2, 12, 16), randn(2, 12, 16)
m = rng.random((9, 12)) < 0.6
m[4, :] = False
check("i1 mask [Sq, Skv], a row fully masked", text, [q, k, v, m], reference(q, k, v, 2, mask=m))

# HF layout with the grouped-query head repeat, prefill and decode shapes.
for heads, kv_heads, dk, dv in [(6, 2, 16, 16), (4, 1, 8, 24), (9, 3, 64, 64)]:
    for with_mask in (False, True):
        text = hf_gqa_model(heads, kv_heads, dk, dv, mask=with_mask, causal=not with_mask)
        for b, sq, skv in [(2, 21, 21), (2, 1, 37), (1, 4, 30)]:
            q = randn(b, heads, sq, dk)
            k, v = randn(b, kv_heads, skv, dk), randn(b, kv_heads, skv, dv)
            g = heads // kv_heads
            # The reference on the repeated, merged tensors.
            kr = np.repeat(k, g, axis=1).transpose(0, 2, 1, 3).reshape(b, skv, heads * dk)
            vr = np.repeat(v, g, axis=1).transpose(0, 2, 1, 3).reshape(b, skv, heads * dv)
            qm = q.transpose(0, 2, 1, 3).reshape(b, sq, heads * dk)
            inputs = [q, k, v]
            m = None
            if with_mask:
                keep = np.arange(skv)[None, :] <= np.arange(sq)[:, None] + (skv - sq)
                m = np.where(keep, 0.0, np.finfo(np.float32).min).astype(np.float32)
                m = np.broadcast_to(m, (b, 1, sq, skv)).copy()
                m[0, ..., :2] = np.finfo(np.float32).min  # left padding
                inputs.append(m)
            check(f"HF GQA H={heads} Hkv={kv_heads} Dk={dk} Dv={dv} {'mask' if with_mask else 'causal'} "
                  f"B={b} Sq={sq} Skv={skv}", text, inputs,
                  reference(qm, kr, vr, heads, mask=m, causal=not with_mask))

print(f"{failures} failures")
sys.exit(1 if failures else 0)
