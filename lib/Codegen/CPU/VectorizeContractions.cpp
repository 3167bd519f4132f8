//===- VectorizeContractions.cpp - Contractions to GEMM kernels -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-vectorize-contractions: each contraction goes to the kernel family
// its declaration (#slm.contraction) names; a declared contraction that
// its family cannot take is an error. Undeclared f32 contractions that
// upstream's ContractionOpInterface recognises get the f32 kernel.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "slm/Codegen/Contraction.h"
#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/StringSwitch.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMVECTORIZECONTRACTIONS
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::cpu_kernels;

namespace {
struct SLMVectorizeContractionsPass
    : mlir::slm::impl::SLMVectorizeContractionsBase<
          SLMVectorizeContractionsPass> {
  using SLMVectorizeContractionsBase::SLMVectorizeContractionsBase;

  void runOnOperation() override {
    if (mr < 1 || nr < kLanes || nr % kLanes != 0 || mBlock < mr ||
        nBlock < 1) {
      getOperation()->emitError()
          << "slm-vectorize-contractions: need mr >= 1, nr a multiple of "
          << kLanes << ", m-block >= mr, n-block >= 1";
      return signalPassFailure();
    }
    std::optional<TableLookup> tableLookup =
        llvm::StringSwitch<std::optional<TableLookup>>(lookup)
            .Case("avx512", TableLookup::avx512)
            .Case("avx2", TableLookup::avx2)
            .Case("generic", TableLookup::generic)
            .Default(std::nullopt);
    if (!tableLookup) {
      getOperation()->emitError()
          << "slm-vectorize-contractions: lookup must be avx512, avx2 or "
             "generic, not '"
          << lookup << "'";
      return signalPassFailure();
    }
    const TileSizes sizes = {mr,           nr,     mBlock,
                             nBlock,       kBlock, prefetchDistance,
                             *tableLookup, vnni,   bf16};
    SmallVector<linalg::GenericOp> candidates;
    getOperation()->walk(
        [&](linalg::GenericOp op) { candidates.push_back(op); });
    IRRewriter rewriter(&getContext());
    bool failedAny = false;
    int64_t withoutKernel = 0, emulatedBF16 = 0;
    for (linalg::GenericOp op : candidates) {
      std::string reason;
      ContractionAttr declaration = getContractionDeclaration(op);
      if (!declaration) {
        // Say why a matrix product stays plain loops (other ops are not
        // candidates at all).
        if (failed(
                lowerToF32Kernel(rewriter, op, declaration, sizes, reason)) &&
            report && linalg::isaContractionOpInterface(op))
          op->emitRemark() << "contraction left as loops: " << reason;
        continue;
      }
      LogicalResult lowered = failure();
      switch (declaration.getKind()) {
      case ContractionKind::f32:
      case ContractionKind::int8_weight:
        lowered = lowerToF32Kernel(rewriter, op, declaration, sizes, reason);
        break;
      case ContractionKind::u8s8_dot:
        // The one declared kind a target may lack the instructions for.
        if (!vnni && !avx2) {
          if (report)
            op->emitRemark() << "integer contraction left as loops: the "
                                "target has neither AVX-512 VNNI nor AVX2";
          ++withoutKernel;
          continue;
        }
        lowered = lowerToDotKernel(rewriter, op, declaration, sizes, reason);
        break;
      case ContractionKind::bf16_dot:
        if (!bf16)
          ++emulatedBF16;
        lowered = lowerToDotKernel(rewriter, op, declaration, sizes, reason);
        break;
      case ContractionKind::int4:
      case ContractionKind::nf4:
        lowered = lowerToNibbleKernel(rewriter, op, declaration, sizes, reason);
        break;
      }
      if (failed(lowered)) {
        op->emitError() << "declared " << declaration
                        << " but its kernel cannot take it: " << reason;
        failedAny = true;
      }
    }
    // Said once, whether or not `report` asks for each: W8A8 without a
    // kernel is many times slower than the f32 model it was meant to beat.
    if (withoutKernel)
      getOperation()->emitWarning()
          << withoutKernel
          << " uint8 x int8 contraction(s) (W8A8) run as plain loops, much "
             "slower than f32: the target has neither AVX-512 VNNI nor AVX2 "
             "(slmc --quantize=int8, weights only, keeps the f32 kernels)";
    // bf16 without the instructions is correct but no faster than f32.
    if (emulatedBF16)
      getOperation()->emitWarning()
          << emulatedBF16
          << " bf16 contraction(s) run on f32 FMAs, no faster than f32: the "
             "target has no AVX512-BF16 (--precision=bf16 pays off on "
             "Cooper Lake, Sapphire Rapids and later, Zen 4 and later)";
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
