"""slm.compile: the slmc compiler from Python."""

import os
import subprocess

from ._paths import find_slmc
from ._runtime import SlmError


def compile(onnx_path, out_path, *, raise_ops=True, fuse_linear_activation=True,
            mcpu=None, report=False, timeout=None):
    """Compiles the ONNX model at `onnx_path` into the shared library
    `out_path` (or IR, by its extension: .mlir, .ll, .o).

    raise_ops: raise linear layers, layer norms, GELUs and attention
        (slmc --raise); fuse_linear_activation: fuse GELU/ReLU epilogues;
    mcpu: an LLVM CPU name (default: this machine);
    report: return slmc's raising report (text) instead of None.
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
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SlmError(result.stderr.strip() or f"slmc exited with {result.returncode}")
    return result.stderr if report else None
