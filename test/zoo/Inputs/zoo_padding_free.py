#!/usr/bin/env python3
"""`slmc --padding-free` on the zoo: every opset-17 export that takes an
attention mask, compiled with --padding-free, against ONNX Runtime on the
same padded batches.

    zoo_padding_free.py SLMC ZOO_DIR WORK_DIR --expected FILE [--jobs 2]
                        [--only REGEX]

Batches: the zoo's padded data set, and a mix of 4 sequences of 13
positions with 13, 1, 0 and 6 real tokens, the last with holes (a mask
that is not a prefix). At real positions (mask 1) every element must match
ORT's, |slm - ort| <= 1e-5 + 1e-4 * |ort|; at pad positions the padding-free
model must hold exactly 0 (docs/Passes.md); outputs without a
[batch, sequence] prefix (pooled) must match everywhere. A sequence of no
real token is padding only: its row of ORT's output is what ORT computes
from pads, and is not compared.

Token pruning (--prune-tokens, on the packing) on every packed model:
with a minimum count that keeps every token the outputs must be ORT's
(same tolerance, pads 0); keeping half, with tokens dropped or skipping,
it must compile without a warning, give finite values and pads 0. A model
slmc refuses with a prune-tokens error (marian's cross-attention) is
reported as such.

Compression composes with packing: bert's export is also compiled with
--quantize=int8, --quantize=w8a8, --quantize=int4 and --prune-heads=0.5,
with and without --padding-free, and the two must agree at real positions
(same tolerance).

Each model ends as
  packed     compiled with the packing (no warning) and matched
  unchanged  slmc warned that nothing could be packed (and it matched)
  refused    slmc failed with a padding-free error
  MISMATCH   a wrong answer: always a failure
  error      anything else
FILE lists the expected outcome of every model that is not `packed`:
  <model id glob> | <outcome> | <reason>
An outcome other than the expected one is a failure (a model that starts
packing: remove its line). Exit status 1 on any failure.
"""
import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import subprocess
import sys

import onnx  # noqa: F401  (before anything importing Debian's onnx)
import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
import slm  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
COMPRESSIONS = [["--quantize=int8"], ["--quantize=w8a8"],
                ["--quantize=int4"], ["--prune-heads=0.5"]]
# (slmc flags, whether every token is kept: outputs equal ORT's).
PRUNE = ["--prune-tokens=0.5", "--prune-tokens-start=0"]
PRUNINGS = [(PRUNE + ["--prune-tokens-min=100000"], True),
            (PRUNE + ["--prune-tokens-min=100000", "--prune-tokens-skip"], True),
            (PRUNE, False), (PRUNE + ["--prune-tokens-skip"], False)]


def mixed_batch(feeds, mask_name, rng):
    """4 sequences of 13 positions: full, 1, none, 6 with holes."""
    b, s = 4, 13
    mask = np.zeros((b, s), np.int64)
    mask[0] = 1
    mask[1, 0] = 1
    mask[3, [0, 2, 3, 7, 8, 12]] = 1
    out = {}
    for name, value in feeds.items():
        if name == mask_name:
            out[name] = mask.astype(value.dtype)
        elif value.dtype.kind in "iu":
            hi = max(int(value.max()), 2)
            out[name] = rng.integers(0, hi, (b, s)).astype(value.dtype)
        else:
            out[name] = rng.standard_normal((b, s) + value.shape[2:]).astype(value.dtype)
    return out


def compare(got, ref, mask, token_outputs=True):
    """(ok, worst error, pads that are not 0)."""
    worst, pads = 0.0, 0
    real = mask.astype(bool)
    # A sequence without real tokens is not compared (ORT computes it from
    # pads alone); its positions are pads.
    rows = real.any(axis=1)
    for name, r in ref.items():
        g = got[name]
        if g.shape != r.shape or g.dtype != r.dtype:
            return False, f"{name}: {g.dtype}{list(g.shape)} vs {r.dtype}{list(r.shape)}", 0
        if token_outputs and g.ndim >= 2 and g.shape[:2] == mask.shape:
            pads += int(np.count_nonzero(g[~real]))
            sel_g, sel_r = g[real], r[real]
        else:
            sel_g, sel_r = g[rows], r[rows]
        if sel_g.size == 0:
            continue
        err = np.abs(sel_g.astype(np.float64) - sel_r)
        bound = ATOL + RTOL * np.abs(sel_r.astype(np.float64))
        if not np.all(err <= bound):
            return False, f"{name}: {err.max():.2e}", pads
        worst = max(worst, float(err.max()))
    return True, worst, pads


def slmc(args, onnx_path, out, extra):
    r = subprocess.run([args.slmc, onnx_path, "-o", out] + extra,
                       capture_output=True, text=True)
    return r.returncode, (r.stderr + r.stdout).strip()


def run_model(args, model):
    mid, family = model["id"], model["family"]
    onnx_path = os.path.join(args.zoo, model["path"])
    feeds = dict(np.load(os.path.join(args.zoo, f"{family}.padded.npz")))
    mask_name = [k for k in feeds if "mask" in k][0]
    rng = np.random.default_rng(0)
    batches = [feeds]
    # Token inputs only (audio and pixels have their own lengths).
    if all(v.dtype.kind in "iub" for v in feeds.values()):
        batches.append(mixed_batch(feeds, mask_name, rng))
    # An encoder-decoder's outputs are the decoder's positions: no pads.
    token_outputs = not any("decoder" in k for k in feeds)
    lib = os.path.join(args.work, f"{mid}.pf.so")
    rc, log = slmc(args, onnx_path, lib, ["--padding-free"])
    if rc != 0:
        first = next((l for l in log.splitlines() if "error" in l), log[-300:])
        outcome = "refused" if "padding-free" in first else "error"
        return mid, outcome, first
    outcome = "unchanged" if "padding-free" in log and "warning" in log else "packed"
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    model_lib = slm.load(lib)
    detail = []
    for feeds_b in batches:
        ref = dict(zip(names, session.run(None, feeds_b)))
        got = {k: np.asarray(v) for k, v in model_lib.run(feeds_b).items()}
        ok, worst, pads = compare(got, ref, feeds_b[mask_name], token_outputs)
        if not ok or (outcome == "packed" and pads):
            return mid, "MISMATCH", f"{worst}; nonzero pads {pads}"
        detail.append(f"{worst:.1e}")
    if outcome == "packed":
        # Token pruning runs on the packing: with a minimum that keeps every
        # token, each cut (importance sums, ranking, lifting, and with skip
        # the merge) is exercised and the outputs must still be ORT's; with
        # half the tokens kept it must compile without a warning and keep
        # pad positions 0 (the values are checked by
        # test/e2e/prune-tokens.test's reference).
        for flags, identity in PRUNINGS:
            tag = "prune-" + "-".join(f.lstrip("-").split("=")[-1] for f in flags)
            path = os.path.join(args.work, f"{mid}.{tag}.so")
            rc, log = slmc(args, onnx_path, path, flags)
            refusal = re.search(r"error: (prune-tokens: [^\n]*)", log)
            if rc and refusal:
                # A documented refusal (an encoder-decoder's cross-attention
                # reads the encoder's tokens unpacked).
                detail.append(f"prune-tokens refused: {refusal.group(1)[:60]}")
                break
            if rc or "warning" in log:
                return mid, "error", f"{' '.join(flags)}: {log[-300:]}"
            pruned = slm.load(path)
            for feeds_b in batches:
                got = {k: np.asarray(v) for k, v in pruned.run(feeds_b).items()}
                if identity:
                    ref = dict(zip(names, session.run(None, feeds_b)))
                    ok, worst, pads = compare(got, ref, feeds_b[mask_name], token_outputs)
                else:  # finite where compared (NaN and inf differ from themselves)
                    ok, worst, pads = compare(got, got, feeds_b[mask_name], token_outputs)
                if not ok or pads:
                    return mid, "MISMATCH", f"{' '.join(flags)}: {worst}; nonzero pads {pads}"
        else:
            detail.append("prune-tokens ok")
    if family == "bert" and outcome == "packed":
        for extra in COMPRESSIONS:
            tag = extra[0].lstrip("-").replace("=", "-").replace(".", "")
            a = os.path.join(args.work, f"{mid}.{tag}.so")
            b = os.path.join(args.work, f"{mid}.{tag}.pf.so")
            for path, flags in ((a, extra), (b, extra + ["--padding-free"])):
                rc, log = slmc(args, onnx_path, path, flags)
                if rc:
                    return mid, "error", f"{' '.join(flags)}: {log[-300:]}"
            for feeds_b in batches:
                ref = {k: np.asarray(v) for k, v in slm.load(a).run(feeds_b).items()}
                got = {k: np.asarray(v) for k, v in slm.load(b).run(feeds_b).items()}
                ok, worst, pads = compare(got, ref, feeds_b[mask_name])
                if not ok or pads:
                    return mid, "MISMATCH", f"{' '.join(extra)}: {worst}; nonzero pads {pads}"
            detail.append(f"{tag} ok")
    return mid, outcome, "max error " + ", ".join(detail)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("slmc")
    p.add_argument("zoo")
    p.add_argument("work")
    p.add_argument("--expected", required=True)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--only", default=None)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    expected = []
    for n, line in enumerate(open(args.expected), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            parts = [x.strip() for x in line.split(" | ")]
            if len(parts) != 3:
                sys.exit(f"{args.expected}:{n}: expected '<glob> | <outcome> | <reason>'")
            expected.append(parts)
    zoo = json.load(open(os.path.join(args.zoo, "zoo.json")))
    models = []
    for m in zoo["models"]:
        if not m["id"].endswith("_op17") or not os.path.exists(
                os.path.join(args.zoo, m["path"])):
            continue
        if not os.path.exists(os.path.join(args.zoo, f"{m['family']}.padded.npz")):
            continue
        feeds = np.load(os.path.join(args.zoo, f"{m['family']}.padded.npz"))
        if not any("mask" in k for k in feeds.files):
            continue
        if args.only and not re.search(args.only, m["id"]):
            continue
        models.append(m)
    failures = 0
    counts = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for mid, outcome, detail in pool.map(lambda m: run_model(args, m), models):
            want = next((e for e in expected if fnmatch.fnmatch(mid, e[0])), None)
            want_outcome = want[1] if want else "packed"
            status = "ok" if outcome == want_outcome else "FAIL"
            if status == "FAIL":
                failures += 1
            counts[outcome] = counts.get(outcome, 0) + 1
            reason = f" ({want[2]})" if want and status == "ok" else ""
            print(f"{status:4} {mid}: {outcome} (expected {want_outcome}): "
                  f"{detail[:240]}{reason}", flush=True)
    print("padding-free: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
          + f" of {len(models)}; {failures} unexpected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
