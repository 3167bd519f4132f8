"""Head pruning of attentions whose mask has a heads dimension, checked
against the same pruning done in PyTorch.

    head_pruning_masks.py SLMC WORK_DIR [--families t5-encoder,...]

T5 adds a per-head relative position bias to its scores (the encoder's and
the decoder's self-attention: slm sees a [B, H, Sq, Skv] mask), as does
Swin's window attention; DistilBERT expands its padding mask to every
head; OPT's mask reaches the attention with a heads extent the types leave
dynamic (slm checks at run time that it is one for every head). In T5's
first layer, DistilBERT and GPT-Neo, what raising left of the decomposed
attention still reads the projections for the mask's extents (shape
queries only).

Each family is the zoo's tiny model (test/zoo/Inputs/export_zoo.py: 2 or
4 heads per attention), exported at opset 17; slmc compiles it with
--prune-heads=0.5 (magnitude). Which attentions slm pruned, and to how
many heads, is read from its compress-phase IR (num_heads of each
slm.attention in program order: the attentions of each layer in module
order). This script chooses the heads itself from the method's definition
(a head scores the squared norms of its rows of the Q, K and V weights and
its columns of the output projection, float64; the lower-scoring ones go)
and prunes a copy of the PyTorch model: T5's self-attention and DistilBERT
through HF's own prune_heads (T5's drops the pruned heads' slices of the
position bias), T5's cross-attention, OPT and GPT-Neo by slicing the
projections, Swin by slicing them and its bias table's columns. The
compiled model's output must match the pruned PyTorch model's (max |diff|
<= 1e-4 x max |ref|) on both data sets (unpadded and padded; two batch
sizes for Swin) and differ from the unpruned model's; at least one
attention must keep heads that are not its first ones (so a mask cut to
its first heads would fail). Prints one line per family and "ok N".
"""
import argparse
import copy
import os
import re
import subprocess
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
sys.path.insert(0, HERE)
from torch_pruning import export_family, forward, sliced  # noqa: E402  (onnx before torch)
import slm  # noqa: E402

FAMILIES = ("t5-encoder", "t5-decoder", "distilbert", "opt", "gpt-neo", "swin")


def attentions(model, fam):
    """(module, q, k, v, o, heads, head_dim) per attention in program order."""
    out = []
    if fam.startswith("t5"):
        for block in model.block:
            for sub in block.layer:
                attn = getattr(sub, "SelfAttention", None) or getattr(sub, "EncDecAttention", None)
                if attn is not None:
                    attn.is_cross = hasattr(sub, "EncDecAttention")
                    out.append((attn, attn.q, attn.k, attn.v, attn.o, attn.n_heads,
                                attn.key_value_proj_dim))
    elif fam == "distilbert":
        for layer in model.transformer.layer:
            a = layer.attention
            out.append((a, a.q_lin, a.k_lin, a.v_lin, a.out_lin, a.n_heads,
                        a.attention_head_size))
    elif fam == "swin":
        # Raised: the blocks without a shifted window (slmc --report says
        # why the others are not).
        for stage in model.encoder.layers:
            for block in stage.blocks:
                if block.shift_size == 0:
                    a = block.attention
                    out.append((a.self, a.self.query, a.self.key, a.self.value,
                                a.output.dense, a.self.num_attention_heads,
                                a.self.attention_head_size))
    elif fam == "gpt-neo":
        for block in model.transformer.h:
            a = block.attn.attention
            out.append((a, a.q_proj, a.k_proj, a.v_proj, a.out_proj, a.num_heads, a.head_dim))
    else:
        for layer in model.model.decoder.layers:
            a = layer.self_attn
            out.append((a, a.q_proj, a.k_proj, a.v_proj, a.out_proj, a.num_heads, a.head_dim))
    return out


def prune_reference(model, fam, kept_counts):
    """A copy of `model` with each attention cut to its kept count of heads
    (the highest-scoring); returns it and the kept heads per attention."""
    pruned = copy.deepcopy(model)
    kept_heads = []
    units = attentions(pruned, fam)
    assert len(units) == len(kept_counts), (len(units), kept_counts)
    for (attn, q, k, v, o, heads, d), kept in zip(units, kept_counts):
        f64 = lambda t: t.detach().double().numpy()  # noqa: E731
        wq, wk, wv, wo = f64(q.weight), f64(k.weight), f64(v.weight), f64(o.weight)
        score = np.array([sum((w[h * d:(h + 1) * d] ** 2).sum() for w in (wq, wk, wv))
                          + (wo[:, h * d:(h + 1) * d] ** 2).sum() for h in range(heads)])
        keep = sorted(np.argsort(score, kind="stable")[heads - kept:].tolist())
        kept_heads.append(keep)
        gone = [h for h in range(heads) if h not in keep]
        if not gone:
            continue
        if fam == "distilbert" or (fam.startswith("t5") and not attn.is_cross):
            attn.prune_heads(gone)
            continue
        rows = np.concatenate([np.arange(h * d, (h + 1) * d) for h in keep])
        if fam == "swin":
            import torch
            attn.query, attn.key, attn.value = (sliced(p, rows=rows) for p in (q, k, v))
            owner = [m for m in pruned.modules() if getattr(m, "self", None) is attn][0]
            owner.output.dense = sliced(o, cols=rows)
            attn.relative_position_bias_table = torch.nn.Parameter(
                attn.relative_position_bias_table.detach()[:, keep])
            attn.num_attention_heads = len(keep)
            attn.all_head_size = len(keep) * d
            continue
        if fam in ("opt", "gpt-neo"):
            attn.q_proj, attn.k_proj, attn.v_proj = (sliced(p, rows=rows) for p in (q, k, v))
            attn.out_proj = sliced(o, cols=rows)
            attn.num_heads = len(keep)
            attn.embed_dim = len(keep) * d
            continue
        # T5's cross-attention: HF's prune_heads would index the zero
        # position bias the first layer makes for its pruned head count
        # with unpruned head numbers. Slice instead, and let each layer
        # make its own (zeros plus the mask: the same values).
        attn.q, attn.k, attn.v = (sliced(p, rows=rows) for p in (q, k, v))
        attn.o = sliced(o, cols=rows)
        attn.n_heads = len(keep)
        attn.inner_dim = len(keep) * d
        forward = attn.forward
        attn.forward = lambda *a, position_bias=None, _f=forward, **kw: _f(
            *a, position_bias=None, **kw)
    return pruned, kept_heads


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("work")
    p.add_argument("--families", default=",".join(FAMILIES))
    args = p.parse_args()
    import torch
    import transformers
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    ok, not_first = 0, False
    families = args.families.split(",")
    for fam in families:
        path = os.path.join(args.work, fam + ".onnx")
        model, sets, names = export_family(fam, path)
        lib = os.path.join(args.work, fam + ".so")
        ir = os.path.join(args.work, fam + ".mlir")
        for out, extra in ((lib, []), (ir, ["--compile-to=compress"])):
            subprocess.run([args.slmc, path, "--prune-heads=0.5", "--quiet", "-o", out] + extra,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(ir) as f:
            counts = [int(n) for n in re.findall(r"slm\.attention .*num_heads = (\d+)", f.read())]
        pruned, kept = prune_reference(model, fam, counts)
        not_first |= any(k != list(range(len(k))) for k in kept)
        compiled = slm.Model(lib)
        worst, moved = 0.0, 0.0
        for feeds in sets.values():
            ref, full = forward(pruned, names, feeds), forward(model, names, feeds)
            out = compiled.run(feeds)["output"]
            scale = np.abs(ref).max()
            worst = max(worst, float(np.abs(out - ref).max() / scale))
            moved = max(moved, float(np.abs(full - ref).max() / scale))
        good = worst <= 1e-4 and moved > 1e-3 and any(c < 4 for c in counts)
        ok += good
        print(f"{fam}: {'ok' if good else 'FAIL'} heads kept {kept} "
              f"max|slm - pruned ref|/max|ref| {worst:.2e} "
              f"(pruned vs unpruned {moved:.2e})", flush=True)
    print(f"kept heads other than the first ones: {'yes' if not_first else 'no'}")
    print(f"ok {ok}")
    return 0 if ok == len(families) and not_first else 1


if __name__ == "__main__":
    sys.exit(main())
