//===- RaiseGelu.cpp - Spelled-out GELUs to slm.gelu ------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Both forms, in any association of the products:
//   erf:  x * 0.5 * (1 + erf(x / sqrt(2)))          (or x * (1/sqrt(2)))
//   tanh: x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMRAISEGELU
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

/// For a commutative binary op `op` with one operand `known`, the other.
template <typename OpTy>
static Value otherOperand(OpTy op, Value known) {
  if (op.getLhs() == known)
    return op.getRhs();
  if (op.getRhs() == known)
    return op.getLhs();
  return {};
}

/// If `value` is `x * c` or `c * x` (or `x / (1/c)`) with a splat `c` near
/// `factor`, returns x.
static Value matchScaled(Value value, double factor) {
  if (auto mul = value.getDefiningOp<MulOp>()) {
    if (isSplatNear(mul.getRhs(), factor))
      return mul.getLhs();
    if (isSplatNear(mul.getLhs(), factor))
      return mul.getRhs();
  }
  if (auto div = value.getDefiningOp<DivOp>())
    if (isSplatNear(div.getRhs(), 1.0 / factor))
      return div.getLhs();
  return {};
}

/// If `value` is `1 + t` or `t + 1`, returns t.
static Value matchOnePlus(Value value) {
  auto add = value.getDefiningOp<AddOp>();
  if (!add)
    return {};
  if (isSplatNear(add.getRhs(), 1.0))
    return add.getLhs();
  if (isSplatNear(add.getLhs(), 1.0))
    return add.getRhs();
  return {};
}

/// True when `value` is x^3 (pow(x, 3), x*x*x in any association).
static bool isCube(Value value, Value x) {
  if (auto pow = value.getDefiningOp<PowOp>())
    return pow.getLhs() == x && isSplatNear(pow.getRhs(), 3.0);
  auto mul = value.getDefiningOp<MulOp>();
  if (!mul)
    return false;
  auto isSquare = [&](Value v) {
    auto sq = v.getDefiningOp<MulOp>();
    if (sq)
      return sq.getLhs() == x && sq.getRhs() == x;
    auto pow = v.getDefiningOp<PowOp>();
    return pow && pow.getLhs() == x && isSplatNear(pow.getRhs(), 2.0);
  };
  return (mul.getLhs() == x && isSquare(mul.getRhs())) ||
         (mul.getRhs() == x && isSquare(mul.getLhs()));
}

/// The leaves of a product tree rooted at `value`; inner products must have
/// one use (they disappear with the match).
static void productLeaves(Value value, bool isRoot,
                          SmallVectorImpl<Value> &leaves) {
  auto mul = value.getDefiningOp<MulOp>();
  if (mul && (isRoot || value.hasOneUse())) {
    productLeaves(mul.getLhs(), false, leaves);
    productLeaves(mul.getRhs(), false, leaves);
    return;
  }
  leaves.push_back(value);
}

/// Starting at `onePlus` (the 1 + erf/tanh term), climbs through the
/// multiplications that use it until their leaves are exactly
/// {x, 0.5, onePlus}; returns that root product.
static MulOp findGeluRoot(Value onePlus, Value x) {
  Value current = onePlus;
  for (int step = 0; step < 3; ++step) {
    if (!current.hasOneUse())
      return {};
    auto mul = dyn_cast<MulOp>(*current.getUsers().begin());
    if (!mul || mul.getType() != x.getType())
      return {};
    SmallVector<Value> leaves;
    productLeaves(mul.getResult(), true, leaves);
    int xs = 0, halves = 0, terms = 0;
    bool other = false;
    for (Value leaf : leaves) {
      if (leaf == x)
        ++xs;
      else if (leaf == onePlus)
        ++terms;
      else if (isSplatNear(leaf, 0.5))
        ++halves;
      else
        other = true;
    }
    if (!other && xs == 1 && halves == 1 && terms == 1)
      return mul;
    if (other || xs > 1 || halves > 1)
      return {};
    current = mul.getResult();
  }
  return {};
}

namespace {
struct RaiseErfGelu : OpRewritePattern<math::ErfOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::ErfOp op,
                                PatternRewriter &rewriter) const override {
    Value x = matchScaled(op.getOperand(), 1.0 / std::sqrt(2.0));
    if (!x)
      return rewriter.notifyMatchFailure(op, "erf input is not x / sqrt(2)");
    if (!op->hasOneUse())
      return rewriter.notifyMatchFailure(op, "erf has several uses");
    Operation *user = *op->getUsers().begin();
    Value onePlus = user->getNumResults() == 1 ? user->getResult(0) : Value();
    if (!onePlus || matchOnePlus(onePlus) != op.getResult())
      return rewriter.notifyMatchFailure(op, "erf is not in 1 + erf(..)");
    MulOp root = findGeluRoot(onePlus, x);
    if (!root)
      return rewriter.notifyMatchFailure(op, "no x * 0.5 * (1 + erf) product");
    rewriter.replaceOpWithNewOp<GeluOp>(root, x, GeluApproximation::none);
    return success();
  }
};

struct RaiseTanhGelu : OpRewritePattern<math::TanhOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::TanhOp op,
                                PatternRewriter &rewriter) const override {
    Value inner = matchScaled(op.getOperand(), std::sqrt(2.0 / M_PI));
    auto add = inner ? inner.getDefiningOp<AddOp>() : AddOp();
    if (!add)
      return rewriter.notifyMatchFailure(op, "tanh input is not c * (x + ..)");
    // x + 0.044715 * x^3, either order.
    Value x;
    for (auto [candidate, cubic] : {std::pair(add.getLhs(), add.getRhs()),
                                    std::pair(add.getRhs(), add.getLhs())}) {
      Value cube = matchScaled(cubic, 0.044715);
      if (cube && isCube(cube, candidate)) {
        x = candidate;
        break;
      }
    }
    if (!x)
      return rewriter.notifyMatchFailure(op, "no x + 0.044715 x^3");
    if (!op->hasOneUse())
      return rewriter.notifyMatchFailure(op, "tanh has several uses");
    Operation *user = *op->getUsers().begin();
    Value onePlus = user->getNumResults() == 1 ? user->getResult(0) : Value();
    if (!onePlus || matchOnePlus(onePlus) != op.getResult())
      return rewriter.notifyMatchFailure(op, "tanh is not in 1 + tanh(..)");
    MulOp root = findGeluRoot(onePlus, x);
    if (!root)
      return rewriter.notifyMatchFailure(op, "no x * 0.5 * (1 + tanh) product");
    rewriter.replaceOpWithNewOp<GeluOp>(root, x, GeluApproximation::tanh);
    return success();
  }
};

struct SLMRaiseGeluPass : mlir::slm::impl::SLMRaiseGeluBase<SLMRaiseGeluPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRaiseGeluPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::slm::populateRaiseGeluPatterns(RewritePatternSet &patterns) {
  patterns.add<RaiseErfGelu, RaiseTanhGelu>(patterns.getContext());
}
