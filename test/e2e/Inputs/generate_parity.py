"""Greedy generation with slm against reference loops, on the zoo's decoders.

usage: generate_parity.py SLMC SLM_RUN WORK [--families a,b] [--kv-families a,b]
                          [--derived-families a,b] [--not-causal a,b]
                          [--new-tokens N]

For each family: the zoo's tiny random-weight model (test/zoo/Inputs/
export_zoo.py, same seed and perturbation), exported at opset 17 without a
KV cache, compiled by slmc. Then, for N new tokens:
  * batch 1: slm's Model.generate against a greedy loop over ONNX Runtime on
    the same ONNX file, and against transformers' generate in PyTorch;
  * batch 4, prompts of lengths 3, 7, 5, 1 left-padded with an attention
    mask: against the ONNX Runtime loop (the ONNX graph takes no position
    ids, so HF's PyTorch generate, which derives them from the mask, is a
    different computation there);
  * the same batch through `slm-run --generate --expect` (the C loop).
For each of --kv-families, the same weights are exported again *with* a KV
cache (inputs position_ids and past_key_values.<i>.key/value, outputs
present.<i>.key/value, as Hugging Face's legacy cache tuples trace), and the
runtime drives the cache (the whole prompt, then one token per step):
  * batch 1: against the ONNX Runtime loop on the model without a cache;
  * batch 4, left-padded: against a greedy loop over ONNX Runtime on the
    same graph with its cache (position ids from the mask, cumsum - 1, as
    Hugging Face and the runtime derive them), and the same through
    `slm-run --generate`; and against transformers' generate with its cache,
    strictly unless ONNX Runtime on the graph differs from PyTorch too (a
    traced export can freeze a mask branch taken for the unpadded sample).
For each of --derived-families, the model exported *without* a cache is
compiled again with `slmc --kv-cache`, which derives the cache (inputs
past_key_values.<i>.*, outputs present.<i>.*), and the runtime drives it
like an exported one:
  * batch 1 and batch 4 (left-padded): against the same greedy loops over
    ONNX Runtime on the model without a cache;
  * batch 4 through `slm-run --generate`;
  * its cache outputs must be the only new outputs, one key and one value
    per attention.
Each of --not-causal (encoders) must fail to compile with --kv-cache,
saying that the model is not a causal decoder.
Tokens must be identical. Where they first differ, the step passes only if
the reference's two best logits are within 1e-5 of each other (a tie that
float rounding may break either way), reported as such.
"""

import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "zoo", "Inputs"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

import export_zoo  # noqa: E402
import slm  # noqa: E402

TIE = 1e-5


def ort_loop(session, names, ids, mask, new_tokens):
    """Greedy decoding over ONNX Runtime with the runtime's conventions:
    the last position's logits, argmax (lowest id on ties), mask extended
    by 1s. Returns the sequences and each step's logits rows."""
    steps = []
    for _ in range(new_tokens):
        feeds = {"input_ids": ids}
        if "attention_mask" in names:
            feeds["attention_mask"] = mask
        logits = session.run(None, feeds)[0][:, -1, :]
        steps.append(logits)
        token = np.argmax(logits, axis=-1).astype(np.int64)
        ids = np.concatenate([ids, token[:, None]], axis=1)
        mask = np.concatenate([mask, np.ones_like(token)[:, None]], axis=1)
    return ids, steps


def export_with_cache(fam, path):
    """The zoo model of `fam` (same seed and perturbation) exported at opset
    17 with a KV cache; returns the PyTorch model."""
    import torch
    torch.manual_seed(0)
    model = export_zoo.FAMILIES[fam]["build"]().eval()
    export_zoo._perturb(model, 1)
    export_zoo.export_decoder_with_cache(model, path)
    return model


def ort_cache_loop(session, ids, mask, new_tokens):
    """Greedy decoding over ONNX Runtime on a graph with a KV cache: the
    prompt with an empty cache, then one token per step."""
    outputs = [o.name for o in session.get_outputs()]
    past = [i for i in session.get_inputs() if i.name.startswith("past")]
    batch = ids.shape[0]
    cache = [np.zeros((batch, p.shape[1], 0, p.shape[3]), np.float32) for p in past]
    start, steps = 0, []
    for _ in range(new_tokens):
        positions = np.where(mask == 1, np.cumsum(mask, 1) - 1, 1)
        feeds = {"input_ids": ids[:, start:], "attention_mask": mask,
                 "position_ids": positions[:, start:]}
        feeds.update({p.name: c for p, c in zip(past, cache)})
        out = session.run(None, feeds)
        logits = out[0][:, -1, :]
        steps.append(logits)
        cache = [out[outputs.index(p.name.replace("past_key_values", "present"))]
                 for p in past]
        start = ids.shape[1]
        token = np.argmax(logits, axis=-1).astype(np.int64)
        ids = np.concatenate([ids, token[:, None]], axis=1)
        mask = np.concatenate([mask, np.ones_like(token)[:, None]], axis=1)
    return ids, steps


def compare(got, want, steps, prompt_len):
    """'ok', 'ok (tie at ...)' or a failure message. Every row is checked:
    a row that diverges at a tie is not compared after it."""
    if got.shape != want.shape:
        return f"FAIL: shape {got.shape}, reference {want.shape}"
    ties = []
    for b in range(got.shape[0]):
        diff = np.nonzero(got[b] != want[b])[0]
        if diff.size == 0:
            continue
        t = int(diff[0])
        step = t - prompt_len
        if steps is None:
            return f"FAIL: row {b} differs at step {step}: {got[b, t]} vs {want[b, t]}"
        row = np.sort(steps[step][b].astype(np.float64))[::-1]
        gap = row[0] - row[1]
        if gap > TIE:
            return (f"FAIL: row {b} differs at step {step}: {got[b, t]} vs "
                    f"{want[b, t]} (the reference's best two logits are {gap:.3g} apart)")
        ties.append(f"row {b}: a tie at step {step}, logit gap {gap:.2g}")
    return f"ok ({'; '.join(ties)})" if ties else "ok"


def cli_generate(args, lib, fam, n, want, reference):
    """The batch-4 prompts through `slm-run --generate --expect want`; a
    failure after the reference check passed at a tie (`reference` starts
    with "ok (") is that tie."""
    r = subprocess.run([args.slm_run, lib, "--generate", str(n),
                        "--prompt-ids", os.path.join(args.work, f"{fam}.prompt.npy"),
                        "--attention-mask", os.path.join(args.work, f"{fam}.mask.npy"),
                        "--expect", want], capture_output=True, text=True)
    if r.returncode == 0:
        return "ok"
    if reference.startswith("ok ("):
        return "ok (the tie above)"
    return f"FAIL slm-run --generate:\n{r.stdout}{r.stderr}"


def with_cache(args, fam, hf_utils, ids1, want1, steps1, ids4, mask4, n):
    """The checks of the model exported with a KV cache."""
    import torch
    path = os.path.join(args.work, f"{fam}_kv.onnx")
    try:
        hf = export_with_cache(fam, path)
    except Exception as e:  # noqa: BLE001
        return [("cache: export", f"FAIL {type(e).__name__}: {str(e)[:300]}")]
    lib = os.path.join(args.work, f"{fam}_kv.so")
    r = subprocess.run([args.slmc, path, "-o", lib], capture_output=True, text=True)
    if r.returncode:
        return [("cache: compile", f"FAIL\n{r.stderr}")]
    model = slm.load(lib)
    got1 = model.generate(ids1, max_new_tokens=n)
    results = [("cache: batch 1 vs ORT without a cache",
                compare(got1, want1, steps1, ids1.shape[1]))]
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    want4, steps4 = ort_cache_loop(session, ids4, mask4, n)
    got4 = model.generate(ids4, max_new_tokens=n, attention_mask=mask4)
    results.append(("cache: batch 4 vs ORT with the cache",
                    compare(got4, want4, steps4, ids4.shape[1])))
    want = os.path.join(args.work, f"{fam}_kv.want.npy")
    np.save(want, want4)
    cli = cli_generate(args, lib, fam, n, want, results[-1][1])
    results.append(("cache: slm-run --generate", cli))
    with torch.no_grad():
        ref4 = hf.generate(torch.from_numpy(ids4), attention_mask=torch.from_numpy(mask4),
                           max_new_tokens=n, min_new_tokens=n, do_sample=False, num_beams=1,
                           pad_token_id=0, eos_token_id=None, use_cache=True).numpy()
    res = compare(got4, ref4, None, ids4.shape[1])
    if not res.startswith("ok") and not np.array_equal(want4, ref4):
        res = "ok (ONNX Runtime on this export differs from PyTorch with padding too)"
    results.append(("cache: batch 4 vs PyTorch with its cache", res))
    return results


def derived(args, fam, path, ids1, want1, steps1, ids4, mask4, want4, steps4, n):
    """The checks of the model exported without a cache, compiled with the
    cache slmc derives (--kv-cache)."""
    lib = os.path.join(args.work, f"{fam}_derived.so")
    r = subprocess.run([args.slmc, path, "--kv-cache", "-o", lib],
                       capture_output=True, text=True)
    if r.returncode:
        return [("derived cache: compile", f"FAIL\n{r.stderr}")]
    model = slm.load(lib)
    past = [i.name for i in model.inputs if i.name.startswith("past_key_values.")]
    present = [o.name for o in model.outputs if o.name.startswith("present.")]
    layers = len(past) // 2
    names = [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    shape = ("ok" if layers > 0 and past == names and
             present == [p.replace("past_key_values", "present") for p in names]
             else f"FAIL: inputs {past}, outputs {present}")
    results = [("derived cache: interface", shape)]
    got1 = model.generate(ids1, max_new_tokens=n, attention_mask=np.ones_like(ids1))
    results.append(("derived cache: batch 1 vs ORT",
                    compare(got1, want1, steps1, ids1.shape[1])))
    got4 = model.generate(ids4, max_new_tokens=n, attention_mask=mask4)
    results.append(("derived cache: batch 4 vs ORT",
                    compare(got4, want4, steps4, ids4.shape[1])))
    cli = cli_generate(args, lib, fam, n, os.path.join(args.work, f"{fam}.want.npy"),
                       results[-1][1])
    results.append(("derived cache: slm-run --generate", cli))
    return results


def not_causal(args, fam):
    """An encoder compiled with --kv-cache must be refused."""
    entries = export_zoo.export_family((fam, args.work, [17], False))
    if not entries or "error" in entries[0]:
        return f"FAIL export: {entries}"
    path = os.path.join(args.work, f"{fam}_op17.onnx")
    lib = os.path.join(args.work, f"{fam}_derived.so")
    r = subprocess.run([args.slmc, path, "--kv-cache", "-o", lib],
                       capture_output=True, text=True)
    if r.returncode == 0 or os.path.exists(lib):
        return "FAIL: compiled with --kv-cache"
    if "not a causal decoder" not in r.stderr:
        return f"FAIL: another error:\n{r.stderr}"
    return "ok"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("slm_run")
    p.add_argument("work")
    p.add_argument("--families", default="gpt2,llama,qwen2,phi,gemma")
    p.add_argument("--kv-families", default="")
    p.add_argument("--derived-families", default="")
    p.add_argument("--not-causal", default="")
    p.add_argument("--new-tokens", type=int, default=32)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    import onnxruntime as ort
    import torch
    failures = 0
    for fam in args.families.split(","):
        entries = export_zoo.export_family((fam, args.work, [17], False))
        path = os.path.join(args.work, f"{fam}_op17.onnx")
        if not entries or "error" in entries[0]:
            print(f"{fam}: FAIL export: {entries}")
            failures += 1
            continue
        lib = os.path.join(args.work, f"{fam}.so")
        r = subprocess.run([args.slmc, path, "-o", lib], capture_output=True, text=True)
        if r.returncode:
            print(f"{fam}: FAIL compile\n{r.stderr}")
            failures += 1
            continue
        model = slm.load(lib)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        rng = np.random.default_rng(1)
        n = args.new_tokens

        # Batch 1.
        ids1 = rng.integers(0, export_zoo.VOCAB, (1, 5), dtype=np.int64)
        mask1 = np.ones_like(ids1)
        want1, steps1 = ort_loop(session, names, ids1, mask1, n)
        got1 = model.generate(ids1, max_new_tokens=n, attention_mask=mask1)
        results = [("batch 1 vs ORT", compare(got1, want1, steps1, 5))]
        # transformers' generate asks whether FSDP manages the model by
        # importing torch.distributed.fsdp, which fails on Debian's torch 1.13
        # under Python 3.11 (a dataclass default): it does not here.
        import transformers.generation.utils as hf_utils
        hf_utils.is_fsdp_managed_module = lambda module: False
        torch.manual_seed(0)
        hf = export_zoo.FAMILIES[fam]["build"]().eval()
        export_zoo._perturb(hf, 1)
        with torch.no_grad():
            ref = hf.generate(torch.from_numpy(ids1), attention_mask=torch.from_numpy(mask1),
                              max_new_tokens=n, min_new_tokens=n, do_sample=False,
                              num_beams=1, pad_token_id=0, eos_token_id=None,
                              use_cache=False).numpy()
        results.append(("batch 1 vs PyTorch",
                        compare(got1, ref, steps1, 5)))

        # Batch 4, left-padded.
        lengths = [3, 7, 5, 1]
        width = max(lengths)
        ids4 = np.zeros((4, width), np.int64)
        mask4 = np.zeros((4, width), np.int64)
        for b, length in enumerate(lengths):
            ids4[b, width - length:] = rng.integers(0, export_zoo.VOCAB, length)
            mask4[b, width - length:] = 1
        want4, steps4 = ort_loop(session, names, ids4, mask4, n)
        got4 = model.generate(ids4, max_new_tokens=n, attention_mask=mask4)
        results.append(("batch 4 vs ORT", compare(got4, want4, steps4, width)))

        # The C loop through slm-run, against the same reference.
        for name, a in (("prompt", ids4), ("mask", mask4), ("want", want4)):
            np.save(os.path.join(args.work, f"{fam}.{name}.npy"), a)
        cli = cli_generate(args, lib, fam, n, os.path.join(args.work, f"{fam}.want.npy"),
                           results[2][1])
        results.append(("slm-run --generate", cli))
        if fam in args.derived_families.split(","):
            results += derived(args, fam, path, ids1, want1, steps1, ids4, mask4,
                               want4, steps4, n)
        if fam in args.kv_families.split(","):
            results += with_cache(args, fam, hf_utils, ids1, want1, steps1, ids4, mask4, n)
        for label, res in results:
            print(f"{fam}: {label}: {res}")
            failures += not res.startswith("ok")
    for fam in filter(None, args.not_causal.split(",")):
        res = not_causal(args, fam)
        print(f"{fam}: --kv-cache refused: {res}")
        failures += not res.startswith("ok")
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
