#!/usr/bin/env python3
"""Dense CPU speed: slm against ONNX Runtime, OpenVINO and IREE, in one run.

    bench/bench.py [--threads 2] [--rounds 3] [--load] [--out DIR] [--smoke]
                   [--only CASE...] [--engines ENGINE...]

Every engine runs the same ONNX model (exported once from the same seeded
PyTorch module) on the same inputs, warm, with the same thread count, each
in its own process (so peak memory is its own), in rotated rounds (round r
starts with engine r): a case's latency is the median over all rounds'
repetitions. Every engine's first output is compared with ONNX Runtime's
(largest absolute difference, and relative to the largest |ORT| value).

Engines: slm; "slm bf16" (slmc --precision=bf16: linear layers on
AVX512-BF16's vdpbf16ps; in the default set where the CPU has it); onnxruntime (ORT_ENABLE_ALL, intra-op threads, inter-op 1);
"openvino f32" (INFERENCE_PRECISION_HINT f32, LATENCY hint) and "openvino"
(its default precision: bf16 on a CPU with AVX512-BF16); "iree" (llvm-cpu,
host CPU) and "iree dt+uk" (with --iree-opt-data-tiling and
--iree-llvmcpu-enable-ukernels=all), compiled for the case's static shapes.
The peers come from .venv-peers (scripts/install-peers.sh); without it ONNX
Runtime from .venv is the only peer, and the table says which were skipped.

--int8 adds the int8 engines (not in the default set): "slm w8a8" (slmc
--quantize=w8a8: int8 weights, activations quantized per token as the model
runs, VNNI products), "onnxruntime int8" (ONNX Runtime on the model its own
quantize_dynamic makes: int8 weights, uint8 activations per tensor) and
"openvino int8" (NNCF 3.4's post-training quantize, ModelType.TRANSFORMER,
on 32 random-token samples of the case's shape: int8 weights and static
activation scales). Their error is against ORT on the fp32 model, their
ratio against the fastest int8 peer; they are left out of the fp32 ratios.

--load runs every case a second time with a busy process pinned to the last
core (another program holding a core) and reports each engine's loaded
latency over its idle one.

Prints a table (median ms, GFLOP/s, fraction of this machine's measured fp32
FMA peak, peak RSS, error vs ORT, slm over the fastest peer), writes
DIR/bench.json, DIR/bench.md (the table in Markdown) and DIR/bench.png.
--smoke runs a tiny model once: it checks the harness, not speed.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

CASES = {  # name: (model, batch, seq)
    "linear 128x768x3072": ("linear", 1, 128),
    "bert-base b1 s7": ("bert-base", 1, 7),
    "bert-base b1 s128": ("bert-base", 1, 128),
    "bert-base b8 s128": ("bert-base", 8, 128),
    "gpt2 prefill 128": ("gpt2", 1, 128),
    "minilm b1 s32": ("minilm", 1, 32),
    "minilm b8 s128": ("minilm", 8, 128),
    "minilm b32 s128": ("minilm", 32, 128),
}
SMOKE = {"tiny-bert b2 s16": ("tiny-bert", 2, 16)}
# Int8 engines, run with --int8.
INT8_ENGINES = ["slm w8a8", "onnxruntime int8", "openvino int8"]
ENGINES = ["slm", "slm bf16", "onnxruntime", "openvino f32", "openvino", "iree", "iree dt+uk",
           *INT8_ENGINES]
# slmc's flags per slm engine.
SLM_FLAGS = {"slm": [], "slm bf16": ["--precision=bf16"], "slm w8a8": ["--quantize=w8a8"]}
# Not fp32: OpenVINO's default is bf16 where the CPU has AVX512-BF16.
NOT_FP32 = {"openvino", "slm bf16", *INT8_ENGINES}


def cpu_has(flag):
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and flag in line.split() for line in f)
    except OSError:
        return False
PEER_VENV = os.path.join(ROOT, ".venv-peers", "bin", "python")
IREE_FLAGS = {
    "iree": [],
    "iree dt+uk": ["--iree-opt-data-tiling", "--iree-llvmcpu-enable-ukernels=all"],
}


def inputs_for(names, batch, seq):
    import numpy as np
    rng = np.random.default_rng(0)
    if names == ["hidden"]:
        return {"hidden": rng.standard_normal((batch, seq, 768)).astype(np.float32)}
    feeds = {"input_ids": rng.integers(1000, 2000, (batch, seq)).astype(np.int64)}
    if "attention_mask" in names:
        feeds["attention_mask"] = np.ones((batch, seq), np.int64)
    return feeds


def input_names(model_name):
    return ["hidden"] if model_name == "linear" else (
        ["input_ids"] if model_name == "gpt2" else ["input_ids", "attention_mask"])


def rep_times(fn, reps, budget):
    """Repetition times after one warm run: `reps` of them, fewer (at least
    2) when `budget` seconds run out."""
    fn()  # warm
    times = []
    start = time.perf_counter()
    while len(times) < reps and (len(times) < 2 or time.perf_counter() - start < budget):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def timed(fn, reps, budget):
    """The median repetition time of rep_times and how many ran."""
    times = rep_times(fn, reps, budget)
    return statistics.median(times), len(times)


def peak_rss_mb():
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it
    does not inherit the parent's peak across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_output(engine, lib, onnx_path, threads):
    """A function of the feeds returning the first output of `engine`: an
    slm library ("slm ...": `lib`) or ONNX Runtime on `onnx_path`
    (ORT_ENABLE_ALL, `threads` intra-op threads, inter-op 1)."""
    if engine.startswith("slm"):
        import slm
        m = slm.load(lib, num_threads=threads)
        return lambda feeds: list(m.run(feeds).values())[0]
    s = ort_session(onnx_path, threads)
    return lambda feeds: s.run(None, feeds)[0]


def ort_session(onnx_path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])


def iree_module(onnx_path, case_dir, names, feeds, flags, threads):
    """IREE's compiled function for the case's static shapes (the .vmfb is
    cached in `case_dir`)."""
    import numpy as np
    import onnx
    import iree.runtime as ireert
    from iree.compiler import compile_file
    tag = "dt-uk" if flags else "plain"
    vmfb = os.path.join(case_dir, f"iree-{tag}.vmfb")
    if not os.path.exists(vmfb):
        model = onnx.load(onnx_path)
        for value in model.graph.input:
            dims = value.type.tensor_type.shape.dim
            for d, extent in zip(dims, feeds[value.name].shape):
                d.ClearField("dim_param")
                d.dim_value = extent
        static = os.path.join(case_dir, "static.onnx")
        onnx.save(model, static)
        mlir = os.path.join(case_dir, "static.mlir")
        subprocess.run([sys.executable, "-m", "iree.compiler.tools.import_onnx", static, "-o", mlir],
                       check=True, capture_output=True, text=True)
        compile_file(mlir, output_file=vmfb, target_backends=["llvm-cpu"],
                     extra_args=["--iree-llvmcpu-target-cpu=host"] + flags)
    ireert.flags.parse_flags(f"--task_topology_max_group_count={threads}")
    config = ireert.Config("local-task")
    ctx = ireert.SystemContext(config=config)
    with open(vmfb, "rb") as f:
        ctx.add_vm_module(ireert.VmModule.copy_buffer(config.vm_instance, f.read()))
    # The importer names the function after the ONNX graph.
    graph = onnx.load(onnx_path, load_external_data=False).graph.name
    fn = ctx.modules.module[graph or "main_graph"]
    args = [feeds[n] for n in names]
    return lambda: fn(*args), lambda result: np.asarray(
        (result[0] if isinstance(result, (list, tuple)) else result).to_host())


def ort_int8(onnx_path):
    """quantize_dynamic's model of `onnx_path`, made once next to it."""
    quantized = onnx_path[:-len(".onnx")] + "-qdyn.onnx"
    if not os.path.exists(quantized):
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(onnx_path, quantized + ".part", weight_type=QuantType.QInt8)
        os.replace(quantized + ".part", quantized)
    return quantized


def openvino_int8(args, names, batch, seq):
    """NNCF's post-training int8 model of args.onnx, calibrated on 32
    random-token samples of the case's shape (cached in the case's folder)."""
    import numpy as np
    xml = os.path.join(args.case_dir, "openvino-int8.xml")
    if not os.path.exists(xml):
        import nncf
        import openvino as ov
        rng = np.random.default_rng(1)
        samples = []
        for _ in range(32):
            if names == ["hidden"]:
                samples.append({"hidden": rng.standard_normal((batch, seq, 768)).astype(np.float32)})
                continue
            sample = {"input_ids": rng.integers(1000, 2000, (batch, seq)).astype(np.int64)}
            if "attention_mask" in names:
                sample["attention_mask"] = np.ones((batch, seq), np.int64)
            samples.append(sample)
        model = ov.Core().read_model(args.onnx)
        quantized = nncf.quantize(model, nncf.Dataset(samples), subset_size=len(samples),
                                  model_type=nncf.ModelType.TRANSFORMER)
        ov.save_model(quantized, xml + ".part.xml")
        os.replace(xml + ".part.bin", xml[:-len(".xml")] + ".bin")
        os.replace(xml + ".part.xml", xml)
    return xml


def worker(args):
    """One engine on one case: its repetition times and peak memory (JSON on
    stdout); its first output in args.save."""
    import numpy as np
    model_name, batch, seq = args.case
    names = input_names(model_name)
    feeds = inputs_for(names, int(batch), int(seq))
    engine = args.engine
    if args.prepare:
        # The int8 peers' quantized models, made in a process of their own
        # so that the timed processes' peak memory is the engine's alone.
        if engine == "onnxruntime int8":
            ort_int8(args.onnx)
        elif engine == "openvino int8":
            openvino_int8(args, names, int(batch), int(seq))
        print(json.dumps({}))
        return
    if engine in SLM_FLAGS:
        import slm
        m = slm.load(args.lib, num_threads=args.threads)
        fn = lambda: m.run(feeds)
        first = lambda r: list(r.values())[0]
    elif engine == "onnxruntime":
        s = ort_session(args.onnx, args.threads)
        fn = lambda: s.run(None, feeds)
        first = lambda r: r[0]
    elif engine == "onnxruntime int8":
        s = ort_session(ort_int8(args.onnx), args.threads)
        fn = lambda: s.run(None, feeds)
        first = lambda r: r[0]
    elif engine.startswith("openvino"):
        import openvino as ov
        config = {"INFERENCE_NUM_THREADS": args.threads, "PERFORMANCE_HINT": "LATENCY"}
        if engine == "openvino f32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        model = args.onnx
        if engine == "openvino int8":
            model = openvino_int8(args, names, int(batch), int(seq))
        compiled = ov.Core().compile_model(model, "CPU", config)
        request = compiled.create_infer_request()
        fn = lambda: request.infer(feeds)
        first = lambda r: np.array(request.get_output_tensor(0).data)
    elif engine in IREE_FLAGS:
        fn, first = iree_module(args.onnx, args.case_dir, names, feeds, IREE_FLAGS[engine],
                                args.threads)
    else:
        raise SystemExit(f"unknown engine {engine!r}")
    np.save(args.save, np.asarray(first(fn()), dtype=np.float32))
    times = rep_times(fn, args.reps, args.budget)
    print(json.dumps({"times_s": times, "peak_rss_mb": peak_rss_mb()}))


def run_worker(engine, case, case_dir, onnx_path, lib, args, save, prepare=False):
    python = args.slm_python if engine in SLM_FLAGS else args.peer_python
    cmd = [python, os.path.abspath(__file__), "--worker", engine, "--case", *map(str, case),
           "--onnx", onnx_path, "--case-dir", case_dir, "--save", save,
           "--threads", str(args.threads), "--reps", str(args.reps), "--budget", str(args.budget)]
    if prepare:
        cmd.append("--prepare")
    if engine in SLM_FLAGS:
        cmd += ["--lib", lib[engine]]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return {"error": lines[-1][-200:] if lines else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


class Busy:
    """A process spinning on the last core for the duration of a `with`."""

    def __enter__(self):
        core = (os.cpu_count() or 1) - 1
        code = f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True: pass\n"
        self.process = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()


def measure(cases_dirs, engines, args, loaded):
    """{case: {engine: {"median_s", "reps", "peak_rss_mb"} or {"error"}}} over
    rotated rounds; saves each engine's first output in the case's folder."""
    out = {}
    for case, (spec, case_dir, onnx_path, lib) in cases_dirs.items():
        times = {e: [] for e in engines}
        rss = {e: 0.0 for e in engines}
        errors = {}
        for engine in engines:
            if engine in ("onnxruntime int8", "openvino int8"):
                m = run_worker(engine, spec, case_dir, onnx_path, lib, args, "", prepare=True)
                if "error" in m:
                    errors[engine] = m["error"]
        for r in range(args.rounds):
            order = engines[r % len(engines):] + engines[:r % len(engines)]
            for engine in order:
                if engine in errors:
                    continue
                save = os.path.join(case_dir, engine.replace(" ", "_").replace("+", "") + ".npy")
                m = run_worker(engine, spec, case_dir, onnx_path, lib, args, save)
                if "error" in m:
                    errors[engine] = m["error"]
                    continue
                times[engine] += m["times_s"]
                rss[engine] = max(rss[engine], m["peak_rss_mb"])
        out[case] = {}
        for e in engines:
            if e in errors:
                out[case][e] = {"error": errors[e]}
            else:
                out[case][e] = {"median_s": statistics.median(times[e]), "reps": len(times[e]),
                                "peak_rss_mb": rss[e]}
        label = "loaded" if loaded else "idle"
        print(f"  {case} ({label}): " + ", ".join(
            f"{e} {v['median_s'] * 1e3:.2f} ms" if "median_s" in v else f"{e} failed"
            for e, v in out[case].items()), flush=True)
    return out


def compare(case_dir, engine):
    import numpy as np
    ref = np.load(os.path.join(case_dir, "onnxruntime.npy"))
    got = np.load(os.path.join(case_dir, engine.replace(" ", "_").replace("+", "") + ".npy"))
    if got.shape != ref.shape:
        return {"error_vs_ort": None, "shape": list(got.shape)}
    err = float(np.max(np.abs(got.astype(np.float64) - ref)))
    return {"error_vs_ort": err, "relative_error_vs_ort": err / max(float(np.max(np.abs(ref))), 1e-30)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--only", nargs="*", help="cases whose name contains one of these")
    p.add_argument("--engines", nargs="*", help="engines to run (default: every one installed)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=10, help="repetitions per engine and round")
    p.add_argument("--budget", type=float, default=30.0, help="seconds per engine, case and round")
    p.add_argument("--load", action="store_true", help="also measure with a busy process on one core")
    p.add_argument("--int8", action="store_true",
                   help="add the int8 engines: " + ", ".join(INT8_ENGINES))
    p.add_argument("--minilm", default=os.path.join(ROOT, "build", "models", "minilm", "model"))
    p.add_argument("--slmc", default=os.path.join(ROOT, "build", "bin", "slmc"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--case-dir", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    p.add_argument("--lib", help=argparse.SUPPRESS)
    p.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        args.engine = args.worker
        return worker(args)

    os.makedirs(args.out, exist_ok=True)
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    args.slm_python = venv if os.path.exists(venv) else sys.executable
    have_peers = os.path.exists(PEER_VENV)
    args.peer_python = PEER_VENV if have_peers else args.slm_python
    engines = args.engines or [e for e in (ENGINES if have_peers else ["slm", "slm bf16", "onnxruntime"])
                               if (e != "slm bf16" or cpu_has("avx512_bf16"))
                               and e not in INT8_ENGINES]
    if args.int8:
        engines += [e for e in INT8_ENGINES if e not in engines and (
            have_peers or e != "openvino int8")]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        p.error(f"unknown engines {unknown}; known: {ENGINES}")
    if "onnxruntime" not in engines:
        engines = ["onnxruntime"] + engines  # the reference of every error
    if not have_peers and set(engines) - {"slm", "slm bf16", "onnxruntime", "slm w8a8",
                                          "onnxruntime int8"}:
        p.error("OpenVINO and IREE need scripts/install-peers.sh (.venv-peers)")
    skipped = [e for e in ENGINES if e not in engines and (args.int8 or e not in INT8_ENGINES)]
    os.environ.setdefault("SLMC", args.slmc)
    cases = SMOKE if args.smoke else CASES
    if args.smoke:
        args.reps, args.budget, args.rounds = 1, 1.0, 1
    if args.only:
        cases = {k: v for k, v in cases.items() if any(o in k for o in args.only)}

    # This machine's fp32 FMA peak with the same thread count.
    peak_bin = os.path.join(args.out, "peak_fma")
    subprocess.run(["cc", "-O3", "-march=native", "-pthread", os.path.join(HERE, "peak_fma.c"),
                    "-o", peak_bin], check=True)
    peak = json.loads(subprocess.run([peak_bin, str(args.threads), "0.3" if args.smoke else "2"],
                                     capture_output=True, text=True, check=True).stdout)["gflops"]
    print(f"machine fp32 FMA peak: {peak:.1f} GFLOP/s on {args.threads} threads")
    print(f"engines: {', '.join(engines)}" + (f" (not run: {', '.join(skipped)})" if skipped else ""))

    sys.path.insert(0, HERE)
    from models import export, build, flops
    results = {"threads": args.threads, "peak_gflops": peak, "rounds": args.rounds,
               "engines": engines, "cases": {}}
    compiled, prepared = {}, {}
    for case, (model_name, batch, seq) in cases.items():
        if model_name == "minilm" and not os.path.exists(os.path.join(args.minilm, "config.json")):
            print(f"{case}: skipped (no all-MiniLM-L6-v2; run scripts/fetch-minilm.sh)")
            continue
        onnx_path = os.path.join(args.out, model_name + ".onnx")
        if not os.path.exists(onnx_path):
            export(model_name, onnx_path, args.minilm)
        failed = False
        for engine in [e for e in engines if e in SLM_FLAGS]:
            if (model_name, engine) in compiled:
                continue
            suffix = "" if engine == "slm" else "-" + engine.split()[-1]
            lib = os.path.join(args.out, model_name + suffix + ".so")
            start = time.perf_counter()
            r = subprocess.run(["/usr/bin/time", "-f", "%M", os.environ["SLMC"], onnx_path, "-o", lib,
                                *SLM_FLAGS[engine]], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{case}: slmc {' '.join(SLM_FLAGS[engine])} failed: {r.stderr.strip()[-300:]}")
                failed = True
                break
            compiled[model_name, engine] = {
                "lib": lib, "compile_s": time.perf_counter() - start,
                "compile_peak_mb": int(r.stderr.strip().splitlines()[-1]) / 1024}
        if failed:
            continue
        libs = {e: compiled[model_name, e]["lib"] for e in engines if e in SLM_FLAGS}
        first_slm = compiled[model_name, next(e for e in engines if e in SLM_FLAGS)] \
            if any(e in SLM_FLAGS for e in engines) else {"compile_s": 0.0, "compile_peak_mb": 0.0}
        cfg = build(model_name, args.minilm)[2]
        case_dir = os.path.join(args.out, case.replace(" ", "_"))
        os.makedirs(case_dir, exist_ok=True)
        prepared[case] = ((model_name, batch, seq), case_dir, onnx_path, libs)
        results["cases"][case] = {"batch": batch, "seq": seq, "gflop": flops(cfg, batch, seq) / 1e9,
                                  "compile_s": first_slm["compile_s"],
                                  "compile_peak_mb": first_slm["compile_peak_mb"]}

    idle = measure(prepared, engines, args, loaded=False)
    loaded = None
    if args.load:
        with Busy():
            loaded = measure(prepared, engines, args, loaded=True)

    int8_column = "slm w8a8" in engines
    md = ["| case | " + " | ".join(engines) + " | slm / fastest fp32 peer | slm / fastest peer |" + (
        " slm w8a8 / fastest int8 peer |" if int8_column else "") + (
        " slm loaded/idle | ORT loaded/idle |" if loaded else ""),
        "|---|" + "---|" * (len(engines) + 2 + int8_column) + ("---|---|" if loaded else "")]
    for case, row in results["cases"].items():
        _, case_dir, _, _ = prepared[case]
        gflop = row["gflop"]
        line, cells = f"{case:20s}", []
        for e in engines:
            m = dict(idle[case][e])
            if "median_s" in m:
                m["gflops"] = gflop / m["median_s"]
                m["peak_fraction"] = m["gflops"] / peak
                m.update(compare(case_dir, e))
                if loaded and "median_s" in loaded[case][e]:
                    m["loaded_median_s"] = loaded[case][e]["median_s"]
                    m["loaded_over_idle"] = m["loaded_median_s"] / m["median_s"]
            row[e] = m
            if "median_s" in m:
                err = m["error_vs_ort"]
                line += (f" | {e} {m['median_s'] * 1e3:8.2f} ms {100 * m['peak_fraction']:5.1f}% "
                         f"{m['peak_rss_mb']:5.0f} MB err {err:.1e}" if err is not None else
                         f" | {e} {m['median_s'] * 1e3:8.2f} ms (output shape {m['shape']})")
                if "loaded_over_idle" in m:
                    line += f" loaded {m['loaded_over_idle']:.2f}x"
                cells.append(f"{m['median_s'] * 1e3:.2f} ms, {m['peak_rss_mb']:.0f} MB")
            else:
                line += f" | {e} failed: {m['error']}"
                cells.append("failed")
        peers = [(row[e]["median_s"], e) for e in engines
                 if e not in SLM_FLAGS and e not in INT8_ENGINES and "median_s" in row[e]]
        peers8 = [(row[e]["median_s"], e) for e in INT8_ENGINES
                  if e in engines and e not in SLM_FLAGS and "median_s" in row[e]]
        ratio8 = ""
        if "median_s" in row.get("slm w8a8", {}) and peers8:
            fastest8_s, fastest8 = min(peers8)
            row["fastest_int8_peer"] = fastest8
            row["slm_w8a8_over_fastest_int8_peer"] = row["slm w8a8"]["median_s"] / fastest8_s
            ratio8 = f"{row['slm_w8a8_over_fastest_int8_peer']:.2f}x ({fastest8})"
        ratio = ratio32 = ""
        if "median_s" in row.get("slm", {}) and peers:
            fastest_s, fastest = min(peers)
            fastest32_s, fastest32 = min(p for p in peers if p[1] not in NOT_FP32)
            row["fastest_peer"] = fastest
            row["slm_over_fastest_peer"] = row["slm"]["median_s"] / fastest_s
            row["fastest_fp32_peer"] = fastest32
            row["slm_over_fastest_fp32_peer"] = row["slm"]["median_s"] / fastest32_s
            row["slm_over_onnxruntime"] = row["slm"]["median_s"] / row["onnxruntime"]["median_s"]
            ratio = f"{row['slm_over_fastest_peer']:.2f}x ({fastest})"
            ratio32 = f"{row['slm_over_fastest_fp32_peer']:.2f}x ({fastest32})"
            line += (f" | slm/fastest fp32 peer {ratio32} | slm/fastest peer {ratio}"
                     f" | slm/ORT {row['slm_over_onnxruntime']:.2f}x")
        if "median_s" in row.get("slm bf16", {}) and peers:
            fastest_s, fastest = min(peers)
            row["slm_bf16_over_fastest_peer"] = row["slm bf16"]["median_s"] / fastest_s
            line += f" | slm bf16/fastest peer {row['slm_bf16_over_fastest_peer']:.2f}x ({fastest})"
        if ratio8:
            line += f" | slm w8a8/fastest int8 peer {ratio8}"
        mdline = f"| {case} | " + " | ".join(cells) + f" | {ratio32} | {ratio} |" + (
            f" {ratio8} |" if int8_column else "")
        if loaded:
            load_cells = [f"{row[e]['loaded_over_idle']:.2f}x" if "loaded_over_idle" in row.get(e, {})
                          else "-" for e in ("slm", "onnxruntime")]
            mdline += " " + " | ".join(load_cells) + " |"
        md.append(mdline)
        line += f" | compile {row['compile_s']:.1f} s {row['compile_peak_mb']:.0f} MB"
        print(line, flush=True)
    print("\n".join(md))
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        names = list(results["cases"])
        fig, ax = plt.subplots(figsize=(11, 4))
        width = 0.8 / len(engines)
        for i, engine in enumerate(engines):
            values = [results["cases"][n][engine].get("median_s", 0) * 1e3 for n in names]
            ax.bar([x + (i - (len(engines) - 1) / 2) * width for x in range(len(names))], values,
                   width, label=engine)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=15)
        ax.set_ylabel("median latency (ms, log)")
        ax.set_yscale("log")
        ax.set_title(f"dense fp32, {args.threads} threads (lower is better)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "bench.png"), dpi=100)
        print(f"wrote {args.out}/bench.json, bench.md and bench.png")
    except ImportError:
        print(f"wrote {args.out}/bench.json and bench.md (no matplotlib: no chart)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
