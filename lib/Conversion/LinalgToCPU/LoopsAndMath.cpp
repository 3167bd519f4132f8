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
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMSEQUENTIALINNERLOOPS
#define GEN_PASS_DEF_SLMSERIALIZESMALLLOOPS
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

/// Estimated operations one run of `block` executes: its ops, with loops
/// of constant trip count multiplied out; a loop with unknown bounds
/// counts `unknown`.
static int64_t estimateWork(Block &block, int64_t unknown) {
  int64_t work = 0;
  for (Operation &op : block) {
    int64_t inner = 0;
    for (Region &region : op.getRegions())
      for (Block &b : region)
        inner += estimateWork(b, unknown);
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()),
                             ub = getConstantIntValue(loop.getUpperBound()),
                             step = getConstantIntValue(loop.getStep());
      if (!lb || !ub || !step || *step <= 0)
        return unknown + work;
      inner *= std::max<int64_t>(0, (*ub - *lb + *step - 1) / *step);
    } else if (op.getNumRegions() && !isa<scf::IfOp>(op)) {
      // Another loop-like op with unknown trips.
      if (isa<LoopLikeOpInterface>(op))
        return unknown + work;
    }
    work += 1 + inner;
    if (work >= unknown)
      return unknown;
  }
  return work;
}

/// `op`'s nest as sequential loops at the current insertion point.
static void emitSequential(OpBuilder &b, scf::ParallelOp op) {
  Location loc = op.getLoc();
  IRMapping mapping;
  SmallVector<Value> ivs;
  OpBuilder::InsertionGuard guard(b);
  for (unsigned d = 0; d < op.getNumLoops(); ++d) {
    auto loop = scf::ForOp::create(b, loc, op.getLowerBound()[d],
                                   op.getUpperBound()[d], op.getStep()[d]);
    mapping.map(op.getInductionVars()[d], loop.getInductionVar());
    b.setInsertionPoint(loop.getBody()->getTerminator());
  }
  for (Operation &inner : op.getBody()->without_terminator())
    b.clone(inner, mapping);
}

struct SLMSerializeSmallLoopsPass
    : mlir::slm::impl::SLMSerializeSmallLoopsBase<SLMSerializeSmallLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation()->walk([&](scf::ParallelOp op) {
      if (op.getNumReductions() == 0 && !op->getParentOfType<scf::ParallelOp>())
        loops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp op : loops) {
      const int64_t body = estimateWork(*op.getBody(), minWork);
      if (body >= minWork)
        continue;
      Location loc = op.getLoc();
      rewriter.setInsertionPoint(op);
      // The trip count: constant when every bound is.
      int64_t staticTrips = 1;
      bool known = true;
      for (unsigned d = 0; d < op.getNumLoops(); ++d) {
        std::optional<int64_t> lb = getConstantIntValue(op.getLowerBound()[d]),
                               ub = getConstantIntValue(op.getUpperBound()[d]),
                               step = getConstantIntValue(op.getStep()[d]);
        if (lb && ub && step && *step > 0)
          staticTrips *= std::max<int64_t>(0, (*ub - *lb + *step - 1) / *step);
        else
          known = false;
      }
      Value trips;
      if (!known)
        for (unsigned d = 0; d < op.getNumLoops(); ++d) {
          Value count = arith::CeilDivSIOp::create(
              rewriter, loc,
              arith::SubIOp::create(rewriter, loc, op.getUpperBound()[d],
                                    op.getLowerBound()[d]),
              op.getStep()[d]);
          trips = trips ? arith::MulIOp::create(rewriter, loc, trips, count)
                              .getResult()
                        : count;
        }
      if (known) {
        if (staticTrips * body >= minWork)
          continue;
        emitSequential(rewriter, op);
        rewriter.eraseOp(op);
        continue;
      }
      // Decided as it runs: enough work for threads, or one thread.
      Value enough = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::sge,
          arith::MulIOp::create(
              rewriter, loc, trips,
              arith::ConstantIndexOp::create(rewriter, loc, body)),
          arith::ConstantIndexOp::create(rewriter, loc, minWork));
      auto choice = scf::IfOp::create(rewriter, loc, enough,
                                      /*withElseRegion=*/true);
      rewriter.setInsertionPointToStart(choice.elseBlock());
      emitSequential(rewriter, op);
      rewriter.moveOpBefore(op, choice.thenBlock()->getTerminator());
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
