"""slm.compile: the slmc compiler from Python.

The keywords `compile` accepts are slmc's options, read from
`slmc --describe-options=json`: the compiler declares each option once
(include/slm/Pipelines/OptionList.h) and its flag, this keyword and the
README's table all come from that declaration.
"""

import json
import os
import subprocess

from ._paths import find_slmc
from ._runtime import SlmError

_DECLARED = {}


def _slmc():
    slmc = find_slmc()
    if slmc is None:
        raise SlmError("slmc not found: install slm (cmake --install), put slmc on "
                       "PATH, or set SLMC")
    return slmc


def compile_options(slmc=None):
    """The options `compile` accepts, as slmc declares them: a dict from the
    Python keyword to {flag, type (bool, int, float, string, enum), default,
    values (enum names), help, group}."""
    slmc = slmc or _slmc()
    if slmc not in _DECLARED:
        result = subprocess.run([slmc, "--describe-options=json"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise SlmError(f"{slmc} --describe-options=json failed: "
                           f"{result.stderr.strip()}")
        _DECLARED[slmc] = {o["python"]: o for o in json.loads(result.stdout)}
    return _DECLARED[slmc]


def _flag(option, value):
    kind = option["type"]
    if kind == "bool":
        if not isinstance(value, bool):
            raise SlmError(f"{option['python']} must be True or False, not {value!r}")
        return f"--{option['flag']}={'true' if value else 'false'}"
    if kind == "enum":
        names = [v["name"] for v in option["values"]]
        if value not in names:
            raise SlmError(f"{option['python']}={value!r}: expected one of "
                           + ", ".join(repr(n) for n in names))
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return f"--{option['flag']}={value}"


def compile(onnx_path, out_path, *, timeout=None, **options):
    """Compiles the ONNX model (or slm IR) at `onnx_path` into the shared
    library `out_path` (or IR, by its extension: .mlir, .ll, .o).

    Keywords are slmc's options with '_' for '-' (`slm.compile_options()`
    lists them with their help; `slmc --help` explains them), for example
    raise_ops, fuse_linear_activation, mcpu, weight_panel, gemm_kernels,
    merge_linears, emit, compile_to; prune_heads / prune_ffn (shares to
    remove), prune_layers, prune_method, prune_allocation,
    prune_reconstruct, quantize ("int8", "w8a8", "int4", "nf4"),
    quant_group_size, quant_symmetric, quant_method ("rtn", "gptq"),
    w8a8_activations, w8a8_max_noise, calibration (folder of samples),
    max_error, compression_report (JSON path). A keyword given as None is
    left at slmc's default.

    report=True returns slmc's raising report (text); when compressing, the
    compression report (text) is returned. Otherwise returns None.
    Raises SlmError with slmc's message when compilation fails.
    """
    slmc = _slmc()
    declared = compile_options(slmc)
    if not os.path.exists(onnx_path):
        raise SlmError(f"'{onnx_path}' does not exist")
    cmd = [slmc, os.fspath(onnx_path), "-o", os.fspath(out_path), "--quiet"]
    for name, value in options.items():
        if name not in declared:
            raise TypeError(f"compile() got an unexpected keyword argument '{name}' "
                            "(slm.compile_options() lists the accepted ones)")
        if value is not None:
            cmd.append(_flag(declared[name], value))
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SlmError(result.stderr.strip() or f"slmc exited with {result.returncode}")
    text = (result.stderr if options.get("report") else "") + result.stdout
    return text or None
