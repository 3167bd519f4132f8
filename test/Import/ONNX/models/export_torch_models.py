#!/usr/bin/env python3
"""Exports the four reference transformer architectures to ONNX with
Debian's PyTorch (1.13), at the opsets slm supports.

    export_torch_models.py OUT_DIR [--opsets 13 14 17] [--only NAME ...]

Writes OUT_DIR/<arch>_opset<N>.onnx for
  gpt2     a GPT-2-style decoder (fused QKV, tanh GELU, causal mask by Where)
  bert     nn.TransformerEncoder, BERT-style, with a padding mask
  t5       nn.Transformer, an encoder-decoder with a causal decoder mask
  vit      torchvision's VisionTransformer

Weights are random (seeded); sizes are small so that export takes seconds.
Batch and sequence dimensions are dynamic.
"""
import argparse
import math
import os
import sys

import torch
from torch import nn

VOCAB, HIDDEN, HEADS, FFN, LAYERS, MAX_POS = 100, 64, 4, 128, 2, 64


class GPT2Attention(nn.Module):
    """As in HF transformers' GPT2Attention: one c_attn for Q, K and V."""

    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(HIDDEN, 3 * HIDDEN)
        self.c_proj = nn.Linear(HIDDEN, HIDDEN)
        self.register_buffer(
            "bias", torch.tril(torch.ones(MAX_POS, MAX_POS, dtype=torch.bool))
            .view(1, 1, MAX_POS, MAX_POS))

    def split_heads(self, x):
        b, s, _ = x.shape
        return x.view(b, s, HEADS, HIDDEN // HEADS).permute(0, 2, 1, 3)

    def forward(self, x):
        q, k, v = self.c_attn(x).split(HIDDEN, dim=2)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.tensor(v.size(-1) ** 0.5, dtype=w.dtype)
        s = q.size(-2)
        causal = self.bias[:, :, :s, :s]
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = nn.functional.softmax(w, dim=-1)
        o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        o = o.view(o.size(0), o.size(1), HIDDEN)
        return self.c_proj(o)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(HIDDEN)
        self.attn = GPT2Attention()
        self.ln_2 = nn.LayerNorm(HIDDEN)
        self.c_fc = nn.Linear(HIDDEN, FFN)
        self.c_proj = nn.Linear(FFN, HIDDEN)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(gelu_new(self.c_fc(self.ln_2(x))))


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, HIDDEN)
        self.wpe = nn.Embedding(MAX_POS, HIDDEN)
        self.h = nn.ModuleList([GPT2Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(HIDDEN)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.size(1), dtype=torch.long).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        return torch.matmul(self.ln_f(x), self.wte.weight.t())


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, HIDDEN)
        layer = nn.TransformerEncoderLayer(HIDDEN, HEADS, FFN, dropout=0.0,
                                           activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, LAYERS)

    def forward(self, input_ids, attention_mask):
        return self.encoder(self.embed(input_ids),
                            src_key_padding_mask=attention_mask == 0)


class T5Like(nn.Module):
    def __init__(self, use_triu):
        super().__init__()
        self.use_triu = use_triu
        self.embed = nn.Embedding(VOCAB, HIDDEN)
        self.transformer = nn.Transformer(HIDDEN, HEADS, LAYERS, LAYERS, FFN,
                                          dropout=0.0, batch_first=True)

    def forward(self, src_ids, tgt_ids):
        s = tgt_ids.size(1)
        if self.use_triu:  # Trilu exists from opset 14
            causal = torch.triu(torch.full((s, s), float("-inf")), diagonal=1)
        else:
            pos = torch.arange(s)
            causal = torch.zeros(s, s).masked_fill(
                pos.unsqueeze(0) > pos.unsqueeze(1), float("-inf"))
        return self.transformer(self.embed(src_ids), self.embed(tgt_ids),
                                tgt_mask=causal)


def export(name, opset, out_dir):
    torch.manual_seed(0)
    path = os.path.join(out_dir, f"{name}_opset{opset}.onnx")
    if name == "gpt2":
        model, args = GPT2(), (torch.randint(0, VOCAB, (2, 8)),)
        names, dyn = ["input_ids"], {"input_ids": {0: "batch", 1: "seq"}}
    elif name == "bert":
        ids = torch.randint(0, VOCAB, (2, 8))
        mask = torch.ones(2, 8, dtype=torch.long)
        mask[1, 6:] = 0
        model, args = Bert(), (ids, mask)
        names = ["input_ids", "attention_mask"]
        dyn = {n: {0: "batch", 1: "seq"} for n in names}
    elif name == "t5":
        model = T5Like(use_triu=opset >= 14)
        args = (torch.randint(0, VOCAB, (2, 8)), torch.randint(0, VOCAB, (2, 6)))
        names = ["src_ids", "tgt_ids"]
        dyn = {"src_ids": {0: "batch", 1: "src_seq"},
               "tgt_ids": {0: "batch", 1: "tgt_seq"}}
    elif name == "vit":
        from torchvision.models import VisionTransformer
        model = VisionTransformer(image_size=32, patch_size=8, num_layers=LAYERS,
                                  num_heads=HEADS, hidden_dim=HIDDEN, mlp_dim=FFN,
                                  num_classes=10)
        # torchvision zero-initializes the head: logits would not depend on
        # the rest of the network, and parity tests would test nothing.
        nn.init.normal_(model.heads.head.weight, std=0.2)
        args = (torch.randn(2, 3, 32, 32),)
        names, dyn = ["pixels"], {"pixels": {0: "batch"}}
    else:
        raise ValueError(name)
    model.eval()
    # nn.TransformerEncoder's fused fast path does not export: keep autograd on.
    torch.onnx.export(model, args, path, opset_version=opset, input_names=names,
                      output_names=["output"], dynamic_axes=dict(dyn, output={0: "batch"}))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--opsets", type=int, nargs="+", default=[13, 14, 17])
    parser.add_argument("--only", nargs="+", default=["gpt2", "bert", "t5", "vit"])
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(2)
    for name in args.only:
        for opset in args.opsets:
            print(export(name, opset, args.out_dir))


if __name__ == "__main__":
    sys.exit(main())
