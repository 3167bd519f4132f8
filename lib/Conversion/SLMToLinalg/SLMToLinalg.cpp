//===- SLMToLinalg.cpp - slm tensor-level ops to linalg ---------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Conversion/Passes.h"
#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMOps.h"
#include "slm/Support/WeightQuant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>
#include <cstring>

namespace mlir::slm {
#define GEN_PASS_DEF_CONVERTSLMTOLINALG
#define GEN_PASS_DEF_SLMLOWERMEMREFCOPY
#include "slm/Conversion/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// An empty tensor of `type`; each dynamic extent `d` comes from `extent(d)`.
Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type,
                  function_ref<Value(int64_t)> extent) {
  SmallVector<Value> dynamic;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynamic.push_back(extent(d));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynamic);
}

/// Result extent `d` of a broadcasting op over the leading `resultRank`
/// dimensions of `operands`, whose last `trailing` dimensions are not
/// broadcast (2 for matmul operands, else 0): a static extent other than 1
/// if an operand has one there, else the extent of an operand that is
/// dynamic there, else 1.
Value broadcastExtent(OpBuilder &b, Location loc, ValueRange operands,
                      int64_t resultRank, int64_t d, int64_t trailing = 0) {
  Value dynamic;
  for (Value operand : operands) {
    auto type = cast<RankedTensorType>(operand.getType());
    int64_t j = d - (resultRank - (type.getRank() - trailing));
    if (j < 0 || j >= type.getRank() - trailing)
      continue;
    if (!type.isDynamicDim(j) && type.getDimSize(j) != 1)
      return arith::ConstantIndexOp::create(b, loc, type.getDimSize(j));
    if (type.isDynamicDim(j) && !dynamic)
      dynamic = tensor::DimOp::create(b, loc, operand, j);
  }
  return dynamic ? dynamic : arith::ConstantIndexOp::create(b, loc, 1);
}

/// The map reading `operand` inside a loop nest over `resultShape`: aligned
/// from the right, a static 1 against a larger extent reads index 0.
AffineMap broadcastMap(MLIRContext *ctx, RankedTensorType operand,
                       ArrayRef<int64_t> resultShape) {
  int64_t rank = resultShape.size();
  SmallVector<AffineExpr> exprs;
  for (int64_t j = 0; j < operand.getRank(); ++j) {
    int64_t d = j + rank - operand.getRank();
    bool stretched = operand.getDimSize(j) == 1 && resultShape[d] != 1;
    exprs.push_back(stretched ? getAffineConstantExpr(0, ctx)
                              : getAffineDimExpr(d, ctx));
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

/// A parallel linalg.generic over the result of a broadcasting op.
Value broadcastGeneric(
    OpBuilder &b, Location loc, RankedTensorType resultType,
    ValueRange operands,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = resultType.getRank();
  Value init = emptyTensor(b, loc, resultType, [&](int64_t d) {
    return broadcastExtent(b, loc, operands, rank, d);
  });
  SmallVector<AffineMap> maps;
  for (Value operand : operands)
    maps.push_back(broadcastMap(b.getContext(),
                                cast<RankedTensorType>(operand.getType()),
                                resultType.getShape()));
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, operands, init, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, body(nb, nl, args.drop_back()));
      });
  return generic.getResult(0);
}

bool isFloat(Type t) { return isa<FloatType>(t); }

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

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
SLM_SCALAR_BINARY(DivOp, arith::DivFOp, arith::DivSIOp)
SLM_SCALAR_BINARY(MaxOp, arith::MaximumFOp, arith::MaxSIOp)
SLM_SCALAR_BINARY(MinOp, arith::MinimumFOp, arith::MinSIOp)
#undef SLM_SCALAR_BINARY

template <>
Value scalarBinary<PowOp>(OpBuilder &b, Location loc, Value x, Value y) {
  if (isFloat(x.getType()))
    return math::PowFOp::create(b, loc, x, y);
  return math::IPowIOp::create(b, loc, x, y);
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
    int64_t rank = type.getRank();
    Value init = emptyTensor(rewriter, loc, type, [&](int64_t d) -> Value {
      if (shape)
        return tensor::ExtractOp::create(
            rewriter, loc, shape,
            ValueRange{arith::ConstantIndexOp::create(rewriter, loc, d)});
      return broadcastExtent(rewriter, loc, {input}, rank, d);
    });
    SmallVector<AffineMap> maps = {
        broadcastMap(getContext(), cast<RankedTensorType>(input.getType()),
                     type.getShape()),
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

//===----------------------------------------------------------------------===//
// Contractions
//===----------------------------------------------------------------------===//

Value zeroFilled(OpBuilder &b, Location loc, Value empty, Type elementType) {
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(elementType));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// acc + x * y. Float contractions may be reassociated and fused into FMAs:
/// that lets LLVM vectorize the reduction (the order of a sum is not part
/// of any ONNX op's contract).
Value multiplyAdd(OpBuilder &b, Location loc, Value x, Value y, Value acc) {
  if (isFloat(acc.getType())) {
    auto flags = arith::FastMathFlagsAttr::get(
        b.getContext(),
        arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
    Value product = arith::MulFOp::create(b, loc, x, y, flags);
    return arith::AddFOp::create(b, loc, acc, product, flags);
  }
  return arith::AddIOp::create(b, loc, acc,
                               arith::MulIOp::create(b, loc, x, y));
}

/// `source` broadcast into `empty` (of `type`) through `sourceMap`: the
/// starting value of an accumulator (a bias).
Value broadcastInto(OpBuilder &b, Location loc, RankedTensorType type,
                    Value source, Value empty, AffineMap sourceMap) {
  SmallVector<AffineMap> maps = {sourceMap,
                                 b.getMultiDimIdentityMap(type.getRank())};
  return linalg::GenericOp::create(
             b, loc, type, source, empty, maps,
             SmallVector<utils::IteratorType>(type.getRank(),
                                              utils::IteratorType::parallel),
             [](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l, args[0]);
             })
      .getResult(0);
}

/// Iterators of a contraction with `maps`: the last loop is the reduction.
static SmallVector<utils::IteratorType>
contractionIterators(ArrayRef<AffineMap> maps) {
  SmallVector<utils::IteratorType> iterators(maps.front().getNumDims(),
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  return iterators;
}

/// A multiply-accumulate contraction of `lhs` and `rhs` into `init` with
/// `maps`; the last loop is the reduction.
Value contraction(OpBuilder &b, Location loc, Type type, Value lhs, Value rhs,
                  Value init, ArrayRef<AffineMap> maps) {
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{lhs, rhs}, init, maps,
             contractionIterators(maps),
             [](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(
                   nb, l, multiplyAdd(nb, l, args[0], args[1], args[2]));
             })
      .getResult(0);
}

/// The contraction of `lhs` with int8 `codes` scaled per column by
/// `scales`: `out + lhs * (sitofp(codes) * scales)` (the form
/// --slm-vectorize-contractions decodes in registers). `maps` index lhs,
/// codes, scales and init.
static Value scaledCodesContraction(OpBuilder &b, Location loc, Type type,
                                    Value lhs, Value codes, Value scales,
                                    Value init, ArrayRef<AffineMap> maps) {
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{lhs, codes, scales}, init, maps,
             contractionIterators(maps),
             [](OpBuilder &nb, Location l, ValueRange args) {
               Value wide =
                   arith::SIToFPOp::create(nb, l, nb.getF32Type(), args[1]);
               Value weight = arith::MulFOp::create(nb, l, wide, args[2]);
               linalg::YieldOp::create(
                   nb, l, multiplyAdd(nb, l, args[0], weight, args[3]));
             })
      .getResult(0);
}

struct LowerMatMul : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value lhs = op.getLhs(), rhs = op.getRhs();
    auto lhsType = cast<RankedTensorType>(lhs.getType());
    auto rhsType = cast<RankedTensorType>(rhs.getType());
    int64_t rank = type.getRank(), batch = rank - 2;
    MLIRContext *ctx = getContext();
    // Loops: batch.., m, n, k.
    int64_t loops = rank + 1;
    auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    auto operandMap = [&](RankedTensorType t, AffineExpr row, AffineExpr col) {
      SmallVector<AffineExpr> exprs;
      int64_t tb = t.getRank() - 2;
      for (int64_t j = 0; j < tb; ++j) {
        int64_t i = j + batch - tb;
        bool stretched = t.getDimSize(j) == 1 && type.getDimSize(i) != 1;
        exprs.push_back(stretched ? getAffineConstantExpr(0, ctx) : d(i));
      }
      exprs.push_back(row);
      exprs.push_back(col);
      return AffineMap::get(loops, 0, exprs, ctx);
    };
    SmallVector<AffineExpr> outExprs;
    for (int64_t i = 0; i < rank; ++i)
      outExprs.push_back(d(i));
    SmallVector<AffineMap> maps = {
        operandMap(lhsType, d(batch), d(batch + 2)),
        operandMap(rhsType, d(batch + 2), d(batch + 1)),
        AffineMap::get(loops, 0, outExprs, ctx)};
    Value empty = emptyTensor(rewriter, loc, type, [&](int64_t i) -> Value {
      if (i == rank - 2)
        return tensor::DimOp::create(rewriter, loc, lhs, lhsType.getRank() - 2);
      if (i == rank - 1)
        return tensor::DimOp::create(rewriter, loc, rhs, rhsType.getRank() - 1);
      return broadcastExtent(rewriter, loc, {lhs, rhs}, rank - 2, i, 2);
    });
    Value init = zeroFilled(rewriter, loc, empty, type.getElementType());
    rewriter.replaceOp(op,
                       contraction(rewriter, loc, type, lhs, rhs, init, maps));
    return success();
  }
};

/// The scalar activation of a linear epilogue.
Value scalarActivation(OpBuilder &b, Location loc, Activation activation,
                       Value x) {
  Type f = x.getType();
  auto c = [&](double v) {
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(f, v)).getResult();
  };
  switch (activation) {
  case Activation::none:
    return x;
  case Activation::relu:
    return arith::MaximumFOp::create(b, loc, x, c(0));
  case Activation::gelu:
  case Activation::gelu_tanh: {
    Value inner;
    if (activation == Activation::gelu) {
      inner = math::ErfOp::create(
          b, loc, arith::MulFOp::create(b, loc, x, c(1.0 / std::sqrt(2.0))));
    } else {
      Value cube =
          arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
      Value t = arith::AddFOp::create(
          b, loc, x, arith::MulFOp::create(b, loc, cube, c(0.044715)));
      inner = math::TanhOp::create(
          b, loc, arith::MulFOp::create(b, loc, t, c(std::sqrt(2.0 / M_PI))));
    }
    Value half = arith::MulFOp::create(b, loc, x, c(0.5));
    return arith::MulFOp::create(b, loc, half,
                                 arith::AddFOp::create(b, loc, inner, c(1.0)));
  }
  }
  return x;
}

/// Applies the activation of `op` (if any) to `y`.
static Value applyActivation(PatternRewriter &rewriter, Location loc,
                             LinearOp op, Value y) {
  Activation activation = op.getActivation();
  if (activation == Activation::none)
    return y;
  return broadcastGeneric(rewriter, loc, cast<RankedTensorType>(y.getType()),
                          {y}, [&](OpBuilder &b, Location l, ValueRange args) {
                            return scalarActivation(b, l, activation, args[0]);
                          });
}

/// slm.linear with a constant weight, packed at compile time into column
/// panels [ceil(N/P), K, P]: the contraction's loops are (leading.., p, j,
/// k) and its output [leading.., N/P, P] is the result, reshaped (and
/// sliced when N is not a multiple of P).
/// The codes and per-row scales of an int8 per-channel symmetric weight
/// (`slm.dequantize_weight <int8>` of constants, no zero points, one group
/// per row).
static bool readInt8Weight(Value weight, Attribute &codes,
                           std::vector<float> &scales) {
  auto dq = weight.getDefiningOp<DequantizeWeightOp>();
  if (!dq || dq.getKind() != WeightQuantKind::int8 || dq.getZeroPoints())
    return false;
  int64_t k = dq.getType().getDimSize(1);
  if (dq.getGroupSize() && static_cast<int64_t>(*dq.getGroupSize()) != k)
    return false;
  Attribute scaleAttr;
  if (!matchPattern(dq.getCodes(), m_Constant(&codes)) ||
      !matchPattern(dq.getScales(), m_Constant(&scaleAttr)) ||
      !readF32Constant(scaleAttr, scales) ||
      static_cast<int64_t>(scales.size()) != dq.getType().getDimSize(0))
    return false;
  return true;
}

/// The row quantization parameters of a W8A8 input `x` ([lead.., K] f32):
/// per-token scale and zero point (ONNX DynamicQuantizeLinear's arithmetic
/// over each row: s = (max(x, 0) - min(x, 0)) / 255, z = round(-min / s)),
/// or the static ones broadcast; and the uint8 codes
/// `clamp(round(x * (1 / s)) + z, 0, 255)` as i8 [lead.., K/4, 4].
struct QuantizedInput {
  // codes i8; scale, 1 / scale f32 [lead..]; zp i32 [lead..]
  Value codes, scale, zeroPoint, inverse;
};

static QuantizedInput quantizeInputRows(OpBuilder &b, Location loc, LinearOp op,
                                        Value x) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  const int64_t rank = xType.getRank(), lead = rank - 1;
  const int64_t k = xType.getShape().back();
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), i8 = b.getIntegerType(8);
  auto rowsType = [&](Type element) {
    return RankedTensorType::get(xType.getShape().drop_back(), element);
  };
  auto rowsEmpty = [&](Type element) {
    return emptyTensor(b, loc, rowsType(element), [&](int64_t i) -> Value {
      return tensor::DimOp::create(b, loc, x, i);
    });
  };
  auto f = [&](OpBuilder &nb, double v) -> Value {
    return arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(v));
  };
  SmallVector<AffineExpr> rowExprs;
  for (int64_t i = 0; i < lead; ++i)
    rowExprs.push_back(getAffineDimExpr(i, ctx));
  AffineMap rowsOfAll = AffineMap::get(rank, 0, rowExprs, ctx);
  AffineMap all = b.getMultiDimIdentityMap(rank);
  QuantizedInput q;
  Value scale, zeroPoint; // f32 per row
  const InputQuant mode = op.getInputQuant();
  if (mode == InputQuant::per_token || mode == InputQuant::per_tensor) {
    // [min(x, 0), max(x, 0)] per row: both accumulators start at 0.
    Value mn = zeroFilled(b, loc, rowsEmpty(f32), f32);
    Value mx = zeroFilled(b, loc, rowsEmpty(f32), f32);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators.back() = utils::IteratorType::reduction;
    auto minMax = [](OpBuilder &nb, Location l, ValueRange args) {
      linalg::YieldOp::create(
          nb, l,
          ValueRange{arith::MinimumFOp::create(nb, l, args[1], args[0]),
                     arith::MaximumFOp::create(nb, l, args[2], args[0])});
    };
    auto range = linalg::GenericOp::create(
        b, loc, TypeRange{mn.getType(), mx.getType()}, ValueRange{x},
        ValueRange{mn, mx}, {all, rowsOfAll, rowsOfAll}, iterators, minMax);
    if (mode == InputQuant::per_tensor) {
      // The whole tensor's range, given back to every row.
      auto scalarType = RankedTensorType::get({}, f32);
      auto scalar = [&]() {
        return zeroFilled(
            b, loc, tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, f32),
            f32);
      };
      AffineMap rowsMap = b.getMultiDimIdentityMap(lead);
      AffineMap toScalar = AffineMap::get(lead, 0, {}, b.getContext());
      auto total = linalg::GenericOp::create(
          b, loc, TypeRange{scalarType, scalarType},
          ValueRange{range.getResult(0), range.getResult(1)},
          ValueRange{scalar(), scalar()},
          {rowsMap, rowsMap, toScalar, toScalar},
          SmallVector<utils::IteratorType>(lead,
                                           utils::IteratorType::reduction),
          [](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::MinimumFOp::create(nb, l, args[2], args[0]),
                           arith::MaximumFOp::create(nb, l, args[3], args[1])});
          });
      auto spread = [&](Value v) {
        return linalg::GenericOp::create(
                   b, loc, rowsType(f32), ValueRange{v}, rowsEmpty(f32),
                   {toScalar, rowsMap},
                   SmallVector<utils::IteratorType>(
                       lead, utils::IteratorType::parallel),
                   [](OpBuilder &nb, Location l, ValueRange args) {
                     linalg::YieldOp::create(nb, l, args[0]);
                   })
            .getResult(0);
      };
      range = linalg::GenericOp::create(
          b, loc, TypeRange{mn.getType(), mx.getType()},
          ValueRange{spread(total.getResult(0)), spread(total.getResult(1))},
          ValueRange{rowsEmpty(f32), rowsEmpty(f32)},
          {rowsMap, rowsMap, rowsMap, rowsMap},
          SmallVector<utils::IteratorType>(lead, utils::IteratorType::parallel),
          [](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(nb, l, ValueRange{args[0], args[1]});
          });
    }
    SmallVector<utils::IteratorType> rowIterators(
        lead, utils::IteratorType::parallel);
    AffineMap rows = b.getMultiDimIdentityMap(lead);
    auto params = linalg::GenericOp::create(
        b, loc, TypeRange{rowsType(f32), rowsType(i32), rowsType(f32)},
        ValueRange{range.getResult(0), range.getResult(1)},
        ValueRange{rowsEmpty(f32), rowsEmpty(i32), rowsEmpty(f32)},
        {rows, rows, rows, rows, rows}, rowIterators,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value width = arith::SubFOp::create(nb, l, args[1], args[0]);
          Value s = arith::DivFOp::create(nb, l, width, f(nb, 255.0));
          // An all-zero row: any scale works; 1 keeps the division finite.
          Value empty = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OLE,
                                              s, f(nb, 0.0));
          s = arith::SelectOp::create(nb, l, empty, f(nb, 1.0), s);
          Value z = math::RoundEvenOp::create(
              nb, l,
              arith::DivFOp::create(nb, l,
                                    arith::NegFOp::create(nb, l, args[0]), s));
          z = arith::MinimumFOp::create(
              nb, l, arith::MaximumFOp::create(nb, l, z, f(nb, 0.0)),
              f(nb, 255.0));
          Value inverse = arith::DivFOp::create(nb, l, f(nb, 1.0), s);
          linalg::YieldOp::create(
              nb, l,
              ValueRange{s, arith::FPToSIOp::create(nb, l, i32, z), inverse});
        });
    q.scale = params.getResult(0);
    q.zeroPoint = params.getResult(1);
    q.inverse = params.getResult(2);
  }
  // The codes; static parameters are constants in the body.
  const bool dynamic = static_cast<bool>(q.scale);
  SmallVector<Value> ins = {x};
  SmallVector<AffineMap> maps = {all};
  // ONNX's quantizers divide by the scale; per token multiplies by its
  // inverse (cheaper, and the codes are ours to define).
  const bool divide =
      mode == InputQuant::per_tensor || mode == InputQuant::fixed;
  if (dynamic) {
    ins.append({divide ? q.scale : q.inverse, q.zeroPoint});
    maps.append({rowsOfAll, rowsOfAll});
  }
  maps.push_back(all);
  Value codesEmpty =
      emptyTensor(b, loc, xType.clone(i8), [&](int64_t i) -> Value {
        return tensor::DimOp::create(b, loc, x, i);
      });
  const float staticScale =
      op.getInputScale() ? op.getInputScale()->convertToFloat() : 1.0f;
  const int32_t staticZero =
      op.getInputZeroPoint() ? *op.getInputZeroPoint() : 0;
  Value codes =
      linalg::GenericOp::create(
          b, loc, xType.clone(i8), ins, codesEmpty, maps,
          SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value inverse = dynamic ? args[1] : f(nb, 1.0f / staticScale);
            Value z =
                dynamic
                    ? arith::SIToFPOp::create(nb, l, f32, args[2]).getResult()
                    : f(nb, staticZero);
            Value v = math::RoundEvenOp::create(
                nb, l,
                divide ? arith::DivFOp::create(nb, l, args[0],
                                               dynamic ? args[1]
                                                       : f(nb, staticScale))
                             .getResult()
                       : arith::MulFOp::create(nb, l, args[0], inverse)
                             .getResult());
            v = arith::AddFOp::create(nb, l, v, z);
            v = arith::MinimumFOp::create(
                nb, l, arith::MaximumFOp::create(nb, l, v, f(nb, 0.0)),
                f(nb, 255.0));
            Value code = arith::FPToSIOp::create(nb, l, i32, v);
            linalg::YieldOp::create(
                nb, l, arith::TruncIOp::create(nb, l, i8, code).getResult());
          })
          .getResult(0);
  SmallVector<int64_t> quadShape(xType.getShape().drop_back());
  quadShape.append({k / 4, 4});
  SmallVector<ReassociationIndices> expand;
  for (int64_t i = 0; i < lead; ++i)
    expand.push_back({i});
  expand.push_back({lead, lead + 1});
  SmallVector<OpFoldResult> quadSizes;
  for (int64_t i = 0; i < lead; ++i)
    quadSizes.push_back(tensor::getMixedSize(b, loc, x, i));
  quadSizes.append({b.getIndexAttr(k / 4), b.getIndexAttr(4)});
  q.codes = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(quadShape, i8), codes, expand, quadSizes);
  if (!dynamic) {
    q.scale = Value();
    q.zeroPoint = Value();
  }
  return q;
}

/// The bytes of an i8 constant (splat or dense/resource), `count` of them.
static bool readBytes(Attribute attr, int64_t count,
                      std::vector<uint8_t> &out) {
  out.assign(count, 0);
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(attr)) {
    std::fill(
        out.begin(), out.end(),
        static_cast<uint8_t>(splat.getSplatValue<APInt>().getZExtValue()));
    return true;
  }
  ArrayRef<char> bytes = rawConstantBytes(attr);
  if (static_cast<int64_t>(bytes.size()) != count)
    return false;
  std::memcpy(out.data(), bytes.data(), count);
  return true;
}

/// The output of a linear layer lowered over packed weights,
/// [lead.., P, panel] with P = ceil(N / panel), and the affine maps of the
/// contractions that write it: loops (lead.., p, j, ...).
struct PanelOutput {
  PanelOutput(OpBuilder &b, LinearOp op, int64_t panel)
      : b(b), loc(op.getLoc()), op(op), x(op.getInput()), panel(panel),
        panels(llvm::divideCeil(op.getOutFeatures(), panel)),
        padded(panels * panel), lead(op.getType().getRank() - 1) {}

  AffineExpr dim(int64_t i) const {
    return getAffineDimExpr(i, b.getContext());
  }
  /// A map over `loops` loops: the leading dimensions, then `tail`.
  AffineMap leadThen(int64_t loops, ArrayRef<int64_t> tail) const {
    SmallVector<AffineExpr> exprs;
    for (int64_t i = 0; i < lead; ++i)
      exprs.push_back(dim(i));
    for (int64_t d : tail)
      exprs.push_back(dim(d));
    return AffineMap::get(loops, 0, exprs, b.getContext());
  }
  /// A map over `loops` loops to `dims` only.
  AffineMap only(int64_t loops, ArrayRef<int64_t> dims) const {
    SmallVector<AffineExpr> exprs;
    for (int64_t d : dims)
      exprs.push_back(dim(d));
    return AffineMap::get(loops, 0, exprs, b.getContext());
  }
  RankedTensorType type(Type element) const {
    SmallVector<int64_t> shape(op.getType().getShape().drop_back());
    shape.append({panels, panel});
    return RankedTensorType::get(shape, element);
  }
  Value empty(Type element) const {
    return emptyTensor(b, loc, type(element), [&](int64_t i) -> Value {
      return tensor::DimOp::create(b, loc, x, i);
    });
  }
  /// Whether the bias can be laid out in panels: none, N a multiple of the
  /// panel, or a constant to pad.
  bool biasFits() const {
    Value bias = op.getBias();
    return !bias || padded == op.getOutFeatures() ||
           matchPattern(bias, m_Constant());
  }
  /// The bias as [P, panel] (zero-padded past N), or null without one.
  Value biasPanels() const {
    Value bias = op.getBias();
    if (!bias)
      return {};
    Attribute attr;
    if (padded != op.getOutFeatures() && matchPattern(bias, m_Constant(&attr)))
      return arith::ConstantOp::create(
          b, loc, cast<TypedAttr>(padConstantPanels(attr, padded, panel)));
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({panels, panel}, b.getF32Type()), bias,
        SmallVector<ReassociationIndices>{{0, 1}});
  }
  /// The f32 accumulator the contraction starts from: the bias broadcast
  /// over the rows, or zeros.
  Value init() const {
    Value e = empty(b.getF32Type());
    if (Value bias = biasPanels())
      return broadcastInto(b, loc, type(b.getF32Type()), bias, e,
                           only(lead + 2, {lead, lead + 1}));
    return zeroFilled(b, loc, e, b.getF32Type());
  }

  OpBuilder &b;
  Location loc;
  // Ops are handles: their accessors are not const.
  mutable LinearOp op;
  Value x;
  int64_t panel, panels, padded, lead;
};

/// W8A8: `op` (input quantized as it runs, int8 per-channel weight `codes`
/// with `scales`) as integer GEMM + dequantizing epilogue, result
/// [lead.., panels, panel] f32 with the bias added. The codes are packed
/// for 4-byte dot products: [panels, K/4, panel, 4], so that one 64-byte
/// vector holds four consecutive k of 16 columns (AVX-512 VNNI's vpdpbusd
/// operand); the contraction's loops are (lead.., p, j, kq, kr).
static Value w8a8Contraction(PatternRewriter &rewriter, LinearOp op,
                             ArrayRef<uint8_t> raw, Attribute codesAttr,
                             ArrayRef<float> scales, int64_t panel) {
  Location loc = op.getLoc();
  PanelOutput out(rewriter, op, panel);
  const int64_t n = op.getOutFeatures(), k = op.getInFeatures();
  const int64_t panels = out.panels, padded = out.padded, lead = out.lead;
  Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type(),
       i8 = rewriter.getIntegerType(8);
  // Codes (`raw`, [N, K]) in dot-product order and their column sums (for
  // the zero point).
  std::vector<char> packed(panels * k * panel, 0);
  std::vector<int32_t> colsum(padded, 0);
  const int64_t quads = k / 4;
  for (int64_t c = 0; c < n; ++c) {
    const int64_t p = c / panel, j = c % panel;
    for (int64_t kk = 0; kk < k; ++kk) {
      const int8_t code = static_cast<int8_t>(raw[c * k + kk]);
      colsum[c] += code;
      packed[((p * quads + kk / 4) * panel + j) * 4 + kk % 4] =
          static_cast<char>(code);
    }
  }
  auto codesType = RankedTensorType::get({panels, quads, panel, 4}, i8);
  Value w = arith::ConstantOp::create(
      rewriter, loc,
      cast<TypedAttr>(makeConstantFromBytes(codesAttr, codesType, packed,
                                            ".vnni" + std::to_string(panel))));
  auto panelType = [&](Type element) {
    return RankedTensorType::get({panels, panel}, element);
  };
  std::vector<float> paddedScales(scales.begin(), scales.end());
  paddedScales.resize(padded, 0.0f);
  Value wScale = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(panelType(f32), ArrayRef<float>(paddedScales)));
  Value colsums = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(panelType(i32), ArrayRef<int32_t>(colsum)));
  QuantizedInput q = quantizeInputRows(rewriter, loc, op, op.getInput());

  // acc[.., p, j] = sum_k u8(x)[.., k] * s8(w)[p*panel + j, k]
  const int64_t loops = lead + 4;
  const int64_t p = lead, j = lead + 1, kq = lead + 2, kr = lead + 3;
  SmallVector<AffineMap> maps = {out.leadThen(loops, {kq, kr}),
                                 out.only(loops, {p, kq, j, kr}),
                                 out.leadThen(loops, {p, j})};
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  iterators[kq] = iterators[kr] = utils::IteratorType::reduction;
  Value acc =
      linalg::GenericOp::create(
          rewriter, loc, out.type(i32), ValueRange{q.codes, w},
          zeroFilled(rewriter, loc, out.empty(i32), i32), maps, iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value a = arith::ExtUIOp::create(nb, l, i32, args[0]);
            Value bw = arith::ExtSIOp::create(nb, l, i32, args[1]);
            linalg::YieldOp::create(
                nb, l,
                arith::AddIOp::create(nb, l, args[2],
                                      arith::MulIOp::create(nb, l, a, bw))
                    .getResult());
          })
          .getResult(0);
  // y = s_x * s_w * (acc - z_x * colsum) + bias
  Value biasPanels = out.biasPanels();
  const int64_t outLoops = lead + 2;
  AffineMap outMap = out.leadThen(outLoops, {p, j});
  AffineMap rowMap = out.leadThen(outLoops, {});
  AffineMap colMap = out.only(outLoops, {p, j});
  SmallVector<Value> ins = {acc, wScale, colsums};
  SmallVector<AffineMap> epilogueMaps = {outMap, colMap, colMap};
  const bool dynamic = static_cast<bool>(q.scale);
  if (dynamic) {
    ins.append({q.scale, q.zeroPoint});
    epilogueMaps.append({rowMap, rowMap});
  }
  if (biasPanels) {
    ins.push_back(biasPanels);
    epilogueMaps.push_back(colMap);
  }
  epilogueMaps.push_back(outMap);
  const float staticScale =
      op.getInputScale() ? op.getInputScale()->convertToFloat() : 1.0f;
  const int32_t staticZero =
      op.getInputZeroPoint() ? *op.getInputZeroPoint() : 0;
  return linalg::GenericOp::create(
             rewriter, loc, out.type(f32), ins, out.empty(f32), epilogueMaps,
             SmallVector<utils::IteratorType>(outLoops,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value s = dynamic ? args[3]
                                 : arith::ConstantOp::create(
                                       nb, l, nb.getF32FloatAttr(staticScale))
                                       .getResult();
               Value z = dynamic ? args[4]
                                 : arith::ConstantOp::create(
                                       nb, l, nb.getI32IntegerAttr(staticZero))
                                       .getResult();
               Value exact = arith::SubIOp::create(
                   nb, l, args[0], arith::MulIOp::create(nb, l, z, args[2]));
               Value v = arith::SIToFPOp::create(nb, l, f32, exact);
               v = arith::MulFOp::create(
                   nb, l, v, arith::MulFOp::create(nb, l, s, args[1]));
               if (biasPanels)
                 v = arith::AddFOp::create(nb, l, v, args[dynamic ? 5 : 3]);
               linalg::YieldOp::create(nb, l, v);
             })
      .getResult(0);
}

static void finishPackedLinear(PatternRewriter &rewriter, LinearOp op, Value y,
                               int64_t padded);


/// A linear layer with a 4-bit weight (`slm.dequantize_weight <int4|nf4>`,
/// groups of G along K, or one per row), as a contraction that decodes two
/// codes per byte in its body. Codes are re-packed for the kernels: unsigned
/// u in [0, 15] (symmetric int4 stored as c + 8), two consecutive k of one
/// column per byte, [panels, K/g, g/2, P]; weight = u * s + m per group and
/// column (m = -zp * s, or -8 * s), or NF4[u] * s. Loops (lead.., p, j, kg,
/// kb, kl) with k = kg * g + 2 * kb + kl; A is x viewed as [.., K/g, g/2, 2].
static LogicalResult lowerNibbleLinear(LinearOp op, PatternRewriter &rewriter,
                                       int64_t panel) {
  auto dq = op.getWeight().getDefiningOp<DequantizeWeightOp>();
  if (!dq || dq.getCodeBits() != 4 || op.getInputQuant() != InputQuant::none)
    return failure();
  const bool nf4 = dq.getKind() == WeightQuantKind::nf4;
  RankedTensorType type = op.getType();
  const int64_t n = op.getOutFeatures(), k = op.getInFeatures();
  const int64_t group = dq.getGroupSize() ? *dq.getGroupSize() : k;
  if (!type.getElementType().isF32() || k % group != 0 || group % 2 != 0)
    return failure();
  const int64_t groups = k / group;
  Attribute codesAttr, scalesAttr, zpAttr;
  std::vector<float> scales;
  std::vector<uint8_t> codes, zps;
  if (!matchPattern(dq.getCodes(), m_Constant(&codesAttr)) ||
      !matchPattern(dq.getScales(), m_Constant(&scalesAttr)) ||
      !readF32Constant(scalesAttr, scales) ||
      static_cast<int64_t>(scales.size()) != n * groups ||
      !readBytes(codesAttr, n * ((k + 1) / 2), codes))
    return failure();
  if (Value zp = dq.getZeroPoints())
    if (!matchPattern(zp, m_Constant(&zpAttr)) ||
        !readBytes(zpAttr, n * groups, zps))
      return failure();
  PanelOutput out(rewriter, op, panel);
  if (!out.biasFits())
    return failure();
  const int64_t panels = out.panels, padded = out.padded;

  // Re-pack: bytes [panels, groups, group/2, panel], scales and offsets
  // [panels, groups, panel]; padded columns decode to 0.
  const int64_t half = group / 2, rowBytes = (k + 1) / 2;
  std::vector<char> packed(panels * groups * half * panel, 0);
  std::vector<float> scalePanels(panels * groups * panel, 0.0f),
      offsetPanels(panels * groups * panel, 0.0f);
  for (int64_t c = 0; c < n; ++c) {
    const int64_t p = c / panel, j = c % panel;
    for (int64_t g = 0; g < groups; ++g) {
      const float scale = scales[c * groups + g];
      const int64_t slot = (p * groups + g) * panel + j;
      scalePanels[slot] = scale;
      if (!nf4)
        offsetPanels[slot] =
            -scale *
            (zps.empty() ? 8.0f : static_cast<float>(zps[c * groups + g]));
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const uint8_t byte = codes[c * rowBytes + kk / 2];
      uint8_t u = kk % 2 == 0 ? (byte & 0xF) : (byte >> 4);
      if (!nf4 && zps.empty())
        u = static_cast<uint8_t>((u + 8) & 0xF); // signed [-8, 7] -> [0, 15]
      const int64_t g = kk / group, within = kk % group;
      char &out = packed[((p * groups + g) * half + within / 2) * panel + j];
      out = static_cast<char>(within % 2 == 0 ? (out & 0xF0) | u
                                              : (out & 0x0F) | (u << 4));
    }
  }
  Location loc = op.getLoc();
  Type f32 = rewriter.getF32Type(), i8 = rewriter.getIntegerType(8);
  auto codesType = RankedTensorType::get({panels, groups, half, panel}, i8);
  Value w = arith::ConstantOp::create(
      rewriter, loc,
      cast<TypedAttr>(makeConstantFromBytes(codesAttr, codesType, packed,
                                            ".nibbles" + std::to_string(panel) +
                                                "g" + std::to_string(group))));
  auto groupPanels = RankedTensorType::get({panels, groups, panel}, f32);
  Value scaleValue = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(groupPanels, ArrayRef<float>(scalePanels)));
  Value second; // offsets, or the NF4 table
  if (nf4)
    second = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get({16}, f32),
                               ArrayRef<float>(slm::kNF4Levels.data(), 16)));
  else
    second = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(groupPanels, ArrayRef<float>(offsetPanels)));

  Value x = op.getInput();
  auto xType = cast<RankedTensorType>(x.getType());
  const int64_t rank = type.getRank(), lead = rank - 1;
  SmallVector<int64_t> aShape(xType.getShape().drop_back());
  aShape.append({groups, half, 2});
  SmallVector<ReassociationIndices> expand;
  for (int64_t i = 0; i < lead; ++i)
    expand.push_back({i});
  expand.push_back({lead, lead + 1, lead + 2});
  SmallVector<OpFoldResult> aSizes;
  for (int64_t i = 0; i < lead; ++i)
    aSizes.push_back(tensor::getMixedSize(rewriter, loc, x, i));
  aSizes.append({rewriter.getIndexAttr(groups), rewriter.getIndexAttr(half),
                 rewriter.getIndexAttr(2)});
  Value a = tensor::ExpandShapeOp::create(
      rewriter, loc, RankedTensorType::get(aShape, f32), x, expand, aSizes);

  const int64_t p = lead, j = lead + 1;
  Value init = out.init();
  const int64_t loops = lead + 5;
  const int64_t kg = lead + 2, kb = lead + 3, kl = lead + 4;
  SmallVector<Value> ins = {a, w, scaleValue};
  SmallVector<AffineMap> maps = {out.leadThen(loops, {kg, kb, kl}),
                                 out.only(loops, {p, kg, kb, j}),
                                 out.only(loops, {p, kg, j})};
  if (!nf4) {
    ins.push_back(second);
    maps.push_back(maps.back());
  }
  maps.push_back(out.leadThen(loops, {p, j}));
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  iterators[kg] = iterators[kb] = iterators[kl] =
      utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      rewriter, loc, out.type(f32), ins, init, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        // u = (byte >> 4 * kl) & 15
        Value which = linalg::IndexOp::create(nb, l, kl);
        Value shift = arith::IndexCastOp::create(
            nb, l, i8,
            arith::MulIOp::create(nb, l, which,
                                  arith::ConstantIndexOp::create(nb, l, 4)));
        Value u = arith::AndIOp::create(
            nb, l, arith::ShRUIOp::create(nb, l, args[1], shift),
            arith::ConstantOp::create(nb, l, nb.getI8IntegerAttr(15)));
        Value weight;
        if (nf4) {
          Value level =
              tensor::ExtractOp::create(nb, l, second,
                                        ValueRange{arith::IndexCastUIOp::create(
                                            nb, l, nb.getIndexType(), u)});
          weight = arith::MulFOp::create(nb, l, level, args[2]);
        } else {
          Value f = arith::UIToFPOp::create(nb, l, f32, u);
          weight = arith::AddFOp::create(
              nb, l, arith::MulFOp::create(nb, l, f, args[2]), args[3]);
        }
        linalg::YieldOp::create(
            nb, l, multiplyAdd(nb, l, args[0], weight, args.back()));
      });
  // The GEMM kernels recognize the decode by this attribute (the body says
  // the same in scalar form, for every other lowering).
  generic->setAttr(kNibbleDecodeAttr,
                   rewriter.getStringAttr(nf4 ? "nf4" : "affine"));
  finishPackedLinear(rewriter, op, generic.getResult(0), padded);
  return success();
}

static LogicalResult lowerPackedLinear(LinearOp op, PatternRewriter &rewriter,
                                       int64_t panel) {
  Attribute weightAttr;
  // int8 weight-only: the contraction reads the codes and the per-column
  // scales, `out + x * (sitofp(q) * s)`; the GEMM kernels widen and scale
  // B in registers, so nothing else changes (bias, epilogues, fusion).
  std::vector<float> scales;
  if (!matchPattern(op.getWeight(), m_Constant(&weightAttr)) &&
      !readInt8Weight(op.getWeight(), weightAttr, scales))
    return failure();
  const bool quantized = !scales.empty();
  RankedTensorType type = op.getType();
  RankedTensorType weightType = op.getWeight().getType();
  if (!weightType.hasStaticShape() || !type.getElementType().isF32())
    return failure();
  const int64_t n = weightType.getDimSize(0);
  const bool w8a8 = op.getInputQuant() != InputQuant::none;
  if (w8a8) {
    std::vector<uint8_t> raw;
    if (!quantized || weightType.getDimSize(1) % 4 != 0 ||
        !readBytes(weightAttr, weightType.getNumElements(), raw))
      return failure();
    // Two panels' width per dot-product panel when the columns allow: the
    // VNNI kernel's tile is 64 columns wide.
    const int64_t dotPanel = n % (2 * panel) == 0 ? 2 * panel : panel;
    PanelOutput out(rewriter, op, dotPanel);
    if (!out.biasFits())
      return failure();
    Value y = w8a8Contraction(rewriter, op, raw, weightAttr, scales, dotPanel);
    finishPackedLinear(rewriter, op, y, out.padded);
    return success();
  }
  PanelOutput out(rewriter, op, panel);
  Attribute packed = packConstantPanels(weightAttr, panel);
  if (!packed || !out.biasFits())
    return failure();
  Location loc = op.getLoc();
  Value x = op.getInput();
  Value w = arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(packed));
  // Loops: leading.., p, j, k.
  const int64_t lead = out.lead, loops = lead + 3;
  const int64_t p = lead, j = lead + 1, k = lead + 2;
  Value init = out.init();
  SmallVector<AffineMap> maps = {out.leadThen(loops, {k}),
                                 out.only(loops, {p, k, j}),
                                 out.leadThen(loops, {p, j})};
  Value y;
  if (!quantized) {
    y = contraction(rewriter, loc, out.type(rewriter.getF32Type()), x, w, init,
                    maps);
  } else {
    scales.resize(out.padded, 1.0f);
    auto scaleType =
        RankedTensorType::get({out.panels, panel}, rewriter.getF32Type());
    Value scalePanels = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(scaleType, ArrayRef<float>(scales)));
    maps.insert(maps.begin() + 2, out.only(loops, {p, j}));
    y = scaledCodesContraction(rewriter, loc, out.type(rewriter.getF32Type()),
                               x, w, scalePanels, init, maps);
  }
  finishPackedLinear(rewriter, op, y, out.padded);
  return success();
}

/// Replaces `op` by the packed result `y` ([lead.., panels, panel]),
/// reshaped, sliced to the output features and activated.
static void finishPackedLinear(PatternRewriter &rewriter, LinearOp op, Value y,
                               int64_t padded) {
  Location loc = op.getLoc();
  RankedTensorType type = op.getType();
  Value x = op.getInput();
  const int64_t n = op.getOutFeatures();
  const int64_t rank = type.getRank(), lead = rank - 1;
  SmallVector<ReassociationIndices> collapse;
  for (int64_t i = 0; i < lead; ++i)
    collapse.push_back({i});
  collapse.push_back({lead, lead + 1});
  SmallVector<int64_t> paddedShape(type.getShape());
  paddedShape.back() = padded;
  y = tensor::CollapseShapeOp::create(
      rewriter, loc, RankedTensorType::get(paddedShape, type.getElementType()),
      y, collapse);
  if (padded != n) {
    SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0)),
        strides(rank, rewriter.getIndexAttr(1)), sizes;
    for (int64_t i = 0; i < lead; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, x, i));
    sizes.push_back(rewriter.getIndexAttr(n));
    y = tensor::ExtractSliceOp::create(rewriter, loc, type, y, offsets, sizes,
                                       strides);
  }
  rewriter.replaceOp(op, applyActivation(rewriter, loc, op, y));
}

struct LowerLinear : OpRewritePattern<LinearOp> {
  LowerLinear(MLIRContext *ctx, int64_t panel)
      : OpRewritePattern(ctx), panel(panel) {}
  int64_t panel;
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    if (panel > 0 && (succeeded(lowerPackedLinear(op, rewriter, panel)) ||
                      succeeded(lowerNibbleLinear(op, rewriter, panel))))
      return success();
    // Compressed weights are decoded inside the GEMM (packed path only):
    // anything else stays and is reported.
    if (op.getWeight().getDefiningOp<CompressedWeightOpInterface>())
      return rewriter.notifyMatchFailure(op, "compressed weight");
    // A quantized input needs the integer GEMM: never computed in f32.
    if (op.getInputQuant() != InputQuant::none)
      return rewriter.notifyMatchFailure(
          op, "input quantization needs an int8 per-channel constant weight "
              "with in_features a multiple of 4");
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value x = op.getInput(), w = op.getWeight();
    int64_t rank = type.getRank();
    MLIRContext *ctx = getContext();
    auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    // Loops: leading.., n, k.
    int64_t loops = rank + 1;
    SmallVector<AffineExpr> xExprs, outExprs;
    for (int64_t i = 0; i + 1 < rank; ++i) {
      xExprs.push_back(d(i));
      outExprs.push_back(d(i));
    }
    xExprs.push_back(d(rank));
    outExprs.push_back(d(rank - 1));
    SmallVector<AffineMap> maps = {
        AffineMap::get(loops, 0, xExprs, ctx),
        AffineMap::get(loops, 0, {d(rank - 1), d(rank)}, ctx),
        AffineMap::get(loops, 0, outExprs, ctx)};
    Value empty = emptyTensor(rewriter, loc, type, [&](int64_t i) -> Value {
      return tensor::DimOp::create(rewriter, loc, x, i);
    });
    // The accumulator starts at the bias (broadcast over rows) or zero.
    Value init;
    if (Value bias = op.getBias()) {
      init = broadcastInto(rewriter, loc, type, bias, empty,
                           AffineMap::get(rank, 0, {d(rank - 1)}, ctx));
    } else {
      init = zeroFilled(rewriter, loc, empty, type.getElementType());
    }
    Value y = contraction(rewriter, loc, type, x, w, init, maps);
    rewriter.replaceOp(op, applyActivation(rewriter, loc, op, y));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Data movement and reductions
//===----------------------------------------------------------------------===//

struct LowerTranspose : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> perm = op.getPermutation();
    Value empty =
        emptyTensor(rewriter, loc, op.getType(), [&](int64_t i) -> Value {
          return tensor::DimOp::create(rewriter, loc, op.getInput(), perm[i]);
        });
    rewriter.replaceOpWithNewOp<linalg::TransposeOp>(op, op.getInput(), empty,
                                                     perm);
    return success();
  }
};

struct LowerReshape : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value shape = op.getShape();
    if (!shape) {
      // Static extents, and at most one dynamic: elements / the others.
      auto inputType = cast<RankedTensorType>(op.getInput().getType());
      Value total = arith::ConstantIndexOp::create(rewriter, loc, 1);
      for (int64_t i = 0; i < inputType.getRank(); ++i)
        total = arith::MulIOp::create(
            rewriter, loc, total,
            tensor::DimOp::create(rewriter, loc, op.getInput(), i));
      int64_t known = 1;
      for (int64_t d : type.getShape())
        if (!ShapedType::isDynamic(d))
          known *= d;
      SmallVector<Value> extents;
      for (int64_t d : type.getShape())
        extents.push_back(
            ShapedType::isDynamic(d)
                ? arith::DivUIOp::create(
                      rewriter, loc, total,
                      arith::ConstantIndexOp::create(rewriter, loc, known))
                      .getResult()
                : arith::ConstantIndexOp::create(rewriter, loc, d).getResult());
      shape = tensor::FromElementsOp::create(
          rewriter, loc,
          RankedTensorType::get({type.getRank()}, rewriter.getIndexType()),
          extents);
    }
    rewriter.replaceOpWithNewOp<tensor::ReshapeOp>(op, type, op.getInput(),
                                                   shape);
    return success();
  }
};

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

struct LowerGather : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value data = op.getData(), indices = op.getIndices();
    auto indexType = cast<RankedTensorType>(indices.getType());
    int64_t axis = static_cast<int64_t>(op.getAxis());
    int64_t indexRank = indexType.getRank();
    int64_t rank = type.getRank();
    MLIRContext *ctx = getContext();
    Value empty = emptyTensor(rewriter, loc, type, [&](int64_t i) -> Value {
      if (i < axis)
        return tensor::DimOp::create(rewriter, loc, data, i);
      if (i < axis + indexRank)
        return tensor::DimOp::create(rewriter, loc, indices, i - axis);
      return tensor::DimOp::create(rewriter, loc, data, i - indexRank + 1);
    });
    SmallVector<AffineExpr> indexExprs;
    for (int64_t j = 0; j < indexRank; ++j)
      indexExprs.push_back(getAffineDimExpr(axis + j, ctx));
    SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, indexExprs, ctx),
                                   rewriter.getMultiDimIdentityMap(rank)};
    Value axisExtent = tensor::DimOp::create(rewriter, loc, data, axis);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, type, indices, empty, maps,
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          // Negative indices count from the end; out-of-range ones are
          // clamped so that a bad id never reads outside the table.
          Value idx = args[0];
          if (!idx.getType().isIndex())
            idx = arith::IndexCastOp::create(b, l, b.getIndexType(), idx);
          Value zero = arith::ConstantIndexOp::create(b, l, 0);
          Value negative =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, idx, zero);
          idx = arith::SelectOp::create(
              b, l, negative, arith::AddIOp::create(b, l, idx, axisExtent),
              idx);
          Value last = arith::SubIOp::create(
              b, l, axisExtent, arith::ConstantIndexOp::create(b, l, 1));
          idx = arith::MaxSIOp::create(
              b, l, arith::MinSIOp::create(b, l, idx, last), zero);
          SmallVector<Value> coords;
          for (int64_t i = 0; i < axis; ++i)
            coords.push_back(linalg::IndexOp::create(b, l, i));
          coords.push_back(idx);
          for (int64_t i = axis + indexRank; i < rank; ++i)
            coords.push_back(linalg::IndexOp::create(b, l, i));
          linalg::YieldOp::create(
              b, l, tensor::ExtractOp::create(b, l, data, coords).getResult());
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct ConvertSLMToLinalgPass
    : mlir::slm::impl::ConvertSLMToLinalgBase<ConvertSLMToLinalgPass> {
  using ConvertSLMToLinalgBase::ConvertSLMToLinalgBase;

  /// A model's outputs belong to the caller, who frees them: a result that
  /// is (a view of) an input or a constant, or a dynamic reshape, is copied
  /// into a new tensor.
  void copyReturnedInputs() {
    getOperation()->walk([](func::ReturnOp ret) {
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        Value root = operand.get();
        while (Operation *def = root.getDefiningOp()) {
          if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp,
                   tensor::CastOp, tensor::ExtractSliceOp, tensor::ReshapeOp>(
                  def))
            break;
          root = def->getOperand(0);
        }
        // tensor.reshape bufferizes to a memref.reshape view that the
        // function boundary cannot return; other views get their copy (when
        // strided) from bufferization itself.
        if (!isa<BlockArgument>(root) && !matchPattern(root, m_Constant()) &&
            !operand.get().getDefiningOp<tensor::ReshapeOp>())
          continue;
        auto type = dyn_cast<RankedTensorType>(operand.get().getType());
        if (!type)
          continue;
        Location loc = ret.getLoc();
        SmallVector<Value> dynamic;
        for (int64_t i = 0; i < type.getRank(); ++i)
          if (type.isDynamicDim(i))
            dynamic.push_back(tensor::DimOp::create(b, loc, operand.get(), i));
        Value empty = tensor::EmptyOp::create(b, loc, type, dynamic);
        operand.set(
            linalg::CopyOp::create(b, loc, operand.get(), empty).getResult(0));
      }
    });
  }

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateSLMToLinalgPatterns(patterns, packWeights);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      signalPassFailure();
      return;
    }
    // Anything left has no lowering yet: say which, once per op name.
    llvm::StringSet<> reported;
    WalkResult walk = getOperation()->walk([&](Operation *op) {
      if (isa<SLMDialect>(op->getDialect()) &&
          reported.insert(op->getName().getStringRef()).second) {
        op->emitError() << "code generation does not support '" << op->getName()
                        << "' yet";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    copyReturnedInputs();
    // Weights packed into panels: the [N, K] originals can go (only when the
    // whole module is in view: another function may still use them).
    if (isa<ModuleOp>(getOperation()))
      releaseDeadWeights(getOperation());
  }
};
} // namespace

namespace {
struct LowerMemRefCopy : OpRewritePattern<memref::CopyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(memref::CopyOp op,
                                PatternRewriter &rewriter) const override {
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

void mlir::slm::populateSLMToLinalgPatterns(RewritePatternSet &patterns,
                                            int64_t weightPanel) {
  patterns
      .add<LowerBinary<AddOp>, LowerBinary<SubOp>, LowerBinary<MulOp>,
           LowerBinary<DivOp>, LowerBinary<PowOp>, LowerBinary<MaxOp>,
           LowerBinary<MinOp>, LowerCompare, LowerSelect, LowerBroadcastTo,
           LowerMatMul, LowerTranspose, LowerReshape, LowerReduce, LowerGather>(
          patterns.getContext());
  patterns.add<LowerLinear>(patterns.getContext(), weightPanel);
  // tensor.concat has no bufferization of its own: slices into an empty.
  tensor::populateDecomposeTensorConcatPatterns(patterns);
}
