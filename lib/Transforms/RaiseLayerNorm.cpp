//===- RaiseLayerNorm.cpp - Spelled-out LayerNorm to slm.layer_norm -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The decomposition PyTorch exports below opset 17 (and HF code spells out):
//   mean = ReduceMean(x, trailing axes);  d = x - mean
//   var  = ReduceMean(d^2 | d*d);         n = d / sqrt(var + eps)
//                                          (or d * rsqrt(var + eps))
//   y    = n * gamma + beta                (each optional, either order)
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMRAISELAYERNORM
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

/// A keep-dims mean over the trailing axes [axis, rank) of its input;
/// returns axis, or std::nullopt.
static std::optional<int64_t> trailingMeanAxis(ReduceOp reduce) {
  if (!reduce || reduce.getKind() != ReduceKind::mean || !reduce.getKeepDims())
    return std::nullopt;
  int64_t rank = reduce.getInput().getType().getRank();
  SmallVector<int64_t> axes;
  for (int64_t a : reduce.getAxes())
    axes.push_back(a < 0 ? a + rank : a);
  llvm::sort(axes);
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != rank - static_cast<int64_t>(axes.size() - i))
      return std::nullopt;
  return axes.front();
}

/// d^2 as pow(d, 2) or d * d.
static bool isSquareOf(Value value, Value d) {
  if (auto pow = value.getDefiningOp<PowOp>())
    return pow.getLhs() == d && isSplatNear(pow.getRhs(), 2.0);
  auto mul = value.getDefiningOp<MulOp>();
  return mul && mul.getLhs() == d && mul.getRhs() == d;
}

/// A constant with the normalized shape (or broadcastable [1.., N]), reshaped
/// to exactly `shape`; null otherwise.
static Value affineParameter(Value value, ArrayRef<int64_t> shape,
                             PatternRewriter &rewriter, Location loc) {
  auto type = cast<RankedTensorType>(value.getType());
  if (!isConstantTensor(value) || !type.hasStaticShape())
    return {};
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  if (type.getNumElements() != n ||
      !type.getShape().take_back(shape.size()).equals(shape))
    return {};
  if (type.getShape() == shape)
    return value;
  return ReshapeOp::create(rewriter, loc,
                           RankedTensorType::get(shape, type.getElementType()),
                           value, Value());
}

namespace {
struct RaiseLayerNorm : OpRewritePattern<ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReduceOp mean,
                                PatternRewriter &rewriter) const override {
    std::optional<int64_t> axis = trailingMeanAxis(mean);
    if (!axis)
      return rewriter.notifyMatchFailure(mean, "not a trailing keep-dims mean");
    Value x = mean.getInput();
    // d = x - mean: the sub that uses this mean with x.
    SubOp centered;
    for (Operation *user : mean->getUsers())
      if (auto sub = dyn_cast<SubOp>(user);
          sub && sub.getLhs() == x && sub.getType() == x.getType())
        centered = sub;
    if (!centered)
      return rewriter.notifyMatchFailure(mean, "no x - mean(x)");
    Value d = centered.getResult();
    // var = mean(d^2) and the normalization that uses d.
    Value normalized, denominator;
    for (Operation *user : d.getUsers()) {
      if (auto div = dyn_cast<DivOp>(user); div && div.getLhs() == d) {
        auto sqrt = div.getRhs().getDefiningOp<math::SqrtOp>();
        if (sqrt) {
          normalized = div.getResult();
          denominator = sqrt.getOperand();
        }
      } else if (auto mul = dyn_cast<MulOp>(user)) {
        Value other = mul.getLhs() == d ? mul.getRhs() : mul.getLhs();
        if (auto rsqrt = other.getDefiningOp<math::RsqrtOp>()) {
          normalized = mul.getResult();
          denominator = rsqrt.getOperand();
        }
      }
    }
    if (!normalized || normalized.getType() != x.getType())
      return rewriter.notifyMatchFailure(mean, "no d / sqrt(var + eps)");
    auto addEps = denominator.getDefiningOp<AddOp>();
    if (!addEps)
      return rewriter.notifyMatchFailure(mean, "no var + eps");
    Value var = addEps.getLhs(), epsValue = addEps.getRhs();
    if (!getSplatConstant(epsValue))
      std::swap(var, epsValue);
    std::optional<double> eps = getSplatConstant(epsValue);
    auto varMean = var.getDefiningOp<ReduceOp>();
    if (!eps || trailingMeanAxis(varMean) != axis ||
        !isSquareOf(varMean.getInput(), d))
      return rewriter.notifyMatchFailure(mean, "variance is not mean(d^2)");

    // Optional scale and shift.
    ArrayRef<int64_t> shape = cast<RankedTensorType>(x.getType()).getShape();
    SmallVector<int64_t> normShape(shape.drop_front(*axis));
    if (llvm::any_of(normShape, ShapedType::isDynamic))
      return rewriter.notifyMatchFailure(mean, "dynamic normalized shape");
    Location loc = mean.getLoc();
    Value root = normalized, gamma, beta;
    if (root.hasOneUse())
      if (auto mul = dyn_cast<MulOp>(*root.getUsers().begin());
          mul && mul.getType() == x.getType()) {
        Value other = mul.getLhs() == root ? mul.getRhs() : mul.getLhs();
        if ((gamma = affineParameter(other, normShape, rewriter, loc)))
          root = mul.getResult();
      }
    if (root.hasOneUse())
      if (auto add = dyn_cast<AddOp>(*root.getUsers().begin());
          add && add.getType() == x.getType()) {
        Value other = add.getLhs() == root ? add.getRhs() : add.getLhs();
        if ((beta = affineParameter(other, normShape, rewriter, loc)))
          root = add.getResult();
      }
    if (!gamma) {
      auto type = RankedTensorType::get(
          normShape, cast<RankedTensorType>(x.getType()).getElementType());
      gamma = arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(type, rewriter.getFloatAttr(
                                           type.getElementType(), 1.0)));
    }
    rewriter.setInsertionPointAfterValue(root);
    auto layerNorm = LayerNormOp::create(
        rewriter, root.getLoc(), cast<RankedTensorType>(x.getType()), x, gamma,
        beta, rewriter.getF64FloatAttr(*eps), rewriter.getI64IntegerAttr(*axis));
    rewriter.replaceAllUsesWith(root, layerNorm.getResult());
    return success();
  }
};

struct SLMRaiseLayerNormPass
    : mlir::slm::impl::SLMRaiseLayerNormBase<SLMRaiseLayerNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRaiseLayerNormPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::slm::populateRaiseLayerNormPatterns(RewritePatternSet &patterns) {
  patterns.add<RaiseLayerNorm>(patterns.getContext());
}
