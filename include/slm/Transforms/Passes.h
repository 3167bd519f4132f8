//===- Passes.h - slm transformation passes ---------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TRANSFORMS_PASSES_H
#define SLM_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace arith {
class ArithDialect;
} // namespace arith
namespace tensor {
class TensorDialect;
} // namespace tensor
namespace math {
class MathDialect;
} // namespace math
namespace slm {
class SLMDialect;

#define GEN_PASS_DECL
#include "slm/Transforms/Passes.h.inc"

/// Adds the patterns of --slm-fuse-linear-activation to `patterns`.
void populateFuseLinearActivationPatterns(RewritePatternSet &patterns);
/// Adds the patterns of --slm-raise-linear to `patterns`.
void populateRaiseLinearPatterns(RewritePatternSet &patterns);
/// Adds the patterns of --slm-raise-layer-norm to `patterns`.
void populateRaiseLayerNormPatterns(RewritePatternSet &patterns);
/// Adds the patterns of --slm-raise-gelu to `patterns`.
void populateRaiseGeluPatterns(RewritePatternSet &patterns);
/// Adds the patterns of --slm-raise-attention to `patterns`.
void populateRaiseAttentionPatterns(RewritePatternSet &patterns);
/// Adds the patterns of --slm-decompose-transformer-ops to `patterns`.
void populateDecomposeTransformerOpsPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "slm/Transforms/Passes.h.inc"

} // namespace slm
} // namespace mlir

#endif // SLM_TRANSFORMS_PASSES_H
