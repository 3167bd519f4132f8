"""The slm runtime (libslmrt) through ctypes."""

import ctypes
import os
from dataclasses import dataclass

import numpy as np

from ._paths import find_runtime

# The model ABI (include/slm/Runtime/slm_model_abi.h) spelled again for
# ctypes; test/runtime/abi-python.test fails when they disagree.
_MAX_RANK = 8  # SLM_MAX_RANK
# SLM_DTYPE_LIST: the dtype names, indexed by slm_dtype value.
_DTYPE_NAMES = ["float32", "float64", "float16", "bfloat16", "int8", "int16",
                "int32", "int64", "bool", "uint8", "uint16", "uint32", "uint64"]
# The numpy type of each slm_dtype value (None: bfloat16 has no numpy type;
# its tensors travel as uint16 arrays of the bits).
_DTYPES = [None if n == "bfloat16" else np.dtype(n).type for n in _DTYPE_NAMES]
_BFLOAT16 = _DTYPE_NAMES.index("bfloat16")


# slm_status (include/slm/Runtime/slmrt.h) values Python tells apart.
_STATUS_RUN_CHECK = 7  # SLM_ERROR_RUN_CHECK


class SlmError(RuntimeError):
    """A compilation or run-time failure, with slm's message. `status` is
    the runtime's slm_status (0 where the failure is not the runtime's)."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.status = status


class RunTimeCheckError(SlmError):
    """The model failed a run-time check (an index out of range, ...): the
    message names the node; the run's outputs were discarded."""


class _Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * _MAX_RANK), ("data", ctypes.c_void_p),
                ("owner", ctypes.c_void_p)]


class _OwnedOutput:
    """An output buffer the runtime allocated, seen by NumPy without a copy
    (through __array_interface__); released when the last array using it
    goes away."""

    def __init__(self, lib, tensor, shape, dtype):
        self._lib, self._tensor = lib, tensor
        self.__array_interface__ = {"data": (tensor.data, False), "shape": shape,
                                    "typestr": dtype.str, "version": 3}

    def __del__(self):
        self._lib.slm_tensor_release(ctypes.byref(self._tensor))


class _TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("shape", ctypes.c_int64 * _MAX_RANK),
                ("dims", ctypes.c_char_p * _MAX_RANK)]


_lib = None


def _library():
    global _lib
    if _lib is None:
        path = find_runtime()
        if path is None:
            raise SlmError("libslmrt.so not found: set SLM_RUNTIME or SLM_HOME")
        lib = ctypes.CDLL(path)
        lib.slm_model_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                       ctypes.c_char_p, ctypes.c_size_t]
        lib.slm_model_close.argtypes = [ctypes.c_void_p]
        lib.slm_model_num_inputs.argtypes = [ctypes.c_void_p]
        lib.slm_model_num_outputs.argtypes = [ctypes.c_void_p]
        for f in (lib.slm_model_input_info, lib.slm_model_output_info):
            f.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(_TensorInfo)]
        lib.slm_model_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.c_int32,
                                      ctypes.POINTER(_Tensor), ctypes.c_int32,
                                      ctypes.c_char_p, ctypes.c_size_t]
        lib.slm_tensor_release.argtypes = [ctypes.POINTER(_Tensor)]
        lib.slm_model_set_num_threads.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        _lib = lib
    return _lib


@dataclass(frozen=True)
class TensorInfo:
    """An input or output: name, numpy dtype, shape (None where dynamic),
    and dimension names ("batch", "seq"; "" where unnamed)."""
    name: str
    dtype: np.dtype
    shape: tuple
    dims: tuple


def _info(raw):
    dtype = _DTYPES[raw.dtype] if 0 <= raw.dtype < len(_DTYPES) else None
    shape = tuple(None if raw.shape[i] < 0 else raw.shape[i] for i in range(raw.rank))
    dims = tuple((raw.dims[i] or b"").decode() for i in range(raw.rank))
    return TensorInfo(raw.name.decode(), np.dtype(dtype) if dtype else None, shape, dims)


class Model:
    """A compiled model. Thread-safe: several threads may call run."""

    def __init__(self, path, num_threads=0):
        lib = _library()
        handle = ctypes.c_void_p()
        error = ctypes.create_string_buffer(1024)
        status = lib.slm_model_open(os.fsencode(path), ctypes.byref(handle), error, len(error))
        if status != 0:
            raise SlmError(error.value.decode())
        self._handle = handle
        self._lib = lib
        if num_threads:
            self.set_num_threads(num_threads)
        self.inputs = [self._query(lib.slm_model_input_info, i)
                       for i in range(lib.slm_model_num_inputs(handle))]
        self.outputs = [self._query(lib.slm_model_output_info, i)
                        for i in range(lib.slm_model_num_outputs(handle))]

    def _query(self, fn, index):
        raw = _TensorInfo()
        fn(self._handle, index, ctypes.byref(raw))
        return _info(raw)

    def run(self, feeds):
        """Runs the model on `feeds` ({input name: numpy array}) and returns
        {output name: numpy array}. Arrays must have the input's dtype
        (no silent conversion; a bfloat16 input takes a uint16 array of
        its bits, and bfloat16 outputs come back so); shapes are checked by
        the runtime. Raises RunTimeCheckError when the model fails a
        run-time check (an index out of range)."""
        if self._handle is None:
            raise SlmError("the model is closed")
        names = [i.name for i in self.inputs]
        unknown = sorted(set(feeds) - set(names))
        missing = [n for n in names if n not in feeds]
        if unknown or missing:
            raise SlmError("inputs do not match the model: " +
                           (f"unknown {unknown} " if unknown else "") +
                           (f"missing {missing}" if missing else "") +
                           f" (the model takes {names})")
        arrays = []
        inputs = (_Tensor * len(names))()
        for i, info in enumerate(self.inputs):
            a = feeds[info.name]
            if not isinstance(a, np.ndarray):
                a = np.asarray(a)
            if info.dtype is not None and a.dtype != info.dtype:
                raise SlmError(f"input '{info.name}' must be {info.dtype}, got {a.dtype}")
            if a.ndim > _MAX_RANK:
                raise SlmError(f"input '{info.name}' has rank {a.ndim}; at most {_MAX_RANK}")
            # (np.ascontiguousarray would make a 0-d array 1-d.)
            a = np.require(a, requirements="C")
            arrays.append(a)
            if info.dtype is None and a.dtype == np.uint16:
                inputs[i].dtype = _BFLOAT16  # its bits (numpy has no bfloat16)
            else:
                inputs[i].dtype = _DTYPES.index(a.dtype.type) if a.dtype.type in _DTYPES else -1
            inputs[i].rank = a.ndim
            for d, n in enumerate(a.shape):
                inputs[i].shape[d] = n
            inputs[i].data = a.ctypes.data if a.size else None
        outputs = (_Tensor * len(self.outputs))()
        error = ctypes.create_string_buffer(1024)
        status = self._lib.slm_model_run(self._handle, inputs, len(names), outputs,
                                         len(self.outputs), error, len(error))
        if status != 0:
            # A failed run hands over no output: nothing to release.
            error_type = RunTimeCheckError if status == _STATUS_RUN_CHECK else SlmError
            raise error_type(error.value.decode(), status)
        result = {}
        for o, info in enumerate(self.outputs):
            t = outputs[o]
            shape = tuple(t.shape[d] for d in range(t.rank))
            # bfloat16 comes back as its bits, uint16 (numpy has no bfloat16).
            dtype = np.dtype(np.uint16 if t.dtype == _BFLOAT16 else _DTYPES[t.dtype])
            count = int(np.prod(shape, dtype=np.int64))
            if count:
                owned = _Tensor()
                ctypes.pointer(owned)[0] = t
                result[info.name] = np.asarray(_OwnedOutput(self._lib, owned, shape, dtype))
            else:
                result[info.name] = np.zeros(shape, dtype)
                self._lib.slm_tensor_release(ctypes.byref(t))
        return result

    def set_num_threads(self, n):
        """Threads one run uses; 0 means every core."""
        if self._lib.slm_model_set_num_threads(self._handle, int(n)) != 0:
            raise SlmError(f"invalid thread count {n}")

    def close(self):
        if self._handle is not None:
            self._lib.slm_model_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def load(path, num_threads=0):
    """Opens a model compiled by slmc (or slm.compile); `num_threads` caps
    the threads of one run (0: every core)."""
    if not os.path.exists(path):
        raise SlmError(f"'{path}' does not exist")
    return Model(path, num_threads)
