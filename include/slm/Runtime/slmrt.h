/*===- slmrt.h - The slm runtime: load and run compiled models ----*- C -*-===*\
|*                                                                            *|
|* Part of the slm project: a compiler for compressed transformer models.     *|
|*                                                                            *|
|* A plain C API with no MLIR or LLVM dependency. A model is a shared library *|
|* written by `slmc model.onnx -o model.so`. Every function returns a status; *|
|* on failure the error buffer (when given) holds a message naming the        *|
|* problem. Several threads may run one model at once.                        *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef SLM_RUNTIME_SLMRT_H
#define SLM_RUNTIME_SLMRT_H

#include "slm/Runtime/slm_model_abi.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum slm_status {
  SLM_OK = 0,
  SLM_ERROR_INVALID_ARGUMENT = 1, /* null pointer, bad index */
  SLM_ERROR_IO = 2,               /* the file cannot be opened */
  SLM_ERROR_BAD_MODEL = 3,        /* not an slm model, or another ABI */
  SLM_ERROR_DTYPE = 4,            /* wrong element type */
  SLM_ERROR_SHAPE = 5,            /* wrong rank or extents */
  SLM_ERROR_OUT_OF_MEMORY = 6,
  /* The model failed a run-time check (an index out of range, ...): the
   * error buffer holds the check's message; no output is returned. */
  SLM_ERROR_RUN_CHECK = 7,
  /* The model produced an output it cannot hand over (a negative extent):
   * a bug of the compiler, reported instead of a wrong answer. */
  SLM_ERROR_BAD_OUTPUT = 8
} slm_status;

/* slm_dtype (SLM_FLOAT32, ..., one value per element type) and SLM_MAX_RANK
 * come from slm_model_abi.h. */

/** A dense row-major tensor. */
typedef struct slm_tensor {
  slm_dtype dtype;
  int32_t rank;
  int64_t shape[SLM_MAX_RANK];
  void *data;
  /** Set by slm_model_run when it allocated `data`; free with
   *  slm_tensor_release. */
  void *owner;
} slm_tensor;

/** What a model expects or produces. Extents of SLM_DYNAMIC_EXTENT (-1) are
 *  dynamic; `dims` names them ("batch", "seq"), "" where unnamed. */
typedef struct slm_tensor_info {
  const char *name;
  slm_dtype dtype;
  int32_t rank;
  int64_t shape[SLM_MAX_RANK];
  const char *dims[SLM_MAX_RANK];
} slm_tensor_info;

typedef struct slm_model slm_model;

/** Opens a compiled model. */
slm_status slm_model_open(const char *path, slm_model **model, char *error,
                          size_t error_size);

/** Closes a model (null is allowed). */
void slm_model_close(slm_model *model);

int32_t slm_model_num_inputs(const slm_model *model);
int32_t slm_model_num_outputs(const slm_model *model);
slm_status slm_model_input_info(const slm_model *model, int32_t index,
                                slm_tensor_info *info);
slm_status slm_model_output_info(const slm_model *model, int32_t index,
                                 slm_tensor_info *info);

/** Runs the model. `inputs` are checked against the model's inputs (dtype,
 *  rank, static extents, and equal extents where dimension names agree).
 *  For each output, either `data` is null and the runtime allocates it
 *  (release with slm_tensor_release), or `data` is the caller's buffer and
 *  `shape` its extents, which must equal the produced ones. When the model
 *  fails a run-time check (SLM_ERROR_RUN_CHECK) or produces a malformed
 *  output (SLM_ERROR_BAD_OUTPUT), every output is discarded: allocated
 *  ones stay null (nothing to release), the caller's buffers are left
 *  unspecified. */
slm_status slm_model_run(const slm_model *model, const slm_tensor *inputs,
                         int32_t num_inputs, slm_tensor *outputs,
                         int32_t num_outputs, char *error, size_t error_size);

/** Sets how many threads one run of `model` uses (its parallel loops run
 *  on LLVM's OpenMP runtime). 0, the default, means every core (or
 *  $OMP_NUM_THREADS when set). */
slm_status slm_model_set_num_threads(slm_model *model, int32_t num_threads);

/** Frees the data of an output the runtime allocated (back to its model's
 *  buffer cache); no-op otherwise. Outputs may outlive slm_model_close:
 *  the model's library stays loaded until the last one is released. */
void slm_tensor_release(slm_tensor *tensor);

/** Bytes per element of a dtype. */
size_t slm_dtype_size(slm_dtype dtype);

/** The dtype's name ("float32", ...). */
const char *slm_dtype_name(slm_dtype dtype);

/** A fixed description of a status. */
const char *slm_status_string(slm_status status);

#ifdef __cplusplus
}
#endif

#endif /* SLM_RUNTIME_SLMRT_H */
