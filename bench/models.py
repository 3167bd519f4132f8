"""The benchmark's models, built in Debian's PyTorch with random (seeded)
weights and exported once to ONNX, so that slm, ONNX Runtime and PyTorch
run the same weights."""
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "minilm"))
from export_minilm import SentenceEncoder, load as load_minilm  # noqa: E402


def bert_config(layers, hidden, heads, ffn):
    return {"hidden_size": hidden, "num_attention_heads": heads, "intermediate_size": ffn,
            "num_hidden_layers": layers, "layer_norm_eps": 1e-12, "vocab_size": 30522,
            "max_position_embeddings": 512, "type_vocab_size": 2}


class GPT2(nn.Module):
    """A GPT-2-shaped decoder (pre-LN blocks, fused QKV, causal, tanh GELU)."""

    def __init__(self, layers, hidden, heads, vocab=50257, positions=1024):
        super().__init__()
        self.heads, self.hidden = heads, hidden
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(positions, hidden)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({
                "ln1": nn.LayerNorm(hidden), "qkv": nn.Linear(hidden, 3 * hidden),
                "proj": nn.Linear(hidden, hidden), "ln2": nn.LayerNorm(hidden),
                "fc": nn.Linear(hidden, 4 * hidden), "out": nn.Linear(4 * hidden, hidden)}))
        self.ln_f = nn.LayerNorm(hidden)
        self.register_buffer("tril", torch.tril(torch.ones(positions, positions, dtype=torch.bool)))

    def attention(self, b, x):
        bsz, s, _ = x.shape
        q, k, v = b["qkv"](x).split(self.hidden, dim=2)
        split = lambda t: t.view(bsz, s, self.heads, -1).permute(0, 2, 1, 3)
        q, k, v = split(q), split(k), split(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.size(-1))
        w = torch.where(self.tril[:s, :s], w, torch.tensor(torch.finfo(w.dtype).min))
        o = torch.matmul(torch.softmax(w, -1), v).permute(0, 2, 1, 3).contiguous()
        return b["proj"](o.view(bsz, s, self.hidden))

    def forward(self, input_ids):
        s = input_ids.size(1)
        x = self.wte(input_ids) + self.wpe(torch.arange(s).unsqueeze(0))
        for b in self.blocks:
            x = x + self.attention(b, b["ln1"](x))
            h = b["fc"](b["ln2"](x))
            x = x + b["out"](0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3))))
        return self.ln_f(x)


INPUT_NAMES = {"gpt2": ["input_ids"], "linear": ["hidden"]}


def input_names(name):
    return INPUT_NAMES.get(name, ["input_ids", "attention_mask"])


def build(name, minilm_dir=None):
    """(torch module, input names, config)."""
    torch.manual_seed(0)
    if name == "linear":  # one BERT-base FFN up-projection: GEMM efficiency
        return nn.Linear(768, 3072).eval(), ["hidden"], {"linear": (768, 3072)}
    if name == "bert-base":
        cfg = bert_config(12, 768, 12, 3072)
        return SentenceEncoder(cfg).eval(), ["input_ids", "attention_mask"], cfg
    if name.startswith("bert-long"):  # "bert-long-L": L BERT-base layers, 4096 positions
        layers = int(name.rsplit("-", 1)[1]) if name.count("-") == 2 else 2
        cfg = bert_config(layers, 768, 12, 3072)
        cfg["max_position_embeddings"] = 4096
        return SentenceEncoder(cfg).eval(), ["input_ids", "attention_mask"], cfg
    if name == "tiny-bert":
        cfg = bert_config(2, 64, 4, 128)
        return SentenceEncoder(cfg).eval(), ["input_ids", "attention_mask"], cfg
    if name == "gpt2":
        cfg = {"hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 3072,
               "num_attention_heads": 12}
        return GPT2(12, 768, 12).eval(), ["input_ids"], cfg
    if name == "minilm":
        import json
        cfg = json.load(open(os.path.join(minilm_dir, "config.json")))
        return load_minilm(minilm_dir), ["input_ids", "attention_mask"], cfg
    raise ValueError(name)


def flops(cfg, batch, seq):
    """Multiply-adds x 2 of the encoder/decoder layers (embeddings and
    normalizations are negligible)."""
    if "linear" in cfg:
        return 2 * batch * seq * cfg["linear"][0] * cfg["linear"][1]
    h, f, l = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    tokens = batch * seq
    linear = 2 * tokens * (4 * h * h + 2 * h * f)
    attention = 2 * 2 * batch * seq * seq * h
    return l * (linear + attention)


def export(name, path, minilm_dir=None):
    model, inputs, _ = build(name, minilm_dir)
    ids = torch.randint(1000, 2000, (2, 16))
    if inputs == ["hidden"]:
        args = (torch.randn(2, 16, 768),)
    else:
        args = (ids, torch.ones_like(ids)) if len(inputs) == 2 else (ids,)
    dyn = {n: {0: "batch", 1: "seq"} for n in inputs}
    with torch.no_grad():
        torch.onnx.export(model, args, path, opset_version=17, input_names=inputs,
                          output_names=["output"], dynamic_axes=dyn)
