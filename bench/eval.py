#!/usr/bin/env python3
"""slm eval: what compression costs in quality and buys in speed and size.

Compiles each model under each compression setting with slmc, runs it
through the slm runtime on held-out evaluation data, and prints one table
(setting, quality, size, latency, speedup vs slm fp32); writes the same as
JSON and a chart (quality vs speedup) into --out.

    .venv/bin/python bench/eval.py                       # all models, all settings
    .venv/bin/python bench/eval.py --models classifier --settings fp32,flap

Models (see examples/compression/ and scripts/fetch-minilm.sh):
  classifier  BERT-style encoder on 8 fortunes categories; accuracy on 855
              held-out quotes.
  lm          GPT-style byte LM on the King James text; bits per byte on 6
              held-out books (81 KB).
  minilm      all-MiniLM-L6-v2 (real weights); mean cosine of compressed vs
              fp32 embeddings of 400 fortunes quotes, and nearest-neighbour
              agreement (each quote's nearest other quote, same or not).
Calibration samples (unpadded, one folder each) come from the training
side of the data: 256 training quotes, 128 training windows of 128 bytes,
288 quotes of six fortunes categories not in the retrieval set.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "examples", "compression"))
sys.path.insert(0, os.path.join(ROOT, "examples", "minilm"))
import slm  # noqa: E402

PRUNE30 = dict(prune_heads=0.3, prune_ffn=0.3)
FLAP_LS = dict(PRUNE30, prune_method="flap", prune_reconstruct=True)
CALIB = dict(calibration="CALIB")
# Each setting is the keywords of slm.compile (slmc's options).
SETTINGS = {
    "fp32": {},
    "magnitude": dict(PRUNE30, prune_method="magnitude"),
    "wanda": dict(PRUNE30, prune_method="wanda", **CALIB),
    "flap": dict(PRUNE30, prune_method="flap", **CALIB),
    "flap-global": dict(PRUNE30, prune_method="flap", prune_allocation="global", **CALIB),
    "flap-ls": dict(FLAP_LS, **CALIB),
    "drop-1-layer": dict(prune_layers=1, **CALIB),
    "int8": dict(quantize="int8"),
    "flap-ls+int8": dict(FLAP_LS, quantize="int8", **CALIB),
    "w8a8": dict(quantize="w8a8"),
    "w8a8-static": dict(quantize="w8a8", w8a8_activations="percentile", **CALIB),
    "int4": dict(quantize="int4", quant_group_size=128),
    "nf4": dict(quantize="nf4", quant_group_size=128),
    "int4-asym": dict(quantize="int4", quant_group_size=128, quant_symmetric=False),
    "int4-g32": dict(quantize="int4", quant_group_size=32, quant_symmetric=False),
    "int4-aware": dict(quantize="int4", quant_group_size=128, **CALIB),
    "nf4-aware": dict(quantize="nf4", quant_group_size=128, **CALIB),
    "int4-gptq": dict(quantize="int4", quant_group_size=128, quant_method="gptq", **CALIB),
    "nf4-gptq": dict(quantize="nf4", quant_group_size=128, quant_method="gptq", **CALIB),
    "flap-ls+w8a8": dict(FLAP_LS, quantize="w8a8", **CALIB),
}
DESCRIPTIONS = {
    "fp32": "no compression",
    "magnitude": "30% heads + 30% FFN, weight magnitude",
    "wanda": "30% heads + 30% FFN, Wanda |W|*||X||",
    "flap": "30% heads + 30% FFN, FLAP + bias compensation",
    "flap-global": "as flap, one global budget",
    "flap-ls": "as flap, least-squares refit of the consumers",
    "drop-1-layer": "drop the least important block",
    "int8": "int8 weight-only, per channel",
    "flap-ls+int8": "flap-ls, then int8 weights",
    "w8a8": "int8 weights, inputs quantized to uint8 per token (VNNI)",
    "w8a8-static": "W8A8, fixed input scales from calibration (99.99% quantiles)",
    "int4": "int4 weight-only, groups of 128, symmetric",
    "nf4": "NF4 weight-only, groups of 128",
    "int4-asym": "int4 weight-only, groups of 128, zero points",
    "int4-g32": "int4 weight-only, groups of 32, zero points",
    "int4-aware": "int4 g128, scales chosen by calibrated input energy",
    "nf4-aware": "NF4 g128, scales chosen by calibrated input energy",
    "int4-gptq": "int4 g128, GPTQ on calibration covariance",
    "nf4-gptq": "NF4 g128, GPTQ on calibration covariance",
    "flap-ls+w8a8": "flap-ls, then W8A8",
}


def batches(n, size):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


# --- models -------------------------------------------------------------------

class Classifier:
    name, metric, higher_better = "classifier", "accuracy", True
    onnx = os.path.join(ROOT, "examples", "compression", "fortunes-classifier.onnx")

    def __init__(self):
        d = np.load(os.path.join(ROOT, "examples", "compression", "fortunes-eval.npz"))
        self.ids, self.mask, self.labels = d["input_ids"], d["attention_mask"], d["labels"]

    def calibration(self, folder):
        import data
        vocab = json.load(open(os.path.join(ROOT, "examples", "compression", "fortunes-vocab.json")))
        vocab = {w: i for i, w in enumerate(vocab["words"])}
        items = data.fortunes()
        train = items[len(items) * 15 // 100:]
        ids, mask = data.encode([t for t, _ in train[:256]], vocab)
        for i in range(256):
            n = int(mask[i].sum())
            write_sample(folder, i, {"input_ids": ids[i:i + 1, :n], "attention_mask": mask[i:i + 1, :n]})

    def quality(self, model):
        right = 0
        for s in batches(len(self.labels), 64):
            width = int(self.mask[s].sum(1).max())
            logits = model.run({"input_ids": self.ids[s, :width],
                                "attention_mask": self.mask[s, :width]})["logits"]
            right += int((logits.argmax(1) == self.labels[s]).sum())
        return right / len(self.labels)

    def timing_input(self):
        return {"input_ids": self.ids[:32, :64], "attention_mask": self.mask[:32, :64]}, "b32 s64"


class ByteLM:
    name, metric, higher_better = "lm", "bits/byte", False
    onnx = os.path.join(ROOT, "examples", "compression", "kjv-lm.onnx")

    def __init__(self):
        text = np.load(os.path.join(ROOT, "examples", "compression", "kjv-eval.npz"))["text"]
        text = text.astype(np.int64)
        n = (len(text) - 1) // 128
        self.x = text[:n * 128].reshape(n, 128)
        self.y = text[1:n * 128 + 1].reshape(n, 128)

    def calibration(self, folder):
        import data
        train, _ = data.kjv_split()
        text = np.frombuffer(train, np.uint8).astype(np.int64)
        rng = np.random.default_rng(1)
        for i, start in enumerate(rng.integers(0, len(text) - 129, 128)):
            write_sample(folder, i, {"input_ids": text[None, start:start + 128]})

    def quality(self, model):
        nll, count = 0.0, 0
        for s in batches(len(self.x), 32):
            logits = model.run({"input_ids": self.x[s]})["logits"].astype(np.float64)
            logits -= logits.max(-1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            nll -= np.take_along_axis(logp, self.y[s][..., None], -1).sum()
            count += self.y[s].size
        return nll / count / np.log(2)

    def timing_input(self):
        return {"input_ids": self.x[:8]}, "b8 s128"


class MiniLM:
    name, metric, higher_better = "minilm", "mean cosine", True
    model_dir = os.path.join(ROOT, "build", "models", "minilm")
    onnx = os.path.join(model_dir, "all-MiniLM-L6-v2.onnx")
    RETRIEVAL = ["science", "computers", "politics", "love", "food", "sports", "law", "medicine"]
    CALIBRATION = ["wisdom", "people", "cookie", "work", "definitions", "platitudes"]

    def __init__(self):
        from tokenizer import WordPiece
        self.tok = WordPiece(os.path.join(self.model_dir, "model", "vocab.txt"))
        quotes = self.quotes(self.RETRIEVAL, 50)
        self.ids, self.mask = self.encode(quotes)
        self.reference = None

    @staticmethod
    def quotes(categories, per_category):
        out = []
        for cat in categories:
            text = open(os.path.join("/usr/share/games/fortunes", cat), encoding="utf-8",
                        errors="replace").read()
            qs = [q.strip() for q in text.split("\n%\n") if len(q.strip()) >= 20]
            out += qs[:per_category]
        return out

    def encode(self, texts):
        ids, mask = self.tok.batch(texts)
        return ids[:, :64], mask[:, :64]

    def calibration(self, folder):
        quotes = self.quotes(self.CALIBRATION, 48)
        for i, q in enumerate(quotes):
            ids, mask = self.encode([q])
            n = int(mask.sum())
            write_sample(folder, i, {"input_ids": ids[:, :n], "attention_mask": mask[:, :n]})

    def embed(self, model):
        out = []
        for s in batches(len(self.ids), 32):
            width = int(self.mask[s].sum(1).max())
            out.append(model.run({"input_ids": self.ids[s, :width],
                                  "attention_mask": self.mask[s, :width]})["embedding"])
        return np.concatenate(out).astype(np.float64)

    def quality(self, model):
        e = self.embed(model)
        if self.reference is None:  # fp32 runs first
            self.reference = e
        r = self.reference
        cos = np.sum(e * r, 1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(r, axis=1))

        def nearest(x):
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
            sim = x @ x.T
            np.fill_diagonal(sim, -np.inf)
            return sim.argmax(1)
        self.extra = {"nn_agreement": float(np.mean(nearest(e) == nearest(r)))}
        return float(cos.mean())

    def timing_input(self):
        ids = np.tile(self.ids[:32, :], 1)
        ids = np.concatenate([ids, ids], 1)[:, :128]
        return {"input_ids": np.ascontiguousarray(ids),
                "attention_mask": np.ones_like(ids)}, "b32 s128"


def write_sample(folder, index, arrays):
    d = os.path.join(folder, f"{index:04d}")
    os.makedirs(d, exist_ok=True)
    for name, a in arrays.items():
        np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(a))


def latency(model, feeds, budget):
    model.run(feeds)
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 50):
        t = time.perf_counter()
        model.run(feeds)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def compile_setting(model, setting, work, calib):
    lib = os.path.join(work, f"{model.name}-{setting}.so")
    report = os.path.join(work, f"{model.name}-{setting}.json")
    options = {k: (calib if v == "CALIB" else v) for k, v in SETTINGS[setting].items()}
    if options:
        options["compression_report"] = report
    start = time.perf_counter()
    try:
        slm.compile(model.onnx, lib, **options)
    except slm.SlmError as e:
        raise SystemExit(f"eval: compiling {model.onnx} with {options} failed:\n{e}")
    return lib, time.perf_counter() - start, (json.load(open(report)) if options else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="classifier,lm,minilm")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "eval"))
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timing per setting")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    kinds = {"classifier": Classifier, "lm": ByteLM, "minilm": MiniLM}
    settings = args.settings.split(",")
    for s in settings:
        if s not in SETTINGS:
            raise SystemExit(f"eval: unknown setting '{s}' (known: {', '.join(SETTINGS)})")
    if "fp32" not in settings:
        settings.insert(0, "fp32")
    rows = []
    for name in args.models.split(","):
        if name not in kinds:
            raise SystemExit(f"eval: unknown model '{name}' (known: {', '.join(kinds)})")
        if not os.path.exists(kinds[name].onnx):
            print(f"eval: {kinds[name].onnx} missing, skipping {name}", file=sys.stderr)
            continue
        model = kinds[name]()
        calib = os.path.join(args.out, "calibration", name)
        # Samples only when a setting calibrates (they read Debian's data).
        if not os.path.isdir(calib) and any(SETTINGS[s].get("calibration") == "CALIB" for s in settings):
            model.calibration(calib)
        feeds, shape = model.timing_input()
        base = None
        for setting in settings:
            lib, compile_s, report = compile_setting(model, setting, args.out, calib)
            m = slm.load(lib, num_threads=args.threads)
            q = model.quality(m)
            t = latency(m, feeds, args.budget)
            if setting == "fp32":
                base = (q, t)
            row = {"model": name, "setting": setting, "description": DESCRIPTIONS[setting],
                   "metric": model.metric, "quality": q,
                   "quality_change": q - base[0] if model.higher_better else q / base[0] - 1,
                   "size_mb": os.path.getsize(lib) / 1e6, "latency_ms": t * 1e3, "shape": shape,
                   "speedup": base[1] / t, "compile_s": compile_s}
            row.update(getattr(model, "extra", {}))
            if report:
                row["linear_macs_ratio"] = report["linear_macs_per_token"][0] / report["linear_macs_per_token"][1]
            rows.append(row)
            m.close()
            print_row(row, first=len(rows) == 1)
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(rows, f, indent=1)
    chart(rows, os.path.join(args.out, "eval.png"))
    print(f"\nJSON: {os.path.join(args.out, 'eval.json')}  chart: {os.path.join(args.out, 'eval.png')}")


def print_row(r, first):
    if first:
        print(f"{'model':<11}{'setting':<14}{'quality':<24}{'change':>9}{'size MB':>9}"
              f"{'latency':>11}  {'shape':<9}{'speedup':>8}")
    change = (f"{100 * r['quality_change']:+.1f}pt" if r["metric"] != "bits/byte"
              else f"{100 * r['quality_change']:+.1f}%")
    quality = f"{r['metric']} {r['quality']:.4f}"
    if "nn_agreement" in r:
        quality += f" nn {r['nn_agreement']:.2f}"
    print(f"{r['model']:<11}{r['setting']:<14}{quality:<24}{change:>9}{r['size_mb']:>9.1f}"
          f"{r['latency_ms']:>9.2f}ms  {r['shape']:<9}{r['speedup']:>7.2f}x", flush=True)


def chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("eval: matplotlib missing, no chart", file=sys.stderr)
        return
    models = sorted({r["model"] for r in rows})
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
    for ax, name in zip(axes[0], models):
        pts = [r for r in rows if r["model"] == name]
        for r in pts:
            ax.scatter(r["speedup"], r["quality"])
            ax.annotate(r["setting"], (r["speedup"], r["quality"]), fontsize=8,
                        xytext=(4, 2), textcoords="offset points")
        ax.set_xlabel("speedup vs slm fp32")
        ax.set_ylabel(pts[0]["metric"])
        ax.set_title(f"{name} ({pts[0]['shape']})")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
