//===- SetPrecision.cpp - bf16 products for linear layers -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-set-precision marks the linear layers whose products may run in
// bfloat16: a float constant weight, an f32 input, no W8A8, an even
// in_features. The lowering (convert-slm-to-linalg) rounds and packs.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/Passes.h"

#include "mlir/IR/Matchers.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMSETPRECISION
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {
struct SLMSetPrecisionPass
    : mlir::slm::impl::SLMSetPrecisionBase<SLMSetPrecisionPass> {
  using SLMSetPrecisionBase::SLMSetPrecisionBase;

  void runOnOperation() override {
    std::optional<Precision> target = symbolizePrecision(precision);
    if (!target) {
      getOperation()->emitError()
          << "slm-set-precision: precision must be bf16 or f32, not '"
          << precision << "'";
      return signalPassFailure();
    }
    getOperation()->walk([&](LinearOp op) {
      if (*target == Precision::f32) {
        op.setPrecision(Precision::f32);
        return;
      }
      RankedTensorType weight = op.getWeight().getType();
      if (op.getInputQuant() != InputQuant::none ||
          !weight.getElementType().isF32() || !weight.hasStaticShape() ||
          !op.getType().getElementType().isF32() ||
          !matchPattern(op.getWeight(), m_Constant()))
        return;
      if (op.getInFeatures() % 2 != 0) {
        op->emitWarning() << "kept in f32: bf16 products need an even "
                             "in_features, this layer has "
                          << op.getInFeatures();
        return;
      }
      op.setPrecision(Precision::bf16);
    });
  }
};
} // namespace
