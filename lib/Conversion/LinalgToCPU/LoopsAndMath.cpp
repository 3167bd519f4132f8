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
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMSEQUENTIALINNERLOOPS
#define GEN_PASS_DEF_SLMAPPROXIMATEMATH
#define GEN_PASS_DEF_SLMPROMOTEACCUMULATORS
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

/// The buffer a memref value views (through subviews, reshapes, casts).
static Value underlyingBuffer(Value memref) {
  while (Operation *def = memref.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      memref = view.getViewSource();
    else
      break;
  }
  return memref;
}

/// Promotes one accumulator of `loop` (see the pass description); true when
/// it did.
static bool promoteAccumulator(scf::ForOp loop, RewriterBase &rewriter) {
  Block *body = loop.getBody();
  for (Operation &op : *body) {
    auto store = dyn_cast<memref::StoreOp>(op);
    if (!store)
      continue;
    Value buffer = store.getMemRef();
    if (!buffer.getDefiningOp<memref::AllocOp>() &&
        !buffer.getDefiningOp<memref::AllocaOp>())
      continue;
    if (!llvm::all_of(store.getIndices(),
                      [&](Value v) { return loop.isDefinedOutsideOfLoop(v); }))
      continue;
    // The one load of the same element before the store, in the body.
    memref::LoadOp load;
    for (Operation &prev : *body) {
      if (&prev == store.getOperation())
        break;
      if (auto l = dyn_cast<memref::LoadOp>(prev);
          l && l.getMemRef() == buffer && l.getIndices() == store.getIndices())
        load = l;
    }
    if (!load)
      continue;
    // Nothing else in the loop may touch the buffer, nor have effects we
    // cannot see through.
    bool alone = true;
    loop.getBody()->walk([&](Operation *inner) {
      if (inner == load.getOperation() || inner == store.getOperation())
        return WalkResult::advance();
      auto effects = dyn_cast<MemoryEffectOpInterface>(inner);
      if (!effects) {
        if (!inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>()) {
          alone = false;
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      }
      SmallVector<MemoryEffects::EffectInstance> list;
      effects.getEffects(list);
      for (auto &effect : list) {
        Value on = effect.getValue();
        if (!on || underlyingBuffer(on) == buffer) {
          alone = false;
          return WalkResult::interrupt();
        }
      }
      return WalkResult::advance();
    });
    if (!alone)
      continue;
    rewriter.setInsertionPoint(loop);
    Value init = memref::LoadOp::create(rewriter, loop.getLoc(), buffer,
                                        load.getIndices());
    Value stored = store.getValueToStore();
    FailureOr<LoopLikeOpInterface> grown = loop.replaceWithAdditionalYields(
        rewriter, ValueRange{init}, /*replaceInitOperandUsesInLoop=*/false,
        [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
          return SmallVector<Value>{stored};
        });
    if (failed(grown))
      return false;
    auto newLoop = cast<scf::ForOp>(grown->getOperation());
    rewriter.replaceOp(load, newLoop.getRegionIterArgs().back());
    rewriter.eraseOp(store);
    rewriter.setInsertionPointAfter(newLoop);
    memref::StoreOp::create(rewriter, newLoop.getLoc(),
                            newLoop.getResults().back(), buffer,
                            load.getIndices());
    return true;
  }
  return false;
}

struct SLMPromoteAccumulatorsPass
    : mlir::slm::impl::SLMPromoteAccumulatorsBase<SLMPromoteAccumulatorsPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    // Innermost loops first; a promoted loop is replaced, so collect again
    // until nothing changes.
    bool changed = true;
    while (changed) {
      changed = false;
      SmallVector<scf::ForOp> loops;
      getOperation()->walk([&](scf::ForOp loop) { loops.push_back(loop); });
      for (scf::ForOp loop : loops)
        if (promoteAccumulator(loop, rewriter)) {
          changed = true;
          break;
        }
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
