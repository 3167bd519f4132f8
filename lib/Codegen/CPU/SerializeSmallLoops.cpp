//===- SerializeSmallLoops.cpp - Small loop nests on one thread -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMSERIALIZESMALLLOOPS
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

int64_t mlir::slm::cpu_kernels::estimateWork(Block &block, int64_t unknown) {
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
      // Another loop-like op with unknown trips (an OpenMP loop nested in
      // the one being scheduled, too).
      if (isa<LoopLikeOpInterface, omp::LoopNestOp>(op))
        return unknown + work;
    }
    work += 1 + inner;
    if (work >= unknown)
      return unknown;
  }
  return work;
}

namespace {
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
      const int64_t body =
          slm::cpu_kernels::estimateWork(*op.getBody(), minWork);
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
} // namespace
