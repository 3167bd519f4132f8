//===- Raise.h - Explaining what the raising passes did ---------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Each raising pass matches without changing the IR first; these entry
// points run only that matching, so a report can say why a candidate was
// left as it is.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TRANSFORMS_RAISE_H
#define SLM_TRANSFORMS_RAISE_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir::slm {

/// Why the softmax `op` is not the core of an attention block that
/// --slm-raise-attention raises; empty when it is.
std::string explainAttentionMismatch(Operation *softmax);
/// Why the math.erf/math.tanh `op` is not inside a GELU that
/// --slm-raise-gelu raises; empty when it is.
std::string explainGeluMismatch(Operation *op);
/// Why the mean `op` does not start a LayerNorm that --slm-raise-layer-norm
/// raises; empty when it does.
std::string explainLayerNormMismatch(Operation *mean);
/// Why the matmul `op` is not a linear layer for --slm-raise-linear; empty
/// when it is.
std::string explainLinearMismatch(Operation *matmul);

/// Prints what raising produced in `module` (transformer ops per function)
/// and every candidate it left, with the reason, located by ONNX node name.
void printRaiseReport(ModuleOp module, llvm::raw_ostream &os);

} // namespace mlir::slm

#endif // SLM_TRANSFORMS_RAISE_H
