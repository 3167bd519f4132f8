//===- ModelMetadata.h - The model metadata reader of libslmrt -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The runtime's reader of a model's `slm_model_metadata` JSON (the schema is
// in slm_model_abi.h). Internal to libslmrt and its fuzz target; plain C++17,
// no MLIR or LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_RUNTIME_MODELMETADATA_H
#define SLM_RUNTIME_MODELMETADATA_H

#include "slm/Runtime/slm_model_abi.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::slm::runtime {

/// One input or output of a model, as its metadata describes it.
struct TensorInfo {
  std::string name;
  slm_dtype dtype = SLM_FLOAT32;
  /// Extents, -1 where dynamic; at most SLM_MAX_RANK of them.
  std::vector<int64_t> shape;
  /// A symbolic name per extent ("" where none), as many as `shape`.
  std::vector<std::string> dims;
};

/// Reads the NUL-terminated metadata `text` into `inputs`, `outputs` and
/// `abi`. False when it is not well-formed JSON of the schema: a syntax
/// error, an unknown dtype, an extent below -1, a rank above SLM_MAX_RANK,
/// nesting deeper than 32, or text after the closing brace. Never reads past
/// the terminating NUL.
bool parseModelMetadata(const char *text, std::vector<TensorInfo> &inputs,
                        std::vector<TensorInfo> &outputs, int64_t &abi);

} // namespace mlir::slm::runtime

#endif // SLM_RUNTIME_MODELMETADATA_H
