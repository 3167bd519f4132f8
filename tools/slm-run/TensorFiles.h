//===- TensorFiles.h - .npy and ONNX TensorProto files ----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TOOLS_SLMRUN_TENSORFILES_H
#define SLM_TOOLS_SLMRUN_TENSORFILES_H

#include "slm/Runtime/slmrt.h"

#include <string>
#include <vector>

namespace slm_run {

/// A tensor read from or written to a file: its bytes and shape.
struct HostTensor {
  slm_dtype dtype = SLM_FLOAT32;
  std::vector<int64_t> shape;
  std::vector<char> bytes;

  slm_tensor view();
  int64_t count() const;
};

/// Reads a .npy file or an ONNX TensorProto (.pb). On failure returns false
/// with `error` set.
bool readTensorFile(const std::string &path, HostTensor &tensor,
                    std::string &error);

/// Writes a .npy file.
bool writeNpy(const std::string &path, const slm_tensor &tensor,
              std::string &error);

} // namespace slm_run

#endif // SLM_TOOLS_SLMRUN_TENSORFILES_H
