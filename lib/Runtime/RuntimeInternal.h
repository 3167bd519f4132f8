//===- RuntimeInternal.h - Runtime pieces shared across files ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// What Runtime.cpp offers the runtime's other files (generation): not part
// of the C API.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_RUNTIME_RUNTIMEINTERNAL_H
#define SLM_LIB_RUNTIME_RUNTIMEINTERNAL_H

#include "slm/Runtime/slmrt.h"

#include <cstddef>

namespace mlir::slm::runtime {

/// Formats a message into the caller's error buffer (when there is one).
void setError(char *error, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/// Hands `buffer` (from malloc) to `tensor` as runtime-allocated data:
/// slm_tensor_release frees it, and `model` stays loaded until then. False
/// (and `buffer` freed) when out of memory.
bool adoptBuffer(const slm_model *model, slm_tensor *tensor, void *buffer);

/// Keeps `model` alive for one more owner / lets one go.
void retainModel(const slm_model *model);
void releaseModel(const slm_model *model);

} // namespace mlir::slm::runtime

#endif // SLM_LIB_RUNTIME_RUNTIMEINTERNAL_H
