"""Checks that python/slm/_runtime.py agrees with the model ABI header.

usage: check_abi_python.py SLM_MODEL_ABI_H LAYOUT PYTHON_DIR

Reads SLM_DTYPE_LIST and SLM_MAX_RANK from the header, the C layout of
slm_tensor, slm_tensor_info and slm_generate_options from LAYOUT (the output of abi_layout.c),
imports slm._runtime from PYTHON_DIR, and exits 1 with one line per
disagreement.
"""

import ctypes
import importlib
import re
import sys

import numpy as np


def header_dtypes(text):
    """(enumerator, value, name, bytes) of every X(...) in SLM_DTYPE_LIST."""
    body = re.search(r"#define SLM_DTYPE_LIST\(X\)((?:.*\\\n)*.*)", text)
    if not body:
        sys.exit("no SLM_DTYPE_LIST in the header")
    return [(e, int(v), n, int(b)) for e, v, n, b in re.findall(
        r'X\((\w+),\s*(\d+),\s*"([^"]*)",\s*(\d+)\)', body.group(1))]


def main():
    abi_path, layout_path, python_dir = sys.argv[1:4]
    text = open(abi_path).read()
    dtypes = header_dtypes(text)
    max_rank = int(re.search(r"#define SLM_MAX_RANK (\d+)", text).group(1))
    sys.path.insert(0, python_dir)
    runtime = importlib.import_module("slm._runtime")

    problems = []
    values = [v for _, v, _, _ in dtypes]
    if values != list(range(len(dtypes))):
        problems.append(f"header dtype values {values} are not 0, 1, 2, ...")
    if len(runtime._DTYPE_NAMES) != len(dtypes):
        problems.append(f"_runtime.py has {len(runtime._DTYPE_NAMES)} dtypes, "
                        f"the header {len(dtypes)}")
    for enumerator, value, name, size in dtypes:
        if value >= len(runtime._DTYPE_NAMES):
            continue
        got = runtime._DTYPE_NAMES[value]
        if got != name:
            problems.append(f"{enumerator} = {value}: the header says '{name}', "
                            f"_runtime.py '{got}'")
            continue
        numpy_type = runtime._DTYPES[value]
        if numpy_type is not None and np.dtype(numpy_type).itemsize != size:
            problems.append(f"{enumerator}: {size} bytes in the header, numpy's "
                            f"{name} has {np.dtype(numpy_type).itemsize}")
    if runtime._MAX_RANK != max_rank:
        problems.append(f"SLM_MAX_RANK is {max_rank}, _runtime.py says "
                        f"{runtime._MAX_RANK}")
    # The ctypes mirrors of slm_tensor and slm_tensor_info.
    layout = dict(line.split() for line in open(layout_path) if line.strip())
    if ctypes.sizeof(ctypes.c_int) != int(layout["slm_dtype"]):
        problems.append(f"slm_dtype is {layout['slm_dtype']} bytes in C, the "
                        f"ctypes.c_int _runtime.py uses {ctypes.sizeof(ctypes.c_int)}")
    for struct, name in ((runtime._Tensor, "slm_tensor"),
                         (runtime._TensorInfo, "slm_tensor_info"),
                         (runtime._GenerateOptions, "slm_generate_options")):
        c_fields = [k.split(".", 1)[1] for k in layout if k.startswith(name + ".")]
        py_fields = [f for f, _ in struct._fields_]
        if c_fields != py_fields:
            problems.append(f"{name} has fields {c_fields} in C, "
                            f"{struct.__name__} {py_fields}")
            continue
        for field in c_fields:
            c_offset = int(layout[f"{name}.{field}"])
            if getattr(struct, field).offset != c_offset:
                problems.append(f"{name}.{field} is at offset {c_offset} in C, "
                                f"{getattr(struct, field).offset} in {struct.__name__}")
        if ctypes.sizeof(struct) != int(layout[name]):
            problems.append(f"{name} is {layout[name]} bytes in C, "
                            f"{struct.__name__} {ctypes.sizeof(struct)}")
    for p in problems:
        print("mismatch:", p)
    if problems:
        sys.exit(1)
    print(f"{len(dtypes)} dtypes, SLM_MAX_RANK {max_rank}, slm_tensor, "
          "slm_tensor_info and slm_generate_options agree")


if __name__ == "__main__":
    main()
