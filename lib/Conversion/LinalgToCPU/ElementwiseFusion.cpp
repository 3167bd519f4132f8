//===- ElementwiseFusion.cpp - Elementwise fusion around GEMMs --*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "LinalgUtils.h"
#include "slm/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMFUSEELEMENTWISE
#include "slm/Conversion/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
/// Whether `operand` of a contraction is produced by a copy (a transpose,
/// a broadcast) that may fold into the contraction's indexing: always for
/// the left-hand side (read one element at a time), and for the right-hand
/// side only when its innermost index stays the output column, which the
/// GEMM kernels load as whole vectors.
bool isLayoutPreservingCopy(OpOperand *operand) {
  auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
  auto consumer = dyn_cast<linalg::GenericOp>(operand->getOwner());
  if (!producer || !consumer || !mlir::slm::isDataMovement(producer))
    return false;
  unsigned index = operand->getOperandNumber();
  if (index == 0)
    return true;
  if (index != 1)
    return false;
  AffineMap producerOutput = producer.getIndexingMapsArray()[1];
  if (!producerOutput.isPermutation())
    return false;
  AffineMap consumerMap = consumer.getMatchingIndexingMap(operand);
  AffineMap fused = producer.getIndexingMapsArray()[0]
                        .compose(inversePermutation(producerOutput))
                        .compose(consumerMap);
  return fused.getNumResults() > 0 && consumerMap.getNumResults() > 0 &&
         fused.getResults().back() == consumerMap.getResults().back();
}

struct SLMFuseElementwisePass
    : mlir::slm::impl::SLMFuseElementwiseBase<SLMFuseElementwisePass> {
  using SLMFuseElementwiseBase::SLMFuseElementwiseBase;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    bool keepContractions = noFuseIntoContractions;
    // Upstream's rule (fuse a producer with a single use), and nothing into
    // a contraction: its operands keep the layout the GEMM kernels read.
    linalg::ControlFusionFn control = [keepContractions](OpOperand *operand) {
      Operation *producer = operand->get().getDefiningOp();
      if (!producer || !producer->hasOneUse())
        return false;
      // The blocked A of the W8A8 and 4-bit kernels ([rows, k/4, 4],
      // [rows, k/g, g/2, 2]) stays a reshape: moving it into its producer
      // would give that loop nest the blocked shape and a 2- or 4-wide
      // inner loop.
      if (auto expand = dyn_cast<tensor::ExpandShapeOp>(operand->getOwner()))
        for (Operation *user : expand->getUsers())
          if (auto generic = dyn_cast<linalg::GenericOp>(user))
            if (slm::isInt8DotContraction(generic) ||
                slm::isNibbleContraction(generic))
              return false;
      auto consumer = dyn_cast<linalg::LinalgOp>(operand->getOwner());
      if (!keepContractions || !consumer || !slm::isKernelContraction(consumer))
        return true;
      return isLayoutPreservingCopy(operand);
    };
    // Transposes as generics, so that they can fuse (head splits).
    {
      SmallVector<linalg::TransposeOp> transposes;
      getOperation()->walk(
          [&](linalg::TransposeOp op) { transposes.push_back(op); });
      IRRewriter rewriter(ctx);
      for (linalg::TransposeOp op : transposes) {
        rewriter.setInsertionPoint(op);
        (void)linalg::generalizeNamedOp(rewriter, op);
      }
    }
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, control);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    ctx->getLoadedDialect<linalg::LinalgDialect>()->getCanonicalizationPatterns(
        patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // A fill that several ops accumulate into (CSE merges equal fills)
    // would be copied by bufferization for every consumer but one: give
    // each consumer its own fill instead, which then fuses with the
    // consumer's loop nest.
    SmallVector<linalg::FillOp> shared;
    getOperation()->walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics() && !fill->hasOneUse() &&
          !fill->use_empty())
        shared.push_back(fill);
    });
    IRRewriter rewriter(ctx);
    for (linalg::FillOp fill : shared) {
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : fill->getUses())
        uses.push_back(&use);
      for (OpOperand *use : llvm::drop_begin(uses)) {
        rewriter.setInsertionPoint(use->getOwner());
        Operation *copy = rewriter.clone(*fill);
        rewriter.modifyOpInPlace(use->getOwner(),
                                 [&] { use->set(copy->getResult(0)); });
      }
    }
  }
};
} // namespace
