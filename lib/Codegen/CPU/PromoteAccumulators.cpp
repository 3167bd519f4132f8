//===- PromoteAccumulators.cpp - Accumulators in registers ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMPROMOTEACCUMULATORS
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
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
    // The indices are defined outside the loop; the load is erased below.
    SmallVector<Value> indices(load.getIndices());
    Value init =
        memref::LoadOp::create(rewriter, loop.getLoc(), buffer, indices);
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
                            newLoop.getResults().back(), buffer, indices);
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
} // namespace
