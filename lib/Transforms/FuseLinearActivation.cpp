//===- FuseLinearActivation.cpp - Activation epilogues for linear ---------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/Passes.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMFUSELINEARACTIVATION
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

/// The linear layer whose epilogue may absorb an activation applied to
/// `value`: it must produce `value`, have no epilogue yet, and `value` must
/// have no other use.
static LinearOp getFusableLinear(Value value, PatternRewriter &rewriter,
                                 Operation *activation) {
  auto linear = value.getDefiningOp<LinearOp>();
  if (!linear) {
    (void)rewriter.notifyMatchFailure(activation, "input is not slm.linear");
    return {};
  }
  if (linear.getActivation() != Activation::none) {
    (void)rewriter.notifyMatchFailure(activation,
                                      "linear already has an epilogue");
    return {};
  }
  if (!value.hasOneUse()) {
    (void)rewriter.notifyMatchFailure(activation,
                                      "linear result has other uses");
    return {};
  }
  return linear;
}

/// Replaces `activation` by `linear` with the epilogue `kind`.
static void fuseInto(LinearOp linear, Operation *activation, Activation kind,
                     PatternRewriter &rewriter) {
  rewriter.modifyOpInPlace(linear, [&] {
    linear.setActivation(kind);
    // The linear now also computes the activation: its location names both.
    linear->setLoc(
        rewriter.getFusedLoc({linear.getLoc(), activation->getLoc()}));
  });
  rewriter.replaceOp(activation, linear.getResult());
}

namespace {
struct FuseGelu : OpRewritePattern<GeluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GeluOp op,
                                PatternRewriter &rewriter) const override {
    LinearOp linear = getFusableLinear(op.getInput(), rewriter, op);
    if (!linear)
      return failure();
    fuseInto(linear, op,
             op.getApproximate() == GeluApproximation::tanh
                 ? Activation::gelu_tanh
                 : Activation::gelu,
             rewriter);
    return success();
  }
};

/// ReLU arrives as `slm.max(x, 0)` (either operand order).
struct FuseRelu : OpRewritePattern<MaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MaxOp op,
                                PatternRewriter &rewriter) const override {
    Value other;
    if (matchPattern(op.getRhs(), m_AnyZeroFloat()))
      other = op.getLhs();
    else if (matchPattern(op.getLhs(), m_AnyZeroFloat()))
      other = op.getRhs();
    else
      return rewriter.notifyMatchFailure(op, "not a max against zero");
    if (other.getType() != op.getType())
      return rewriter.notifyMatchFailure(op, "max broadcasts its input");
    LinearOp linear = getFusableLinear(other, rewriter, op);
    if (!linear)
      return failure();
    fuseInto(linear, op, Activation::relu, rewriter);
    return success();
  }
};

struct SLMFuseLinearActivationPass
    : mlir::slm::impl::SLMFuseLinearActivationBase<
          SLMFuseLinearActivationPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseLinearActivationPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::slm::populateFuseLinearActivationPatterns(
    RewritePatternSet &patterns) {
  patterns.add<FuseGelu, FuseRelu>(patterns.getContext());
}
