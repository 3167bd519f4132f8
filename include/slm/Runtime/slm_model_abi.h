/*===- slm_model_abi.h - The contract between slmc and the runtime -*- C
-*-===*\
|*                                                                            *|
|* Part of the slm project: a compiler for compressed transformer models.     *|
|*                                                                            *|
|* What a model library (written by `slmc model.onnx -o model.so`) exports    *|
|* and how the runtime (libslmrt) calls it. Code generation                   *|
|* (lib/Target/CPU), the runtime (lib/Runtime), the support code every model  *|
|* links (lib/Runtime/ModelSupport.c) and the Python package (checked by      *|
|* test/runtime/abi-python.test) all read their constants from here.          *|
|* Plain C99 (two static inline lookups): include it from C or C++.          *|
|* docs/ABI.md explains                                                       *|
|* the contract in prose.                                                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef SLM_RUNTIME_SLM_MODEL_ABI_H
#define SLM_RUNTIME_SLM_MODEL_ABI_H

#ifdef __cplusplus
extern "C" {
#endif

/*===----------------------------------------------------------------------===*
 * Version
 *===----------------------------------------------------------------------===*/

/** The version of this contract. A model records it twice (the symbol
 *  SLM_MODEL_ABI_VERSION_SYMBOL and the metadata's "abi" key); the runtime
 *  opens only models of its own version.
 *
 *  Bump it when an existing model would be misread: a change of an entry
 *  point's signature or meaning, of the descriptor layout, of a dtype's
 *  value, name or size, or of the meaning of a metadata key. Do not bump it
 *  for additions that old readers reject cleanly or ignore: a new dtype
 *  (appended, with a new value), a new metadata key (readers skip unknown
 *  keys), a new optional entry point. */
#define SLM_MODEL_ABI_VERSION 1

/*===----------------------------------------------------------------------===*
 * Entry points (symbol names, for dlsym)
 *===----------------------------------------------------------------------===*/

/** `void slm_model_run(void **inputs, void *results)`: runs the model.
 *  `inputs[i]` points to the memref descriptor of input i; `results`
 *  receives one descriptor per output, back to back (SLM_MEMREF_NUM_WORDS of
 *  each output's rank). Required. (Not to be confused with the runtime's
 *  public slm_model_run in slmrt.h: the runtime finds this one with dlsym.)
 *  A failed run-time check (an index out of range, ...) ends the process
 *  with a message on stderr. */
#define SLM_MODEL_RUN_SYMBOL "slm_model_run"

/** `const char *slm_model_run_checked(void **inputs, void *results)`: runs
 *  the model like SLM_MODEL_RUN_SYMBOL, and returns null, or the message of
 *  the run's first failed run-time check ("'node' (Gather): index out of
 *  range"; a constant string of the model library, valid while it is
 *  loaded). After a failure the run went on (checked accesses are clamped,
 *  so nothing was read or written out of bounds) and `results` holds
 *  outputs that the caller must release as usual, then discard. Optional
 *  (models from before it lack it: then SLM_MODEL_RUN_SYMBOL); several
 *  threads may run at once, each run has its own failure. */
#define SLM_MODEL_RUN_CHECKED_SYMBOL "slm_model_run_checked"

/** `const char slm_model_metadata[]`: the JSON description of the inputs and
 *  outputs (schema below), NUL-terminated. Required. */
#define SLM_MODEL_METADATA_SYMBOL "slm_model_metadata"

/** `const int32_t slm_model_abi_version`: SLM_MODEL_ABI_VERSION of the
 *  compiler that wrote the model. Required. */
#define SLM_MODEL_ABI_VERSION_SYMBOL "slm_model_abi_version"

/** `void slm_model_release_buffer(void *allocated)`: gives an output buffer
 *  (a descriptor's `allocated` pointer) back to the model's allocator.
 *  Optional: without it the runtime calls free(). */
#define SLM_MODEL_RELEASE_BUFFER_SYMBOL "slm_model_release_buffer"

/** `void slm_model_set_threads(int32_t n)`: the number of threads (the
 *  caller included) the calling thread's runs use from now on; 0: the
 *  default ($OMP_NUM_THREADS when set, else the CPUs the process may run
 *  on). The model's parallel loops run on a thread pool of its own
 *  (lib/Runtime/ModelThreads.c). Optional: models from before it linked
 *  libomp, whose `omp_set_num_threads` the runtime uses instead. */
#define SLM_MODEL_SET_THREADS_SYMBOL "slm_model_set_threads"

/** `const char slm_model_cpu_features[]`: the x86 features the model's
 *  code was generated for, comma-separated in LLVM's names
 *  ("avx2,fma,avx512f,avx512bf16"), NUL-terminated. The runtime refuses to
 *  load a model whose features the CPU lacks (its code would stop on an
 *  illegal instruction) or that it cannot check. Optional: models from
 *  before it have no requirement the runtime knows. */
#define SLM_MODEL_CPU_FEATURES_SYMBOL "slm_model_cpu_features"

/** The type of the run entry point. */
typedef void (*slm_model_run_fn)(void **inputs, void *results);

/** The type of the checked run entry point. */
typedef const char *(*slm_model_run_checked_fn)(void **inputs, void *results);

/** The type of the release entry point. */
typedef void (*slm_model_release_buffer_fn)(void *allocated);

/*===----------------------------------------------------------------------===*
 * Memref descriptors
 *===----------------------------------------------------------------------===*/

/* A tensor of rank R crosses the entry point as MLIR's ranked memref
 * descriptor: 3 + 2R words of 64 bits,
 *
 *   word 0         allocated  the pointer to free (outputs)
 *   word 1         aligned    the pointer the data is read from
 *   word 2         offset     in elements, from `aligned` to element 0
 *   words 3..3+R-1 sizes      the extents
 *   words 3+R..    strides    in elements; row-major: stride[R-1] = 1
 *
 * Pointers are stored in their word as they are in memory (memcpy a
 * `void *` into an int64_t). Inputs are passed row-major with offset 0 and
 * allocated == aligned; outputs may have any offset (strides are row-major
 * as well: the lowering produces identity layouts).
 *
 * Outputs belong to the caller once slm_model_run returns: it gives each
 * distinct `allocated` pointer back exactly once (through the release entry
 * point, else free()). Several outputs may share one allocation (a value
 * returned twice, or views of one buffer): their `allocated` words are
 * equal. Input buffers stay the caller's and are only read. */

/** Bytes per descriptor word. */
#define SLM_MEMREF_WORD_BYTES 8
/** Word index of the allocated pointer. */
#define SLM_MEMREF_ALLOCATED 0
/** Word index of the aligned pointer. */
#define SLM_MEMREF_ALIGNED 1
/** Word index of the offset (in elements). */
#define SLM_MEMREF_OFFSET 2
/** Word index of extent `dim`. */
#define SLM_MEMREF_SIZE(dim) (3 + (dim))
/** Word index of the stride of `dim` in a descriptor of rank `rank`. */
#define SLM_MEMREF_STRIDE(rank, dim) (3 + (rank) + (dim))
/** Words in a descriptor of rank `rank`. */
#define SLM_MEMREF_NUM_WORDS(rank) (3 + 2 * (rank))

/** Pointers must fit one descriptor word (a negative array size if not). */
typedef char slm_memref_pointer_fits_a_word
    [sizeof(void *) <= SLM_MEMREF_WORD_BYTES ? 1 : -1];

/*===----------------------------------------------------------------------===*
 * Element types
 *===----------------------------------------------------------------------===*/

/** Every dtype, once: X(enumerator, value, name, bytes per element).
 *  `name` is the metadata's "dtype" string (NumPy's name where NumPy has
 *  the type). Values are fixed forever: append new dtypes at the end with
 *  the next value, never renumber or reuse one. */
#define SLM_DTYPE_LIST(X)                                                      \
  X(SLM_FLOAT32, 0, "float32", 4)                                              \
  X(SLM_FLOAT64, 1, "float64", 8)                                              \
  X(SLM_FLOAT16, 2, "float16", 2)                                              \
  X(SLM_BFLOAT16, 3, "bfloat16", 2)                                            \
  X(SLM_INT8, 4, "int8", 1)                                                    \
  X(SLM_INT16, 5, "int16", 2)                                                  \
  X(SLM_INT32, 6, "int32", 4)                                                  \
  X(SLM_INT64, 7, "int64", 8)                                                  \
  X(SLM_BOOL, 8, "bool", 1) /* one byte per element, 0 or 1 */             \
  X(SLM_UINT8, 9, "uint8", 1)                                                  \
  X(SLM_UINT16, 10, "uint16", 2)                                               \
  X(SLM_UINT32, 11, "uint32", 4)                                               \
  X(SLM_UINT64, 12, "uint64", 8)

#define SLM_DTYPE_ENUMERATOR_(enumerator, value, name, bytes)                  \
  enumerator = value,

/** An element type. Each ONNX dtype has its own: a uint8 input or output is
 *  SLM_UINT8 (models written before the unsigned dtypes were appended named
 *  it "int8"; the bits are the same). SLM_DTYPE_MAX_ENUM_ is no dtype: it
 *  makes every int32 value one the enum can hold, so that C++ code may read
 *  whatever a caller put there and refuse it (an out-of-range enum value is
 *  undefined behaviour in C++). */
typedef enum slm_dtype {
  SLM_DTYPE_LIST(SLM_DTYPE_ENUMERATOR_) SLM_DTYPE_MAX_ENUM_ = 0x7FFFFFFF
} slm_dtype;

#undef SLM_DTYPE_ENUMERATOR_

/** Bytes per element of a dtype; 0 for a value outside SLM_DTYPE_LIST. */
static inline unsigned slm_abi_dtype_size(slm_dtype dtype) {
  switch (dtype) {
#define SLM_DTYPE_SIZE_CASE_(enumerator, value, name, bytes)                   \
  case enumerator:                                                             \
    return bytes;
    SLM_DTYPE_LIST(SLM_DTYPE_SIZE_CASE_)
#undef SLM_DTYPE_SIZE_CASE_
  default:
    break;
  }
  return 0;
}

/** The dtype's name ("float32"); null for a value outside SLM_DTYPE_LIST. */
static inline const char *slm_abi_dtype_name(slm_dtype dtype) {
  switch (dtype) {
#define SLM_DTYPE_NAME_CASE_(enumerator, value, name, bytes)                   \
  case enumerator:                                                             \
    return name;
    SLM_DTYPE_LIST(SLM_DTYPE_NAME_CASE_)
#undef SLM_DTYPE_NAME_CASE_
  default:
    break;
  }
  return 0;
}

/** The largest rank of a model input or output. */
#define SLM_MAX_RANK 8

/** An extent that is not known until run time, in the metadata's "shape"
 *  (and in slm_tensor_info::shape). */
#define SLM_DYNAMIC_EXTENT (-1)

/*===----------------------------------------------------------------------===*
 * Metadata (the JSON at SLM_MODEL_METADATA_SYMBOL)
 *===----------------------------------------------------------------------===*/

/* One object; readers skip keys they do not know:
 *
 *   {
 *     "abi": 1,                  SLM_MODEL_ABI_VERSION, an integer
 *     "inputs": [TENSOR, ...],   in the order of slm_model_run's `inputs`
 *     "outputs": [TENSOR, ...]   in the order of its `results`; at least one
 *   }
 *
 * where TENSOR is
 *
 *   {
 *     "name": "input_ids",       the ONNX name ("input<i>"/"output<i>" when
 *                                the model has none)
 *     "dtype": "int64",          a name of SLM_DTYPE_LIST
 *     "shape": [-1, 128],        one integer per dimension (at most
 *                                SLM_MAX_RANK); SLM_DYNAMIC_EXTENT when
 *                                dynamic
 *     "dims": ["batch", ""]      optional: a name per dimension ("" where
 *                                unnamed; missing trailing names are "");
 *                                dimensions of inputs that share a name
 *                                must have one extent at run time
 *   }
 *
 * Strings are JSON strings; integers are decimal. */

#ifdef __cplusplus
}
#endif

#endif /* SLM_RUNTIME_SLM_MODEL_ABI_H */
