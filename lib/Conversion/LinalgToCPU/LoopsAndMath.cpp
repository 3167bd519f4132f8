//===- LoopsAndMath.cpp - Vectorizable loops and math -----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMSEQUENTIALINNERLOOPS
#define GEN_PASS_DEF_SLMAPPROXIMATEMATH
#include "slm/Conversion/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
struct SLMSequentialInnerLoopsPass
    : mlir::slm::impl::SLMSequentialInnerLoopsBase<
          SLMSequentialInnerLoopsPass> {
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation()->walk([&](scf::ParallelOp op) {
      if (op.getNumLoops() >= 2 && op.getNumReductions() == 0)
        loops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp op : loops) {
      rewriter.setInsertionPoint(op);
      Location loc = op.getLoc();
      unsigned last = op.getNumLoops() - 1;
      auto outer = scf::ParallelOp::create(
          rewriter, loc, op.getLowerBound().drop_back(),
          op.getUpperBound().drop_back(), op.getStep().drop_back());
      rewriter.setInsertionPointToStart(outer.getBody());
      auto inner = scf::ForOp::create(rewriter, loc, op.getLowerBound()[last],
                                      op.getUpperBound()[last],
                                      op.getStep()[last]);
      Block *body = op.getBody();
      // The old body's terminator (scf.reduce without operands) goes away;
      // the inner loop keeps its own scf.yield.
      rewriter.eraseOp(body->getTerminator());
      SmallVector<Value> ivs(outer.getInductionVars());
      ivs.push_back(inner.getInductionVar());
      rewriter.inlineBlockBefore(body, inner.getBody()->getTerminator(), ivs);
      rewriter.eraseOp(op);
    }
  }
};

struct SLMApproximateMathPass
    : mlir::slm::impl::SLMApproximateMathBase<SLMApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
