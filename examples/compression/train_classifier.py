"""Trains the fortunes classifier: a BERT-style encoder (4 post-LN layers,
hidden 256, 8 heads of 32, FFN 1024, erf GELU) over word ids, mean-pooled,
then a linear layer over the 8 categories of data.CATEGORIES. Debian's
PyTorch, 2 threads, about 10 minutes here.

    /usr/bin/python3 examples/compression/train_classifier.py [OUT_DIR]

Writes OUT_DIR (default: this folder) /fortunes-classifier.onnx (inputs
input_ids, attention_mask [batch, seq] int64; output logits [batch, 8]),
fortunes-eval.npz (held-out ids, mask, labels) and fortunes-vocab.json.
"""
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "minilm"))
import data  # noqa: E402
from export_minilm import SentenceEncoder  # noqa: E402

CONFIG = {"hidden_size": 256, "num_attention_heads": 8, "intermediate_size": 1024,
          "num_hidden_layers": 4, "layer_norm_eps": 1e-12, "vocab_size": data.VOCAB_SIZE,
          "max_position_embeddings": data.MAX_WORDS, "type_vocab_size": 1}


class Classifier(nn.Module):
    def __init__(self, cfg, classes):
        super().__init__()
        self.encoder = SentenceEncoder(cfg)
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(cfg["hidden_size"], classes)

    def forward(self, input_ids, attention_mask):
        e = self.encoder
        s = input_ids.size(1)
        positions = torch.arange(s, dtype=torch.long).unsqueeze(0)
        x = e.norm(e.word(input_ids) + e.position(positions))
        mask = attention_mask.to(torch.float32)
        additive = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        for layer in e.layers:
            x = self.dropout(layer(x, additive))
        mean = (x * mask[:, :, None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        return self.head(self.dropout(mean))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else here
    torch.manual_seed(0)
    torch.set_num_threads(2)
    items = data.fortunes()
    n_eval = len(items) * 15 // 100
    train, held = items[n_eval:], items[:n_eval]
    vocab = data.build_vocab([t for t, _ in train])
    ids, mask = data.encode([t for t, _ in train], vocab)
    labels = np.array([l for _, l in train], np.int64)
    model = Classifier(CONFIG, len(data.CATEGORIES))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    steps, batch = 1200, 32
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    rng = np.random.default_rng(0)
    t0 = time.time()
    model.train()
    for step in range(steps):
        idx = rng.integers(0, len(labels), batch)
        m = torch.from_numpy(mask[idx])
        width = int(m.sum(1).max())
        logits = model(torch.from_numpy(ids[idx, :width]), m[:, :width])
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(labels[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)
    model.eval()
    e_ids, e_mask = data.encode([t for t, _ in held], vocab)
    e_labels = np.array([l for _, l in held], np.int64)
    with torch.no_grad():
        pred = model(torch.from_numpy(e_ids), torch.from_numpy(e_mask)).argmax(1).numpy()
    print(f"held-out accuracy {np.mean(pred == e_labels):.4f} ({len(e_labels)} quotes)")
    os.makedirs(out, exist_ok=True)
    np.savez_compressed(os.path.join(out, "fortunes-eval.npz"), input_ids=e_ids,
                        attention_mask=e_mask, labels=e_labels)
    data.save_json(os.path.join(out, "fortunes-vocab.json"),
                   {"categories": data.CATEGORIES, "words": sorted(vocab, key=vocab.get)})
    args = (torch.from_numpy(e_ids[:2, :16]), torch.from_numpy(e_mask[:2, :16]))
    dyn = {n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask")}
    torch.onnx.export(model, args, os.path.join(out, "fortunes-classifier.onnx"), opset_version=17,
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes=dyn)


if __name__ == "__main__":
    main()
