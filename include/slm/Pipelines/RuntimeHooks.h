//===- RuntimeHooks.h - Running compiled models from the compiler -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The one place where the compiler meets the runtime: a model library
// loaded through libslmrt as a RunnableModel, for CompileHooks::loadLibrary
// (calibration and the accuracy guard). Its own library (SLMRuntimeHooks),
// so that the compiler libraries never link the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_PIPELINES_RUNTIMEHOOKS_H
#define SLM_PIPELINES_RUNTIMEHOOKS_H

#include "slm/Compression/Compression.h"

#include <memory>
#include <string>

namespace mlir::slm {

/// Opens the model library at `path` with libslmrt.
FailureOr<std::unique_ptr<RunnableModel>>
loadModelWithRuntime(StringRef path, std::string &error);

} // namespace mlir::slm

#endif // SLM_PIPELINES_RUNTIMEHOOKS_H
