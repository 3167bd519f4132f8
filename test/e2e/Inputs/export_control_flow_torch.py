#!/usr/bin/env python3
"""Exports TorchScript models with data-dependent control flow to ONNX
(torch.jit.script + torch.onnx.export, opset 14):

    export_control_flow_torch.py OUT_DIR

torch_for_if     a for loop over a run-time count (Loop, scf.for) followed by
                 an if on the sign of a sum (If on a run-time condition)
torch_while      a while loop whose condition the body computes (scf.while
                 with an If inside: the short-circuit `and`)
"""
import os
import sys
import torch


class ForIf(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, n: int):
        h = x
        for _ in range(n):
            h = torch.tanh(self.lin(h)) + h
        if bool(h.sum() > 0):
            y = h * 2.0
        else:
            y = -h
        return y


class While(torch.nn.Module):
    def forward(self, x):
        i = 0
        while bool(x.abs().sum() < 100.0) and i < 20:
            x = x * 2.0 + 0.5
            i += 1
        return x


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    cases = [
        ("torch_for_if", ForIf(), (torch.randn(2, 4), torch.tensor(3)), ["x", "n"],
         {"x": {0: "batch"}}),
        ("torch_while", While(), (torch.randn(2, 3),), ["x"], {"x": {0: "batch"}}),
    ]
    for name, module, args, inputs, axes in cases:
        torch.onnx.export(torch.jit.script(module), args, os.path.join(out, name + ".onnx"),
                          opset_version=14, input_names=inputs, output_names=["y"],
                          dynamic_axes=axes)


if __name__ == "__main__":
    main()
