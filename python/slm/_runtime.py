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


_ON_TOKENS = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32,
                              ctypes.POINTER(ctypes.c_int64), ctypes.c_int32)


class _GenerateOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("max_new_tokens", ctypes.c_int32),
                ("do_sample", ctypes.c_int32), ("temperature", ctypes.c_float),
                ("top_k", ctypes.c_int32), ("top_p", ctypes.c_float),
                ("seed", ctypes.c_uint64), ("eos_token_ids", ctypes.POINTER(ctypes.c_int64)),
                ("num_eos_token_ids", ctypes.c_int32), ("pad_token_id", ctypes.c_int64),
                ("on_tokens", _ON_TOKENS), ("user_data", ctypes.c_void_p)]


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
        lib.slm_generate_options_init.argtypes = [ctypes.POINTER(_GenerateOptions)]
        lib.slm_generate_options_init.restype = None
        lib.slm_generator_create.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.POINTER(_Tensor),
            ctypes.POINTER(_GenerateOptions), ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_char_p, ctypes.c_size_t]
        lib.slm_generator_step.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int32),
            ctypes.c_char_p, ctypes.c_size_t]
        lib.slm_generator_sequences.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Tensor),
                                                ctypes.c_char_p, ctypes.c_size_t]
        lib.slm_generator_destroy.argtypes = [ctypes.c_void_p]
        lib.slm_generator_destroy.restype = None
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


class _Closing:
    """close() on leaving a `with` block and when garbage-collected."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Model(_Closing):
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

    def generate(self, input_ids, max_new_tokens=20, attention_mask=None, do_sample=False,
                 temperature=1.0, top_k=0, top_p=1.0, eos_token_id=None, pad_token_id=None,
                 seed=0, streamer=None):
        """Generates with a causal LM (Hugging Face's argument names) and
        returns the sequences, prompt included: int64 [batch, sequence +
        new tokens]. `input_ids` [batch, sequence] (a 1-D prompt is a
        batch of one); prompts of different lengths are left-padded with
        `attention_mask` 0s. Greedy unless `do_sample`; then temperature,
        top_k (0: off) and top_p (1: off), reproducible from `seed`.
        `eos_token_id` (an id or a list) ends a row, which gets
        `pad_token_id` (default: the first end token, or 0) from then on.
        `streamer(tokens)` is called with each step's int64 [batch] tokens;
        a true return stops. Raises SlmError on a bad prompt or option."""
        stream = self.generate_stream(input_ids, max_new_tokens, attention_mask, do_sample,
                                      temperature, top_k, top_p, eos_token_id, pad_token_id,
                                      seed)
        with stream:
            for tokens in stream:
                if streamer is not None and streamer(tokens):
                    break
            return stream.sequences()

    def generate_stream(self, input_ids, max_new_tokens=20, attention_mask=None,
                        do_sample=False, temperature=1.0, top_k=0, top_p=1.0,
                        eos_token_id=None, pad_token_id=None, seed=0):
        """generate() one step at a time: an iterator of int64 [batch]
        arrays, the new token of each row; `.sequences()` gives the
        sequences so far. The prompt and options are checked here."""
        if self._handle is None:
            raise SlmError("the model is closed")
        return _Generation(self, input_ids, attention_mask, dict(
            max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature,
            top_k=top_k, top_p=top_p, eos_token_id=eos_token_id,
            pad_token_id=pad_token_id, seed=seed))

    def set_num_threads(self, n):
        """Threads one run uses; 0 means every core."""
        if self._lib.slm_model_set_num_threads(self._handle, int(n)) != 0:
            raise SlmError(f"invalid thread count {n}")

    def close(self):
        if self._handle is not None:
            self._lib.slm_model_close(self._handle)
            self._handle = None



def _int64_matrix(name, a, shape=None):
    a = np.asarray(a)
    if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
        raise SlmError(f"{name} must hold integers, got {a.dtype}")
    a = a.astype(np.int64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise SlmError(f"{name} must be [batch, sequence], got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise SlmError(f"{name} must be shaped like input_ids {shape}, got {a.shape}")
    return np.require(a, requirements="C")


def _tensor_of(a):
    t = _Tensor()
    t.dtype = _DTYPES.index(np.int64)
    t.rank = 2
    t.shape[0], t.shape[1] = a.shape
    t.data = a.ctypes.data if a.size else None
    return t


class _Generation(_Closing):
    """A generation in progress (slm_generator): iterate for each step's
    tokens; sequences() for the whole sequences so far."""

    def __init__(self, model, input_ids, attention_mask, o):
        self._model, self._lib, self._handle = model, model._lib, None
        ids = _int64_matrix("input_ids", input_ids)
        self._batch = ids.shape[0]
        mask = None if attention_mask is None else _int64_matrix(
            "attention_mask", attention_mask, ids.shape)
        opts = _GenerateOptions()
        self._lib.slm_generate_options_init(ctypes.byref(opts))
        for key in ("max_new_tokens", "top_k", "seed"):
            value = o[key]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SlmError(f"{key} must be an integer, got {value!r}")
        if o["max_new_tokens"] < 0:
            raise SlmError(f"max_new_tokens must be >= 0, got {o['max_new_tokens']}")
        if o["top_k"] < 0 or o["top_k"] >= 2**31:
            raise SlmError(f"top_k must be >= 0 (0: off), got {o['top_k']}")
        opts.max_new_tokens = min(int(o["max_new_tokens"]), 2**31 - 1)
        opts.do_sample = 1 if o["do_sample"] else 0
        opts.temperature = float(o["temperature"])
        opts.top_k = int(o["top_k"])
        opts.top_p = float(o["top_p"])
        opts.seed = int(o["seed"]) % 2**64
        eos = o["eos_token_id"]
        eos = [] if eos is None else [eos] if np.ndim(eos) == 0 else list(eos)
        self._eos = (ctypes.c_int64 * max(1, len(eos)))(*[int(e) for e in eos])
        opts.eos_token_ids = self._eos
        opts.num_eos_token_ids = len(eos)
        if o["pad_token_id"] is not None:
            if int(o["pad_token_id"]) < 0:
                raise SlmError(f"pad_token_id must be >= 0, got {o['pad_token_id']}")
            opts.pad_token_id = int(o["pad_token_id"])
        self._arrays = (ids, mask)
        handle = ctypes.c_void_p()
        error = ctypes.create_string_buffer(1024)
        ids_t = _tensor_of(ids)
        mask_t = _tensor_of(mask) if mask is not None else None
        status = self._lib.slm_generator_create(
            model._handle, ctypes.byref(ids_t),
            ctypes.byref(mask_t) if mask_t is not None else None,
            ctypes.byref(opts), ctypes.byref(handle), error, len(error))
        if status != 0:
            raise SlmError(error.value.decode(), status)
        self._handle = handle

    def __iter__(self):
        return self

    def __next__(self):
        if self._handle is None:
            raise StopIteration
        tokens = np.zeros(self._batch, np.int64)
        done = ctypes.c_int32(0)
        error = ctypes.create_string_buffer(1024)
        status = self._lib.slm_generator_step(
            self._handle, tokens.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
            ctypes.byref(done), error, len(error))
        if status != 0:
            error_type = RunTimeCheckError if status == _STATUS_RUN_CHECK else SlmError
            raise error_type(error.value.decode(), status)
        if done.value:
            raise StopIteration
        return tokens

    def sequences(self):
        """int64 [batch, prompt + steps so far]."""
        if self._handle is None:
            raise SlmError("the generation is closed")
        t = _Tensor()
        error = ctypes.create_string_buffer(1024)
        if self._lib.slm_generator_sequences(self._handle, ctypes.byref(t), error,
                                             len(error)) != 0:
            raise SlmError(error.value.decode())
        shape = (t.shape[0], t.shape[1])
        if not t.shape[0] * t.shape[1]:
            self._lib.slm_tensor_release(ctypes.byref(t))
            return np.zeros(shape, np.int64)
        return np.asarray(_OwnedOutput(self._lib, t, shape, np.dtype(np.int64)))

    def close(self):
        if self._handle is not None:
            self._lib.slm_generator_destroy(self._handle)
            self._handle = None



def load(path, num_threads=0):
    """Opens a model compiled by slmc (or slm.compile); `num_threads` caps
    the threads of one run (0: every core)."""
    if not os.path.exists(path):
        raise SlmError(f"'{path}' does not exist")
    return Model(path, num_threads)
