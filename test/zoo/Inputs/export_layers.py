#!/usr/bin/env python3
"""Exports single decoder layers of zoo families with their position scheme
as graph inputs, for the raising tests (test/zoo/raise-layers.test).

    export_layers.py OUT_DIR

- <family>_layer.onnx for llama, mistral, qwen2, gemma (rotary, grouped-query
  attention: 4 query heads, 2 key/value heads) and phi (partial rotary): the
  first decoder layer of the zoo's model, inputs `h` [batch, sequence, 32],
  an additive float `mask` [batch, 1, sequence, sequence] and `pos`
  [batch, sequence] (rotary positions), output the layer's hidden states.
  The whole-model exports need ScatterND for their causal mask; the layer
  alone is the attention, norm, MLP and rotary embedding that raising sees.
- gpt2_static.onnx: the zoo's GPT-2 exported with static shapes (batch 2,
  sequence 7): a causal keep-mask (Where) and an additive padding mask on
  the same scores.
- llama_deep.onnx: a whole 40-layer Llama of the zoo's width, exported
  without a cache: the last layers' extents are 200+ producers away from
  the inputs (raising once gave up on those after 64).
Weights are the zoo's (export_zoo.py, seeded).
"""
import os
import sys

import onnx  # noqa: F401  (before torch)
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_zoo as zoo  # noqa: E402


class Layer(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.layer = model.model.layers[0]
        # Mistral keeps its rotary embedding in the attention layer.
        self.rotary = getattr(model.model, "rotary_emb", None)

    def forward(self, h, mask, pos):
        kw = {}
        if self.rotary is not None:
            kw["position_embeddings"] = self.rotary(h, pos)
        return self.layer(h, attention_mask=mask, position_ids=pos, **kw)[0]


def build(family):
    torch.manual_seed(0)
    model = zoo.FAMILIES[family]["build"]().eval()
    zoo._perturb(model, 1)
    return model


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    import warnings
    warnings.filterwarnings("ignore")
    import transformers
    transformers.logging.set_verbosity_error()
    for family in ["llama", "mistral", "qwen2", "gemma", "phi"]:
        h = torch.randn(2, 7, 32)
        mask = torch.zeros(2, 1, 7, 7)
        pos = torch.arange(7).expand(2, 7)
        with torch.no_grad():
            torch.onnx.export(
                Layer(build(family)), (h, mask, pos),
                os.path.join(out, f"{family}_layer.onnx"), opset_version=17,
                input_names=["h", "mask", "pos"], output_names=["out"],
                dynamic_axes={"h": {0: "batch", 1: "sequence"},
                              "mask": {0: "batch", 2: "sequence", 3: "sequence"},
                              "pos": {0: "batch", 1: "sequence"}})
    model = build("gpt2")
    ids = torch.randint(3, 200, (2, 7))
    with torch.no_grad():
        torch.onnx.export(zoo._wrap(model, ["input_ids", "attention_mask"]),
                          (ids, torch.ones(2, 7, dtype=torch.long)),
                          os.path.join(out, "gpt2_static.onnx"), opset_version=17,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["logits"])
    torch.manual_seed(0)
    deep = zoo._llama_like("LlamaConfig", "LlamaForCausalLM", num_hidden_layers=40).eval()
    names = ["input_ids", "attention_mask"]
    with torch.no_grad():
        torch.onnx.export(zoo._wrap(deep, names), (ids, torch.ones(2, 7, dtype=torch.long)),
                          os.path.join(out, "llama_deep.onnx"), opset_version=17,
                          input_names=names, output_names=["logits"],
                          dynamic_axes={n: zoo.DYNAMIC[n] for n in names})


if __name__ == "__main__":
    main()
