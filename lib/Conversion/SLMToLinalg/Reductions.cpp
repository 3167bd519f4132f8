//===- Reductions.cpp - slm.reduce to linalg --------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::linalg_lowering;

namespace {

struct LowerReduce : OpRewritePattern<ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReduceOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value input = op.getInput();
    auto inputType = cast<RankedTensorType>(input.getType());
    int64_t rank = inputType.getRank();
    Type element = type.getElementType();
    MLIRContext *ctx = getContext();
    SmallVector<bool> reduced(rank, false);
    for (int64_t a : op.getAxes())
      reduced[a < 0 ? a + rank : a] = true;
    // Output map and extents.
    SmallVector<AffineExpr> outExprs;
    SmallVector<int64_t> outSource; // input dim of each output dim, or -1
    for (int64_t i = 0; i < rank; ++i) {
      if (!reduced[i]) {
        outExprs.push_back(getAffineDimExpr(i, ctx));
        outSource.push_back(i);
      } else if (op.getKeepDims()) {
        outExprs.push_back(getAffineConstantExpr(0, ctx));
        outSource.push_back(-1);
      }
    }
    Value empty = emptyTensor(rewriter, loc, type, [&](int64_t i) -> Value {
      return tensor::DimOp::create(rewriter, loc, input, outSource[i]);
    });
    ReduceKind kind = op.getKind();
    TypedAttr initAttr;
    bool floating = isFloat(element);
    if (kind == ReduceKind::max || kind == ReduceKind::min) {
      bool isMax = kind == ReduceKind::max;
      if (floating)
        initAttr = rewriter.getFloatAttr(
            element,
            APFloat::getInf(cast<FloatType>(element).getFloatSemantics(),
                            /*Negative=*/isMax));
      else
        initAttr = rewriter.getIntegerAttr(
            element,
            isMax ? APInt::getSignedMinValue(element.getIntOrFloatBitWidth())
                  : APInt::getSignedMaxValue(element.getIntOrFloatBitWidth()));
    } else {
      initAttr = rewriter.getZeroAttr(element);
    }
    Value initValue = arith::ConstantOp::create(rewriter, loc, initAttr);
    Value init =
        linalg::FillOp::create(rewriter, loc, initValue, empty).getResult(0);
    SmallVector<utils::IteratorType> iterators;
    for (bool r : reduced)
      iterators.push_back(r ? utils::IteratorType::reduction
                            : utils::IteratorType::parallel);
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(rank),
                                   AffineMap::get(rank, 0, outExprs, ctx)};
    Value result =
        linalg::GenericOp::create(
            rewriter, loc, type, input, init, maps, iterators,
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value r;
              switch (kind) {
              case ReduceKind::sum:
              case ReduceKind::mean:
                // Sums may reassociate: vectorized, they add in lanes.
                r = floating
                        ? arith::AddFOp::create(b, l, args[1], args[0],
                                                arith::FastMathFlags::reassoc)
                              .getResult()
                        : arith::AddIOp::create(b, l, args[1], args[0])
                              .getResult();
                break;
              case ReduceKind::max:
                r = floating ? arith::MaximumFOp::create(b, l, args[1], args[0])
                                   .getResult()
                             : arith::MaxSIOp::create(b, l, args[1], args[0])
                                   .getResult();
                break;
              case ReduceKind::min:
                r = floating ? arith::MinimumFOp::create(b, l, args[1], args[0])
                                   .getResult()
                             : arith::MinSIOp::create(b, l, args[1], args[0])
                                   .getResult();
                break;
              }
              linalg::YieldOp::create(b, l, r);
            })
            .getResult(0);
    if (kind == ReduceKind::mean) {
      Value count = arith::ConstantIndexOp::create(rewriter, loc, 1);
      for (int64_t i = 0; i < rank; ++i)
        if (reduced[i])
          count = arith::MulIOp::create(
              rewriter, loc, count,
              tensor::DimOp::create(rewriter, loc, input, i));
      Value countValue;
      if (floating) {
        Value asInt = arith::IndexCastOp::create(rewriter, loc,
                                                 rewriter.getI64Type(), count);
        countValue = arith::UIToFPOp::create(rewriter, loc, element, asInt);
      } else {
        countValue = arith::IndexCastOp::create(rewriter, loc, element, count);
      }
      result = broadcastGeneric(
          rewriter, loc, type, {result},
          [&](OpBuilder &b, Location l, ValueRange args) {
            return floating ? arith::DivFOp::create(b, l, args[0], countValue)
                                  .getResult()
                            : arith::DivSIOp::create(b, l, args[0], countValue)
                                  .getResult();
          });
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::slm::linalg_lowering::populateReductionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerReduce>(patterns.getContext());
}
