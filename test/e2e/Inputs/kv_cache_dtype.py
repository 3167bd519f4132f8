"""KV caches stored in f16 and int8 (--kv-cache-dtype).

    kv_cache_dtype.py SLMC SLM_RUN WORK [--families gpt2,llama,...]
                      [--exported-families gpt2,llama,...]

Each of --families is the zoo's tiny decoder (test/zoo/Inputs/export_zoo.py,
seeded weights), exported at opset 17 without a cache and compiled three
times with --kv-cache (the cache slmc derives): f32 (the reference), f16
and int8. Each of --exported-families is the same model exported with its
own cache (past_key_values.<i>.* in, present.<i>.* out), compiled as it is
(the reference) and with --kv-cache-dtype=f16 and int8. Each of
--ort-optimized is that export rewritten by ONNX Runtime's transformers
optimizer (fused norms and GELU: a graph another tool wrote), compiled with
an f32 and an int8 cache: a prefill and a decode step against ONNX Runtime
on the rewritten graph (within 1e-5 and 3e-2 of the largest logit).
Checked for the others:
  * interface: the same cache inputs and outputs as the f32 model, in
    float16, or in int8 with a float32 `<name>_scale` next to each, one
    scale per position and head (the codes' last axis divided by the head
    width);
  * the stored form, against NumPy on the f32 model's cache of the first
    layer after the same prompt (later layers' inputs already differ by the
    quantization): f16 codes are float16(f32) and int8 codes round(x * 127
    / max|x|) per position and head with scales max|x| / 127 (an element
    may differ by one unit of the last place where float rounding of the
    f32 computation straddles a rounding boundary: at most 0.1% of them);
  * the attention reads the cache it is given: a decode step fed the
    quantized model's own cache matches the f32 model fed the same cache
    dequantized in NumPy (only the new position, stored in the quantized
    form by one and kept f32 by the other, differs: within 1e-3 / 1e-2 of
    the largest logit for f16 / int8);
  * the prompt's positions are read back in the stored form too: the
    prompt in one step and the same prompt one token per step give the
    same logits (within 1e-5 of the largest; 1e-3 where a code of the two
    caches differs, float rounding straddling a rounding boundary);
  * against the f32 cache: every step's logits within 2e-3 (f16) / 3e-2
    (int8) of the largest, and greedy generation (32 tokens, batch 4
    left-padded) token-identical up to the first step where the f32
    model's two best logits are closer than that tolerance (a near tie the
    quantization may break either way; reported); the same batch through
    `slm-run --generate` for int8 (the C loop pairs the scale inputs).
Prints one line per check and "N failures" at the end.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "zoo", "Inputs"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
sys.path.insert(0, HERE)

import export_zoo  # noqa: E402  (onnx before torch)
import generate_parity  # noqa: E402
import slm  # noqa: E402

# Per dtype: the decode step against the f32 model on the same dequantized
# cache, prompt in one step against one token per step, and every step
# against the f32 cache (each relative to the largest |logit|).
TOLERANCE = {"f16": dict(same_cache=1e-3, one_by_one=1e-5, vs_f32=2e-3),
             "int8": dict(same_cache=1e-2, one_by_one=1e-5, vs_f32=3e-2)}


def cache_names(model):
    return [i.name for i in model.inputs if i.name.startswith("past_key_values.")]


def empty_cache(model, batch):
    feeds = {}
    for i in model.inputs:
        if i.name.startswith("past_key_values."):
            shape = [batch if d == 0 else (0 if s is None or s < 0 else s)
                     for d, s in enumerate(i.shape)]
            feeds[i.name] = np.zeros(shape, np.dtype(i.dtype))
    return feeds


def step(model, ids, mask, cache):
    """One run: the new tokens `ids`, the mask over all positions, the
    cache; returns the logits and the next cache."""
    feeds = {"input_ids": ids, **cache}
    if any(i.name == "attention_mask" for i in model.inputs):
        feeds["attention_mask"] = mask
    if any(i.name == "position_ids" for i in model.inputs):
        positions = np.where(mask == 1, np.cumsum(mask, 1) - 1, 1)
        feeds["position_ids"] = positions[:, -ids.shape[1]:]
    out = model.run(feeds)
    nxt = {k: out[k.replace("past_key_values", "present")] for k in cache}
    logits = next(v for k, v in out.items() if not k.startswith("present."))
    return logits, nxt


def quantize_ref(x, group):
    """NumPy's int8 codes and scales of `x` [..., L], a scale per group."""
    g = x.reshape(*x.shape[:-1], x.shape[-1] // group, group).astype(np.float64)
    top = np.abs(g).max(-1, keepdims=True)
    codes = np.clip(np.rint(g * 127 / np.maximum(top, np.finfo(np.float32).tiny)), -127, 127)
    return codes.reshape(x.shape).astype(np.int8), (top / 127).reshape(*x.shape[:-1], -1)


def dequantize(codes, scales):
    group = codes.shape[-1] // scales.shape[-1]
    g = codes.reshape(*codes.shape[:-1], scales.shape[-1], group).astype(np.float32)
    return (g * scales[..., None]).reshape(codes.shape)


def rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / np.abs(b).max())


def first_gap_below(steps, tol):
    """The first step at which a row's two best reference logits are within
    tol (relative to the largest) of each other, per row."""
    out = []
    for b in range(steps[0].shape[0]):
        at = len(steps)
        for t, s in enumerate(steps):
            row = np.sort(s[b].astype(np.float64))[::-1]
            if row[0] - row[1] <= tol * np.abs(row).max():
                at = t
                break
        out.append(at)
    return out


def greedy(model, ids, mask, n):
    """Greedy decoding through model.run with the cache; returns the
    sequences and each step's last logits."""
    cache = empty_cache(model, ids.shape[0])
    seq, new, steps = ids, ids, []
    for _ in range(n):
        logits, cache = step(model, new, mask, cache)
        last = logits[:, -1, :]
        steps.append(last)
        token = np.argmax(last, -1).astype(np.int64)[:, None]
        seq = np.concatenate([seq, token], 1)
        mask = np.concatenate([mask, np.ones_like(token)], 1)
        new = token
    return seq, steps


def check_family(args, fam, exported):
    results = []
    if exported:
        path = os.path.join(args.work, f"{fam}_kv.onnx")
        generate_parity.export_with_cache(fam, path)
        tag, derive = f"{fam}_exported", []
    else:
        entries = export_zoo.export_family((fam, args.work, [17], False))
        if not entries or "error" in entries[0]:
            return [("export", f"FAIL {entries}")]
        path = os.path.join(args.work, f"{fam}_op17.onnx")
        tag, derive = fam, ["--kv-cache"]
    models = {}
    for dtype in ("f32", "f16", "int8"):
        lib = os.path.join(args.work, f"{tag}_{dtype}.so")
        r = subprocess.run([args.slmc, path, *derive, f"--kv-cache-dtype={dtype}",
                            "-o", lib], capture_output=True, text=True)
        if r.returncode:
            return results + [(f"{dtype}: compile", f"FAIL\n{r.stderr}")]
        models[dtype] = slm.load(lib)
    ref = models["f32"]
    names = cache_names(ref)
    info = {i.name: i for i in ref.inputs}

    rng = np.random.default_rng(3)
    lengths = [6, 9, 4, 1]
    width = max(lengths)
    ids = np.zeros((4, width), np.int64)
    mask = np.zeros((4, width), np.int64)
    for b, length in enumerate(lengths):
        ids[b, width - length:] = rng.integers(0, export_zoo.VOCAB, length)
        mask[b, width - length:] = 1
    ref_logits, ref_cache = step(ref, ids, mask, empty_cache(ref, 4))
    token = rng.integers(0, export_zoo.VOCAB, (4, 1))
    mask2 = np.concatenate([mask, np.ones_like(token)], 1)
    heads = {}

    for dtype in ("f16", "int8"):
        model, tol = models[dtype], TOLERANCE[dtype]
        got = {i.name: i for i in model.inputs}
        # Interface.
        want_names = []
        for n in names:
            want_names.append(n)
            if dtype == "int8":
                want_names.append(n + "_scale")
        ok = cache_names(model) == want_names
        for n in names:
            ok &= got[n].dtype == ("float16" if dtype == "f16" else "int8")
            ok &= list(got[n].shape) == list(info[n].shape)
            if dtype == "int8":
                s = got[n + "_scale"]
                ok &= s.dtype == "float32" and list(s.shape[:-1]) == list(info[n].shape[:-1])
                heads[n] = info[n].shape[-1] // s.shape[-1]
        outs = [o.name for o in model.outputs if o.name.startswith("present.")]
        ok &= outs == [n.replace("past_key_values", "present") for n in want_names]
        results.append((f"{dtype}: interface", "ok" if ok else
                        f"FAIL: inputs {cache_names(model)}, outputs {outs}"))
        if not ok:
            continue

        # The stored form after the prompt, against NumPy.
        logits, cache = step(model, ids, mask, empty_cache(model, 4))
        worst = 0.0
        scale_err = 0.0
        for n in names[:2]:
            x = ref_cache[n]
            if dtype == "f16":
                want = x.astype(np.float16)
                diff = np.abs(cache[n].view(np.int16).astype(np.int32) -
                              want.view(np.int16).astype(np.int32))
            else:
                codes, scales = quantize_ref(x, heads[n])
                diff = np.abs(cache[n].astype(np.int32) - codes)
                scale_err = max(scale_err, rel(cache[n + "_scale"], scales))
            if diff.max() > 1:
                worst = float("inf")
            worst = max(worst, float((diff > 0).mean()))
        ok = worst <= 1e-3 and scale_err <= 1e-5
        results.append((f"{dtype}: stored form vs NumPy",
                        f"{'ok' if ok else 'FAIL'}: {worst:.2%} of elements one unit off"
                        + (f", scales within {scale_err:.1e}" if dtype == "int8" else "")))

        # A decode step on this cache vs the f32 model on it dequantized.
        after, _ = step(model, token, mask2, cache)
        plain = {n: (cache[n].astype(np.float32) if dtype == "f16"
                     else dequantize(cache[n], cache[n + "_scale"])) for n in names}
        want, _ = step(ref, token, mask2, plain)
        e_same = rel(after, want)
        e_f32 = rel(after, step(ref, token, mask2, ref_cache)[0])
        results.append((f"{dtype}: decode step vs f32 on the same cache",
                        f"{'ok' if e_same <= tol['same_cache'] else 'FAIL'}: {e_same:.1e} "
                        f"(vs the f32 cache: {e_f32:.1e})"))

        # The prompt in one step vs one token per step.
        row = ids[1:2, width - lengths[1]:]
        whole, whole_cache = step(model, row, np.ones_like(row), empty_cache(model, 1))
        c = empty_cache(model, 1)
        pieces = []
        for t in range(row.shape[1]):
            lg, c = step(model, row[:, t:t + 1], np.ones((1, t + 1), np.int64), c)
            pieces.append(lg)
        e = rel(np.concatenate(pieces, 1), whole)
        # A code may flip where float rounding of the two computations
        # straddles a rounding boundary; then the logits differ by more.
        flips = sum(int((whole_cache[n] != c[n]).sum()) for n in names)
        bound = tol["one_by_one"] if flips == 0 else 1e-3
        results.append((f"{dtype}: prompt at once vs token by token",
                        f"{'ok' if e <= bound else 'FAIL'}: {e:.1e}, {flips} codes differ"))

        # Against the f32 cache: logits, greedy tokens, slm-run.
        e_prompt = rel(logits, ref_logits)
        want_seq, want_steps = greedy(ref, ids, mask, args.new_tokens)
        got_seq, got_steps = greedy(model, ids, mask, args.new_tokens)
        near = first_gap_below(want_steps, tol["vs_f32"])
        verdict = "ok"
        agree = 0
        for b in range(4):
            diff = np.nonzero(got_seq[b, width:] != want_seq[b, width:])[0]
            first = int(diff[0]) if diff.size else args.new_tokens
            agree += first
            if first < near[b]:
                verdict = (f"FAIL: row {b} differs at step {first}, the f32 model's "
                           f"best two logits are apart by more than {tol['vs_f32']}")
        # Where the tokens agree, the logits do too.
        e_steps = max(rel(g[b], w[b]) for t, (g, w) in enumerate(zip(got_steps, want_steps))
                      for b in range(4)
                      if np.array_equal(got_seq[b, :width + t], want_seq[b, :width + t]))
        if max(e_prompt, e_steps) > tol["vs_f32"]:
            verdict = "FAIL"
        results.append((f"{dtype}: vs the f32 cache",
                        f"{verdict}: prompt logits {e_prompt:.1e}, steps {e_steps:.1e}, "
                        f"{agree} of {4 * args.new_tokens} greedy tokens the same "
                        f"(first near tie at steps {near})"))
        gen = model.generate(ids, max_new_tokens=args.new_tokens, attention_mask=mask)
        results.append((f"{dtype}: Model.generate",
                        "ok" if np.array_equal(gen, got_seq) else
                        f"FAIL: differs from the step loop:\n{gen}\n{got_seq}"))
        if dtype == "int8":
            name = f"{tag}_{dtype}"
            for part, a in (("prompt", ids), ("mask", mask), ("want", got_seq)):
                np.save(os.path.join(args.work, f"{name}.{part}.npy"), a)
            results.append((f"{dtype}: slm-run --generate", generate_parity.cli_generate(
                args, os.path.join(args.work, f"{name}.so"), name, args.new_tokens,
                os.path.join(args.work, f"{name}.want.npy"), "ok")))
    return results


def ort_optimized(args, fam):
    """The model exported with a cache, rewritten by ONNX Runtime's
    transformers optimizer (SkipLayerNormalization, FastGelu, Gemm: a graph
    slm did not write), compiled as it is and with an int8 cache: a prefill
    and a decode step against ONNX Runtime on that graph."""
    from onnxruntime.transformers import optimizer
    import onnxruntime as ort
    source = os.path.join(args.work, f"{fam}_kv.onnx")
    generate_parity.export_with_cache(fam, source)
    path = os.path.join(args.work, f"{fam}_kv_ortopt.onnx")
    optimizer.optimize_model(source, model_type=fam, opt_level=1).save_model_to_file(path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(5)
    ids = rng.integers(0, export_zoo.VOCAB, (2, 7))
    mask = np.ones_like(ids)
    token = rng.integers(0, export_zoo.VOCAB, (2, 1))
    mask2 = np.ones((2, 8), np.int64)

    def ort_step(new, m, past):
        pos = (np.cumsum(m, 1) - 1)[:, -new.shape[1]:]
        r = session.run(None, {"input_ids": new, "attention_mask": m, "position_ids": pos, **past})
        return r[0], {n: r[outs.index(n.replace("past_key_values", "present"))] for n in past}
    past = {i.name: np.zeros((2, i.shape[1], 0, i.shape[3]), np.float32)
            for i in session.get_inputs() if i.name.startswith("past")}
    want0, cache = ort_step(ids, mask, past)
    want1, _ = ort_step(token, mask2, cache)
    results = []
    for dtype, tol in (("f32", 1e-5), ("int8", TOLERANCE["int8"]["vs_f32"])):
        lib = os.path.join(args.work, f"{fam}_ortopt_{dtype}.so")
        r = subprocess.run([args.slmc, path, f"--kv-cache-dtype={dtype}", "-o", lib],
                           capture_output=True, text=True)
        if r.returncode:
            results.append((f"ORT-optimized graph, {dtype}: compile", f"FAIL\n{r.stderr}"))
            continue
        model = slm.load(lib)
        got0, c = step(model, ids, mask, empty_cache(model, 2))
        got1, _ = step(model, token, mask2, c)
        scales = [i.name for i in model.inputs if i.name.endswith("_scale")]
        e0, e1 = rel(got0, want0), rel(got1, want1)
        ok = max(e0, e1) <= tol and (len(scales) == len(past) if dtype == "int8" else not scales)
        results.append((f"ORT-optimized graph, {dtype} cache vs ORT",
                        f"{'ok' if ok else 'FAIL'}: prefill {e0:.1e}, decode {e1:.1e}, "
                        f"{len(scales)} scale inputs"))
    return results


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("slm_run")
    p.add_argument("work")
    p.add_argument("--families", default="gpt2,llama,qwen2,phi")
    p.add_argument("--exported-families", default="")
    p.add_argument("--ort-optimized", default="",
                   help="families whose cached export ORT's optimizer rewrites first")
    p.add_argument("--new-tokens", type=int, default=32)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    failures = 0
    for exported, families in ((False, args.families), (True, args.exported_families)):
        for fam in filter(None, families.split(",")):
            for label, res in check_family(args, fam, exported):
                print(f"{fam}{' (exported cache)' if exported else ''}: {label}: {res}")
                failures += not res.startswith("ok")
    for fam in filter(None, args.ort_optimized.split(",")):
        for label, res in ort_optimized(args, fam):
            print(f"{fam}: {label}: {res}")
            failures += not res.startswith("ok")
    # A model with no cache, exported or derived.
    plain = os.path.join(args.work, "plain.onnx")
    export_zoo.export_family(("gpt2", args.work, [17], False))
    r = subprocess.run([args.slmc, os.path.join(args.work, "gpt2_op17.onnx"),
                        "--kv-cache-dtype=f16", "-o", plain + ".so"],
                       capture_output=True, text=True)
    res = ("ok" if r.returncode and "has no KV cache" in r.stderr
           and not os.path.exists(plain + ".so") else f"FAIL\n{r.stderr}")
    print(f"--kv-cache-dtype on a model without a cache, without --kv-cache, refused: {res}")
    failures += not res.startswith("ok")
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
