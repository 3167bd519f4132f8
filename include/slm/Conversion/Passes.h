//===- Passes.h - slm conversion passes -------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_CONVERSION_PASSES_H
#define SLM_CONVERSION_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace arith {
class ArithDialect;
} // namespace arith
namespace linalg {
class LinalgDialect;
} // namespace linalg
namespace memref {
class MemRefDialect;
} // namespace memref
namespace math {
class MathDialect;
} // namespace math
namespace scf {
class SCFDialect;
} // namespace scf
namespace vector {
class VectorDialect;
} // namespace vector
namespace tensor {
class TensorDialect;
} // namespace tensor
namespace slm {

#define GEN_PASS_DECL
#include "slm/Conversion/Passes.h.inc"

/// Adds the patterns of --convert-slm-to-linalg to `patterns`; constant
/// weights of slm.linear are packed into panels of `weightPanel` columns
/// (0: not packed).
void populateSLMToLinalgPatterns(RewritePatternSet &patterns,
                                 int64_t weightPanel = 32);

/// On the contraction of a linear layer with 4-bit weights: how its body
/// decodes a nibble `u` ("affine": u * scale + offset; "nf4": NF4[u] *
/// scale), so that --slm-vectorize-contractions decodes in registers.
constexpr llvm::StringLiteral kNibbleDecodeAttr = "slm.nibble_decode";

#define GEN_PASS_REGISTRATION
#include "slm/Conversion/Passes.h.inc"

} // namespace slm
} // namespace mlir

#endif // SLM_CONVERSION_PASSES_H
