#!/usr/bin/env python3
"""Run-time token pruning: what slmc --prune-tokens buys in speed and costs
in quality, over a grid of schedules, in one run.

    bench/prune_tokens.py [--schedules 0.9@1,0.7@1,...] [--batch 1] [--seq 512]
                          [--threads 2] [--rounds 3] [--quality-only | --speed-only]
                          [--out DIR] [--smoke]

A schedule KEEP@START is `--prune-tokens=KEEP --prune-tokens-start=START`:
after each attention from number START on (0-based), every sequence keeps
ceil(KEEP x its current tokens), the most important by the attention they
received (summed over heads, queries and layers), its first token ([CLS])
always; the sequence shrinks layer after layer (SpAtten's cascade).

Speed: a BERT-base-shaped encoder (12 layers, hidden 768, 12 heads, FFN
3072, random weights, seed 0; bench/models.py's "bert-base": mean-pooled,
L2-normalized embedding) at --batch x --seq, every token real. Engines:
"slm" (slmc's defaults, no pruning), "slm KEEP@START" per schedule, and
"onnxruntime" (ORT_ENABLE_ALL, --threads intra-op threads). Each engine runs
in its own process, warm, in --rounds rounds whose order rotates; the
latency is the median over rounds of each round's median. Speedups are
against slm's own unpruned model in the same run. The token-layer share is
the sum over layers of the tokens each layer's FFN sees over layers x S
(what the schedule removes from the linear layers' work).

Quality, on trained models (bench/eval.py's data): the fortunes classifier
(examples/compression: 4 layers, mean pooling; accuracy on 855 held-out
quotes) and all-MiniLM-L6-v2 (real weights, scripts/fetch-minilm.sh; 6
layers, mean pooling; mean cosine of each schedule's embeddings of 400
fortunes quotes to the unpruned ones, and nearest-neighbour agreement).
Padded batches as eval.py runs them. Each schedule in both modes: pruned
tokens dropped (the default: padding from then on, the pooling averages
the kept tokens) and skipping the remaining layers (--prune-tokens-skip:
the pooling sees every token, a pruned one with the state it had when
pruned).

Prints markdown tables; writes DIR/prune_tokens.json and DIR/prune_tokens.png
(quality vs speedup). The default run takes about 15 minutes on 2 cores.
--smoke: a 2-layer hidden-64 model at b2 s32, two schedules, one round, no
quality: checks the harness, not speed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

DEFAULT_SCHEDULES = "0.9@1,0.8@1,0.7@1,0.5@1,0.9@2,0.8@2,0.7@2,0.5@2,0.9@4,0.8@4,0.7@4"
# What pruned tokens become: padding (the default), or skipping the
# remaining layers (--prune-tokens-skip).
MODES = ("drop", "skip")


def parse_schedules(text):
    out = []
    for item in text.split(","):
        keep, _, start = item.partition("@")
        keep, start = float(keep), int(start or 1)
        if not (0 < keep <= 1) or start < 0:
            raise SystemExit(f"prune_tokens: bad schedule '{item}' (KEEP in (0, 1], START >= 0)")
        out.append((keep, start))
    return out


def label(schedule):
    return f"{schedule[0]:g}@{schedule[1]}"


def flags(schedule):
    return [f"--prune-tokens={schedule[0]:g}", f"--prune-tokens-start={schedule[1]}"]


def kept_tokens(n, keep, start, layers, leading=1, least=1):
    """Tokens each layer's FFN sees (the compiler's integer ceil)."""
    counts = []
    for layer in range(layers):
        if layer >= start:
            n = min(n, max((round(keep * 1e6) * n + 999999) // 1000000, least, leading))
        counts.append(n)
    return counts


def worker(args):
    import numpy as np
    from bench import first_output, peak_rss_mb, timed
    data = np.load(args.feeds)
    feeds = {"input_ids": data["input_ids"], "attention_mask": data["attention_mask"]}
    run = first_output(args.worker, args.lib, args.onnx, args.threads)
    fn = lambda: run(feeds)
    median, reps = timed(fn, args.reps, args.budget)
    np.save(args.save, fn())
    print(json.dumps({"median_s": median, "reps": reps, "peak_rss_mb": peak_rss_mb()}))


def compile_lib(slmc, onnx_path, lib, extra):
    """None, or slmc's error. Reuses lib while newer than its inputs."""
    if os.path.exists(lib) and os.path.getmtime(lib) > max(os.path.getmtime(onnx_path),
                                                            os.path.getmtime(slmc)):
        return None
    start = time.perf_counter()
    r = subprocess.run([slmc, onnx_path, "-o", lib, "--quiet", *extra],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return " ".join((r.stderr or r.stdout).split())[:300] or f"slmc exited {r.returncode}"
    print(f"compiled {os.path.basename(lib)} in {time.perf_counter() - start:.1f} s", flush=True)
    return None


def speed(args, schedules):
    import numpy as np
    import onnx  # noqa: F401  (before torch: Debian's onnx)
    import models
    if args.smoke:
        name, cfg = "tiny-bert", models.bert_config(2, 64, 4, 128)
    else:
        name, cfg = "bert-base", models.bert_config(12, 768, 12, 3072)
    onnx_path = os.path.join(args.out, f"{name}.onnx")
    if not os.path.exists(onnx_path):
        models.export(name, onnx_path)
    layers = cfg["num_hidden_layers"]
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, (args.batch, args.seq)).astype(np.int64)
    feeds = os.path.join(args.out, f"feeds-{args.batch}x{args.seq}.npz")
    np.savez(feeds, input_ids=ids, attention_mask=np.ones_like(ids))
    engines = ["slm"] + [f"slm {label(s)}" for s in schedules] + ["onnxruntime"]
    extra = {"slm": []}
    extra.update({f"slm {label(s)}": flags(s) for s in schedules})
    libs, failed = {}, {}
    for engine, f in extra.items():
        libs[engine] = os.path.join(args.out, f"{name}-{engine.replace(' ', '-')}.so")
        error = compile_lib(args.slmc, onnx_path, libs[engine], f)
        if error:
            failed[engine] = error
            print(f"{engine}: slmc failed: {error}", file=sys.stderr)
    python = os.path.join(ROOT, ".venv", "bin", "python")
    python = python if os.path.exists(python) else sys.executable
    save = lambda e: os.path.join(args.out, f"out-{e.replace(' ', '-')}.npy")
    runs = {e: [] for e in engines}
    timed_engines = [e for e in engines if e not in failed]
    for r in range(args.rounds):
        k = r % max(len(timed_engines), 1)
        for engine in timed_engines[k:] + timed_engines[:k]:
            cmd = [python, __file__, "--worker", engine, "--feeds", feeds, "--onnx", onnx_path,
                   "--threads", str(args.threads), "--reps", str(args.reps),
                   "--budget", str(args.budget), "--save", save(engine)]
            if engine in libs:
                cmd += ["--lib", libs[engine]]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                runs[engine].append({"error": (out.stderr or out.stdout).strip().splitlines()[-1]})
            else:
                runs[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = {}
    dense = np.load(save("slm")) if os.path.exists(save("slm")) else None
    for engine in engines:
        ok = [x for x in runs[engine] if "median_s" in x]
        if engine in failed or not ok:
            rows[engine] = {"error": failed.get(engine) or runs[engine][-1]["error"]}
            continue
        row = {"latency_ms": 1e3 * statistics.median(x["median_s"] for x in ok),
               "peak_rss_mb": max(x["peak_rss_mb"] for x in ok),
               "rounds_ms": [1e3 * x["median_s"] for x in ok]}
        if dense is not None and os.path.exists(save(engine)):
            e = np.load(save(engine)).astype(np.float64)
            d = dense.astype(np.float64)
            row["cosine_to_slm"] = float(np.mean(np.sum(e * d, 1) / (
                np.linalg.norm(e, axis=1) * np.linalg.norm(d, axis=1))))
        if engine.startswith("slm "):
            keep, start = parse_schedules(engine[4:])[0]
            row["token_layer_share"] = sum(kept_tokens(args.seq, keep, start, layers)) / (
                layers * args.seq)
        elif engine == "slm":
            row["token_layer_share"] = 1.0
        rows[engine] = row
    for row in rows.values():
        for ref, key in (("slm", "x_slm"), ("onnxruntime", "x_ort")):
            if "latency_ms" in row and "latency_ms" in rows.get(ref, {}):
                row[key] = rows[ref]["latency_ms"] / row["latency_ms"]
    print(f"\nBERT-base-shaped ({layers} layers{', SMOKE: hidden 64' if args.smoke else ''}), "
          f"b{args.batch} s{args.seq}, {args.threads} threads, {args.rounds} rotated rounds\n")
    print("| engine | token-layers | ms | x slm | x ORT | peak RSS MB | cosine to slm |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for engine in engines:
        row = rows[engine]
        if "error" in row:
            print(f"| {engine} | failed: {row['error']} | | | | | |")
            continue
        f = lambda key, spec: format(row[key], spec) if key in row else "-"
        share = f"{100 * row['token_layer_share']:.0f}%" if "token_layer_share" in row else "-"
        print(f"| {engine} | {share} | {row['latency_ms']:.1f} | {f('x_slm', '.2f')}x "
              f"| {f('x_ort', '.2f')}x | {row['peak_rss_mb']:.0f} | {f('cosine_to_slm', '.4f')} |")
    return {"model": name, "layers": layers, "batch": args.batch, "seq": args.seq,
            "engines": rows, "runs": runs}


def quality(args, schedules):
    import slm
    import eval as ev
    results = []
    for kind in (ev.Classifier, ev.MiniLM):
        if not os.path.exists(kind.onnx):
            print(f"prune_tokens: {kind.onnx} missing, skipping {kind.name}", file=sys.stderr)
            continue
        model = kind()
        base = None
        for schedule, mode in [(None, "none")] + [(s, m) for s in schedules for m in MODES]:
            name = f"{label(schedule)}-{mode}" if schedule else "dense"
            lib = os.path.join(args.out, f"{model.name}-{name}.so")
            extra = (flags(schedule) + (["--prune-tokens-skip"] if mode == "skip" else [])
                     if schedule else [])
            error = compile_lib(args.slmc, model.onnx, lib, extra)
            key = label(schedule) if schedule else "none"
            if error:
                results.append({"model": model.name, "schedule": key, "mode": mode,
                                "error": error})
                continue
            with slm.load(lib, num_threads=args.threads) as m:
                q = model.quality(m)
            row = {"model": model.name, "metric": model.metric, "schedule": key, "mode": mode,
                   "quality": q}
            row.update(getattr(model, "extra", {}))
            if base is None:
                base = q
            row["change"] = q - base
            results.append(row)
    print("\n| schedule | classifier accuracy, dropped | skipping | MiniLM cosine (NN), "
          "dropped | skipping |")
    print("|---|---:|---:|---:|---:|")
    by = {(r["model"], r["schedule"], r["mode"]): r for r in results}

    def cell(r, model):
        if "quality" not in r:
            return r.get("error", "-")
        if model == "classifier":
            return f"{100 * r['quality']:.2f}% ({100 * r['change']:+.1f})"
        return f"{r['quality']:.4f} ({r['nn_agreement']:.2f})"
    c0, m0 = by.get(("classifier", "none", "none"), {}), by.get(("minilm", "none", "none"), {})
    print(f"| none | {cell(c0, 'classifier')} | | {cell(m0, 'minilm')} | |")
    for s in [label(s) for s in schedules]:
        cells = [cell(by.get((model, s, mode), {}), model)
                 for model in ("classifier", "minilm") for mode in MODES]
        print(f"| {s} | " + " | ".join(cells) + " |")
    return results


def chart(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("prune_tokens: matplotlib missing, no chart", file=sys.stderr)
        return
    speed_rows = results.get("speed", {}).get("engines", {})
    speedup = {e[4:]: r["x_slm"] for e, r in speed_rows.items() if e.startswith("slm ") and "x_slm" in r}
    speedup["none"] = 1.0
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for i, (model, ylabel) in enumerate((("classifier", "accuracy"), ("minilm", "mean cosine"))):
        rows = [r for r in results.get("quality", []) if r["model"] == model and "quality" in r
                and r["schedule"] in speedup]
        for mode, color in (("none", "k"), ("drop", "C0"), ("skip", "C1")):
            sel = [r for r in rows if r["mode"] == mode]
            ax[i].scatter([speedup[r["schedule"]] for r in sel], [r["quality"] for r in sel],
                          color=color, label={"none": "unpruned", "drop": "dropped",
                                              "skip": "skipping"}[mode])
            for r in sel:
                ax[i].annotate(r["schedule"], (speedup[r["schedule"]], r["quality"]), fontsize=7)
        ax[i].legend(fontsize=8)
        ax[i].set_xlabel("speedup, BERT-base-shaped b%d s%d" % (
            results.get("speed", {}).get("batch", 0), results.get("speed", {}).get("seq", 0)))
        ax[i].set_ylabel(ylabel)
        ax[i].set_title(model)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schedules", default=DEFAULT_SCHEDULES)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--budget", type=float, default=20.0, help="seconds per engine and round")
    p.add_argument("--speed-only", action="store_true")
    p.add_argument("--quality-only", action="store_true")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench-prune-tokens"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--worker")
    p.add_argument("--feeds")
    p.add_argument("--onnx")
    p.add_argument("--lib")
    p.add_argument("--save")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if args.smoke:
        args.schedules, args.batch, args.seq = "0.5@0,0.7@1", 2, 32
        args.rounds, args.reps, args.budget, args.speed_only = 1, 2, 1.0, True
    schedules = parse_schedules(args.schedules)
    os.makedirs(args.out, exist_ok=True)
    results = {"schedules": [label(s) for s in schedules], "threads": args.threads}
    if not args.quality_only:
        results["speed"] = speed(args, schedules)
    if not args.speed_only:
        results["quality"] = quality(args, schedules)
        chart(results, os.path.join(args.out, "prune_tokens.png"))
    with open(os.path.join(args.out, "prune_tokens.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.out}/prune_tokens.json")
    failed = [e for e, r in results.get("speed", {}).get("engines", {}).items() if "error" in r]
    failed += [r["schedule"] for r in results.get("quality", []) if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
