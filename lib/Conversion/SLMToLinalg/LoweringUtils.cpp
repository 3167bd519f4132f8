//===- LoweringUtils.cpp - Helpers of --convert-slm-to-linalg ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "slm/Codegen/Contraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::slm;

namespace mlir::slm::linalg_lowering {

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
                      int64_t resultRank, int64_t d, int64_t trailing) {
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

Value zeroFilled(OpBuilder &b, Location loc, Value empty, Type elementType) {
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(elementType));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// acc + x * y. Float contractions may be reassociated and fused into FMAs:
/// that lets LLVM vectorize the reduction (the order of a sum is not part
/// of any ONNX op's contract).
static Value multiplyAdd(OpBuilder &b, Location loc, Value x, Value y,
                         Value acc) {
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

Value contraction(OpBuilder &b, Location loc, Type type, Value lhs, Value rhs,
                  Value init, ArrayRef<AffineMap> maps, bool declare) {
  auto isF32 = [](Value v) {
    return getElementTypeOrSelf(v.getType()).isF32();
  };
  if (declare && isF32(lhs) && isF32(rhs) && isF32(init))
    return buildDeclaredContraction(
               b, loc,
               ContractionAttr::get(b.getContext(), ContractionKind::f32,
                                    /*panel=*/0, /*group=*/0),
               type, ValueRange{lhs, rhs}, init, maps)
        .getResult(0);
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{lhs, rhs}, init, maps,
             contractionIterators(maps),
             [](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(
                   nb, l, multiplyAdd(nb, l, args[0], args[1], args[2]));
             })
      .getResult(0);
}

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
Value applyActivation(PatternRewriter &rewriter, Location loc, LinearOp op,
                      Value y) {
  Activation activation = op.getActivation();
  if (activation == Activation::none)
    return y;
  return broadcastGeneric(rewriter, loc, cast<RankedTensorType>(y.getType()),
                          {y}, [&](OpBuilder &b, Location l, ValueRange args) {
                            return scalarActivation(b, l, activation, args[0]);
                          });
}

} // namespace mlir::slm::linalg_lowering
