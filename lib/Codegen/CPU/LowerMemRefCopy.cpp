//===- LowerMemRefCopy.cpp - memref.copy as a linalg copy -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMLOWERMEMREFCOPY
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
/// Bits of one vector register (AVX-512).
constexpr int64_t kVectorBits = 512;

/// A copy between buffers contiguous along their last dimension, as vector
/// loads and stores: one parallel loop over the other dimensions (over
/// blocks of the last one for rank 1), whole vectors along the last, the
/// rest masked. Scalar loops would leave vectorizing to LLVM, which cannot
/// prove that the two buffers do not overlap (a KV cache appended in place
/// ran as scalar copies).
LogicalResult emitVectorCopy(RewriterBase &b, memref::CopyOp op) {
  auto from = dyn_cast<MemRefType>(op.getSource().getType());
  auto to = dyn_cast<MemRefType>(op.getTarget().getType());
  if (!from || !to || from.getRank() == 0 || !from.isLastDimUnitStride() ||
      !to.isLastDimUnitStride())
    return failure();
  Type element = from.getElementType();
  if (!element.isIntOrFloat())
    return failure();
  const unsigned bits = element.getIntOrFloatBitWidth();
  if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
    return failure();
  Location loc = op.getLoc();
  const int64_t rank = from.getRank();
  int64_t lanes = kVectorBits / bits;
  const int64_t lastStatic = from.getDimSize(rank - 1);
  if (!ShapedType::isDynamic(lastStatic) && lastStatic < lanes)
    lanes = std::max<int64_t>(lastStatic, 1);
  auto vectorType = VectorType::get({lanes}, element);
  auto maskType = VectorType::get({lanes}, b.getI1Type());
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  SmallVector<Value> extents;
  for (int64_t i = 0; i < rank; ++i)
    extents.push_back(memref::DimOp::create(b, loc, op.getSource(), i));
  Value last = extents.back();
  // Copies `[j, j + lanes)` of the last dimension at `outer`, masked to
  // `last` when `masked`.
  auto copyVector = [&](ValueRange outer, Value j, bool masked) {
    SmallVector<Value> at(outer);
    at.push_back(j);
    if (!masked) {
      Value v = vector::LoadOp::create(b, loc, vectorType, op.getSource(), at);
      vector::StoreOp::create(b, loc, v, op.getTarget(), at);
      return;
    }
    Value count = arith::SubIOp::create(b, loc, last, j);
    Value mask =
        vector::CreateMaskOp::create(b, loc, maskType, ValueRange{count});
    Value zero = arith::ConstantOp::create(b, loc, vectorType,
                                           b.getZeroAttr(vectorType));
    Value v = vector::MaskedLoadOp::create(b, loc, vectorType, op.getSource(),
                                           at, mask, zero);
    vector::MaskedStoreOp::create(b, loc, op.getTarget(), at, mask, v);
  };
  const bool whole =
      !ShapedType::isDynamic(lastStatic) && lastStatic % lanes == 0;
  if (rank == 1) {
    auto loop =
        scf::ParallelOp::create(b, loc, ValueRange{index(0)}, ValueRange{last},
                                ValueRange{index(lanes)});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    copyVector({}, loop.getInductionVars()[0], !whole);
  } else {
    SmallVector<Value> zeros(rank - 1, index(0)), ones(rank - 1, index(1));
    auto loop = scf::ParallelOp::create(
        b, loc, zeros, ArrayRef<Value>(extents).drop_back(), ones);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    ValueRange outer = loop.getInductionVars();
    // Whole vectors, then the masked rest.
    Value wholeEnd = arith::SubIOp::create(
        b, loc, last, arith::RemUIOp::create(b, loc, last, index(lanes)));
    auto inner = scf::ForOp::create(b, loc, index(0), wholeEnd, index(lanes));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(inner.getBody());
      copyVector(outer, inner.getInductionVar(), false);
    }
    if (!whole) {
      Value rest = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         wholeEnd, last);
      auto tail = scf::IfOp::create(b, loc, rest);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(tail.thenBlock());
      copyVector(outer, wholeEnd, true);
    }
  }
  return success();
}

struct LowerMemRefCopy : OpRewritePattern<memref::CopyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(memref::CopyOp op,
                                PatternRewriter &rewriter) const override {
    if (failed(emitVectorCopy(rewriter, op)))
      linalg::makeMemRefCopyOp(rewriter, op.getLoc(), op.getSource(),
                               op.getTarget());
    rewriter.eraseOp(op);
    return success();
  }
};

struct SLMLowerMemRefCopyPass
    : mlir::slm::impl::SLMLowerMemRefCopyBase<SLMLowerMemRefCopyPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerMemRefCopy>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
