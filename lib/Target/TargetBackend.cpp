//===- TargetBackend.cpp - What a code generation target provides -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Target/TargetBackend.h"

using namespace mlir;
using namespace mlir::slm;

TargetBackend::~TargetBackend() = default;

LogicalResult TargetBackend::compileLibrary(ModuleOp module,
                                            StringRef path) const {
  FailureOr<std::string> metadata = lower(module);
  if (failed(metadata))
    return failure();
  return emit(module, *metadata, EmitKind::SharedLibrary, path);
}
