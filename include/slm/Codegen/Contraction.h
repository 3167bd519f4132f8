//===- Contraction.h - The kernel contract of contractions ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The one place that says what each kind of declared contraction computes
// (#slm.contraction): the lowering builds its linalg.generic here, with the
// declaration attached, and the kernel pass checks here that a declared
// contraction still computes what it declares before planning its kernel.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_CODEGEN_CONTRACTION_H
#define SLM_CODEGEN_CONTRACTION_H

#include "slm/IR/SLMOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <string>

namespace mlir::slm {

/// The declaration that `op` carries (attribute `slm.contraction`), or null.
ContractionAttr getContractionDeclaration(Operation *op);

/// Attaches `declaration` to `op`.
void setContractionDeclaration(Operation *op, ContractionAttr declaration);

/// Creates the linalg.generic of a contraction of kind
/// `declaration.getKind()`, with `declaration` attached: `inputs` in the
/// kind's roles (A, B or the codes, then scales, offsets), `init` the
/// accumulator, one indexing map per operand; the last
/// `declaration.getNumReductions()` loops are the reductions, and for the
/// 4-bit kinds the innermost one selects the nibble. `nf4Table` is the
/// 16-entry f32 table of NF4 levels the nf4 body reads (nf4 only).
linalg::GenericOp buildDeclaredContraction(OpBuilder &b, Location loc,
                                           ContractionAttr declaration,
                                           Type resultType, ValueRange inputs,
                                           Value init, ArrayRef<AffineMap> maps,
                                           Value nf4Table = Value());

/// Whether the body of `op` computes what `declaration` declares (the body
/// buildDeclaredContraction writes, up to the order of commutative
/// operands and constants hoisted out of the body); otherwise `reason` says
/// where it differs.
bool hasDeclaredBody(linalg::GenericOp op, ContractionAttr declaration,
                     std::string &reason);

} // namespace mlir::slm

#endif // SLM_CODEGEN_CONTRACTION_H
