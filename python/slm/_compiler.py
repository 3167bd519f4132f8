"""slm.compile: the slmc compiler from Python."""

import os
import subprocess

from ._paths import find_slmc
from ._runtime import SlmError


def compile(onnx_path, out_path, *, raise_ops=True, fuse_linear_activation=True,
            mcpu=None, report=False, timeout=None, prune_heads=None, prune_ffn=None,
            prune_layers=None, prune_method=None, prune_allocation=None,
            prune_reconstruct=False, quantize=None, quant_group_size=None,
            quant_symmetric=None, w8a8_activations=None, w8a8_max_noise=None,
            calibration=None, max_error=None, compression_report=None):
    """Compiles the ONNX model at `onnx_path` into the shared library
    `out_path` (or IR, by its extension: .mlir, .ll, .o).

    raise_ops: raise linear layers, layer norms, GELUs and attention
        (slmc --raise); fuse_linear_activation: fuse GELU/ReLU epilogues;
    mcpu: an LLVM CPU name (default: this machine);
    report: return slmc's raising report (text) instead of None.
    Compression (see `slmc --help`): prune_heads / prune_ffn (shares to
    remove), prune_layers (blocks to drop), prune_method ("magnitude",
    "wanda", "flap"), prune_allocation ("uniform", "global"),
    prune_reconstruct (least-squares refit), quantize ("int8", "w8a8",
    "int4", "nf4"), quant_group_size (int4/NF4 input features per scale,
    default 128), quant_symmetric (int4 without zero points, default True),
    w8a8_activations ("per-token", "minmax", "percentile"), w8a8_max_noise
    (keep f32 inputs where calibration predicts more noise), calibration
    (folder of samples), max_error (fail above this relative output
    error), compression_report (JSON path; a .svg chart beside it). When
    compressing, the compression report (text) is returned.
    Raises SlmError with slmc's message when compilation fails.
    """
    slmc = find_slmc()
    if slmc is None:
        raise SlmError("slmc not found: set SLMC or SLM_HOME, or put slmc on PATH")
    if not os.path.exists(onnx_path):
        raise SlmError(f"'{onnx_path}' does not exist")
    cmd = [slmc, os.fspath(onnx_path), "-o", os.fspath(out_path),
           f"--raise={'true' if raise_ops else 'false'}",
           f"--fuse-linear-activation={'true' if fuse_linear_activation else 'false'}"]
    if mcpu:
        cmd.append(f"--mcpu={mcpu}")
    if report:
        cmd.append("--report")
    # Compression options, passed on as slmc flags when given.
    options = {"prune-heads": prune_heads, "prune-ffn": prune_ffn,
               "prune-layers": prune_layers, "prune-method": prune_method,
               "prune-allocation": prune_allocation, "quantize": quantize,
               "quant-group-size": quant_group_size,
               "quant-symmetric": (None if quant_symmetric is None
                                   else "true" if quant_symmetric else "false"),
               "w8a8-activations": w8a8_activations, "w8a8-max-noise": w8a8_max_noise,
               "calibration": calibration, "max-error": max_error,
               "compression-report": compression_report}
    for flag, value in options.items():
        if value is not None:
            cmd.append(f"--{flag}={os.fspath(value) if isinstance(value, os.PathLike) else value}")
    if prune_reconstruct:
        cmd.append("--prune-reconstruct")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SlmError(result.stderr.strip() or f"slmc exited with {result.returncode}")
    text = (result.stderr if report else "") + result.stdout
    return text or None
