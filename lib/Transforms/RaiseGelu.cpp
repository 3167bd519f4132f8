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
#include "slm/Transforms/Raise.h"

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
template <typename OpTy> static Value otherOperand(OpTy op, Value known) {
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

/// A GELU found in the IR: the product that computes it and its input.
struct GeluMatch {
  MulOp root;
  Value input;
  GeluApproximation approximation;
};

/// Matches the GELU around `op` (math.erf or math.tanh) without changing the
/// IR; on failure `why` says what is missing.
static FailureOr<GeluMatch> matchGelu(Operation *op, std::string &why) {
  Value x;
  GeluApproximation approximation;
  if (auto erf = dyn_cast<math::ErfOp>(op)) {
    approximation = GeluApproximation::none;
    x = matchScaled(erf.getOperand(), 1.0 / std::sqrt(2.0));
    if (!x) {
      why = "the erf input is not x / sqrt(2)";
      return failure();
    }
  } else if (auto tanh = dyn_cast<math::TanhOp>(op)) {
    approximation = GeluApproximation::tanh;
    Value inner = matchScaled(tanh.getOperand(), std::sqrt(2.0 / M_PI));
    auto add = inner ? inner.getDefiningOp<AddOp>() : AddOp();
    if (!add) {
      why = "the tanh input is not sqrt(2/pi) * (x + ..)";
      return failure();
    }
    for (auto [candidate, cubic] : {std::pair(add.getLhs(), add.getRhs()),
                                    std::pair(add.getRhs(), add.getLhs())}) {
      Value cube = matchScaled(cubic, 0.044715);
      if (cube && isCube(cube, candidate)) {
        x = candidate;
        break;
      }
    }
    if (!x) {
      why = "the tanh input has no x + 0.044715 * x^3";
      return failure();
    }
  } else {
    why = "not an erf or tanh";
    return failure();
  }
  if (!op->hasOneUse()) {
    why = "the erf/tanh result has several uses";
    return failure();
  }
  Operation *user = *op->getUsers().begin();
  Value onePlus = user->getNumResults() == 1 ? user->getResult(0) : Value();
  if (!onePlus || matchOnePlus(onePlus) != op->getResult(0)) {
    why = "the erf/tanh is not inside 1 + (..)";
    return failure();
  }
  MulOp root = findGeluRoot(onePlus, x);
  if (!root) {
    why = "no product x * 0.5 * (1 + ..)";
    return failure();
  }
  return GeluMatch{root, x, approximation};
}

std::string mlir::slm::explainGeluMismatch(Operation *op) {
  std::string why;
  return succeeded(matchGelu(op, why)) ? std::string() : why;
}

namespace {
template <typename OpTy> struct RaiseGelu : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    std::string why;
    FailureOr<GeluMatch> match = matchGelu(op, why);
    if (failed(match))
      return rewriter.notifyMatchFailure(op, why);
    rewriter.replaceOpWithNewOp<GeluOp>(match->root, match->input,
                                        match->approximation);
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
  patterns.add<RaiseGelu<math::ErfOp>, RaiseGelu<math::TanhOp>>(
      patterns.getContext());
}
