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
 *  on the model's own thread pool). 0, the default, means every core the
 *  process may run on (or $OMP_NUM_THREADS when set). */
slm_status slm_model_set_num_threads(slm_model *model, int32_t num_threads);

/*===------------------------------------------------------------------===*\
|* Generation: autoregressive decoding with a causal language model.        *|
|*                                                                          *|
|* The model's inputs are found by role: `input_ids` (int64 or int32, rank  *|
|* 2, [batch, sequence]; or the model's only rank-2 integer input),         *|
|* optionally `attention_mask` and `position_ids`; its logits are the       *|
|* output named `logits` or its only float32 output of rank 3,              *|
|* [batch, sequence, vocab]. A batch of prompts of different lengths is     *|
|* left-padded, with an attention mask of 0s (padding) then 1s, as in       *|
|* Hugging Face `generate`; position ids, when the model takes them, are    *|
|* the count of real tokens before each position (0 for padding).           *|
|* Each step runs the model on the whole sequence so far (a model compiled  *|
|* with a KV cache will read it instead: same API) and picks one token per  *|
|* row from the last position's logits; a row that produced an end token    *|
|* gets `pad_token_id` from then on.                                        *|
\*===------------------------------------------------------------------===*/

/** How to pick tokens. Fill with slm_generate_options_init first: fields
 *  added later keep their defaults for older callers (`struct_size`). */
typedef struct slm_generate_options {
  size_t struct_size;     /* sizeof(slm_generate_options) */
  int32_t max_new_tokens; /* tokens to add per row, >= 0 (default 20) */
  int32_t do_sample;      /* 0: greedy (argmax, lowest id on ties) */
  float temperature;      /* > 0; logits are divided by it when sampling */
  int32_t top_k;          /* keep the k most likely tokens; 0: all */
  float top_p;            /* keep the smallest set with mass >= top_p; 1: all */
  uint64_t seed;          /* the sampler's random stream */
  const int64_t *eos_token_ids; /* a row stops after producing one */
  int32_t num_eos_token_ids;
  /* Written for rows that stopped; -1 (default): the first end token, or 0 */
  int64_t pad_token_id;
  /* Called after every step with the batch's new tokens (pad for stopped
   * rows); a nonzero return stops generation after this step. */
  int32_t (*on_tokens)(void *user_data, int32_t step, const int64_t *tokens,
                       int32_t batch);
  void *user_data;
} slm_generate_options;

/** Sets every field to its default. */
void slm_generate_options_init(slm_generate_options *options);

/** A generation in progress: the sequences so far and the sampler's state
 *  (later, the KV cache). One thread at a time per generator. */
typedef struct slm_generator slm_generator;

/** Starts generating from `input_ids` (int64, [batch, sequence]) and an
 *  optional `attention_mask` (int64, same shape; null: all 1s). Checks the
 *  model's roles, the prompt (non-empty, ids within the vocabulary, left
 *  padding) and the options; `options` may be null (the defaults). The
 *  generator keeps the model open until slm_generator_destroy. */
slm_status slm_generator_create(slm_model *model, const slm_tensor *input_ids,
                                const slm_tensor *attention_mask,
                                const slm_generate_options *options,
                                slm_generator **generator, char *error,
                                size_t error_size);

/** One step: writes the batch's next tokens to `tokens` (batch entries) and
 *  sets `*done` to 0; when every row has stopped or max_new_tokens are
 *  made, writes nothing and sets `*done` to 1. */
slm_status slm_generator_step(slm_generator *generator, int64_t *tokens,
                              int32_t *done, char *error, size_t error_size);

/** The sequences so far, prompt included, [batch, sequence + steps], int64:
 *  allocated here, release with slm_tensor_release. */
slm_status slm_generator_sequences(const slm_generator *generator,
                                   slm_tensor *sequences, char *error,
                                   size_t error_size);

void slm_generator_destroy(slm_generator *generator);

/** The whole loop: create, step until done (calling options->on_tokens),
 *  and the sequences in `output_ids` (release with slm_tensor_release). */
slm_status slm_model_generate(slm_model *model, const slm_tensor *input_ids,
                              const slm_tensor *attention_mask,
                              const slm_generate_options *options,
                              slm_tensor *output_ids, char *error,
                              size_t error_size);

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
