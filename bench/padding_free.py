#!/usr/bin/env python3
"""Padding-free batches: slm with --padding-free against the padded slm
model and ONNX Runtime on batches of real text lengths, in one run.

    bench/padding_free.py [--threads 2] [--layers 12] [--batch 32] [--batches 4]
                          [--max-len 60] [--rounds 3] [--engines E ...]
                          [--out DIR] [--smoke]

The model is a BERT-base-shaped encoder (hidden 768, 12 heads, FFN 3072,
--layers of them, default 12; random weights, seed 0) whose output is the
last hidden state [batch, seq, 768], exported once from PyTorch with the
HF-style key-padding mask: inputs input_ids and attention_mask (int64
[batch, seq], 1 = real token, right-padded).

Lengths are real: the quotes of Debian's `fortunes` package
(/usr/share/games/fortunes, every category but ascii-art: about 15,000
quotes, one-liners to long passages), each counted in BERT tokens with
[CLS] and [SEP] -- WordPiece with the uncased BERT vocabulary when
--vocab exists (default: the all-MiniLM-L6-v2 vocab.txt that
scripts/fetch-minilm.sh fetches), else BERT's pre-tokenization alone
(words and punctuation marks: about 10% fewer tokens) -- and truncated at
--max-len, as a tokenizer's max_length does. --batches batches of --batch
quotes are drawn at random (seed 0); each is padded to its longest (with
32 quotes nearly always one is truncated, so to --max-len); fill = real
tokens / padded tokens, reported as obtained. --max-len 60 puts the fill
near 50%: the default draw's is 49.8% counting words, 54.0% in WordPiece.
Only if the fortunes are missing are the lengths synthetic (log-normal,
median 24, sigma 0.68: the fortunes' shape, clipped to [3, --max-len];
45% fill); the header and the JSON say which source was used.

Engines: "slm padded" (slmc's defaults), "slm padding-free" (slmc
--padding-free: tokens packed by the mask, attention per sequence, outputs
scattered back), "onnxruntime" (ORT_ENABLE_ALL, intra-op threads
--threads, inter-op 1). Each engine runs in its own process, warm, all
--batches batches per timed call, in --rounds rounds whose engine order
rotates; latency is the median over rounds of each round's median, per
batch. Throughput counts real tokens (and sequences) per second; ratios
are throughputs over slm padded's and over ORT's (higher is faster). The
error columns: each output's largest |difference| from ORT's at real
tokens only (mask == 1: a padded model's pad rows mean nothing),
and for slm padding-free the count of pad positions that are not exactly
0. Prints a markdown table; writes DIR/padding_free.json. Compiled
libraries are reused while newer than the ONNX file and slmc.
The default run (12 layers, 3 rounds) takes about 5 minutes on 2 cores.
--smoke: a 2-layer hidden-64 model, 2 batches of 4, lengths <= 64, 1 round:
checks the harness, not speed.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)

ENGINES = ("slm padded", "slm padding-free", "onnxruntime")
FLAGS = {"slm padded": [], "slm padding-free": ["--padding-free"]}
FORTUNES = "/usr/share/games/fortunes"
VOCAB = os.path.join(ROOT, "build", "models", "minilm", "model", "vocab.txt")


def quotes():
    """The fortunes' quotes, in a fixed order (ascii-art is pictures)."""
    items = []
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if "." in name or name == "ascii-art" or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            items += [q.strip() for q in f.read().split("\n%\n") if q.strip()]
    return items


def token_counts(texts, vocab):
    """(counts with [CLS] and [SEP], how they were counted)."""
    if vocab and os.path.exists(vocab):
        try:
            from tokenizers import BertWordPieceTokenizer
            tok = BertWordPieceTokenizer(vocab, lowercase=True)
            return ([len(e.ids) for e in tok.encode_batch(texts)],
                    f"WordPiece ({os.path.basename(os.path.dirname(os.path.dirname(vocab)))} "
                    f"{os.path.basename(vocab)})")
        except ImportError:
            pass
    split = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
    return ([len(split.findall(t.lower())) + 2 for t in texts],
            "words and punctuation (no BERT vocabulary found)")


def draw_batches(args):
    """[(input_ids, attention_mask)] and a description of the lengths."""
    import numpy as np
    rng = np.random.default_rng(0)  # the lengths
    rng_ids = np.random.default_rng(1)  # the token ids (no bearing on speed)
    if os.path.isdir(FORTUNES):
        texts = quotes()
        counts, how = token_counts(texts, args.vocab)
        pool = np.minimum(np.array(counts), args.max_len)
        source = {"source": f"fortunes ({len(texts)} quotes, {FORTUNES})", "tokens": how}
    else:
        pool = np.clip(np.round(rng.lognormal(math.log(24), 0.68, 20000)), 3,
                       args.max_len).astype(np.int64)
        source = {"source": "SYNTHETIC log-normal (median 24, sigma 0.68): "
                            f"{FORTUNES} is missing", "tokens": "-"}
    batches = []
    for _ in range(args.batches):
        lengths = rng.choice(pool, args.batch, replace=False)
        seq = int(lengths.max())
        mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
        ids = rng_ids.integers(1000, 30000, (args.batch, seq)).astype(np.int64) * mask
        batches.append((ids, mask))
    real = sum(int(m.sum()) for _, m in batches)
    padded = sum(m.size for _, m in batches)
    source.update(max_len=args.max_len, pool_mean=float(pool.mean()),
                  real_tokens=real, padded_tokens=padded, fill=real / padded,
                  padded_lengths=[int(m.shape[1]) for _, m in batches],
                  fills=[float(m.mean()) for _, m in batches])
    return batches, source


def worker(args):
    """One engine on all the batches; prints JSON (median seconds per call,
    reps, peak RSS) and saves each batch's output for the comparison."""
    import numpy as np
    from bench import peak_rss_mb, timed
    data = np.load(args.batches_file)
    feeds = [{"input_ids": data[f"input_ids_{k}"], "attention_mask": data[f"attention_mask_{k}"]}
             for k in range(len(data.files) // 2)]
    if args.engine.startswith("slm"):
        import slm
        m = slm.load(args.lib, num_threads=args.threads)
        one = lambda f: list(m.run(f).values())[0]
    else:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
        one = lambda f: s.run(None, f)[0]
    fn = lambda: [one(f) for f in feeds]
    median, reps = timed(fn, args.reps, args.budget)
    np.savez(args.save, *fn())
    print(json.dumps({"median_s": median, "reps": reps, "peak_rss_mb": peak_rss_mb()}))


def export(path, cfg):
    """The encoder of models.py (BERT as HF writes it) returning its last
    hidden state: the token output that padding-free scatters back."""
    import onnx  # noqa: F401  (before torch: Debian's onnx)
    import torch
    from models import SentenceEncoder

    class TokenEncoder(SentenceEncoder):
        def forward(self, input_ids, attention_mask):
            s = input_ids.size(1)
            positions = torch.arange(s, dtype=torch.long).unsqueeze(0)
            x = self.word(input_ids) + self.position(positions) + self.token_type(
                torch.zeros_like(input_ids))
            x = self.norm(x)
            mask = attention_mask.to(torch.float32)
            additive = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
            for layer in self.layers:
                x = layer(x, additive)
            return x

    torch.manual_seed(0)
    model = TokenEncoder(cfg).eval()
    ids = torch.randint(1000, 2000, (2, 16))
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    names = ["input_ids", "attention_mask"]
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), path, opset_version=17, input_names=names,
                          output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "seq"}
                                        for n in [*names, "last_hidden_state"]})


def compile_lib(args, onnx_path, lib, flags):
    """None, or slmc's error. Reuses lib while newer than its inputs."""
    if os.path.exists(lib) and os.path.getmtime(lib) > max(
            os.path.getmtime(onnx_path), os.path.getmtime(args.slmc)):
        print(f"reusing {lib}")
        return None
    start = time.perf_counter()
    r = subprocess.run([args.slmc, onnx_path, "-o", lib, "--quiet", *flags],
                       capture_output=True, text=True)
    if r.returncode != 0:
        if os.path.exists(lib):
            os.remove(lib)
        return (r.stderr or r.stdout).strip() or f"slmc exited {r.returncode}"
    print(f"compiled {os.path.basename(lib)} in {time.perf_counter() - start:.1f} s")
    return None


def one_line(text, whole=False, limit=200):
    """A message for one table cell: a traceback's last line, or all of
    slmc's lines (whole)."""
    lines = [x.strip() for x in str(text).strip().splitlines() if x.strip()] or ["?"]
    line = " ".join(lines) if whole else lines[-1]
    return line.replace("|", "/")[:limit]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--batches", type=int, default=4, help="batches drawn, all run per timed call")
    p.add_argument("--max-len", type=int, default=60, help="truncation length of the quotes")
    p.add_argument("--vocab", default=VOCAB, help="BERT vocab.txt for WordPiece counts")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--budget", type=float, default=30.0, help="seconds per engine and round")
    p.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench-padding-free"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    p.add_argument("--smoke", action="store_true",
                   help="2 layers of hidden 64, 2 batches of 4, lengths <= 64, 1 round")
    p.add_argument("--worker")
    p.add_argument("--batches-file")
    p.add_argument("--onnx")
    p.add_argument("--lib")
    p.add_argument("--save")
    args = p.parse_args()
    if args.worker:
        args.engine = args.worker
        return worker(args)
    if args.smoke:
        args.layers, args.batch, args.batches, args.max_len = 2, 4, 2, 64
        args.rounds, args.reps, args.budget = 1, 2, 1.0
    import numpy as np
    import onnx  # noqa: F401  (before torch: Debian's onnx)
    from models import bert_config

    os.makedirs(args.out, exist_ok=True)
    python = os.path.join(ROOT, ".venv", "bin", "python")
    python = python if os.path.exists(python) else sys.executable
    engines = [e for e in ENGINES if e in args.engines]
    if args.smoke:
        name, cfg, shape = "bert-tokens-tiny", bert_config(2, 64, 4, 128), "tiny BERT (hidden 64)"
    else:
        name, cfg, shape = f"bert-tokens-{args.layers}", bert_config(args.layers, 768, 12, 3072), \
            "BERT-base-shaped"
    onnx_path = os.path.join(args.out, name + ".onnx")
    if not os.path.exists(onnx_path):
        export(onnx_path, cfg)

    batches, lengths = draw_batches(args)
    batches_file = os.path.join(args.out, f"batches-{args.batch}x{args.batches}-{args.max_len}.npz")
    np.savez(batches_file, **{f"{k}_{i}": a for i, (ids, mask) in enumerate(batches)
                              for k, a in (("input_ids", ids), ("attention_mask", mask))})

    libs, failed = {}, {}
    for engine in engines:
        if engine in FLAGS:
            libs[engine] = os.path.join(args.out, name + ("-padding-free" if FLAGS[engine] else "")
                                        + ".so")
            error = compile_lib(args, onnx_path, libs[engine], FLAGS[engine])
            if error:
                failed[engine] = "slmc failed: " + one_line(error, whole=True)
                print(f"{engine}: {failed[engine]}", file=sys.stderr)

    save = lambda e: os.path.join(args.out, f"out-{e.replace(' ', '-')}.npz")
    runs = {e: [] for e in engines}
    timed_engines = [e for e in engines if e not in failed]
    for r in range(args.rounds):
        order = timed_engines[r % max(len(timed_engines), 1):] + \
            timed_engines[:r % max(len(timed_engines), 1)]
        for engine in order:
            if os.path.exists(save(engine)) and r == 0:
                os.remove(save(engine))
            cmd = [python, __file__, "--worker", engine, "--batches-file", batches_file,
                   "--onnx", onnx_path, "--threads", str(args.threads), "--reps", str(args.reps),
                   "--budget", str(args.budget), "--save", save(engine)]
            if engine in libs:
                cmd += ["--lib", libs[engine]]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                runs[engine].append({"error": one_line(out.stderr or out.stdout)})
            else:
                runs[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))

    real, padded = lengths["real_tokens"], lengths["padded_tokens"]
    sequences = args.batch * args.batches
    masks = [m.astype(bool) for _, m in batches]
    reference = None
    if "onnxruntime" in engines and os.path.exists(save("onnxruntime")):
        reference = np.load(save("onnxruntime"))
    rows = {}
    for engine in engines:
        ok = [x for x in runs[engine] if "median_s" in x]
        if engine in failed or not ok:
            rows[engine] = {"error": failed.get(engine) or runs[engine][-1]["error"]}
            continue
        seconds = statistics.median(x["median_s"] for x in ok)
        row = {"latency_ms_per_batch": 1e3 * seconds / args.batches,
               "real_tokens_per_s": real / seconds, "sequences_per_s": sequences / seconds,
               "peak_rss_mb": max(x["peak_rss_mb"] for x in ok),
               "reps": [x["reps"] for x in ok], "rounds_s": [x["median_s"] for x in ok]}
        if os.path.exists(save(engine)):
            outs = np.load(save(engine))
            outs = [outs[f"arr_{k}"] for k in range(len(masks))]
            row["nonzero_pads"] = int(sum(np.count_nonzero(o[~m]) for o, m in zip(outs, masks)))
            if reference is not None:
                row["max_abs_diff_vs_ort_real"] = float(max(
                    np.abs(o[m].astype(np.float64) - reference[f"arr_{k}"][m]).max()
                    for k, (o, m) in enumerate(zip(outs, masks))))
        rows[engine] = row
    for engine, row in rows.items():
        for ref, key in (("slm padded", "x_slm_padded"), ("onnxruntime", "x_ort")):
            if "real_tokens_per_s" in row and "real_tokens_per_s" in rows.get(ref, {}):
                row[key] = row["real_tokens_per_s"] / rows[ref]["real_tokens_per_s"]

    print(f"{shape}, {args.layers} layers, {args.batches} batches of {args.batch}, "
          f"{args.threads} threads, {args.rounds} rotated rounds")
    print(f"lengths: {lengths['source']}; tokens: {lengths['tokens']}; truncated at "
          f"{args.max_len}; padded lengths {lengths['padded_lengths']}; "
          f"fill {100 * lengths['fill']:.1f}% ({real} real of {padded} padded tokens)")
    print()
    print("| engine | ms / batch | real tokens/s | sequences/s | x slm padded | x ORT "
          "| peak RSS MB | max err (real tokens) | nonzero pads |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    fmt = lambda row, key, f: f.format(row[key]) if key in row else "-"
    for engine in engines:
        row = rows[engine]
        if "error" in row:
            print(f"| {engine} | failed: {row['error']} | | | | | | | |")
            continue
        print(f"| {engine} | {row['latency_ms_per_batch']:.1f} | {row['real_tokens_per_s']:.0f} "
              f"| {row['sequences_per_s']:.1f} | {fmt(row, 'x_slm_padded', '{:.2f}x')} "
              f"| {fmt(row, 'x_ort', '{:.2f}x')} | {row['peak_rss_mb']:.0f} "
              f"| {fmt(row, 'max_abs_diff_vs_ort_real', '{:.1e}')} "
              f"| {row['nonzero_pads'] if engine == 'slm padding-free' else '-'} |")
    results = {"model": name, "layers": args.layers, "threads": args.threads,
               "batch": args.batch, "batches": args.batches, "rounds": args.rounds,
               "lengths": lengths, "engines": rows, "runs": runs}
    with open(os.path.join(args.out, "padding_free.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.out}/padding_free.json")
    return 1 if any("error" in row for row in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
