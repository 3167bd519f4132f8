/*===- ModelSupport.c - Support code linked into every model ------*- C -*-===*\
|*                                                                            *|
|* Part of the slm project: a compiler for compressed transformer models.     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The buffer allocator of compiled models. The build compiles this file
 * (lib/Runtime/CMakeLists.txt) and embeds the object code in the CPU target;
 * slmc links that object into every model (emitSupportObject). Generated
 * code allocates through `_mlir_memref_to_llvm_alloc`/`_free`
 * (finalize-memref-to-llvm{use-generic-functions}).
 *
 * Why: a transformer allocates the same large intermediates on every run.
 * From malloc they are fresh pages each time (glibc maps and unmaps large
 * blocks), and the kernel zeroes and faults in every page: for one BERT-base
 * linear layer that was a third of the run. Freed blocks of 64 KiB and more
 * are kept (up to 1 GiB, given back when the model is unloaded) and handed
 * out again for requests they fit closely. Blocks are plain malloc blocks:
 * outputs handed to the caller may be released with free() as well as with
 * slm_model_release_buffer (SLM_MODEL_RELEASE_BUFFER_SYMBOL).
 */

#define _GNU_SOURCE /* malloc_usable_size, posix_memalign */

#include "slm/Runtime/slm_model_abi.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLM_HIDDEN __attribute__((visibility("hidden")))
#define SLM_EXPORTED __attribute__((visibility("default")))

enum { kSlots = 256 };
static const size_t kMinCached = 64 << 10;
static const size_t kCacheLimit = (size_t)1 << 30;

/* cache[0, used): blocks kept for reuse. */
static struct {
  void *ptr;
  size_t size;
} cache[kSlots];
static int used;
static size_t cachedBytes;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

SLM_HIDDEN void *_mlir_memref_to_llvm_alloc(uint64_t size);
SLM_HIDDEN void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment,
                                                    uint64_t size);
SLM_HIDDEN void _mlir_memref_to_llvm_free(void *ptr);
SLM_EXPORTED void slm_model_release_buffer(void *ptr);

SLM_HIDDEN void *_mlir_memref_to_llvm_alloc(uint64_t size) {
  if (size >= kMinCached) {
    int best = -1, i;
    void *ptr = 0;
    pthread_mutex_lock(&lock);
    for (i = 0; i < used; ++i)
      if (cache[i].size >= size && cache[i].size <= size + size / 8 + 4096 &&
          (best < 0 || cache[i].size < cache[best].size))
        best = i;
    if (best >= 0) {
      ptr = cache[best].ptr;
      cachedBytes -= cache[best].size;
      cache[best] = cache[--used];
    }
    pthread_mutex_unlock(&lock);
    if (ptr)
      return ptr;
  }
  return malloc(size);
}

SLM_HIDDEN void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment,
                                                    uint64_t size) {
  void *ptr = 0;
  if (alignment < sizeof(void *))
    alignment = sizeof(void *);
  return posix_memalign(&ptr, alignment, size) == 0 ? ptr : 0;
}

SLM_HIDDEN void _mlir_memref_to_llvm_free(void *ptr) {
  size_t size;
  if (!ptr)
    return;
  size = malloc_usable_size(ptr);
  if (size >= kMinCached) {
    int kept;
    pthread_mutex_lock(&lock);
    kept = used < kSlots && cachedBytes + size <= kCacheLimit;
    if (kept) {
      cache[used].ptr = ptr;
      cache[used].size = size;
      ++used;
      cachedBytes += size;
    }
    pthread_mutex_unlock(&lock);
    if (kept)
      return;
  }
  free(ptr);
}

/* For the runtime: outputs the caller is done with come back here. */
SLM_EXPORTED void slm_model_release_buffer(void *ptr) {
  _mlir_memref_to_llvm_free(ptr);
}

/* For SLM_MODEL_RUN_SYMBOL, which cannot report a failed run-time check to
 * its caller (SLM_MODEL_RUN_CHECKED_SYMBOL can): ends the process, as the
 * check (cf.assert) would have. */
SLM_HIDDEN void slm_model_abort_run(const char *message) {
  fprintf(stderr, "slm model: run-time check failed: %s\n", message);
  abort();
}

__attribute__((destructor)) static void slm_release_buffers(void) {
  int i;
  for (i = 0; i < used; ++i)
    free(cache[i].ptr);
  used = 0;
  cachedBytes = 0;
}
