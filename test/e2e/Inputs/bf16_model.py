"""A real model compiled with slmc --precision=bf16 against ONNX Runtime.

    bf16_model.py SLMC WORKDIR MODEL.onnx

Compiles the model twice (f32, --precision=bf16), runs both and ORT on
seeded random token batches (the second row half padded), and checks that
the bf16 model's first output is within cosine 0.999 of ORT's on every row
while differing from the f32 build (the layers really ran in bf16). Then
the accuracy guard on bf16: --calibration with --max-error 0.05 prints the
measured error and writes the library; --max-error 1e-7 refuses and writes
nothing."""
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import slm  # noqa: E402

slmc, work, onnx = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(3)
session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
names = [i.name for i in session.get_inputs()]


def feeds_for(batch, seq):
    ids = rng.integers(1000, 20000, (batch, seq)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[-1, seq // 2:] = 0
    all_feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return {k: all_feeds[k] for k in names}


libs = {}
for tag, flags in (("f32", []), ("bf16", ["--precision=bf16"])):
    libs[tag] = os.path.join(work, f"model-{tag}.so")
    subprocess.run([slmc, onnx, "-o", libs[tag], *flags], check=True)
models = {tag: slm.load(lib) for tag, lib in libs.items()}
failures = 0
for batch, seq in ((2, 16), (4, 128)):
    feeds = feeds_for(batch, seq)
    ref = session.run(None, feeds)[0].reshape(batch, -1).astype(np.float64)
    got = {tag: list(m.run(feeds).values())[0].reshape(batch, -1).astype(np.float64)
           for tag, m in models.items()}
    cos = (got["bf16"] * ref).sum(1) / np.linalg.norm(got["bf16"], axis=1) / np.linalg.norm(ref, axis=1)
    err = np.abs(got["bf16"] - ref).max()
    differs = np.abs(got["bf16"] - got["f32"]).max()
    ok = bool(cos.min() >= 0.999) and differs > 1e-5
    failures += not ok
    print(f"bf16 b{batch} s{seq}: {'ok' if ok else 'FAIL'}: min cosine vs ORT {cos.min():.6f}, "
          f"max |bf16 - ORT| {err:.2e}, max |bf16 - f32| {differs:.2e}")

calibration = os.path.join(work, "calibration")
os.makedirs(calibration, exist_ok=True)
for name, value in feeds_for(2, 24).items():
    np.save(os.path.join(calibration, name + ".npy"), value)
guarded = os.path.join(work, "guarded.so")
r = subprocess.run([slmc, onnx, "-o", guarded, "--precision=bf16", "--calibration", calibration,
                    "--max-error", "0.05"], capture_output=True, text=True)
line = next((l.strip() for l in r.stdout.splitlines() if "relative L2" in l), "")
ok = r.returncode == 0 and os.path.exists(guarded) and bool(line)
failures += not ok
print(f"bf16 guard 0.05: {'ok' if ok else 'FAIL'}: {line or r.stderr.strip()[-200:]}")
refused = os.path.join(work, "refused.so")
r = subprocess.run([slmc, onnx, "-o", refused, "--precision=bf16", "--calibration", calibration,
                    "--max-error", "1e-7"], capture_output=True, text=True)
ok = r.returncode != 0 and not os.path.exists(refused) and "nothing written" in r.stderr
failures += not ok
print(f"bf16 guard 1e-7 refuses: {'ok' if ok else 'FAIL'}: {r.stderr.strip().splitlines()[-1:]}")
print(f"bf16 model: {failures} failures")
sys.exit(1 if failures else 0)
