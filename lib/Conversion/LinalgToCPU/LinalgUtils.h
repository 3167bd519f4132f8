//===- LinalgUtils.h - Shared linalg queries for CPU codegen ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_CONVERSION_LINALGTOCPU_LINALGUTILS_H
#define SLM_LIB_CONVERSION_LINALGTOCPU_LINALGUTILS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::slm {

/// Whether `op` only moves data: one input, one output, no reduction, and a
/// body that yields its input element (a copy, transpose or broadcast).
inline bool isDataMovement(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 0)
    return false;
  Block &body = op.getRegion().front();
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  return body.getOperations().size() == 1 && yield &&
         yield.getValues().front() == body.getArgument(0);
}

} // namespace mlir::slm

#endif // SLM_LIB_CONVERSION_LINALGTOCPU_LINALGUTILS_H
