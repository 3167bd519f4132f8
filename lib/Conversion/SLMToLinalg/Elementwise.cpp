//===- Elementwise.cpp - Broadcasting elementwise ops to linalg -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::linalg_lowering;

namespace {

template <typename OpTy>
Value scalarBinary(OpBuilder &b, Location loc, Value x, Value y);

#define SLM_SCALAR_BINARY(OpTy, FloatOp, IntOp)                                \
  template <>                                                                  \
  Value scalarBinary<OpTy>(OpBuilder & b, Location loc, Value x, Value y) {    \
    if (isFloat(x.getType()))                                                  \
      return FloatOp::create(b, loc, x, y);                                    \
    return IntOp::create(b, loc, x, y);                                        \
  }
SLM_SCALAR_BINARY(AddOp, arith::AddFOp, arith::AddIOp)
SLM_SCALAR_BINARY(SubOp, arith::SubFOp, arith::SubIOp)
SLM_SCALAR_BINARY(MulOp, arith::MulFOp, arith::MulIOp)
SLM_SCALAR_BINARY(MaxOp, arith::MaximumFOp, arith::MaxSIOp)
SLM_SCALAR_BINARY(MinOp, arith::MinimumFOp, arith::MinSIOp)
#undef SLM_SCALAR_BINARY

/// Signed integer division without undefined behaviour: x / 0 and
/// INT_MIN / -1 give 0 instead of trapping.
template <>
Value scalarBinary<DivOp>(OpBuilder &b, Location loc, Value x, Value y) {
  if (isFloat(x.getType()))
    return arith::DivFOp::create(b, loc, x, y);
  Type t = x.getType();
  auto c = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, IntegerAttr::get(t, v));
  };
  Value zero = c(0), one = c(1);
  Value bad = arith::OrIOp::create(
      b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, y, zero),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, y, c(-1)));
  Value q = arith::DivSIOp::create(
      b, loc, x, arith::SelectOp::create(b, loc, bad, one, y));
  // x / -1 is -x (wrapping for INT_MIN, as two's complement hardware).
  Value negated = arith::SubIOp::create(b, loc, zero, x);
  Value byMinusOne =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, y, c(-1));
  return arith::SelectOp::create(
      b, loc, bad, arith::SelectOp::create(b, loc, byMinusOne, negated, zero),
      q);
}

/// Integer power by squaring over the bits of the exponent (straight-line:
/// one step per bit). Negative exponents give 1 / x^-y truncated: 1 for
/// x = 1, +-1 for x = -1, else 0.
static Value integerPower(OpBuilder &b, Location loc, Value x, Value y) {
  Type t = x.getType();
  unsigned width = t.getIntOrFloatBitWidth();
  auto c = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, IntegerAttr::get(t, v));
  };
  Value zero = c(0), one = c(1);
  Value result = one, base = x;
  for (unsigned i = 0; i + 1 < width; ++i) {
    Value bit = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, y, c(i)), one);
    Value set =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, bit, zero);
    result = arith::SelectOp::create(
        b, loc, set, arith::MulIOp::create(b, loc, result, base), result);
    if (i + 2 < width)
      base = arith::MulIOp::create(b, loc, base, base);
  }
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, y, zero);
  Value odd =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                            arith::AndIOp::create(b, loc, y, one), zero);
  Value isOne = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, one);
  Value isMinusOne =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, c(-1));
  Value ofMinusOne = arith::SelectOp::create(b, loc, odd, c(-1), one);
  Value inverse = arith::SelectOp::create(
      b, loc, isOne, one,
      arith::SelectOp::create(b, loc, isMinusOne, ofMinusOne, zero));
  return arith::SelectOp::create(b, loc, negative, inverse, result);
}

template <>
Value scalarBinary<PowOp>(OpBuilder &b, Location loc, Value x, Value y) {
  if (isFloat(x.getType()))
    return math::PowFOp::create(b, loc, x, y);
  return integerPower(b, loc, x, y);
}

template <typename OpTy> struct LowerBinary : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Value result = broadcastGeneric(
        rewriter, op.getLoc(), op.getType(), {op.getLhs(), op.getRhs()},
        [](OpBuilder &b, Location loc, ValueRange args) {
          return scalarBinary<OpTy>(b, loc, args[0], args[1]);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerCompare : OpRewritePattern<CompareOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CompareOp op,
                                PatternRewriter &rewriter) const override {
    ComparePredicate predicate = op.getPredicate();
    Value result = broadcastGeneric(
        rewriter, op.getLoc(), op.getType(), {op.getLhs(), op.getRhs()},
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          if (isFloat(args[0].getType())) {
            arith::CmpFPredicate p = arith::CmpFPredicate::OEQ;
            switch (predicate) {
            case ComparePredicate::eq:
              p = arith::CmpFPredicate::OEQ;
              break;
            case ComparePredicate::ne:
              p = arith::CmpFPredicate::UNE;
              break;
            case ComparePredicate::lt:
              p = arith::CmpFPredicate::OLT;
              break;
            case ComparePredicate::le:
              p = arith::CmpFPredicate::OLE;
              break;
            case ComparePredicate::gt:
              p = arith::CmpFPredicate::OGT;
              break;
            case ComparePredicate::ge:
              p = arith::CmpFPredicate::OGE;
              break;
            }
            return arith::CmpFOp::create(b, loc, p, args[0], args[1]);
          }
          arith::CmpIPredicate p = arith::CmpIPredicate::eq;
          switch (predicate) {
          case ComparePredicate::eq:
            p = arith::CmpIPredicate::eq;
            break;
          case ComparePredicate::ne:
            p = arith::CmpIPredicate::ne;
            break;
          case ComparePredicate::lt:
            p = arith::CmpIPredicate::slt;
            break;
          case ComparePredicate::le:
            p = arith::CmpIPredicate::sle;
            break;
          case ComparePredicate::gt:
            p = arith::CmpIPredicate::sgt;
            break;
          case ComparePredicate::ge:
            p = arith::CmpIPredicate::sge;
            break;
          }
          return arith::CmpIOp::create(b, loc, p, args[0], args[1]);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerSelect : OpRewritePattern<SelectOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SelectOp op,
                                PatternRewriter &rewriter) const override {
    Value result = broadcastGeneric(
        rewriter, op.getLoc(), op.getType(),
        {op.getCondition(), op.getTrueValue(), op.getFalseValue()},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return arith::SelectOp::create(b, loc, args[0], args[1], args[2]);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerBroadcastTo : OpRewritePattern<BroadcastToOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BroadcastToOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value input = op.getInput();
    Value shape = op.getShape();
    auto inputType = cast<RankedTensorType>(input.getType());
    int64_t rank = type.getRank(), offset = rank - inputType.getRank();
    SmallVector<Value> extents;
    for (int64_t d = 0; d < rank; ++d) {
      if (!type.isDynamicDim(d))
        extents.push_back(
            arith::ConstantIndexOp::create(rewriter, loc, type.getDimSize(d)));
      else if (shape)
        extents.push_back(tensor::ExtractOp::create(
            rewriter, loc, shape,
            ValueRange{arith::ConstantIndexOp::create(rewriter, loc, d)}));
      else
        extents.push_back(broadcastExtent(rewriter, loc, {input}, rank, d));
    }
    // A dynamic input extent may be 1 at run time against a larger target:
    // stretch it (the importer checked that the extents broadcast).
    SmallVector<std::pair<int64_t, Value>> targets;
    for (int64_t j = 0; j < inputType.getRank(); ++j) {
      if (!inputType.isDynamicDim(j))
        continue;
      Value target = extents[j + offset];
      std::optional<ExtentRoot> root = indexRoot(target);
      if (root && *root == extentRoot(input, j))
        continue;
      targets.push_back({j, target});
    }
    input = stretchAtRunTime(rewriter, loc, input, targets);
    Value init =
        emptyTensor(rewriter, loc, type, [&](int64_t d) { return extents[d]; });
    SmallVector<AffineMap> maps = {
        broadcastMap(getContext(), inputType, type.getShape()),
        rewriter.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, type, input, init, maps, iterators,
        [](OpBuilder &b, Location l, ValueRange args) {
          linalg::YieldOp::create(b, l, args[0]);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void mlir::slm::linalg_lowering::populateElementwisePatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerBinary<AddOp>, LowerBinary<SubOp>, LowerBinary<MulOp>,
               LowerBinary<DivOp>, LowerBinary<PowOp>, LowerBinary<MaxOp>,
               LowerBinary<MinOp>, LowerCompare, LowerSelect, LowerBroadcastTo>(
      patterns.getContext());
}
