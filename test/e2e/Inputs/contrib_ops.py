"""ONNX Runtime's com.microsoft transformer ops and ONNX's opset-23
Attention / RMSNormalization / RotaryEmbedding, compiled by slmc, against a
reference.

  contrib_ops.py SLMC WORKDIR [--only SUBSTRING] [--skip-models]

Cases:
  - one-node models (onnx.helper) of every com.microsoft op slm imports,
    with the mask and padding forms of the attention ops, against ONNX
    Runtime, which implements them;
  - MatMulNBits with 8 bits (per channel and in blocks) and with 4 bits and
    float zero points, against ONNX Runtime;
  - the opset-23 ops against numpy references written here (onnx 1.17 has
    no reference for them);
  - small HF transformers models (BERT, GPT-2) exported by torch and run
    through ONNX Runtime's transformer optimizer, so that their graphs hold
    Attention, EmbedLayerNormalization, SkipLayerNormalization, BiasGelu and
    FastGelu, against ONNX Runtime on the optimized graph, unpadded and
    padded; and an MLP quantized by MatMulNBitsQuantizer with bits=8.

Prints one line per case ("NAME: ok: ..." or "NAME: FAIL: ...") and
"N failures"; exits 1 on any failure. Floats must agree within
|slm - ref| <= 1e-4 + 1e-4 |ref| (2e-4 for whole models); integer outputs
exactly, with their ONNX dtype."""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx  # before torch or anything importing Debian's onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
import slm  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("slmc")
parser.add_argument("work")
parser.add_argument("--only", default="")
parser.add_argument("--skip-models", action="store_true")
parser.add_argument("--reference-only", action="store_true",
                    help="only run the references (checks the test models)")
args = parser.parse_args()
os.makedirs(args.work, exist_ok=True)
rng = np.random.default_rng(11)
failures = 0
F = TensorProto.FLOAT
I32 = TensorProto.INT32
I64 = TensorProto.INT64


def randn(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def model_of(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)]
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 10 if opset >= 23 else 8
    return m


def compile_model(name, model):
    path = os.path.join(args.work, name + ".onnx")
    if isinstance(model, str):
        path = model
    else:
        onnx.save(model, path)
    lib = os.path.join(args.work, name + ".so")
    r = subprocess.run([args.slmc, path, "-o", lib], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("slmc: " + r.stderr.strip()[-600:])
    return path, lib


def compare(name, got, want, tol):
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        w = np.asarray(w)
        if g.shape != w.shape:
            return f"output {i}: shape {g.shape} vs {w.shape}"
        if w.dtype.kind in "iub":
            if g.dtype != w.dtype or not np.array_equal(g, w):
                return f"output {i}: integers differ ({g.dtype} vs {w.dtype})"
            continue
        err = np.abs(g.astype(np.float64) - w)
        bound = tol + tol * np.abs(w)
        if not np.all(err <= bound):
            return f"output {i}: max error {err.max():.3g}"
        worst = max(worst, float(err.max()) if err.size else 0.0)
    return worst


def check(name, model, feed_sets, reference=None, tol=1e-4):
    """Compiles `model` and compares slm with ORT (or `reference(feeds)`)."""
    global failures
    if args.only and args.only not in name:
        return
    try:
        if args.reference_only:
            path = model if isinstance(model, str) else os.path.join(args.work, name + ".onnx")
            if not isinstance(model, str):
                onnx.save(model, path)
            for feeds in feed_sets:
                if reference:
                    reference(feeds)
                else:
                    ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)
            print(f"{name}: reference ran")
            return
        path, lib = compile_model(name, model)
        session = None
        if reference is None:
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        compiled = slm.load(lib)
        names = [o.name for o in compiled.outputs]
        worst = 0.0
        for feeds in feed_sets:
            want = reference(feeds) if reference else session.run(names, feeds)
            out = compiled.run(feeds)
            r = compare(name, [out[n] for n in names], want, tol)
            if isinstance(r, str):
                raise RuntimeError(r)
            worst = max(worst, r)
        print(f"{name}: ok: max abs error {worst:.2e} over {len(feed_sets)} data sets")
    except Exception as e:  # noqa: BLE001 - report and count every failure
        failures += 1
        print(f"{name}: FAIL: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
              + ("" if not str(e) else " " + " ".join(str(e).splitlines()[1:3])))


def ms(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, domain="com.microsoft", **attrs)


B, S, D, N = 2, 5, 32, 4
H = D // N

# --- Activations, biases, norms -------------------------------------------
x = lambda *s: randn(*s)  # noqa: E731
check("FastGelu",
      model_of([ms("FastGelu", ["x", "b"], ["y"])], [vi("x", F, ["B", "S", D])],
               [vi("y", F, ["B", "S", D])], [numpy_helper.from_array(randn(D), "b")]),
      [{"x": x(B, S, D) * 3}])
check("BiasGelu",
      model_of([ms("BiasGelu", ["x", "b"], ["y"])], [vi("x", F, ["B", "S", D])],
               [vi("y", F, ["B", "S", D])], [numpy_helper.from_array(randn(D), "b")]),
      [{"x": x(B, S, D) * 3}])
check("Gelu",
      model_of([ms("Gelu", ["x"], ["y"])], [vi("x", F, ["B", "S", D])],
               [vi("y", F, ["B", "S", D])]),
      [{"x": x(B, S, D) * 3}])
check("QuickGelu",
      model_of([ms("QuickGelu", ["x"], ["y"], alpha=1.5)], [vi("x", F, ["B", "S", D])],
               [vi("y", F, ["B", "S", D])]),
      [{"x": x(B, S, D) * 3}])
bias_add = randn(D)
# BiasAdd has no CPU kernel in ONNX Runtime: numpy reference.
check("BiasAdd",
      model_of([ms("BiasAdd", ["x", "b", "s"], ["y"])],
               [vi("x", F, [B, 4, D]), vi("s", F, [B, 4, D])], [vi("y", F, [B, 4, D])],
               [numpy_helper.from_array(bias_add, "b")]),
      [{"x": x(B, 4, D), "s": x(B, 4, D)}], reference=lambda f: [f["x"] + bias_add + f["s"]])
split_bias = randn(2 * D)


def np_bias_split_gelu(f):
    from math import erf, sqrt
    h = f["x"].astype(np.float64) + split_bias
    left, right = h[..., :D], h[..., D:]
    gelu = 0.5 * right * (1 + np.vectorize(erf)(right / sqrt(2)))
    return [(left * gelu).astype(np.float32)]


# BiasSplitGelu has only a CUDA kernel in ONNX Runtime: numpy reference.
check("BiasSplitGelu",
      model_of([ms("BiasSplitGelu", ["x", "b"], ["y"])], [vi("x", F, ["B", "S", 2 * D])],
               [vi("y", F, ["B", "S", D])], [numpy_helper.from_array(split_bias, "b")]),
      [{"x": x(B, S, 2 * D)}], reference=np_bias_split_gelu)
gamma, beta, bias = randn(D) + 1, randn(D), randn(D)
check("SkipLayerNormalization",
      model_of([ms("SkipLayerNormalization", ["x", "s", "g", "be", "bi"], ["y", "", "", "sum"],
                   epsilon=1e-5)],
               [vi("x", F, ["B", "S", D]), vi("s", F, ["B", "S", D])],
               [vi("y", F, ["B", "S", D]), vi("sum", F, ["B", "S", D])],
               [numpy_helper.from_array(gamma, "g"), numpy_helper.from_array(beta, "be"),
                numpy_helper.from_array(bias, "bi")]),
      [{"x": x(B, S, D), "s": x(B, S, D)}, {"x": x(1, 3, D), "s": x(1, 3, D)}])
check("SkipLayerNormalization-nobeta",
      model_of([ms("SkipLayerNormalization", ["x", "s", "g"], ["y"], epsilon=1e-12)],
               [vi("x", F, ["B", "S", D]), vi("s", F, ["B", "S", D])],
               [vi("y", F, ["B", "S", D])], [numpy_helper.from_array(gamma, "g")]),
      [{"x": x(B, S, D), "s": x(B, S, D)}])
check("SkipSimplifiedLayerNormalization",
      model_of([ms("SkipSimplifiedLayerNormalization", ["x", "s", "g", "bi"],
                   ["y", "", "", "sum"], epsilon=1e-6)],
               [vi("x", F, ["B", "S", D]), vi("s", F, ["B", "S", D])],
               [vi("y", F, ["B", "S", D]), vi("sum", F, ["B", "S", D])],
               [numpy_helper.from_array(gamma, "g"), numpy_helper.from_array(bias, "bi")]),
      [{"x": x(B, S, D), "s": x(B, S, D)}])
check("SimplifiedLayerNormalization",
      model_of([helper.make_node("SimplifiedLayerNormalization", ["x", "g"], ["y", "inv"],
                                 epsilon=1e-6, axis=-1)],
               [vi("x", F, ["B", "S", D])],
               [vi("y", F, ["B", "S", D]), vi("inv", F, ["B", "S", 1])],
               [numpy_helper.from_array(gamma, "g")]),
      [{"x": x(B, S, D)}])

# --- EmbedLayerNormalization ------------------------------------------------
V, P = 50, 16
word, pos, seg = randn(V, D), randn(P, D), randn(2, D)
eln_inits = [numpy_helper.from_array(word, "w"), numpy_helper.from_array(pos, "p"),
             numpy_helper.from_array(seg, "sg"), numpy_helper.from_array(gamma, "g"),
             numpy_helper.from_array(beta, "be")]


def eln_feeds(b, s, pad):
    mask = np.ones((b, s), np.int32)
    mask[-1, s - pad:] = 0
    return {"ids": rng.integers(0, V, (b, s)).astype(np.int32),
            "seg": rng.integers(0, 2, (b, s)).astype(np.int32), "mask": mask}


check("EmbedLayerNormalization",
      model_of([ms("EmbedLayerNormalization", ["ids", "seg", "w", "p", "sg", "g", "be", "mask"],
                   ["y", "mi", "sum"], epsilon=1e-12)],
               [vi("ids", I32, ["B", "S"]), vi("seg", I32, ["B", "S"]), vi("mask", I32, ["B", "S"])],
               [vi("y", F, ["B", "S", D]), vi("mi", I32, ["B"]), vi("sum", F, ["B", "S", D])],
               eln_inits),
      [eln_feeds(2, 7, 3), eln_feeds(3, 4, 0)])
check("EmbedLayerNormalization-nosegment",
      model_of([ms("EmbedLayerNormalization", ["ids", "", "w", "p", "", "g", "be"],
                   ["y", "mi"], epsilon=1e-12)],
               [vi("ids", I32, ["B", "S"])], [vi("y", F, ["B", "S", D]), vi("mi", I32, ["B"])],
               eln_inits),
      [{"ids": eln_feeds(2, 6, 0)["ids"]}])

# --- Attention (com.microsoft) ------------------------------------------------
wqkv, bqkv = randn(D, 3 * D, scale=0.3), randn(3 * D, scale=0.1)
att_inits = [numpy_helper.from_array(wqkv, "w"), numpy_helper.from_array(bqkv, "bq")]


def attention_model(mask_vi=None, **attrs):
    inputs = [vi("x", F, ["B", "S", D])]
    names = ["x", "w", "bq"]
    if mask_vi is not None:
        inputs.append(mask_vi)
        names.append("m")
    return model_of([ms("Attention", names, ["y"], num_heads=N, **attrs)], inputs,
                    [vi("y", F, ["B", "S", D])], att_inits)


def lengths(b, s):
    return rng.integers(1, s + 1, (b,)).astype(np.int32)


check("Attention", attention_model(), [{"x": x(B, S, D)}, {"x": x(1, 3, D)}])
check("Attention-unidirectional", attention_model(unidirectional=1),
      [{"x": x(B, S, D)}, {"x": x(3, 1, D)}])
check("Attention-mask-lengths", attention_model(vi("m", I32, ["B"])),
      [{"x": x(B, S, D), "m": np.array([S, 2], np.int32)},
       {"x": x(3, 6, D), "m": lengths(3, 6)}])
raw = np.ones((B, S), np.int32)
raw[1, 3:] = 0
raw[0, 0] = 0
check("Attention-mask-raw", attention_model(vi("m", I32, ["B", "S"]), mask_filter_value=-3.4e38),
      [{"x": x(B, S, D), "m": raw}])
check("Attention-mask-raw-unidirectional",
      attention_model(vi("m", I32, ["B", "S"]), unidirectional=1),
      [{"x": x(B, S, D), "m": raw}])
check("Attention-mask-start-end", attention_model(vi("m", I32, [2 * B])),
      [{"x": x(B, S, D), "m": np.array([S, 4, 1, 0], np.int32)}])
check("Attention-mask-3d", attention_model(vi("m", I32, ["B", "S", "S"])),
      [{"x": x(B, S, D), "m": (rng.random((B, S, S)) > 0.3).astype(np.int32)}])
w2 = randn(D, D + D + 16, scale=0.3)
check("Attention-qkv-hidden-sizes-scale",
      model_of([ms("Attention", ["x", "w2", "b2"], ["y"], num_heads=N,
                   qkv_hidden_sizes=[D, D, 16], scale=0.2)],
               [vi("x", F, ["B", "S", D])], [vi("y", F, ["B", "S", 16])],
               [numpy_helper.from_array(w2, "w2"),
                numpy_helper.from_array(randn(2 * D + 16, scale=0.1), "b2")]),
      [{"x": x(B, S, D)}])
check("Attention-attention-bias",
      model_of([ms("Attention", ["x", "w", "bq", "m", "", "ab"], ["y"], num_heads=N)],
               [vi("x", F, [B, S, D]), vi("m", I32, [B]), vi("ab", F, [1, N, S, S])],
               [vi("y", F, [B, S, D])], att_inits),
      [{"x": x(B, S, D), "m": np.array([S, 3], np.int32), "ab": x(1, N, S, S)}])

# --- MultiHeadAttention ---------------------------------------------------------
L = 6
mha_bias = numpy_helper.from_array(randn(3 * D, scale=0.1), "mb")
check("MultiHeadAttention-bias-keypadding",
      model_of([ms("MultiHeadAttention", ["q", "k", "v", "mb", "m"], ["y"], num_heads=N)],
               [vi("q", F, ["B", "S", D]), vi("k", F, ["B", "L", D]), vi("v", F, ["B", "L", D]),
                vi("m", I32, ["B", "L"])],
               [vi("y", F, ["B", "S", D])], [mha_bias]),
      [{"q": x(B, S, D), "k": x(B, L, D), "v": x(B, L, D),
        "m": np.array([[1] * L, [1] * 3 + [0] * (L - 3)], np.int32)}])
check("MultiHeadAttention-lengths-attention-bias",
      model_of([ms("MultiHeadAttention", ["q", "k", "v", "", "m", "ab"], ["y"], num_heads=N,
                   scale=0.3)],
               [vi("q", F, [B, S, D]), vi("k", F, [B, L, D]), vi("v", F, [B, L, D]),
                vi("m", I32, [B]), vi("ab", F, [B, N, S, L])],
               [vi("y", F, [B, S, D])]),
      [{"q": x(B, S, D), "k": x(B, L, D), "v": x(B, L, D), "m": np.array([L, 2], np.int32),
        "ab": x(B, N, S, L)}])
# ONNX Runtime's CPU kernel has no packed forms: the reference is its
# kernel on the same tensors unpacked.
plain_mha = os.path.join(args.work, "mha-plain.onnx")
onnx.save(model_of([ms("MultiHeadAttention", ["q", "k", "v"], ["y"], num_heads=N)],
                   [vi("q", F, ["B", "S", D]), vi("k", F, ["B", "L", D]), vi("v", F, ["B", "L", D])],
                   [vi("y", F, ["B", "S", D])]), plain_mha)
plain = ort.InferenceSession(plain_mha, providers=["CPUExecutionProvider"])


def unpacked(t, i):
    return np.ascontiguousarray(t[:, :, :, i, :].reshape(t.shape[0], t.shape[1], -1))


check("MultiHeadAttention-packed-kv",
      model_of([ms("MultiHeadAttention", ["q", "kv"], ["y"], num_heads=N)],
               [vi("q", F, ["B", "S", D]), vi("kv", F, ["B", "L", N, 2, H])],
               [vi("y", F, ["B", "S", D])]),
      [{"q": x(B, S, D), "kv": x(B, L, N, 2, H)}],
      reference=lambda f: plain.run(None, {"q": f["q"], "k": unpacked(f["kv"], 0),
                                           "v": unpacked(f["kv"], 1)}))
check("MultiHeadAttention-packed-qkv",
      model_of([ms("MultiHeadAttention", ["qkv"], ["y"], num_heads=N)],
               [vi("qkv", F, ["B", "S", N, 3, H])], [vi("y", F, ["B", "S", D])]),
      [{"qkv": x(B, S, N, 3, H)}],
      reference=lambda f: plain.run(None, {"q": unpacked(f["qkv"], 0), "k": unpacked(f["qkv"], 1),
                                           "v": unpacked(f["qkv"], 2)}))
check("MultiHeadAttention-past-present-unidirectional",
      model_of([ms("MultiHeadAttention", ["q", "k", "v", "mb", "", "", "pk", "pv"],
                   ["y", "presk", "presv"], num_heads=N, unidirectional=1)],
               [vi("q", F, ["B", "S", D]), vi("k", F, ["B", "S", D]), vi("v", F, ["B", "S", D]),
                vi("pk", F, ["B", N, "P", H]), vi("pv", F, ["B", N, "P", H])],
               [vi("y", F, ["B", "S", D]), vi("presk", F, ["B", N, "T", H]),
                vi("presv", F, ["B", N, "T", H])], [mha_bias]),
      [{"q": x(B, 3, D), "k": x(B, 3, D), "v": x(B, 3, D), "pk": x(B, N, 4, H),
        "pv": x(B, N, 4, H)},
       {"q": x(B, 1, D), "k": x(B, 1, D), "v": x(B, 1, D), "pk": x(B, N, 7, H),
        "pv": x(B, N, 7, H)}])
check("MultiHeadAttention-bnsh-kv",
      model_of([ms("MultiHeadAttention", ["q", "k", "v"], ["y"], num_heads=N)],
               [vi("q", F, ["B", "S", D]), vi("k", F, ["B", N, "L", H]), vi("v", F, ["B", N, "L", H])],
               [vi("y", F, ["B", "S", D])]),
      [{"q": x(B, S, D), "k": x(B, N, L, H), "v": x(B, N, L, H)}])

# --- RotaryEmbedding (com.microsoft) ----------------------------------------------
MAXP = 32
inv = 1.0 / (10000 ** (np.arange(0, H, 2) / H))
angles = np.arange(MAXP)[:, None] * inv[None, :]
cos_cache, sin_cache = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
rot_inits = [numpy_helper.from_array(cos_cache, "cos"), numpy_helper.from_array(sin_cache, "sin")]
for interleaved in (0, 1):
    check(f"RotaryEmbedding-bsd-interleaved{interleaved}",
          model_of([ms("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"],
                       interleaved=interleaved, num_heads=N)],
                   [vi("x", F, ["B", "S", D]), vi("pos", I64, ["B", "S"])],
                   [vi("y", F, ["B", "S", D])], rot_inits),
          [{"x": x(B, S, D), "pos": rng.integers(0, MAXP, (B, S)).astype(np.int64)}])
check("RotaryEmbedding-bnsh-offset",
      model_of([ms("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"])],
               [vi("x", F, ["B", N, "S", H]), vi("pos", I64, [1])],
               [vi("y", F, ["B", N, "S", H])], rot_inits),
      [{"x": x(B, N, S, H), "pos": np.array([3], np.int64)}])
half_rot = [numpy_helper.from_array(cos_cache[:, : H // 4], "cos"),
            numpy_helper.from_array(sin_cache[:, : H // 4], "sin")]
check("RotaryEmbedding-partial",
      model_of([ms("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], num_heads=N,
                   rotary_embedding_dim=H // 2)],
               [vi("x", F, ["B", "S", D]), vi("pos", I64, ["B", "S"])],
               [vi("y", F, ["B", "S", D])], half_rot),
      [{"x": x(B, S, D), "pos": rng.integers(0, MAXP, (B, S)).astype(np.int64)}])

# --- GroupQueryAttention ------------------------------------------------------------
# ONNX Runtime's GroupQueryAttention wants head sizes that are multiples of
# 16 (for rotary), and batch 1 when several new tokens follow a past.
NKV, GH = 2, 16
gangles = np.arange(MAXP)[:, None] * (1.0 / (10000 ** (np.arange(0, GH, 2) / GH)))[None, :]
gqa_rot = [numpy_helper.from_array(np.cos(gangles).astype(np.float32), "cos"),
           numpy_helper.from_array(np.sin(gangles).astype(np.float32), "sin")]


def gqa_feeds(b, s, past):
    f = {"q": x(b, s, N * GH), "k": x(b, s, NKV * GH), "v": x(b, s, NKV * GH),
         "seqlens": np.full((b,), past + s - 1, np.int32),
         "total": np.array(past + s, np.int32)}
    if past:
        f["pk"] = x(b, NKV, past, GH)
        f["pv"] = x(b, NKV, past, GH)
    return f


def gqa_model(rotary, interleaved=0, past=True):
    names = ["q", "k", "v", "pk" if past else "", "pv" if past else "", "seqlens", "total"]
    names += ["cos", "sin"] if rotary else []
    pasts = [vi("pk", F, ["B", NKV, "P", GH]), vi("pv", F, ["B", NKV, "P", GH])] if past else []
    return model_of(
        [ms("GroupQueryAttention", names, ["y", "presk", "presv"], num_heads=N, kv_num_heads=NKV,
            do_rotary=int(rotary), rotary_interleaved=interleaved)],
        [vi("q", F, ["B", "S", N * GH]), vi("k", F, ["B", "S", NKV * GH]),
         vi("v", F, ["B", "S", NKV * GH])] + pasts +
        [vi("seqlens", I32, ["B"]), vi("total", I32, [])],
        [vi("y", F, ["B", "S", N * GH]), vi("presk", F, ["B", NKV, "T", GH]),
         vi("presv", F, ["B", NKV, "T", GH])], gqa_rot if rotary else [])


check("GroupQueryAttention-past", gqa_model(False), [gqa_feeds(B, 1, 5), gqa_feeds(1, 4, 3)])
check("GroupQueryAttention-prompt", gqa_model(False, past=False), [gqa_feeds(B, 6, 0)])
check("GroupQueryAttention-rotary", gqa_model(True), [gqa_feeds(B, 1, 6), gqa_feeds(1, 5, 2)])
check("GroupQueryAttention-rotary-prompt", gqa_model(True, past=False), [gqa_feeds(1, 5, 0)])
check("GroupQueryAttention-rotary-interleaved", gqa_model(True, 1), [gqa_feeds(1, 2, 4), gqa_feeds(B, 1, 3)])

# --- MatMulNBits ---------------------------------------------------------------------
NB, KB = 24, 64


def nbits_model(bits, blk, zp_kind):
    blocks = KB // blk
    q = rng.integers(0, 2 ** bits, (NB, blocks, blk)).astype(np.uint8)
    packed = q if bits == 8 else (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    inits = [numpy_helper.from_array(packed, "B"),
             numpy_helper.from_array((rng.random(NB * blocks) * 0.1 + 0.01).astype(np.float32), "S")]
    names = ["A", "B", "S"]
    if zp_kind == "float":
        inits.append(numpy_helper.from_array(
            (rng.random(NB * blocks) * (2 ** bits - 1)).astype(np.float32), "Z"))
        names.append("Z")
    elif zp_kind == "uint8":
        zp = rng.integers(0, 2 ** bits, (NB, blocks)).astype(np.uint8)
        if bits == 4:
            zp = np.pad(zp, ((0, 0), (0, blocks % 2)))
            zp = (zp[:, 0::2] | (zp[:, 1::2] << 4)).astype(np.uint8)
        inits.append(numpy_helper.from_array(zp.reshape(-1), "Z"))
        names.append("Z")
    inits.append(numpy_helper.from_array(randn(NB, scale=0.1), "bias"))
    names += ["", "bias"] if len(names) == 4 else ["", "", "bias"]
    return model_of([ms("MatMulNBits", names, ["Y"], K=KB, N=NB, bits=bits, block_size=blk)],
                    [vi("A", F, ["B", "S", KB])], [vi("Y", F, ["B", "S", NB])], inits)


for bits, blk, zp in [(8, 32, "uint8"), (8, 64, "none"), (8, 16, "none"), (4, 32, "float"),
                      (4, 16, "uint8")]:
    check(f"MatMulNBits-{bits}bit-block{blk}-zp-{zp}", nbits_model(bits, blk, zp),
          [{"A": x(B, S, KB)}, {"A": x(1, 1, KB)}])

# --- Opset 23: RMSNormalization, RotaryEmbedding, Attention vs numpy ----------------------


def np_rms(xv, scale, axis, eps):
    axes = tuple(range(axis % xv.ndim, xv.ndim))
    ms_ = np.mean(xv.astype(np.float64) ** 2, axis=axes, keepdims=True)
    return [(xv / np.sqrt(ms_ + eps) * scale).astype(np.float32)]


scale4 = randn(4, D) + 1
for axis in (-1, -2):
    sc = scale4 if axis == -2 else gamma
    check(f"RMSNormalization-axis{axis}",
          model_of([helper.make_node("RMSNormalization", ["x", "sc"], ["y"], axis=axis,
                                     epsilon=1e-5)],
                   [vi("x", F, ["B", 4, D])], [vi("y", F, ["B", 4, D])],
                   [numpy_helper.from_array(sc, "sc")], opset=23),
          [{"x": x(B, 4, D)}], reference=lambda f, sc=sc, axis=axis: np_rms(f["x"], sc, axis, 1e-5))


def np_rotary(xv, cos, sin, interleaved, rd):
    """xv [B, S, N, H]; cos/sin [B, S, R/2]."""
    c, s = cos[:, :, None, :], sin[:, :, None, :]
    r, rest = xv[..., :rd], xv[..., rd:]
    if interleaved:
        x1, x2 = r[..., 0::2], r[..., 1::2]
        o = np.empty_like(r)
        o[..., 0::2] = x1 * c - x2 * s
        o[..., 1::2] = x2 * c + x1 * s
    else:
        x1, x2 = r[..., : rd // 2], r[..., rd // 2:]
        o = np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)
    return np.concatenate([o, rest], axis=-1)


for interleaved in (0, 1):
    def ref(f, interleaved=interleaved):
        pid = f["pos"]
        xv = f["x"].reshape(f["x"].shape[0], f["x"].shape[1], N, H)
        y = np_rotary(xv, cos_cache[pid], sin_cache[pid], interleaved, H)
        return [y.reshape(f["x"].shape).astype(np.float32)]
    check(f"RotaryEmbedding23-3d-interleaved{interleaved}",
          model_of([helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"],
                                     interleaved=interleaved, num_heads=N)],
                   [vi("x", F, ["B", "S", D]), vi("pos", I64, ["B", "S"])],
                   [vi("y", F, ["B", "S", D])], rot_inits, opset=23),
          [{"x": x(B, S, D), "pos": rng.integers(0, MAXP, (B, S)).astype(np.int64)}], reference=ref)


def ref4(f):
    xv = f["x"].transpose(0, 2, 1, 3)
    y = np_rotary(xv, f["cos"], f["sin"], 0, H // 2)
    return [y.transpose(0, 2, 1, 3).astype(np.float32)]


check("RotaryEmbedding23-4d-nopositions-partial",
      model_of([helper.make_node("RotaryEmbedding", ["x", "cos", "sin"], ["y"],
                                 rotary_embedding_dim=H // 2)],
               [vi("x", F, ["B", N, "S", H]), vi("cos", F, ["B", "S", H // 4]),
                vi("sin", F, ["B", "S", H // 4])],
               [vi("y", F, ["B", N, "S", H])], opset=23),
      [{"x": x(B, N, S, H), "cos": x(B, S, H // 4), "sin": x(B, S, H // 4)}], reference=ref4)


def np_attention(q, k, v, mask=None, past_k=None, past_v=None, causal=False, scale=None):
    """4-D q [B, Nq, S, H], k/v [B, Nkv, L, H]; returns y, present_k, present_v."""
    if past_k is not None:
        k = np.concatenate([past_k, k], axis=2)
        v = np.concatenate([past_v, v], axis=2)
    pk, pv = k, v
    groups = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, groups, axis=1), np.repeat(v, groups, axis=1)
    scale = scale if scale is not None else 1 / np.sqrt(q.shape[-1])
    s = (q.astype(np.float64) @ k.transpose(0, 1, 3, 2)) * scale
    S_, T_ = s.shape[-2:]
    bias = np.zeros((S_, T_))
    if mask is not None:
        bias = np.where(mask, 0.0, -np.inf) if mask.dtype == np.bool_ else mask.astype(np.float64)
    if causal:
        bias = bias + np.where(np.arange(T_)[None, :] > np.arange(S_)[:, None] + (T_ - S_), -np.inf, 0)
    s = s + bias
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return [(p @ v).astype(np.float32), pk.astype(np.float32), pv.astype(np.float32)]


def attn23(name, inputs, outputs, feeds, ref, **attrs):
    names = [i.name for i in inputs]
    check(name, model_of([helper.make_node("Attention", names, [o.name for o in outputs], **attrs)],
                         inputs, outputs, opset=23), feeds, reference=ref)


attn23("Attention23-4d-gqa-causal-past",
       [vi("q", F, ["B", N, "S", H]), vi("k", F, ["B", NKV, "S", H]), vi("v", F, ["B", NKV, "S", H]),
        vi("m", F, ["S", "T"]), vi("pk", F, ["B", NKV, "P", H]), vi("pv", F, ["B", NKV, "P", H])],
       [vi("y", F, ["B", N, "S", H]), vi("ok", F, ["B", NKV, "T", H]), vi("ov", F, ["B", NKV, "T", H])],
       [{"q": x(B, N, 3, H), "k": x(B, NKV, 3, H), "v": x(B, NKV, 3, H), "m": x(3, 7),
         "pk": x(B, NKV, 4, H), "pv": x(B, NKV, 4, H)}],
       lambda f: np_attention(f["q"], f["k"], f["v"], f["m"], f["pk"], f["pv"], causal=True),
       is_causal=1)


def ref3d(f):
    def split(t, n):
        return t.reshape(t.shape[0], t.shape[1], n, -1).transpose(0, 2, 1, 3)
    y, _, _ = np_attention(split(f["q"], N), split(f["k"], NKV), split(f["v"], NKV),
                           f["m"].reshape(f["m"].shape[0], 1, 1, -1), scale=0.25)
    return [y.transpose(0, 2, 1, 3).reshape(f["q"].shape[0], f["q"].shape[1], -1)]


mask_b = np.ones((B, 1, 1, L), bool)
mask_b[1, ..., 4:] = False
attn23("Attention23-3d-gqa-boolmask-scale",
       [vi("q", F, ["B", "S", N * H]), vi("k", F, ["B", "L", NKV * H]),
        vi("v", F, ["B", "L", NKV * H]), vi("m", TensorProto.BOOL, ["B", 1, 1, "L"])],
       [vi("y", F, ["B", "S", N * H])],
       [{"q": x(B, S, N * H), "k": x(B, L, NKV * H), "v": x(B, L, NKV * H), "m": mask_b}],
       ref3d, q_num_heads=N, kv_num_heads=NKV, scale=0.25)


# --- Whole models through ONNX Runtime's transformer optimizer ------------------------------


def optimized_models():
    """HF BERT (transformers) and the GPT-2 block of
    test/Import/ONNX/models/export_torch_models.py, exported at opset 14 with
    dynamic batch and sequence and run through ONNX Runtime's optimizer.
    (HF's GPT-2 slices its causal mask at run-time offsets, which slm does
    not import yet.)"""
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          return_dict=False)[0]

    bert = BertModel(BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=128,
                                max_position_embeddings=64)).eval()
    ids = torch.randint(0, 100, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    src = os.path.join(args.work, "hf-bert.onnx")
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
           "y": {0: "batch", 1: "seq"}}
    torch.onnx.export(Wrap(bert), (ids, mask), src, input_names=["input_ids", "attention_mask"],
                      output_names=["y"], dynamic_axes=dyn, opset_version=14)
    script = os.path.join(ROOT, "test", "Import", "ONNX", "models", "export_torch_models.py")
    subprocess.run([sys.executable, script, args.work, "--opsets", "14", "--only", "gpt2"],
                   check=True, capture_output=True)
    out = []
    for name, path, kind in [("hf-bert", src, "bert"),
                             ("gpt2", os.path.join(args.work, "gpt2_opset14.onnx"), "gpt2")]:
        dst = os.path.join(args.work, name + ".opt.onnx")
        opt = optimize_model(path, model_type=kind, num_heads=4, hidden_size=64, opt_level=0)
        opt.save_model_to_file(dst)
        out.append((name, dst, sorted({n.op_type for n in opt.model.graph.node
                                       if n.domain == "com.microsoft"})))
    return out


def model_feeds(b, s, pad):
    mask = np.ones((b, s), np.int64)
    if pad:
        mask[-1, s - pad:] = 0
    return {"input_ids": rng.integers(0, 100, (b, s)).astype(np.int64), "attention_mask": mask}


def mlp_quantized(kind):
    """An MLP quantized by MatMulNBitsQuantizer: 8 bits in blocks of 32
    (uint8 zero points), or HQQ (4 bits, float zero points)."""
    from onnxruntime.quantization import matmul_nbits_quantizer as mq
    w1, w2 = randn(64, 128, scale=0.2), randn(128, 64, scale=0.2)
    m = model_of([helper.make_node("MatMul", ["x", "w1"], ["h0"]), helper.make_node("Relu", ["h0"], ["h"]),
                  helper.make_node("MatMul", ["h", "w2"], ["y"])],
                 [vi("x", F, ["b", "s", 64])], [vi("y", F, ["b", "s", 64])],
                 [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    if kind == "bits8":
        config = mq.DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=False, bits=8)
    else:
        config = mq.HQQWeightOnlyQuantConfig(block_size=32, bits=4)
    q = mq.MatMulNBitsQuantizer(m, algo_config=config)
    q.process()
    path = os.path.join(args.work, f"mlp-{kind}.onnx")
    q.model.save_model_to_file(path, use_external_data_format=False)
    nodes = [n for n in onnx.load(path).graph.node if n.op_type == "MatMulNBits"]
    bits = {a.i for n in nodes for a in n.attribute if a.name == "bits"}
    return path, bits, len(nodes)


if not args.skip_models:
    for kind, want in [("bits8", 8), ("hqq", 4)]:
        try:
            path, bits, count = mlp_quantized(kind)
            if bits != {want} or count != 2:
                raise RuntimeError(f"the quantizer wrote {count} MatMulNBits, bits {bits}")
            check(f"mlp-MatMulNBitsQuantizer-{kind}", path,
                  [{"x": x(2, 5, 64)}, {"x": x(1, 3, 64)}])
        except Exception as e:  # noqa: BLE001
            failures += 1
            print(f"mlp-MatMulNBitsQuantizer-{kind}: FAIL: {e}")
    try:
        for name, path, ops in optimized_models():
            print(f"{name}: contrib ops {ops}")
            takes_mask = "attention_mask" in {i.name for i in onnx.load(path).graph.input}

            def feeds(b, s, pad):
                f = model_feeds(b, s, pad)
                return f if takes_mask else {"input_ids": f["input_ids"]}
            check(name, path, [feeds(2, 8, 0), feeds(2, 7, 3), feeds(1, 5, 0)], tol=2e-4)
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f"optimized models: FAIL: {e}")

print(f"{failures} failures")
sys.exit(1 if failures else 0)
