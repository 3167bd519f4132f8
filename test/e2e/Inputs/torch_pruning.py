"""What the structured-pruning tests share on the PyTorch side: a zoo
family built, exported and ready to prune, and a linear layer cut to some
of its rows or columns.

The pruning tests (ffn_pruning_decoders.py, head_pruning_decoders.py,
head_pruning_masks.py) check slmc's pruning against the same pruning done
on the PyTorch model the ONNX file was exported from.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "test", "zoo", "Inputs"))
import export_zoo  # noqa: E402  (imports onnx before torch)


def export_family(fam, path):
    """The zoo's tiny `fam` (seeded weights, perturbed norms) exported to
    `path` at opset 17 without a cache (output "output"); returns the
    PyTorch model (in eval mode), its data sets and their input names."""
    import torch
    spec = export_zoo.FAMILIES[fam]
    torch.manual_seed(0)
    model = spec["build"]().eval()
    export_zoo._perturb(model, 1)
    sets = export_zoo.datasets(spec["kind"], model, np.random.default_rng(0))
    names = list(next(iter(sets.values())))
    sample = tuple(torch.from_numpy(a) for a in list(sets.values())[-1].values())
    with torch.no_grad():
        torch.onnx.export(export_zoo._wrap(model, names), sample, path, opset_version=17,
                          input_names=names, output_names=["output"],
                          dynamic_axes={n: export_zoo.DYNAMIC[n] for n in names},
                          do_constant_folding=True)
    model.eval()  # the export leaves it in the wrapper's (training) mode
    return model, sets, names


def forward(model, names, feeds):
    """The model's first output on `feeds` ({input name: array})."""
    import torch
    with torch.no_grad():
        return export_zoo._wrap(model, names)(
            *[torch.from_numpy(a) for a in feeds.values()]).numpy()


def sliced(linear, rows=None, cols=None):
    """A copy of torch.nn.Linear `linear` keeping output rows `rows` and
    input columns `cols` (all when None)."""
    import torch
    w = linear.weight.detach()
    b = linear.bias.detach() if linear.bias is not None else None
    if rows is not None:
        w = w[rows]
        b = b[rows] if b is not None else None
    if cols is not None:
        w = w[:, cols]
    out = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    with torch.no_grad():
        out.weight.copy_(w)
        if b is not None:
            out.bias.copy_(b)
    return out
