"""Trains the King James byte-level LM: a GPT-style decoder (4 pre-LN
blocks, hidden 256, 8 heads of 32, FFN 1024, tanh GELU, causal, context
128 bytes) on every book but data.HELD_OUT_BOOKS. Debian's PyTorch, 2
threads, about 18 minutes here.

    /usr/bin/python3 examples/compression/train_lm.py [OUT_DIR]
    /usr/bin/python3 examples/compression/train_lm.py --reexport OUT_DIR/kjv-lm.onnx

--reexport loads the weights of an exported model and exports it again
with this file's code (the committed model was trained with the head
split written as view(b, s, HEADS, -1), which ONNX exports with a head
width slm cannot see statically; same weights, exported again).

Writes OUT_DIR (default: this folder) /kjv-lm.onnx (input input_ids
[batch, seq] int64 bytes; output logits [batch, seq, 256]) and
kjv-eval.npz (the held-out books as bytes).
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
import data  # noqa: E402

HIDDEN, HEADS, LAYERS, FFN, CONTEXT = 256, 8, 4, 1024, 128


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(HIDDEN), nn.LayerNorm(HIDDEN)
        self.q, self.k, self.v = (nn.Linear(HIDDEN, HIDDEN) for _ in range(3))
        self.proj = nn.Linear(HIDDEN, HIDDEN)
        self.fc, self.out = nn.Linear(HIDDEN, FFN), nn.Linear(FFN, HIDDEN)

    def attention(self, x, causal):
        b, s, _ = x.shape
        split = lambda t: t.view(b, s, HEADS, HIDDEN // HEADS).permute(0, 2, 1, 3)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS)
        w = torch.where(causal[:s, :s], w, torch.tensor(torch.finfo(w.dtype).min))
        o = torch.matmul(torch.softmax(w, -1), v).permute(0, 2, 1, 3).contiguous()
        return self.proj(o.view(b, s, HIDDEN))

    def forward(self, x, causal):
        x = x + self.attention(self.ln1(x), causal)
        h = self.fc(self.ln2(x))
        return x + self.out(0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3))))


class ByteLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(256, HIDDEN), nn.Embedding(CONTEXT, HIDDEN)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(HIDDEN)
        self.head = nn.Linear(HIDDEN, 256)
        self.register_buffer("causal", torch.tril(torch.ones(CONTEXT, CONTEXT, dtype=torch.bool)))

    def forward(self, input_ids):
        s = input_ids.size(1)
        x = self.wte(input_ids) + self.wpe(torch.arange(s).unsqueeze(0))
        for b in self.blocks:
            x = b(x, self.causal)
        return self.head(self.ln_f(x))


def export(model, path, x):
    torch.onnx.export(model, (x,), path, opset_version=17,
                      input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"}})


def reexport(path):
    """Reads the weights of an exported ByteLM back (MatMul weights are
    stored transposed under generated names; the node names say whose) and
    exports it again to the same path."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    model = ByteLM()
    state = model.state_dict()
    for name in state:
        if name in inits:
            state[name] = torch.from_numpy(inits[name].copy())
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits and node.name.endswith("/MatMul"):
            module = node.name[1:-len("/MatMul")].replace("/", ".")
            state[module + ".weight"] = torch.from_numpy(inits[node.input[1]].T.copy())
    model.load_state_dict(state)
    model.eval()
    export(model, path, torch.zeros(2, 16, dtype=torch.int64))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--reexport":
        return reexport(sys.argv[2])
    out = sys.argv[1] if len(sys.argv) > 1 else here
    torch.manual_seed(0)
    torch.set_num_threads(2)
    train, held = data.kjv_split()
    text = np.frombuffer(train, np.uint8).astype(np.int64)
    model = ByteLM()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    steps, batch = 1000, 32
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    rng = np.random.default_rng(0)
    t0 = time.time()
    for step in range(steps):
        starts = rng.integers(0, len(text) - CONTEXT - 1, batch)
        seq = torch.from_numpy(np.stack([text[s:s + CONTEXT + 1] for s in starts]))
        logits = model(seq[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 256), seq[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3f} bpb {loss.item() / math.log(2):.3f} "
                  f"{time.time() - t0:.0f}s", flush=True)
    model.eval()
    held_ids = np.frombuffer(held, np.uint8).astype(np.int64)
    n = (len(held_ids) - 1) // CONTEXT
    x = torch.from_numpy(held_ids[:n * CONTEXT].reshape(n, CONTEXT))
    y = torch.from_numpy(held_ids[1:n * CONTEXT + 1].reshape(n, CONTEXT))
    with torch.no_grad():
        nll = nn.functional.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1))
    print(f"held-out bits/byte {nll.item() / math.log(2):.4f} ({n * CONTEXT} bytes)")
    os.makedirs(out, exist_ok=True)
    np.savez_compressed(os.path.join(out, "kjv-eval.npz"), text=np.frombuffer(held, np.uint8))
    export(model, os.path.join(out, "kjv-lm.onnx"), x[:2, :16])


if __name__ == "__main__":
    main()
