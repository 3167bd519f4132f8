/* A model library written by hand against slm_model_abi.h: y = x + 1 on a
 * float32 vector of any length ("n"). It has no slm_model_release_buffer:
 * the runtime frees its outputs with free(). ABI, METADATA_ABI, DTYPE and
 * CPU_FEATURES override what it declares, to test that the runtime refuses
 * models it cannot read or run. */
#include "slm/Runtime/slm_model_abi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STRING_(x) #x
#define STRING(x) STRING_(x)

#ifndef ABI
#define ABI SLM_MODEL_ABI_VERSION
#endif
#ifndef METADATA_ABI
#define METADATA_ABI SLM_MODEL_ABI_VERSION
#endif
#ifndef DTYPE
#define DTYPE "float32"
#endif

const int32_t slm_model_abi_version = ABI;

/* CPU_FEATURES: the features it says its code needs (none by default). */
#ifdef CPU_FEATURES
const char slm_model_cpu_features[] = CPU_FEATURES;
#endif

const char slm_model_metadata[] =
    "{\"abi\": " STRING(METADATA_ABI) ", \"inputs\": [{\"name\": \"x\", "
    "\"dtype\": \"" DTYPE "\", \"shape\": [-1], \"dims\": [\"n\"]}], "
    "\"outputs\": [{\"name\": \"y\", \"dtype\": \"float32\", \"shape\": "
    "[-1], \"dims\": [\"n\"]}], \"comment\": {\"skipped\": [1, \"2\"]}}";

void slm_model_run(void **inputs, void *results);

void slm_model_run(void **inputs, void *results) {
  const int64_t *x = (const int64_t *)inputs[0];
  int64_t *y = (int64_t *)results;
  const int64_t n = x[SLM_MEMREF_SIZE(0)];
  const float *in;
  float *out;
  int64_t i;
  memcpy(&in, &x[SLM_MEMREF_ALIGNED], sizeof in);
  in += x[SLM_MEMREF_OFFSET];
  out = (float *)malloc((size_t)(n ? n : 1) * sizeof(float));
  for (i = 0; i < n; ++i)
    out[i] = in[i * x[SLM_MEMREF_STRIDE(1, 0)]] + 1.0f;
  memset(y, 0, SLM_MEMREF_NUM_WORDS(1) * SLM_MEMREF_WORD_BYTES);
  memcpy(&y[SLM_MEMREF_ALLOCATED], &out, sizeof out);
  memcpy(&y[SLM_MEMREF_ALIGNED], &out, sizeof out);
  y[SLM_MEMREF_OFFSET] = 0;
  y[SLM_MEMREF_SIZE(0)] = n;
  y[SLM_MEMREF_STRIDE(1, 0)] = 1;
}
