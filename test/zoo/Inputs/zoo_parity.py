#!/usr/bin/env python3
"""Compiles every zoo model with slmc, runs it with slm-run on each of its
data sets and compares the outputs with ONNX Runtime's on the same model.

    zoo_parity.py SLMC SLM_RUN ZOO_DIR WORK_DIR [--expected FILE] [--jobs 2]
                  [--only REGEX] [--report]

ZOO_DIR is what export_zoo.py wrote (zoo.json, models, <family>.<set>.npz).
Parity criterion (test/e2e/Inputs/parity.py, torch-parity.test): every
element |slm - ort| <= 1e-5 + 1e-4 * |ort|, for the plain exports and the
ORT-optimizer forms. For ORT-quantized forms (test/e2e/prequantized.test):
relative L2 error ||slm - ort|| / ||ort|| <= 1e-4 for MatMulNBits (both
dequantize the same codes) and <= 2e-2 for int8 (quantize_dynamic, QDQ:
ORT's integer kernels round and requantize in their own order), against
ORT as it runs by default or, for int8 forms, against ORT with its graph
optimizations off (the graph as written, without ORT's fused QLinear
kernels; ONNX's reference evaluator agrees with that one), or, for
quantize_dynamic forms, against ORT computing each MatMulInteger exactly
(in float64): on a CPU without VNNI, ORT's uint8 x int8 kernels saturate
int16 pair sums (vpmaddubsw) and miss the exact product by up to 14% of
its range (seen on an AMD EPYC with AVX2), while slm's are exact.

Each (model, data set) ends as one of
  ok        matches ORT
  MISMATCH  a wrong answer: never expected, always a failure
  error     slmc or slm-run failed, or the export did not produce the model
The expected-failure FILE lists errors that are known, one per line:
  <model id glob> | <regex the error message must match> | <reason, owner>
(fields separated by " | "; a regex may use | without spaces)
An error matching an entry is XFAIL; an error matching none is a failure;
a listed model that passes is XPASS, also a failure (remove its entry).
Exit status 1 on any failure. --report also runs `slmc --report` and writes
WORK_DIR/<id>.report.txt.
"""
import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import subprocess
import sys
import time

import onnx  # noqa: F401  (before anything importing Debian's onnx)
import numpy as np
import onnxruntime as ort

RTOL, ATOL = 1e-4, 1e-5
REL_L2 = {"nbits": 1e-4, "qdyn": 2e-2, "qdq": 2e-2}


def load_expected(path):
    entries = []
    if not path:
        return entries
    for n, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3:
            sys.exit(f"{path}:{n}: expected '<glob> | <regex> | <reason>'")
        entries.append(dict(glob=parts[0], regex=re.compile(parts[1]), reason=parts[2],
                            line=n, used=False))
    return entries


def first_error(text):
    """The first `error:` line of a tool's output (the rest is context)."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    first = next((l for l in lines if "error" in l.lower()), lines[0] if lines else "")
    first = re.sub(r"^loc\((?:[^()]|\([^()]*\))*\):\s*", "", first) or "(no message)"
    # An unsupported-op list: name the ops.
    ops = sorted(set(re.findall(r"^\s+(\S+) \(node '", text, re.M)))
    if ops:
        first += " " + ", ".join(ops)
    return first


def compare(variant, got, want):
    """'' when got matches want under the variant's criterion, else why."""
    if got.shape != want.shape:
        return f"shape {got.shape}, ORT {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype}, ORT {want.dtype}"
    if not np.issubdtype(want.dtype, np.floating):
        bad = int(np.sum(got != want))
        return f"{bad} of {want.size} elements differ" if bad else ""
    if np.any(np.isnan(got) != np.isnan(want)):
        return "NaN where ORT has none (or the reverse)"
    g, w = got.astype(np.float64), want.astype(np.float64)
    finite = ~np.isnan(w)
    g, w = g[finite], w[finite]
    if variant in REL_L2:
        err = np.linalg.norm(g - w) / max(np.linalg.norm(w), 1e-30)
        return "" if err <= REL_L2[variant] else f"relative L2 {err:.3g} > {REL_L2[variant]}"
    diff = np.abs(g - w)
    bad = diff > ATOL + RTOL * np.abs(w)
    if np.any(bad):
        return (f"{int(bad.sum())} of {w.size} elements outside {ATOL} + {RTOL}*|ort| "
                f"(max |diff| {diff.max():.3g})")
    return ""


def exact_integer_model(model, out_path):
    """`model` with every MatMulInteger computed exactly: its operands less
    their zero points in float64 (exact: the sums stay far below 2^53),
    multiplied by ORT's float64 MatMul and cast back to int32. ORT's own
    uint8 x int8 kernels are exact only with VNNI: on AVX2 they sum pairs of
    products in int16 with saturation (vpmaddubsw). Returns the path, or None
    when the model has no MatMulInteger."""
    from onnx import TensorProto, helper
    proto = onnx.load(model)
    nodes, changed = [], False
    for n in proto.graph.node:
        if n.op_type != "MatMulInteger":
            nodes.append(n)
            continue
        changed = True
        t = n.output[0] + "__exact"
        operands = []
        for i, zp_index in ((0, 2), (1, 3)):
            x = f"{t}_x{i}"
            nodes.append(helper.make_node("Cast", [n.input[i]], [x], to=TensorProto.DOUBLE))
            if len(n.input) > zp_index and n.input[zp_index]:
                z, zs = f"{t}_z{i}", f"{t}_zs{i}"
                nodes.append(helper.make_node("Cast", [n.input[zp_index]], [z],
                                              to=TensorProto.DOUBLE))
                if i == 0:
                    # A's zero point: a scalar or one per row of A.
                    shape = f"{t}_shape"
                    nodes.append(helper.make_node(
                        "Constant", [], [shape],
                        value=helper.make_tensor(shape, TensorProto.INT64, [2], [-1, 1])))
                    nodes.append(helper.make_node("Reshape", [z, shape], [zs]))
                else:
                    zs = z
                d = f"{t}_d{i}"
                nodes.append(helper.make_node("Sub", [x, zs], [d]))
                x = d
            operands.append(x)
        product = f"{t}_p"
        nodes.append(helper.make_node("MatMul", operands, [product]))
        nodes.append(helper.make_node("Cast", [product], [n.output[0]], to=TensorProto.INT32))
    if not changed:
        return None
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    onnx.save(proto, out_path)
    return out_path


def run_model(m, args):
    """Results of one model: [(data set, status, message)]."""
    mid = m["id"]
    sets = m["datasets"] or ["-"]
    if "error" in m:
        return [(s, "error", m["error"]) for s in sets]
    model = os.path.join(args.zoo, m["path"])
    lib = os.path.join(args.work, mid + ".so")
    r = subprocess.run([args.slmc, model, "-o", lib, "--quiet"], capture_output=True,
                       text=True)
    if args.report:
        rep = subprocess.run([args.slmc, model, "--report", "-o", os.devnull],
                             capture_output=True, text=True)
        with open(os.path.join(args.work, mid + ".report.txt"), "w") as f:
            f.write(rep.stdout + rep.stderr)
    if r.returncode != 0:
        return [(s, "error", "slmc: " + first_error(r.stderr + r.stdout)) for s in sets]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        return [(s, "error", "ORT: " + str(e).splitlines()[0]) for s in sets]
    results = []
    for s in sets:
        feeds = dict(np.load(os.path.join(args.zoo, f"{m['family']}.{s}.npz")))
        names = [i.name for i in session.get_inputs()]
        feeds = {k: v for k, v in feeds.items() if k in names}
        try:
            want = session.run(None, feeds)
        except Exception as e:  # noqa: BLE001
            want = None
            ort_error = "ORT: " + str(e).splitlines()[0]
        out_dir = os.path.join(args.work, f"{mid}.{s}.out")
        os.makedirs(out_dir, exist_ok=True)
        cmd = [args.slm_run, lib, "--output-dir", out_dir]
        for k, v in feeds.items():
            path = os.path.join(args.work, f"{mid}.{s}.{k}.npy")
            np.save(path, v)
            cmd += ["--input", f"{k}={path}"]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if want is None:
            # ORT refuses these inputs (e.g. an index out of range): slm must
            # refuse them too, never compute something.
            if r.returncode != 0:
                results.append((s, "error", ort_error + "; slm-run: " +
                                first_error(r.stderr + r.stdout)))
            else:
                results.append((s, "MISMATCH", ort_error + ", but slm-run computed outputs"))
            continue
        if r.returncode != 0:
            results.append((s, "error", "slm-run: " + first_error(r.stderr + r.stdout)))
            continue
        why = ""
        for o, w in zip(session.get_outputs(), want):
            path = os.path.join(out_dir, o.name + ".npy")
            if not os.path.exists(path):
                why = f"no output '{o.name}' written"
                break
            why = compare(m["variant"], np.load(path), w)
            if why:
                why = f"output '{o.name}': {why}"
                break
        def unoptimized_mismatch(path):
            """None when ORT, optimizations off, cannot run `path`; else
            why slm's outputs differ from its outputs ("" when they match)."""
            plain = ort.SessionOptions()
            plain.intra_op_num_threads = 1
            plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            try:
                wants = ort.InferenceSession(path, plain, providers=["CPUExecutionProvider"]).run(None, feeds)
            except Exception:  # noqa: BLE001
                return None
            for o, w in zip(session.get_outputs(), wants):
                differs = compare(m["variant"], np.load(os.path.join(out_dir, o.name + ".npy")), w)
                if differs:
                    return f"output '{o.name}': {differs}"
            return ""

        # ORT's optimizer fuses QDQ pairs into its integer kernels
        # (QLinearMatMul, QAttention ...), which round and requantize in
        # their own order; the graph as written is what ORT computes with its
        # optimizations off (and ONNX's reference evaluator agrees with that
        # one). Without VNNI, ORT's MatMulInteger saturates (see
        # exact_integer_model): quantize_dynamic forms may match ORT with
        # exact integer products instead. slm must match one of them.
        references = []
        if m["variant"] in ("qdq", "qdyn"):
            references.append(("ORT unoptimized", lambda: model))
        if m["variant"] == "qdyn":
            exact = os.path.join(args.work, mid + ".exact.onnx")
            references.append(("ORT with exact integer products", lambda: exact if os.path.exists(
                exact) else exact_integer_model(model, exact)))
        for label, path in references:
            if not why:
                break
            path = path()
            differs = unoptimized_mismatch(path) if path else None
            if differs == "":
                why = ""
            elif differs:
                why += f"; against {label}: {differs}"
        results.append((s, "MISMATCH", why) if why else (s, "ok", ""))
    return results


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slmc")
    p.add_argument("slm_run")
    p.add_argument("zoo")
    p.add_argument("work")
    p.add_argument("--expected")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--only", default="")
    p.add_argument("--report", action="store_true")
    p.add_argument("--verbose", action="store_true", help="progress on stderr")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    manifest = json.load(open(os.path.join(args.zoo, "zoo.json")))
    models = [m for m in manifest["models"] if re.search(args.only, m["id"])]
    expected = load_expected(args.expected)
    start = time.time()
    def job(m):
        results = run_model(m, args)
        if args.verbose:
            for s, status, msg in results:
                print(f"  done {m['id']} {s}: {status} {msg}", file=sys.stderr, flush=True)
        return m, results

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(job, models))
    counts = {}
    failures = []
    for m, results in outcomes:
        for s, status, msg in results:
            entry = None
            # Errors may be listed; so may differences of ORT's int8
            # quantizer forms, as OPEN bugs (reason "OPEN: ..."), never of a
            # plain export.
            open_ok = status == "MISMATCH" and m["variant"] != "plain"
            if status == "error" or open_ok:
                entry = next((e for e in expected if fnmatch.fnmatchcase(m["id"], e["glob"])
                              and e["regex"].search(msg)
                              and (status == "error") != e["reason"].startswith("OPEN:")),
                             None)
            listed = any(fnmatch.fnmatchcase(m["id"], e["glob"]) for e in expected)
            if status == "ok":
                # A listed model is XPASS once every data set passes (a
                # listing covers a model, whose data sets may differ).
                all_ok = all(st == "ok" for _, st, _ in results)
                verdict = "XPASS" if listed and all_ok else "ok"
            elif status == "error" and entry:
                verdict = "XFAIL"
                entry["used"] = True
            elif entry:
                verdict = "OPEN"
                entry["used"] = True
            else:
                verdict = "FAIL" if status == "error" else "MISMATCH"
            key = (m["variant"] == "plain", verdict)
            counts[key] = counts.get(key, 0) + 1
            line = f"{m['id']} {s}: {verdict}"
            if msg:
                line += f": {msg}"
            if entry:
                line += f" [{entry['reason']}]"
            print(line)
            if verdict in ("XPASS", "FAIL", "MISMATCH"):
                failures.append(line)
    plain = [(m, r) for m, r in outcomes if m["variant"] == "plain"]
    fams = {m["family"] for m, _ in plain}
    passing = {m["family"] for m, r in plain if r and all(st == "ok" for _, st, _ in r)}
    ok_plain = counts.get((True, "ok"), 0) + counts.get((True, "XPASS"), 0)
    total_plain = sum(len(r) for _, r in plain)
    ok_var = counts.get((False, "ok"), 0) + counts.get((False, "XPASS"), 0)
    total_var = sum(len(r) for m, r in outcomes if m["variant"] != "plain")
    print(f"plain exports: {ok_plain} of {total_plain} (model x data set) match ORT; "
          f"{len(passing)} of {len(fams)} families pass every opset and data set")
    print(f"ORT-processed variants: {ok_var} of {total_var} match ORT")
    n_open = counts.get((False, "OPEN"), 0)
    print(f"open differences from ORT (listed as OPEN, to be fixed): {n_open}")
    stale = [e for e in expected if not e["used"] and
             not any(fnmatch.fnmatchcase(m["id"], e["glob"]) for m in models)]
    for e in stale:
        if not args.only:
            print(f"note: expected-failure line {e['line']} matches no model")
    print(f"{time.time() - start:.0f} s")
    if failures:
        print(f"{len(failures)} unexpected:")
        for f in failures:
            print("  " + f)
        return 1
    print("0 unexpected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
