//===- ScheduleParallelLoops.cpp - OpenMP loop schedules ---------*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Sets the schedule of every worksharing loop that convert-scf-to-openmp
// made: dynamic by default, so a thread sharing its core with another
// process takes fewer iterations instead of holding every loop up.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "llvm/ADT/StringSwitch.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMSCHEDULEPARALLELLOOPS
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
struct SLMScheduleParallelLoopsPass
    : mlir::slm::impl::SLMScheduleParallelLoopsBase<
          SLMScheduleParallelLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    std::optional<omp::ClauseScheduleKind> kind =
        llvm::StringSwitch<std::optional<omp::ClauseScheduleKind>>(schedule)
            .Case("static", std::nullopt)
            .Case("dynamic", omp::ClauseScheduleKind::Dynamic)
            .Case("guided", omp::ClauseScheduleKind::Guided)
            .Case("runtime", omp::ClauseScheduleKind::Runtime)
            .Default(omp::ClauseScheduleKind::Auto);
    if (kind == omp::ClauseScheduleKind::Auto) {
      getOperation()->emitError()
          << "slm-schedule-parallel-loops: unknown schedule '" << schedule
          << "' (expected static, dynamic, guided or runtime)";
      return signalPassFailure();
    }
    if (chunkWork < 0) {
      getOperation()->emitError()
          << "slm-schedule-parallel-loops: chunk-work must be >= 0, got "
          << chunkWork;
      return signalPassFailure();
    }
    if (chunk < 0) {
      getOperation()->emitError()
          << "slm-schedule-parallel-loops: chunk must be >= 0, got " << chunk;
      return signalPassFailure();
    }
    const bool chunked =
        kind && chunk > 0 && *kind != omp::ClauseScheduleKind::Runtime;
    getOperation()->walk([&](omp::WsloopOp loop) {
      if (loop->getParentOfType<omp::WsloopOp>())
        return;
      loop.setScheduleKindAttr(
          kind ? omp::ClauseScheduleKindAttr::get(&getContext(), *kind)
               : omp::ClauseScheduleKindAttr());
      loop.getScheduleChunkMutable().clear();
      if (chunked) {
        // Iterations of little work each (an elementwise nest over rows
        // and heads) are dealt out several at a time, so that one atomic
        // increment buys at least `chunk-work` operations.
        int64_t iterations = chunk;
        auto nest = dyn_cast_if_present<omp::LoopNestOp>(
            cast<omp::LoopWrapperInterface>(loop.getOperation())
                .getWrappedLoop());
        if (chunkWork > 0 && nest) {
          const int64_t work =
              std::max<int64_t>(1, slm::cpu_kernels::estimateWork(
                                       nest.getRegion().front(), chunkWork));
          if (work < chunkWork)
            iterations = std::max<int64_t>(iterations,
                                           llvm::divideCeil(chunkWork, work));
        }
        OpBuilder b(loop);
        Value size = LLVM::ConstantOp::create(b, loop.getLoc(), b.getI64Type(),
                                              b.getI64IntegerAttr(iterations));
        loop.getScheduleChunkMutable().assign(size);
      }
    });
  }
};
} // namespace
