"""FFN pruning of decoder LMs, gated (SwiGLU, GeGLU) and not, checked
against the same pruning done in PyTorch.

    ffn_pruning_decoders.py SLMC WORK_DIR [--families llama,...]

Each family is the zoo's tiny model (test/zoo/Inputs/export_zoo.py: seeded
weights, perturbed norms), exported at opset 17 without a cache. slmc
compiles it with --prune-ffn=0.5 (magnitude scores). This script prunes a
copy of the PyTorch model from its own reading of the method: neuron j of
an FFN scores |gate row j|^2 + |up row j|^2 + |down column j|^2 (no gate
in a plain FFN), float64; the lower half of each layer's 64 neurons goes
(the kept 32 are a multiple of 32). The compiled pruned model's logits
must match the pruned PyTorch model's (max |diff| <= 1e-4 x max |ref|) on
an unpadded and a padded batch, and differ from the unpruned model's.
Prints one line per family and "ok N" at the end.
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

# The FFN's projections in each family, (gate or None, up, down).
PROJECTIONS = {"llama": ("gate_proj", "up_proj", "down_proj"),
               "mistral": ("gate_proj", "up_proj", "down_proj"),
               "qwen2": ("gate_proj", "up_proj", "down_proj"),
               "gemma": ("gate_proj", "up_proj", "down_proj"),
               "phi": (None, "fc1", "fc2")}
RATIO = 0.5


def prune_reference(model, fam):
    """A copy of `model` with the lower-scoring half of each FFN's neurons
    removed; returns it and the kept counts."""
    gate_name, up_name, down_name = PROJECTIONS[fam]
    pruned = copy.deepcopy(model)
    kept_counts = []
    for layer in pruned.model.layers:
        mlp = layer.mlp
        up, down = getattr(mlp, up_name), getattr(mlp, down_name)
        gate = getattr(mlp, gate_name) if gate_name else None
        f64 = lambda t: t.detach().double().numpy()  # noqa: E731
        score = (f64(up.weight) ** 2).sum(1) + (f64(down.weight) ** 2).sum(0)
        if gate is not None:
            score += (f64(gate.weight) ** 2).sum(1)
        n = score.size
        remove = int(round(RATIO * n))
        keep = np.sort(np.argsort(score, kind="stable")[remove:])
        setattr(mlp, up_name, sliced(up, rows=keep))
        setattr(mlp, down_name, sliced(down, cols=keep))
        if gate is not None:
            setattr(mlp, gate_name, sliced(gate, rows=keep))
        kept_counts.append(len(keep))
    return pruned, kept_counts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("work")
    p.add_argument("--families", default=",".join(PROJECTIONS))
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
        lib = os.path.join(args.work, fam + ".so")
        subprocess.run([args.slmc, path, f"--prune-ffn={RATIO}", "--quiet", "-o", lib],
                       check=True, stdout=subprocess.DEVNULL)
        pruned, kept = prune_reference(model, fam)
        compiled = slm.Model(lib)
        worst, moved = 0.0, 0.0
        for feeds in sets.values():
            ref, full = forward(pruned, names, feeds), forward(model, names, feeds)
            out = compiled.run(feeds)["output"]
            scale = np.abs(ref).max()
            worst = max(worst, float(np.abs(out - ref).max() / scale))
            moved = max(moved, float(np.abs(full - ref).max() / scale))
        good = worst <= 1e-4 and moved > 1e-3
        ok += good
        print(f"{fam}: {'ok' if good else 'FAIL'} neurons 64 -> {kept} "
              f"max|slm - pruned ref|/max|ref| {worst:.2e} "
              f"(pruned vs unpruned {moved:.2e})", flush=True)
    print(f"ok {ok}")
    return 0 if ok == len(args.families.split(",")) else 1


if __name__ == "__main__":
    sys.exit(main())
