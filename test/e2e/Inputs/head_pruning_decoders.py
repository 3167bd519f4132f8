"""Head pruning of decoder LMs with grouped-query attention, checked
against the same pruning done in PyTorch.

    head_pruning_decoders.py SLMC WORK_DIR [--families llama,...]

Each family is the zoo's tiny model (test/zoo/Inputs/export_zoo.py: seeded
weights, perturbed norms; 4 query heads sharing 2 key/value heads), exported
at opset 17 without a cache. Its query and key heads pass through rotary
embeddings (half of each head in Phi) and the key/value heads through HF's
repeat_kv on the way to the attention. slmc compiles it with
--prune-heads=0.5 (magnitude scores). This script prunes a copy of the
PyTorch model from its own reading of the method: a key/value head goes with
the query heads that read it (query head h reads key/value head h // 2),
and the group scores, in float64, the squared norms of its query heads'
rows of q_proj and columns of the output projection plus its rows of k_proj
and v_proj; the lower-scoring group of each layer goes. The compiled pruned
model's logits must match the pruned PyTorch model's (max |diff| <= 1e-4 x
max |ref|) on an unpadded and a padded batch, and differ from the
unpruned model's. A second compile adds --kv-cache: its derived cache must
hold the one kept key/value head per layer, and its logits (from an empty
cache) must match too. Prints one line per family and "ok N" at the end.
"""
import argparse
import copy
import os
import subprocess
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
sys.path.insert(0, HERE)
from torch_pruning import export_family, forward, sliced  # noqa: E402  (onnx before torch)
import slm  # noqa: E402

# The output projection of each family's attention.
OUTPUT = {"llama": "o_proj", "mistral": "o_proj", "qwen2": "o_proj",
          "gemma": "o_proj", "phi": "dense"}


def prune_reference(model, fam):
    """A copy of `model` with the lower-scoring key/value head of each layer
    removed with its query heads; returns it and the kept heads."""
    pruned = copy.deepcopy(model)
    kept_heads = []
    for layer in pruned.model.layers:
        attn = layer.self_attn
        out = getattr(attn, OUTPUT[fam])
        heads, groups, d = attn.num_heads, attn.num_key_value_heads, attn.head_dim
        size = heads // groups
        f64 = lambda t: t.detach().double().numpy()  # noqa: E731
        q, k, v, o = (f64(attn.q_proj.weight), f64(attn.k_proj.weight),
                      f64(attn.v_proj.weight), f64(out.weight))
        score = np.zeros(groups)
        for h in range(heads):
            rows = slice(h * d, (h + 1) * d)
            score[h // size] += (q[rows] ** 2).sum() + (o[:, rows] ** 2).sum()
        for g in range(groups):
            rows = slice(g * d, (g + 1) * d)
            score[g] += (k[rows] ** 2).sum() + (v[rows] ** 2).sum()
        remove = int(round(0.5 * groups))
        kept_groups = np.sort(np.argsort(score, kind="stable")[remove:])
        kept_q = [h for h in range(heads) if h // size in kept_groups]
        rows_q = np.concatenate([np.arange(h * d, (h + 1) * d) for h in kept_q])
        rows_kv = np.concatenate([np.arange(g * d, (g + 1) * d) for g in kept_groups])
        attn.q_proj = sliced(attn.q_proj, rows=rows_q)
        attn.k_proj = sliced(attn.k_proj, rows=rows_kv)
        attn.v_proj = sliced(attn.v_proj, rows=rows_kv)
        setattr(attn, OUTPUT[fam], sliced(out, cols=rows_q))
        attn.num_heads = len(kept_q)
        attn.num_key_value_heads = len(kept_groups)
        attn.hidden_size = len(kept_q) * d
        kept_heads.append(len(kept_q))
    return pruned, kept_heads


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("work")
    p.add_argument("--families", default=",".join(OUTPUT))
    args = p.parse_args()
    import torch
    import transformers
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    ok = 0
    for fam in args.families.split(","):
        path = os.path.join(args.work, fam + ".onnx")
        model, sets, names = export_family(fam, path)
        libs = []
        for extra in ([], ["--kv-cache"]):
            lib = os.path.join(args.work, fam + ("-kv" if extra else "") + ".so")
            run = subprocess.run([args.slmc, path, "--prune-heads=0.5", "--quiet", "-o", lib]
                                 + extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
            if run.returncode or "warning" in run.stderr:
                print(f"{fam}: FAIL slmc {' '.join(extra)}: {run.stderr.strip()}", flush=True)
                break
            libs.append(slm.Model(lib))
        if len(libs) != 2:
            continue
        pruned, kept = prune_reference(model, fam)
        worst, moved = 0.0, 0.0
        for feeds in sets.values():
            ref, full = forward(pruned, names, feeds), forward(model, names, feeds)
            scale = np.abs(ref).max()
            for compiled in libs:
                # The derived cache's inputs: empty, with the kept heads.
                batch = next(iter(feeds.values())).shape[0]
                past = {i.name: np.zeros([batch if j == 0 else (n or 0)
                                          for j, n in enumerate(i.shape)], i.dtype)
                        for i in compiled.inputs if i.name not in feeds}
                out = compiled.run({**feeds, **past})["output"]
                worst = max(worst, float(np.abs(out - ref).max() / scale))
            moved = max(moved, float(np.abs(full - ref).max() / scale))
        cache_heads = sorted({i.shape[1] for i in libs[1].inputs if i.name.startswith("past")})
        good = worst <= 1e-4 and moved > 1e-3 and cache_heads == [1]
        ok += good
        print(f"{fam}: {'ok' if good else 'FAIL'} query heads 4 -> {kept} "
              f"max|slm - pruned ref|/max|ref| {worst:.2e} "
              f"(pruned vs unpruned {moved:.2e}), cache heads {cache_heads}", flush=True)
    print(f"ok {ok}")
    return 0 if ok == len(args.families.split(",")) else 1


if __name__ == "__main__":
    sys.exit(main())
