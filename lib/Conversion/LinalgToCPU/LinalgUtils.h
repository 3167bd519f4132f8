//===- LinalgUtils.h - Shared linalg queries for CPU codegen ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_CONVERSION_LINALGTOCPU_LINALGUTILS_H
#define SLM_LIB_CONVERSION_LINALGTOCPU_LINALGUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "slm/Conversion/Passes.h"

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

/// A contraction over int8 weight codes with one scale per output column
/// (int8 weight-only linear layers): ins(A f32, B i8, S f32), body
/// `out + a * (sitofp(b) * s)`. The GEMM kernels widen and scale B in
/// registers; fusion treats it as a contraction.
inline bool isScaledCodesContraction(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 3 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1)
    return false;
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 5)
    return false;
  auto it = body.begin();
  auto widen = dyn_cast<arith::SIToFPOp>(&*it++);
  auto scaled = dyn_cast<arith::MulFOp>(&*it++);
  auto product = dyn_cast<arith::MulFOp>(&*it++);
  auto sum = dyn_cast<arith::AddFOp>(&*it++);
  auto yield = dyn_cast<linalg::YieldOp>(&*it);
  return widen && scaled && product && sum && yield &&
         widen.getIn() == body.getArgument(1) &&
         scaled.getLhs() == widen.getResult() &&
         scaled.getRhs() == body.getArgument(2) &&
         product.getLhs() == body.getArgument(0) &&
         product.getRhs() == scaled.getResult() &&
         sum.getLhs() == body.getArgument(3) &&
         sum.getRhs() == product.getResult() &&
         yield.getValues().front() == sum.getResult();
}

/// An integer dot-product contraction (W8A8 linear layers): ins(A i8 read
/// as uint8, B i8), outs(C i32), body `out + extui(a) * extsi(b)`, with two
/// reductions: four consecutive k (innermost in A and B) and the quads.
inline bool isInt8DotContraction(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 2)
    return false;
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 5)
    return false;
  auto it = body.begin();
  auto a = dyn_cast<arith::ExtUIOp>(&*it++);
  auto b = dyn_cast<arith::ExtSIOp>(&*it++);
  auto product = dyn_cast<arith::MulIOp>(&*it++);
  auto sum = dyn_cast<arith::AddIOp>(&*it++);
  auto yield = dyn_cast<linalg::YieldOp>(&*it);
  return a && b && product && sum && yield &&
         a.getIn() == body.getArgument(0) && b.getIn() == body.getArgument(1) &&
         a.getIn().getType().isSignlessInteger(8) &&
         b.getIn().getType().isSignlessInteger(8) &&
         a.getType().isSignlessInteger(32) &&
         product.getLhs() == a.getResult() &&
         product.getRhs() == b.getResult() &&
         sum.getLhs() == body.getArgument(2) &&
         sum.getRhs() == product.getResult() &&
         yield.getValues().front() == sum.getResult();
}

/// The contraction of a linear layer with 4-bit weights (kNibbleDecodeAttr
/// set by --convert-slm-to-linalg): ins(A f32 [.., K/g, g/2, 2], codes i8
/// [panels, K/g, g/2, P], scales f32 [panels, K/g, P], offsets (affine)),
/// three reductions.
inline bool isNibbleContraction(linalg::GenericOp op) {
  auto decode = op->getAttrOfType<StringAttr>(kNibbleDecodeAttr);
  if (!decode || op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 3)
    return false;
  const unsigned inputs = decode.getValue() == "nf4" ? 3 : 4;
  return (decode.getValue() == "nf4" || decode.getValue() == "affine") &&
         op.getNumDpsInputs() == inputs;
}

/// Whether the GEMM kernels take `op` (a plain or a scaled-codes
/// contraction): nothing is fused into its operands but layout copies.
inline bool isKernelContraction(linalg::LinalgOp op) {
  auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
  return linalg::isaContractionOpInterface(op) ||
         (generic &&
          (isScaledCodesContraction(generic) || isInt8DotContraction(generic) ||
           isNibbleContraction(generic)));
}

} // namespace mlir::slm

#endif // SLM_LIB_CONVERSION_LINALGTOCPU_LINALGUTILS_H
