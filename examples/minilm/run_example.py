#!/usr/bin/env python3
"""The bundled example: all-MiniLM-L6-v2 (real weights) compiled by slm and
run on a few sentences; prints their cosine similarities and the largest
difference from ONNX Runtime on the same model.

    run_example.py MODEL_DIR MODEL.onnx WORK_DIR
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import slm  # noqa: E402
from tokenizer import WordPiece  # noqa: E402

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays an acoustic guitar on stage.",
    "The stock market fell sharply today.",
    "Shares dropped as investors sold off.",
    "A cat sleeps on the warm windowsill.",
]


def main():
    model_dir, onnx_path, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    lib = os.path.join(work, "all-MiniLM-L6-v2.so")
    start = time.perf_counter()
    report = slm.compile(onnx_path, lib, report=True)
    print(f"compiled {os.path.basename(onnx_path)} in {time.perf_counter() - start:.1f} s")
    print(report.strip())

    tok = WordPiece(os.path.join(model_dir, "vocab.txt"))
    ids, mask = tok.batch(SENTENCES)
    model = slm.load(lib)
    emb = model.run({"input_ids": ids, "attention_mask": mask})["embedding"]

    print("\ncosine similarity (slm):")
    sim = emb @ emb.T
    for i, s in enumerate(SENTENCES):
        print(f"  [{i}] " + " ".join(f"{v:5.2f}" for v in sim[i]) + f"  {s}")

    paraphrases = min(sim[0, 1], sim[2, 3])
    others = max(sim[i, j] for i in range(5) for j in range(5)
                 if i != j and {i, j} not in ({0, 1}, {2, 3}))
    print(f"paraphrases score above unrelated pairs: "
          f"{'yes' if paraphrases > others else 'NO'} ({paraphrases:.2f} > {others:.2f})")

    try:
        import onnxruntime as ort
    except ImportError:
        print("\nONNX Runtime is not installed: no comparison")
        return 0
    ref = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(
        None, {"input_ids": ids, "attention_mask": mask})[0]
    diff = float(np.max(np.abs(emb - ref)))
    print(f"\nmax |slm - onnxruntime| = {diff:.2e} over {emb.size} values")
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
