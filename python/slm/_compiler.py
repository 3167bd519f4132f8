"""slm.compile: the slmc compiler from Python."""

import os
import subprocess

from ._paths import find_slmc
from ._runtime import SlmError


def compile(onnx_path, out_path, *, raise_ops=True, fuse_linear_activation=True,
            mcpu=None, report=False, timeout=None, prune_heads=0.0, prune_ffn=0.0,
            prune_layers=0, prune_method=None, prune_allocation=None,
            calibration=None, max_error=None, compression_report=None):
    """Compiles the ONNX model at `onnx_path` into the shared library
    `out_path` (or IR, by its extension: .mlir, .ll, .o).

    raise_ops: raise linear layers, layer norms, GELUs and attention
        (slmc --raise); fuse_linear_activation: fuse GELU/ReLU epilogues;
    mcpu: an LLVM CPU name (default: this machine);
    report: return slmc's raising report (text) instead of None.
    Compression (see `slmc --help`): prune_heads / prune_ffn (shares to
    remove), prune_layers (blocks to drop), prune_method ("magnitude",
    "wanda", "flap"), prune_allocation ("uniform", "global"), calibration
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
    if prune_heads:
        cmd.append(f"--prune-heads={prune_heads}")
    if prune_ffn:
        cmd.append(f"--prune-ffn={prune_ffn}")
    if prune_layers:
        cmd.append(f"--prune-layers={prune_layers}")
    if prune_method:
        cmd.append(f"--prune-method={prune_method}")
    if prune_allocation:
        cmd.append(f"--prune-allocation={prune_allocation}")
    if calibration:
        cmd.append(f"--calibration={os.fspath(calibration)}")
    if max_error is not None:
        cmd.append(f"--max-error={max_error}")
    if compression_report:
        cmd.append(f"--compression-report={os.fspath(compression_report)}")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SlmError(result.stderr.strip() or f"slmc exited with {result.returncode}")
    text = (result.stderr if report else "") + result.stdout
    return text or None
