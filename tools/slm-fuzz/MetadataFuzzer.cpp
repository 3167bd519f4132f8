//===- MetadataFuzzer.cpp - libFuzzer target for the model metadata -*- C++ -*-//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary text to the runtime's reader of `slm_model_metadata` (the
// JSON a model library carries), as slm_model_open reads it. A crash, a
// sanitizer report, a leak, or an accepted description that breaks the
// reader's promises (a rank above SLM_MAX_RANK, an extent below -1, names
// and extents of different counts) is a bug.
//
// Built only with -DSLM_ENABLE_FUZZERS=ON (clang); scripts/fuzz.sh drives it.
//
//===----------------------------------------------------------------------===//

#include "ModelMetadata.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using mlir::slm::runtime::TensorInfo;

static void checkTensors(const std::vector<TensorInfo> &tensors) {
  for (const TensorInfo &t : tensors) {
    if (t.shape.size() > SLM_MAX_RANK || t.dims.size() != t.shape.size())
      std::abort();
    for (int64_t d : t.shape)
      if (d < -1)
        std::abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The metadata is a NUL-terminated string in the library.
  std::string text(reinterpret_cast<const char *>(data), size);
  std::vector<TensorInfo> inputs, outputs;
  int64_t abi = 0;
  if (mlir::slm::runtime::parseModelMetadata(text.c_str(), inputs, outputs,
                                             abi)) {
    checkTensors(inputs);
    checkTensors(outputs);
  }
  return 0;
}
