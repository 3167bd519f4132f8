//===- SequentialInnerLoops.cpp - Sequential innermost loops ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/LoopLikeInterface.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMSEQUENTIALINNERLOOPS
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
struct SLMSequentialInnerLoopsPass
    : mlir::slm::impl::SLMSequentialInnerLoopsBase<
          SLMSequentialInnerLoopsPass> {
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation()->walk([&](scf::ParallelOp op) {
      // A body with loops of its own (a reduction) already has its
      // sequential innermost loop: all parallel dimensions stay threads.
      bool hasInnerLoops = false;
      op.getBody()->walk([&](LoopLikeOpInterface) { hasInnerLoops = true; });
      if (op.getNumLoops() >= 2 && op.getNumReductions() == 0 && !hasInnerLoops)
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
      auto inner =
          scf::ForOp::create(rewriter, loc, op.getLowerBound()[last],
                             op.getUpperBound()[last], op.getStep()[last]);
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
} // namespace
