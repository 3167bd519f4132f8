#!/usr/bin/env python3
"""Generation speed: slm's runtime against ONNX Runtime, with a KV cache.

    .venv/bin/python bench/generate.py [--threads 2] [--rounds 3] [--out DIR]
                                       [--prompt 128] [--new 32] [--smoke]
                                       [--settings "slm fp32,slm int4 g64"]
    .venv/bin/python bench/generate.py --check-llama-cpp [--smoke]

A Llama-shaped model of SmolLM-135M's size (30 layers, hidden 576, 9 heads
with 3 KV heads, SwiGLU 1536, vocabulary 49152, tied embeddings; random
seeded weights: no model hub here) built with transformers and exported
with a KV cache (test/zoo/Inputs/export_zoo.py: past_key_values.<i>.* in,
present.<i>.* out). slm compiles it fp32, int8 and int4 (groups of 64);
ONNX Runtime runs the fp32 graph with the same greedy loop a user writes
(the cache outputs fed back as inputs). The "derived" settings compile the
same weights exported *without* a cache with `slmc --kv-cache`, which
derives one (docs/Generation.md). Per setting: prefill tokens/s (the
prompt, batch 1) and decode tokens/s (one token per step, batch 1 and 8).
Each engine runs in its own process, the order rotated every round; the
median over rounds is reported, with slm/ORT ratios, and each engine's KV
cache bytes per token (per sequence, all layers; from the cache inputs'
shapes and dtypes). Writes
DIR/generate.json. --smoke: a 2-layer model with a 512-token vocabulary,
one round (checks the harness, not speed).

llama.cpp is a peer when scripts/install-llama-cpp.sh has installed it
(llama-cpp-python; the settings "llama.cpp f32/q8_0/q4_0" join the default
list then): the same weights written to GGUF (bench/llama_cpp_peer.py),
quantized by llama.cpp's own quantizer, and decoded greedily through its
batch API (batch 8: eight sequence ids in each llama_decode), at llama.cpp's
defaults otherwise (f16 KV cache, flash attention "auto"). Before timing it,
the F32 file must match PyTorch (logits within 1e-3 relative, the same greedy
tokens at batch 1 and 8): --check-llama-cpp runs that check alone, and the
benchmark runs it once per GGUF file (DIR/<model>.llama-cpp-check.json).
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
sys.path.insert(0, os.path.join(ROOT, "test", "zoo", "Inputs"))

SETTINGS = {"slm fp32": [], "slm int8": ["--quantize=int8"],
            # 64: the hidden width 576 does not split into groups of 128.
            "slm int4 g64": ["--quantize=int4", "--quant-group-size=64"],
            # The same model exported without a cache; slmc derives it.
            "slm fp32 derived": ["--kv-cache"],
            "slm int4 g64 derived": ["--kv-cache", "--quantize=int4",
                                     "--quant-group-size=64"],
            # One of the 3 key/value heads of every layer (and its 3 query
            # heads) pruned before the cache is derived: a third less
            # attention, cache and Q/K/V/O weights.
            "slm fp32 derived heads 6-of-9": ["--kv-cache", "--prune-heads=0.34"],
            "slm int4 g64 derived heads 6-of-9": ["--kv-cache", "--prune-heads=0.34",
                                               "--quantize=int4",
                                               "--quant-group-size=64"],
            # The derived cache in f16, or int8 with a scale per position
            # and head (docs/Generation.md).
            "slm fp32 derived f16 cache": ["--kv-cache", "--kv-cache-dtype=f16"],
            "slm fp32 derived int8 cache": ["--kv-cache", "--kv-cache-dtype=int8"],
            "slm int4 g64 derived f16 cache": ["--kv-cache", "--kv-cache-dtype=f16",
                                               "--quantize=int4", "--quant-group-size=64"],
            "slm int4 g64 derived int8 cache": ["--kv-cache", "--kv-cache-dtype=int8",
                                                "--quantize=int4", "--quant-group-size=64"],
            "ort fp32": None}
# llama.cpp settings: the GGUF kind (bench/llama_cpp_peer.py).
LLAMA_CPP = {"llama.cpp f32": "f32", "llama.cpp q8_0": "q8_0", "llama.cpp q4_0": "q4_0"}


def build_model(smoke):
    import torch
    import transformers
    torch.manual_seed(0)
    shape = dict(vocab_size=512, hidden_size=72, intermediate_size=192,
                 num_hidden_layers=2) if smoke else dict(
        vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30)
    config = transformers.LlamaConfig(
        **shape, num_attention_heads=9, num_key_value_heads=3,
        max_position_embeddings=2048, tie_word_embeddings=True, use_cache=True,
        rms_norm_eps=1e-5, rope_theta=10000.0)
    config._attn_implementation = "eager"
    return transformers.LlamaForCausalLM(config).eval()


def prompts(batch, length, vocab=512):
    import numpy as np
    return np.random.default_rng(batch).integers(0, vocab, (batch, length)).astype(np.int64)


def ort_generate(session, ids, new_tokens, on_step):
    """Greedy generation over ONNX Runtime with the graph's cache."""
    import numpy as np
    outputs = [o.name for o in session.get_outputs()]
    past = [i for i in session.get_inputs() if i.name.startswith("past")]
    present = [outputs.index(p.name.replace("past_key_values", "present")) for p in past]
    batch = ids.shape[0]
    cache = [np.zeros((batch, p.shape[1], 0, p.shape[3]), np.float32) for p in past]
    mask = np.ones_like(ids)
    fresh = ids
    for _ in range(new_tokens):
        start = mask.shape[1] - fresh.shape[1]
        feeds = {"input_ids": fresh, "attention_mask": mask,
                 "position_ids": np.tile(np.arange(start, mask.shape[1]), (batch, 1))}
        feeds.update({p.name: c for p, c in zip(past, cache)})
        out = session.run(None, feeds)
        cache = [out[i] for i in present]
        fresh = np.argmax(out[0][:, -1, :], axis=-1)[:, None].astype(np.int64)
        mask = np.concatenate([mask, np.ones_like(fresh)], axis=1)
        on_step()


def worker(args):
    """One engine, one round: prints {"prefill": tok/s, "decode b1": ...}."""
    steps = []

    def tick():
        steps.append(time.perf_counter())

    def per_token(infos):
        """Bytes per cached position: the cache inputs' static extents (all
        but the batch and the positions) times the element size."""
        import numpy as np
        total = 0
        for name, shape, dtype in infos:
            if name.startswith("past"):
                total += int(np.prod([d for d in shape[1:] if isinstance(d, int) and d > 0])
                             ) * np.dtype(dtype).itemsize
        return total

    if args.engine == "ort fp32":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        session = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
        cache_bytes = per_token([(i.name, i.shape, "float32") for i in session.get_inputs()])

        def run(ids, n):
            ort_generate(session, ids, n, tick)
    elif args.engine in LLAMA_CPP:
        import llama_cpp_peer
        n_ctx = args.prompt + args.new + 1
        # n_batch >= the prompt: the prompt is one llama_decode.
        engines = {1: llama_cpp_peer.Engine(args.gguf, args.threads, 1, n_ctx, max(512, args.prompt))}
        engines[8] = llama_cpp_peer.Engine(args.gguf, args.threads, 8, n_ctx,
                                           max(512, 8 * args.prompt), model=engines[1].model)

        def run(ids, n):
            engines[ids.shape[0]].generate(ids, n, tick)
        cache_bytes = None  # llama.cpp's f16 cache is its own (not measured here)
    else:
        import slm
        model = slm.load(args.lib, num_threads=args.threads)
        cache_bytes = per_token([(i.name, i.shape, i.dtype) for i in model.inputs])

        def run(ids, n):
            for _ in model.generate_stream(ids, max_new_tokens=n):
                tick()
    result = {"cache bytes/token": cache_bytes}
    run(prompts(1, 8), 4)  # warm
    for batch in (1, 8):
        ids = prompts(batch, args.prompt)
        steps.clear()
        start = time.perf_counter()
        run(ids, args.new + 1)
        if batch == 1:
            result["prefill"] = args.prompt / (steps[0] - start)
        result[f"decode b{batch}"] = batch * args.new / (steps[-1] - steps[0])
    print(json.dumps(result))


def llama_cpp_version():
    import llama_cpp
    return llama_cpp.__version__


def check_llama_cpp(args, name):
    """llama.cpp on the F32 GGUF against PyTorch (bench/llama_cpp_peer.py's check());
    exit status 1 when they differ. Writes DIR/<model>.llama-cpp-check.json."""
    import llama_cpp_peer
    if not llama_cpp_peer.available():
        sys.exit(llama_cpp_peer.INSTALL_HINT)
    import onnx  # noqa: F401  (Debian's onnx before torch)
    model = build_model(args.smoke)
    paths = llama_cpp_peer.ensure_ggufs(args.out, name, lambda: model, args.threads)
    print(f"checking llama.cpp ({llama_cpp_version()}) against PyTorch on {name}: "
          f"prompt {args.prompt}, {args.new} greedy tokens")
    res = llama_cpp_peer.check(model, paths, prompts(1, args.prompt), prompts(8, args.prompt),
                               args.new, args.threads)
    print("llama.cpp f32 matches PyTorch" if res["ok"] else "llama.cpp f32 DIFFERS from PyTorch")
    if res["ok"]:
        with open(os.path.join(args.out, f"{name}.llama-cpp-check.json"), "w") as f:
            json.dump(res, f, indent=1)
    return 0 if res["ok"] else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--new", type=int, default=32)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    p.add_argument("--settings", default=None,
                   help="which of " + ", ".join([*SETTINGS, *LLAMA_CPP]) + " (comma-separated; "
                   "default: all, the llama.cpp ones when llama_cpp is installed)")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--check-llama-cpp", action="store_true",
                   help="only check llama.cpp's GGUF conversion against PyTorch")
    p.add_argument("--worker", action="store_true")
    p.add_argument("--engine")
    p.add_argument("--onnx")
    p.add_argument("--lib")
    p.add_argument("--gguf")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    os.makedirs(args.out, exist_ok=True)
    if args.smoke:
        args.rounds, args.prompt, args.new = 1, 8, 4
    name = "llama-tiny" if args.smoke else "llama-135m"
    if args.check_llama_cpp:
        return check_llama_cpp(args, name)
    onnx_path = os.path.join(args.out, f"{name}_kv.onnx")
    if not os.path.exists(onnx_path):
        import export_zoo
        model = build_model(args.smoke)
        params = sum(t.numel() for t in model.parameters())
        print(f"exporting {name} ({params / 1e6:.0f}M parameters) with a KV cache")
        export_zoo.export_decoder_with_cache(model, onnx_path)
    plain_path = os.path.join(args.out, f"{name}.onnx")
    if not os.path.exists(plain_path):
        import export_zoo
        import torch
        model = build_model(args.smoke)
        names = ["input_ids", "attention_mask"]
        sample = (torch.from_numpy(prompts(2, 5)), torch.ones(2, 5, dtype=torch.int64))
        print(f"exporting {name} without a KV cache")
        with torch.no_grad():
            torch.onnx.export(export_zoo._wrap(model, names), sample, plain_path,
                              opset_version=17, input_names=names, output_names=["logits"],
                              dynamic_axes={n: export_zoo.DYNAMIC[n] for n in names},
                              do_constant_folding=True)
    import llama_cpp_peer
    have_llama_cpp = llama_cpp_peer.available()
    if args.settings is None:
        args.settings = ",".join([*SETTINGS, *(LLAMA_CPP if have_llama_cpp else [])])
    chosen = [x.strip() for x in args.settings.split(",") if x.strip()]
    unknown = [x for x in chosen if x not in SETTINGS and x not in LLAMA_CPP]
    if unknown:
        sys.exit(f"unknown settings {unknown}; choose from {[*SETTINGS, *LLAMA_CPP]}")
    if "ort fp32" not in chosen:
        chosen.append("ort fp32")  # the ratios' denominator
    ggufs = {}
    wanted = [x for x in chosen if x in LLAMA_CPP]
    if wanted and not have_llama_cpp:
        print(f"skipping {', '.join(wanted)}: {llama_cpp_peer.INSTALL_HINT}")
        chosen = [x for x in chosen if x not in LLAMA_CPP]
    elif wanted:
        # The check's process writes the GGUF files when they are missing.
        paths = llama_cpp_peer.gguf_paths(args.out, name)
        stamp = os.path.join(args.out, f"{name}.llama-cpp-check.json")
        if not all(map(os.path.exists, [stamp, *paths.values()])) or os.path.getmtime(
                stamp) < max(os.path.getmtime(x) for x in paths.values()):
            cmd = [sys.executable, __file__, "--check-llama-cpp", "--out", args.out,
                   "--threads", str(args.threads), "--prompt", str(args.prompt),
                   "--new", str(args.new)] + (["--smoke"] if args.smoke else [])
            if subprocess.run(cmd).returncode != 0:
                sys.exit("llama.cpp does not match PyTorch on this model: not timing it")
        else:
            print(f"llama.cpp: conversion checked before ({stamp})")
        ggufs = {s: paths[k] for s, k in LLAMA_CPP.items()}
    libs = {}
    for setting in chosen:
        flags = SETTINGS.get(setting)
        if flags is None:
            continue
        lib = os.path.join(args.out, f"{name}.{setting.split(' ', 1)[1].replace(' ', '-')}.so")
        start = time.perf_counter()
        if os.path.exists(lib):
            print(f"{setting}: reusing {lib}")
        else:
            source = plain_path if "--kv-cache" in flags else onnx_path
            subprocess.run([args.slmc, source, "-o", lib, *flags], check=True)
            print(f"compiled {setting} in {time.perf_counter() - start:.1f} s")
        libs[setting] = lib
    engines = chosen
    rounds = {e: [] for e in engines}
    for r in range(args.rounds):
        order = engines[r % len(engines):] + engines[:r % len(engines)]
        for engine in order:
            cmd = [sys.executable, __file__, "--worker", "--engine", engine, "--onnx", onnx_path,
                   "--lib", libs.get(engine, ""), "--gguf", ggufs.get(engine, ""),
                   "--threads", str(args.threads),
                   "--prompt", str(args.prompt), "--new", str(args.new)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            rounds[engine].append(json.loads(out.strip().splitlines()[-1]))
    metrics = ["prefill", "decode b1", "decode b8"]
    table = {e: {m: statistics.median(x[m] for x in rounds[e]) for m in metrics}
             for e in engines}
    for e in engines:
        table[e]["cache bytes/token"] = rounds[e][0].get("cache bytes/token")
    if wanted and have_llama_cpp:
        print(f"llama.cpp: llama-cpp-python {llama_cpp_version()}, GGUF files in {args.out}")
    print(f"\n{name}, {args.threads} threads, prompt {args.prompt}, {args.new} new tokens, "
          f"median of {args.rounds} rounds (tokens/s; x = / ORT fp32)")
    width = max(16, *(len(e) + 1 for e in engines))
    print(f"{'':{width}}" + "".join(f"{m:>22}" for m in metrics) + f"{'cache KiB/token':>17}")
    for e in engines:
        cells = "".join(
            f"{table[e][m]:12.1f} ({table[e][m] / table['ort fp32'][m]:4.2f}x)" for m in metrics)
        kib = table[e]["cache bytes/token"]
        print(f"{e:{width}}{cells}" + (f"{kib / 1024:17.1f}" if kib else f"{'-':>17}"))
    with open(os.path.join(args.out, "generate.json"), "w") as f:
        json.dump(dict(model=name, threads=args.threads, prompt=args.prompt, new=args.new,
                       rounds=rounds, median=table), f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
