//===- RaiseLinear.cpp - MatMul (+ Add) to slm.linear -----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Passes.h"
#include "slm/Transforms/Raise.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMRAISELINEAR
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

/// Why matmul `op` is not a product with a weight ("" when it is).
static std::string linearMismatch(MatMulOp op) {
  RankedTensorType weightType = op.getRhs().getType();
  if (weightType.getRank() != 2 || !weightType.hasStaticShape())
    return "the right operand is not a static matrix";
  if (!isa<FloatType>(weightType.getElementType()))
    return "an integer product";
  // A weight is a constant, or a transpose of one (Gemm with transB).
  Value weight = op.getRhs();
  auto transposed = weight.getDefiningOp<TransposeOp>();
  if (!isConstantTensor(weight) &&
      !(transposed && isConstantTensor(transposed.getInput())))
    return "the right operand is not a constant weight";
  return "";
}

std::string mlir::slm::explainLinearMismatch(Operation *op) {
  auto matmul = dyn_cast<MatMulOp>(op);
  return matmul ? linearMismatch(matmul) : "not a matmul";
}

namespace {
/// matmul(x, W) with a constant 2-D W [K, N] -> linear(x, transpose(W)):
/// the transpose of a constant folds, so the weight is stored [N, K].
struct MatMulToLinear : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    std::string why = linearMismatch(op);
    if (!why.empty())
      return rewriter.notifyMatchFailure(op, why);
    Value weight = op.getRhs();
    RankedTensorType weightType = op.getRhs().getType();
    auto outIn = RankedTensorType::get(
        {weightType.getDimSize(1), weightType.getDimSize(0)},
        weightType.getElementType());
    Value transposedWeight = TransposeOp::create(
        rewriter, op.getLoc(), outIn, weight, ArrayRef<int64_t>{1, 0});
    rewriter.replaceOpWithNewOp<LinearOp>(op, op.getType(), op.getLhs(),
                                          transposedWeight, Value());
    return success();
  }
};

/// add(linear(x, W), b) with a bias b of [N] (or [1, .., 1, N]) -> linear
/// with that bias.
struct FoldBiasIntoLinear : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    for (auto [linearValue, bias] : {std::pair(op.getLhs(), op.getRhs()),
                                     std::pair(op.getRhs(), op.getLhs())}) {
      auto linear = linearValue.getDefiningOp<LinearOp>();
      if (!linear || linear.getBias() || !linearValue.hasOneUse() ||
          linear.getActivation() != Activation::none ||
          linear.getType() != op.getType())
        continue;
      auto biasType = cast<RankedTensorType>(bias.getType());
      int64_t n = linear.getOutFeatures();
      if (!biasType.hasStaticShape() || biasType.getNumElements() != n ||
          biasType.getShape().back() != n)
        continue;
      Value bias1d = bias;
      if (biasType.getRank() != 1)
        bias1d = ReshapeOp::create(
            rewriter, op.getLoc(),
            RankedTensorType::get({n}, biasType.getElementType()), bias,
            Value());
      rewriter.modifyOpInPlace(linear, [&] {
        linear.getBiasMutable().assign(bias1d);
        linear->setLoc(rewriter.getFusedLoc({linear.getLoc(), op.getLoc()}));
      });
      rewriter.replaceOp(op, linear.getResult());
      return success();
    }
    return rewriter.notifyMatchFailure(op, "not a linear plus a bias vector");
  }
};

struct SLMRaiseLinearPass
    : mlir::slm::impl::SLMRaiseLinearBase<SLMRaiseLinearPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRaiseLinearPatterns(patterns);
    TransposeOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::slm::populateRaiseLinearPatterns(RewritePatternSet &patterns) {
  patterns.add<MatMulToLinear, FoldBiasIntoLinear>(patterns.getContext());
}
