//===- RaiseLayerNorm.cpp - LayerNorm to slm.layer_norm ---------*- C++ -*-===//
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
// and the RMSNorm of T5, Llama and Gemma over the last axis:
//   ms = ReduceMean(x^2 | x*x);  y = x * rsqrt(ms + eps) | x / sqrt(ms + eps)
//                                  | x * (1 / sqrt(ms + eps))
//   y  = y * gamma                          (optional, either order)
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Passes.h"
#include "slm/Transforms/Raise.h"

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

/// A constant with the normalized shape, or one that only adds leading 1s.
static bool isAffineParameter(Value value, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (!isConstantTensor(value) || !type.hasStaticShape())
    return false;
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return type.getNumElements() == n &&
         type.getShape().take_back(shape.size()).equals(shape);
}

/// A LayerNorm found in the IR.
struct LayerNormMatch {
  Value input, gamma, beta; // gamma, beta may be null
  Value root;               // the value the layer norm replaces
  double epsilon;
  int64_t axis;
  SmallVector<int64_t> normalizedShape;
};

/// Matches the LayerNorm that starts at the mean `mean`, without changing
/// the IR; on failure `why` says what is missing.
static FailureOr<LayerNormMatch> matchLayerNorm(ReduceOp mean,
                                                std::string &why) {
  std::optional<int64_t> axis = trailingMeanAxis(mean);
  if (!axis) {
    why = "not a keep-dims mean over trailing axes";
    return failure();
  }
  Value x = mean.getInput();
  SubOp centered;
  for (Operation *user : mean->getUsers())
    if (auto sub = dyn_cast<SubOp>(user);
        sub && sub.getLhs() == x && sub.getType() == x.getType())
      centered = sub;
  if (!centered) {
    why = "the mean is not subtracted from its input";
    return failure();
  }
  Value d = centered.getResult();
  Value normalized, denominator;
  for (Operation *user : d.getUsers()) {
    if (auto div = dyn_cast<DivOp>(user); div && div.getLhs() == d) {
      if (auto sqrt = div.getRhs().getDefiningOp<math::SqrtOp>()) {
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
  if (!normalized || normalized.getType() != x.getType()) {
    why = "the centered value is not divided by sqrt(var + eps)";
    return failure();
  }
  auto addEps = denominator.getDefiningOp<AddOp>();
  if (!addEps) {
    why = "no var + eps";
    return failure();
  }
  Value var = addEps.getLhs(), epsValue = addEps.getRhs();
  if (!getSplatConstant(epsValue))
    std::swap(var, epsValue);
  std::optional<double> eps = getSplatConstant(epsValue);
  auto varMean = var.getDefiningOp<ReduceOp>();
  if (!eps || trailingMeanAxis(varMean) != axis ||
      !isSquareOf(varMean.getInput(), d)) {
    why = "the variance is not mean((x - mean)^2) + a constant";
    return failure();
  }
  ArrayRef<int64_t> shape = cast<RankedTensorType>(x.getType()).getShape();
  LayerNormMatch match{x,
                       {},
                       {},
                       normalized,
                       *eps,
                       *axis,
                       SmallVector<int64_t>(shape.drop_front(*axis))};
  if (llvm::any_of(match.normalizedShape, ShapedType::isDynamic)) {
    why = "the normalized dimensions are dynamic";
    return failure();
  }
  // Optional scale, then shift, in either operand order.
  if (match.root.hasOneUse())
    if (auto mul = dyn_cast<MulOp>(*match.root.getUsers().begin());
        mul && mul.getType() == x.getType()) {
      Value other = mul.getLhs() == match.root ? mul.getRhs() : mul.getLhs();
      if (isAffineParameter(other, match.normalizedShape)) {
        match.gamma = other;
        match.root = mul.getResult();
      }
    }
  if (match.root.hasOneUse())
    if (auto add = dyn_cast<AddOp>(*match.root.getUsers().begin());
        add && add.getType() == x.getType()) {
      Value other = add.getLhs() == match.root ? add.getRhs() : add.getLhs();
      if (isAffineParameter(other, match.normalizedShape)) {
        match.beta = other;
        match.root = add.getResult();
      }
    }
  return match;
}

/// An RMSNorm found in the IR.
struct RMSNormMatch {
  Value input, gamma; // gamma may be null
  Value root;         // the value the norm replaces
  double epsilon;
};

/// The value `value` squares (pow(x, 2) or x * x), or null.
static Value squaredValue(Value value) {
  if (auto pow = value.getDefiningOp<PowOp>())
    return isSplatNear(pow.getRhs(), 2.0) ? pow.getLhs() : Value();
  if (auto mul = value.getDefiningOp<MulOp>())
    return mul.getLhs() == mul.getRhs() ? mul.getLhs() : Value();
  return Value();
}

/// Matches the RMSNorm whose mean of squares is `mean`, without changing the
/// IR; on failure `why` says what is missing.
static FailureOr<RMSNormMatch> matchRMSNorm(ReduceOp mean, std::string &why) {
  std::optional<int64_t> axis = trailingMeanAxis(mean);
  int64_t rank = mean ? mean.getInput().getType().getRank() : 0;
  Value x = mean ? squaredValue(mean.getInput()) : Value();
  if (!axis || *axis != rank - 1 || !x || x.getType() != mean.getInput().getType()) {
    why = "the mean is not subtracted from its input, nor a mean of squares "
          "over the last axis";
    return failure();
  }
  // The variance of a LayerNorm is a mean of squares too: leave it to the
  // LayerNorm pattern.
  if (auto sub = x.getDefiningOp<SubOp>())
    if (auto centerMean = sub.getRhs().getDefiningOp<ReduceOp>();
        centerMean && centerMean.getInput() == sub.getLhs()) {
      why = "the variance of a LayerNorm";
      return failure();
    }
  auto type = cast<RankedTensorType>(x.getType());
  if (type.isDynamicDim(rank - 1)) {
    why = "the normalized dimension is dynamic";
    return failure();
  }
  if (!mean->hasOneUse()) {
    why = "the mean of squares has several uses";
    return failure();
  }
  auto addEps = dyn_cast<AddOp>(*mean->getUsers().begin());
  if (!addEps || !addEps->hasOneUse()) {
    why = "no mean(x^2) + eps";
    return failure();
  }
  Value epsValue =
      addEps.getLhs() == mean.getResult() ? addEps.getRhs() : addEps.getLhs();
  std::optional<double> eps = getSplatConstant(epsValue);
  if (!eps || cast<RankedTensorType>(epsValue.getType()).getNumElements() != 1) {
    why = "no mean(x^2) + a constant";
    return failure();
  }
  Operation *root = *addEps->getUsers().begin();
  Value normalized;
  if (auto rsqrt = dyn_cast<math::RsqrtOp>(root); rsqrt && rsqrt->hasOneUse()) {
    if (auto mul = dyn_cast<MulOp>(*rsqrt->getUsers().begin());
        mul && (mul.getLhs() == x || mul.getRhs() == x))
      normalized = mul.getResult();
  } else if (auto sqrt = dyn_cast<math::SqrtOp>(root);
             sqrt && sqrt->hasOneUse()) {
    auto div = dyn_cast<DivOp>(*sqrt->getUsers().begin());
    if (div && div.getLhs() == x) {
      normalized = div.getResult();
    } else if (div && div.getRhs() == sqrt.getResult() &&
               isSplatNear(div.getLhs(), 1.0, 0.0) && div->hasOneUse()) {
      // rsqrt as exported: x * (1 / sqrt(ms + eps)).
      if (auto mul = dyn_cast<MulOp>(*div->getUsers().begin());
          mul && (mul.getLhs() == x || mul.getRhs() == x))
        normalized = mul.getResult();
    }
  }
  if (!normalized || normalized.getType() != x.getType()) {
    why = "x is not scaled by rsqrt(mean(x^2) + eps)";
    return failure();
  }
  RMSNormMatch match{x, {}, normalized, *eps};
  int64_t width = type.getDimSize(rank - 1);
  if (match.root.hasOneUse())
    if (auto mul = dyn_cast<MulOp>(*match.root.getUsers().begin());
        mul && mul.getType() == x.getType()) {
      Value other = mul.getLhs() == match.root ? mul.getRhs() : mul.getLhs();
      if (isAffineParameter(other, {width})) {
        match.gamma = other;
        match.root = mul.getResult();
      }
    }
  return match;
}

std::string mlir::slm::explainLayerNormMismatch(Operation *op) {
  std::string why;
  auto mean = dyn_cast<ReduceOp>(op);
  if (!mean)
    return "not a mean";
  if (succeeded(matchLayerNorm(mean, why)))
    return std::string();
  std::string rmsWhy;
  if (succeeded(matchRMSNorm(mean, rmsWhy)))
    return std::string();
  // A mean of squares is an RMSNorm candidate: its reason is the one to give.
  return squaredValue(mean.getInput()) ? rmsWhy : why;
}

namespace {
struct RaiseLayerNorm : OpRewritePattern<ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReduceOp mean,
                                PatternRewriter &rewriter) const override {
    std::string why;
    FailureOr<LayerNormMatch> match = matchLayerNorm(mean, why);
    if (failed(match))
      return rewriter.notifyMatchFailure(mean, why);
    auto inputType = cast<RankedTensorType>(match->input.getType());
    auto paramType = RankedTensorType::get(match->normalizedShape,
                                           inputType.getElementType());
    rewriter.setInsertionPointAfterValue(match->root);
    Location loc = match->root.getLoc();
    auto fit = [&](Value v) -> Value {
      if (!v || v.getType() == paramType)
        return v;
      return ReshapeOp::create(rewriter, loc, paramType, v, Value());
    };
    Value gamma = fit(match->gamma);
    if (!gamma)
      gamma = arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(
              paramType,
              rewriter.getFloatAttr(paramType.getElementType(), 1.0)));
    auto layerNorm = LayerNormOp::create(
        rewriter, loc, inputType, match->input, gamma, fit(match->beta),
        rewriter.getF64FloatAttr(match->epsilon),
        rewriter.getI64IntegerAttr(match->axis));
    rewriter.replaceAllUsesWith(match->root, layerNorm.getResult());
    return success();
  }
};

struct RaiseRMSNorm : OpRewritePattern<ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReduceOp mean,
                                PatternRewriter &rewriter) const override {
    std::string why;
    FailureOr<RMSNormMatch> match = matchRMSNorm(mean, why);
    if (failed(match))
      return rewriter.notifyMatchFailure(mean, why);
    auto inputType = cast<RankedTensorType>(match->input.getType());
    auto paramType = RankedTensorType::get({inputType.getShape().back()},
                                           inputType.getElementType());
    rewriter.setInsertionPointAfterValue(match->root);
    Location loc = match->root.getLoc();
    Value gamma = match->gamma;
    if (gamma && gamma.getType() != paramType)
      gamma = ReshapeOp::create(rewriter, loc, paramType, gamma, Value());
    if (!gamma)
      gamma = arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(
              paramType,
              rewriter.getFloatAttr(paramType.getElementType(), 1.0)));
    auto norm = RMSNormOp::create(rewriter, loc, inputType, match->input, gamma,
                                  rewriter.getF64FloatAttr(match->epsilon));
    rewriter.replaceAllUsesWith(match->root, norm.getResult());
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
  patterns.add<RaiseLayerNorm, RaiseRMSNorm>(patterns.getContext());
}
