//===- MathOps.cpp - ONNX math ops, losses and window functions -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Mod, BitShift, IsInf, Shrink, PRelu, Einsum, ReduceProd, Det,
// MeanVarianceNormalization, LRN, NegativeLogLikelihoodLoss,
// SoftmaxCrossEntropyLoss and the window functions (Hann, Hamming,
// Blackman). Ops that passes reason about are slm ops (matmul, reduce,
// elementwise arithmetic); the rest is linalg.generic, tensor, arith and scf
// on tensors.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <map>

using namespace mlir;
using namespace mlir::slm::onnx_import;

using BodyBuilder = function_ref<Value(OpBuilder &, Location, ValueRange)>;

//===----------------------------------------------------------------------===//
// Helpers: broadcasting elementwise generics and reductions
//===----------------------------------------------------------------------===//

/// The sizes of the dynamic dimensions of `type`, the broadcast of
/// `operands` aligned from the right: the extent of the first operand that
/// is dynamic there (the rule of slm's elementwise ops).
static SmallVector<Value> broadcastSizes(OpBuilder &b, Location loc,
                                         RankedTensorType type,
                                         ValueRange operands) {
  SmallVector<Value> sizes;
  int64_t rank = type.getRank();
  for (int64_t d = 0; d < rank; ++d) {
    if (!type.isDynamicDim(d))
      continue;
    Value extent;
    for (Value v : operands) {
      auto t = cast<RankedTensorType>(v.getType());
      int64_t j = d - (rank - t.getRank());
      if (j >= 0 && t.isDynamicDim(j)) {
        extent = tensor::DimOp::create(b, loc, v, j);
        break;
      }
    }
    if (!extent)
      extent = arith::ConstantIndexOp::create(b, loc, 1);
    sizes.push_back(extent);
  }
  return sizes;
}

/// A parallel linalg.generic computing `body` on the elements of `operands`
/// broadcast (numpy rules, aligned from the right) to `type`.
Value mlir::slm::onnx_import::broadcastElementwise(OpBuilder &b, Location loc,
                                                   RankedTensorType type,
                                                   ValueRange operands,
                                                   BodyBuilder body) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = type.getRank();
  SmallVector<AffineMap> maps;
  for (Value v : operands) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<AffineExpr> exprs;
    for (int64_t j = 0; j < t.getRank(); ++j) {
      int64_t d = j + rank - t.getRank();
      if (t.getDimSize(j) == 1 && type.getDimSize(d) != 1)
        exprs.push_back(getAffineConstantExpr(0, ctx));
      else
        exprs.push_back(getAffineDimExpr(d, ctx));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, ctx));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                              broadcastSizes(b, loc, type, operands));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, operands, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(nb, l, body(nb, l, args.drop_back()));
      });
  return generic.getResult(0);
}

/// A constant scalar (not a tensor) of `type`.
static Value scalar(OpBuilder &b, Location loc, Type type, double value) {
  if (auto f = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, FloatAttr::get(f, value));
  if (type.isIndex())
    return arith::ConstantIndexOp::create(b, loc, static_cast<int64_t>(value));
  return arith::ConstantOp::create(
      b, loc, IntegerAttr::get(type, static_cast<int64_t>(value)));
}

/// `x` reduced over the dimensions marked in `reduced` (dropped from the
/// result) by `combine(accumulator, element)`, starting from `init`.
static Value
reduceDims(OpBuilder &b, Location loc, Value x, ArrayRef<bool> reduced,
           Value init,
           function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> shape;
  SmallVector<Value> sizes;
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < rank; ++d) {
    iterators.push_back(reduced[d] ? utils::IteratorType::reduction
                                   : utils::IteratorType::parallel);
    if (reduced[d])
      continue;
    shape.push_back(type.getDimSize(d));
    outExprs.push_back(getAffineDimExpr(d, ctx));
    if (type.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(b, loc, x, d));
  }
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  Value empty =
      tensor::EmptyOp::create(b, loc, shape, type.getElementType(), sizes);
  Value filled =
      linalg::FillOp::create(b, loc, ValueRange{init}, ValueRange{empty})
          .getResult(0);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, outExprs, ctx)};
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{resultType}, ValueRange{x}, ValueRange{filled}, maps,
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(nb, l, combine(nb, l, args[1], args[0]));
      });
  return generic.getResult(0);
}

/// The sum of all elements of `x`, as a 0-D tensor.
static Value sumAll(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<bool> all(type.getRank(), true);
  Type element = type.getElementType();
  return reduceDims(
      b, loc, x, all, scalar(b, loc, element, 0),
      [&](OpBuilder &nb, Location l, Value acc, Value v) {
        return isa<FloatType>(element)
                   ? arith::AddFOp::create(nb, l, acc, v).getResult()
                   : arith::AddIOp::create(nb, l, acc, v).getResult();
      });
}

/// Asserts at run time that every element of the i1 tensor `valid` is true.
static void assertAll(NodeContext &node, Value valid, const Twine &what) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(valid.getType());
  SmallVector<bool> all(type.getRank(), true);
  Value reduced =
      reduceDims(b, loc, valid, all, scalar(b, loc, b.getI1Type(), 1),
                 [](OpBuilder &nb, Location l, Value acc, Value v) {
                   return arith::AndIOp::create(nb, l, acc, v).getResult();
                 });
  Value flag = tensor::ExtractOp::create(b, loc, reduced, ValueRange{});
  std::string name = node.node().name().empty() ? std::string("<unnamed>")
                                                : node.node().name();
  cf::AssertOp::create(
      b, loc, flag, (name + " (" + node.node().op_type() + "): " + what).str());
}

/// The axes of a reduction: the `axes` attribute before `inputSince`, the
/// second input from then on; normalized, sorted out into flags. Empty axes
/// mean all unless `noop_with_empty_axes` (then std::nullopt with `noop`).
static FailureOr<SmallVector<bool>>
reductionAxes(NodeContext &node, int64_t rank, int64_t inputSince, bool &noop) {
  noop = false;
  std::optional<SmallVector<int64_t>> axes;
  if (node.opset() < inputSince) {
    axes = node.intsAttr("axes");
  } else if (node.hasInput(1)) {
    axes = node.constantInts(1);
    if (!axes)
      return node.error("axes computed at run time are not supported");
  }
  SmallVector<bool> reduced(rank, false);
  if (!axes || axes->empty()) {
    if (node.opset() >= inputSince && node.intAttr("noop_with_empty_axes", 0))
      noop = true;
    else
      reduced.assign(rank, true);
    return reduced;
  }
  for (int64_t axis : *axes) {
    std::optional<int64_t> a = normalizeAxis(axis, rank);
    if (!a || reduced[*a])
      return node.error("axis " + Twine(axis) + " is out of range or repeated");
    reduced[*a] = true;
  }
  return reduced;
}

/// `reducedValue` (reduced over `reduced` of `x`, dimensions dropped) with
/// the reduced dimensions put back as 1s.
static Value keepReducedDims(NodeContext &node, Value x, Value reducedValue,
                             ArrayRef<bool> reduced) {
  GraphImporter &g = node.importer();
  SmallVector<DimExpr> dims = g.shapeOf(x);
  for (auto [i, r] : llvm::enumerate(reduced))
    if (r)
      dims[i] = DimExpr::constant(1);
  return g.reshape(node.loc(), reducedValue, dims);
}

//===----------------------------------------------------------------------===//
// Elementwise: Mod, BitShift, IsInf, Shrink, PRelu
//===----------------------------------------------------------------------===//

/// Integer remainder `a rem b` without undefined behaviour: 0 where b is 0
/// and, for signed values, where b is -1 (INT_MIN rem -1 traps).
static Value safeRemainder(OpBuilder &b, Location loc, Value x, Value y,
                           bool isUnsigned) {
  Type t = x.getType();
  Value zero = scalar(b, loc, t, 0), one = scalar(b, loc, t, 1);
  Value isZero =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, y, zero);
  Value bad = isZero;
  if (!isUnsigned)
    bad = arith::OrIOp::create(b, loc, bad,
                               arith::CmpIOp::create(b, loc,
                                                     arith::CmpIPredicate::eq,
                                                     y, scalar(b, loc, t, -1)));
  Value divisor = arith::SelectOp::create(b, loc, bad, one, y);
  Value r = isUnsigned ? arith::RemUIOp::create(b, loc, x, divisor).getResult()
                       : arith::RemSIOp::create(b, loc, x, divisor).getResult();
  return arith::SelectOp::create(b, loc, bad, zero, r);
}

/// Mod: fmod=1 is C's fmod (the sign of the dividend); fmod=0 (integers
/// only) the sign of the divisor, as Python's %.
static LogicalResult importMod(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  RankedTensorType lhsType = node.inputType(0), rhsType = node.inputType(1);
  Type element = lhsType.getElementType();
  if (rhsType.getElementType() != element)
    return node.error("input element types differ");
  bool fmod = node.intAttr("fmod", 0) != 0;
  bool isFloat = isa<FloatType>(element);
  if (isFloat && !fmod)
    return node.error("floating-point inputs need fmod = 1");
  RankedTensorType type = broadcastType(node, lhsType, rhsType, element);
  if (!type)
    return failure();
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  Value r = broadcastElementwise(
      node.builder(), node.loc(), type, {node.input(0), node.input(1)},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value x = args[0], y = args[1];
        if (isFloat)
          return arith::RemFOp::create(b, loc, x, y);
        Value rem = safeRemainder(b, loc, x, y, isUnsigned);
        if (fmod || isUnsigned)
          return rem;
        // Python: add the divisor when the remainder's sign differs.
        Value zero = scalar(b, loc, element, 0);
        Value remNeg =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, rem, zero);
        Value divNeg =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, y, zero);
        Value nonZero =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, rem, zero);
        Value fix = arith::AndIOp::create(
            b, loc, nonZero, arith::XOrIOp::create(b, loc, remNeg, divNeg));
        return arith::SelectOp::create(
            b, loc, fix, arith::AddIOp::create(b, loc, rem, y), rem);
      });
  node.setOutput(0, r, isUnsigned);
  return success();
}

/// BitShift on unsigned integers; a shift by the bit width or more gives 0.
static LogicalResult importBitShift(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  RankedTensorType lhsType = node.inputType(0), rhsType = node.inputType(1);
  Type element = lhsType.getElementType();
  if (!isa<IntegerType>(element) || rhsType.getElementType() != element ||
      !node.inputInfo(0)->isUnsigned || !node.inputInfo(1)->isUnsigned)
    return node.error("needs two unsigned integer inputs of one type");
  std::string direction = node.stringAttr("direction", "");
  if (direction != "LEFT" && direction != "RIGHT")
    return node.error("direction must be LEFT or RIGHT, got '" + direction +
                      "'");
  RankedTensorType type = broadcastType(node, lhsType, rhsType, element);
  if (!type)
    return failure();
  bool left = direction == "LEFT";
  unsigned width = element.getIntOrFloatBitWidth();
  Value r = broadcastElementwise(
      node.builder(), node.loc(), type, {node.input(0), node.input(1)},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value x = args[0], y = args[1];
        Value tooFar = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                             y, scalar(b, loc, element, width));
        Value zero = scalar(b, loc, element, 0);
        Value amount = arith::SelectOp::create(b, loc, tooFar, zero, y);
        Value shifted =
            left ? arith::ShLIOp::create(b, loc, x, amount).getResult()
                 : arith::ShRUIOp::create(b, loc, x, amount).getResult();
        return arith::SelectOp::create(b, loc, tooFar, zero, shifted);
      });
  node.setOutput(0, r, true);
  return success();
}

/// IsInf with detect_positive / detect_negative.
static LogicalResult importIsInf(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  RankedTensorType type = node.inputType(0);
  auto element = dyn_cast<FloatType>(type.getElementType());
  if (!element)
    return node.error("needs a floating-point input");
  bool positive = node.intAttr("detect_positive", 1) != 0;
  bool negative = node.intAttr("detect_negative", 1) != 0;
  OpBuilder &b = node.builder();
  Value r = broadcastElementwise(
      b, node.loc(), type.clone(b.getI1Type()), {node.input(0)},
      [&](OpBuilder &nb, Location loc, ValueRange args) -> Value {
        double inf = std::numeric_limits<double>::infinity();
        Value result = scalar(nb, loc, nb.getI1Type(), 0);
        if (positive)
          result =
              arith::CmpFOp::create(nb, loc, arith::CmpFPredicate::OEQ, args[0],
                                    scalar(nb, loc, element, inf));
        if (negative)
          result = arith::OrIOp::create(
              nb, loc, result,
              arith::CmpFOp::create(nb, loc, arith::CmpFPredicate::OEQ, args[0],
                                    scalar(nb, loc, element, -inf)));
        return result;
      });
  node.setOutput(0, r);
  return success();
}

/// Shrink: x + bias below -lambd, x - bias above lambd, else 0. Integers
/// are compared and shifted in f64 and truncated back, as ONNX Runtime.
static LogicalResult importShrink(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  RankedTensorType type = node.inputType(0);
  Type element = type.getElementType();
  bool isFloat = isa<FloatType>(element);
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  if (!isFloat && (!isa<IntegerType>(element) || element.isInteger(1)))
    return node.error("needs a numeric input");
  double lambd = node.floatAttr("lambd", 0.5f);
  double bias = node.floatAttr("bias", 0.0f);
  Value r = broadcastElementwise(
      node.builder(), node.loc(), type, {node.input(0)},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value x = args[0];
        Type ft = isFloat ? element : Type(b.getF64Type());
        if (!isFloat)
          x = isUnsigned ? arith::UIToFPOp::create(b, loc, ft, x).getResult()
                         : arith::SIToFPOp::create(b, loc, ft, x).getResult();
        Value below = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                            x, scalar(b, loc, ft, -lambd));
        Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                            x, scalar(b, loc, ft, lambd));
        Value bv = scalar(b, loc, ft, bias);
        Value y = arith::SelectOp::create(
            b, loc, below, arith::AddFOp::create(b, loc, x, bv),
            arith::SelectOp::create(b, loc, above,
                                    arith::SubFOp::create(b, loc, x, bv),
                                    scalar(b, loc, ft, 0)));
        if (isFloat)
          return y;
        return isUnsigned
                   ? arith::FPToUIOp::create(b, loc, element, y).getResult()
                   : arith::FPToSIOp::create(b, loc, element, y).getResult();
      });
  node.setOutput(0, r, isUnsigned);
  return success();
}

/// PRelu: x < 0 ? slope * x : x, the slope broadcast to x.
static LogicalResult importPRelu(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  RankedTensorType xType = node.inputType(0), slopeType = node.inputType(1);
  Type element = xType.getElementType();
  if (slopeType.getElementType() != element)
    return node.error("X and slope element types differ");
  RankedTensorType type = broadcastType(node, xType, slopeType, element);
  if (!type)
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Value x = node.input(0);
  Value zero = scalarConstant(node, element, 0);
  Value negative =
      mlir::slm::CompareOp::create(b, loc, xType.clone(b.getI1Type()),
                                   mlir::slm::ComparePredicate::lt, x, zero);
  Value scaled = mlir::slm::MulOp::create(b, loc, type, x, node.input(1));
  node.setOutput(
      0, mlir::slm::SelectOp::create(b, loc, type, negative, scaled, x));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions: ReduceProd
//===----------------------------------------------------------------------===//

static LogicalResult importReduceProd(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  bool noop = false;
  FailureOr<SmallVector<bool>> reduced =
      reductionAxes(node, type.getRank(), 18, noop);
  if (failed(reduced))
    return failure();
  if (noop) {
    node.setOutput(0, x, node.inputInfo(0)->isUnsigned);
    return success();
  }
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Value r = reduceDims(
      b, loc, x, *reduced, scalar(b, loc, element, 1),
      [&](OpBuilder &nb, Location l, Value acc, Value v) {
        return isa<FloatType>(element)
                   ? arith::MulFOp::create(nb, l, acc, v).getResult()
                   : arith::MulIOp::create(nb, l, acc, v).getResult();
      });
  if (node.intAttr("keepdims", 1) != 0)
    r = keepReducedDims(node, x, r, *reduced);
  node.setOutput(0, r, node.inputInfo(0)->isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// Normalizations: MeanVarianceNormalization, LRN
//===----------------------------------------------------------------------===//

/// (x - mean) / (sqrt(mean(x^2) - mean^2) + 1e-9) over `axes` (default
/// [0, 2, 3]), as ONNX's function body.
static LogicalResult importMVN(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return node.error("needs a floating-point input");
  int64_t rank = type.getRank();
  SmallVector<int64_t> axes =
      node.intsAttr("axes").value_or(SmallVector<int64_t>{0, 2, 3});
  SmallVector<int64_t> statShape(type.getShape());
  SmallVector<bool> seen(rank, false);
  for (int64_t &axis : axes) {
    std::optional<int64_t> a = normalizeAxis(axis, rank);
    if (!a || seen[*a])
      return node.error("axis " + Twine(axis) + " is out of range or repeated");
    seen[*a] = true;
    axis = *a;
    statShape[*a] = 1;
  }
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto statType = RankedTensorType::get(statShape, element);
  auto mean = [&](Value v) {
    return mlir::slm::ReduceOp::create(
               b, loc, statType, mlir::slm::ReduceKind::mean, v, axes, true)
        .getResult();
  };
  Value m = mean(x);
  Value meanOfSquares = mean(mlir::slm::MulOp::create(b, loc, type, x, x));
  Value variance = mlir::slm::SubOp::create(
      b, loc, statType, meanOfSquares,
      mlir::slm::MulOp::create(b, loc, statType, m, m));
  Value std = mlir::slm::AddOp::create(b, loc, statType,
                                       math::SqrtOp::create(b, loc, variance),
                                       scalarConstant(node, element, 1e-9));
  Value centered = mlir::slm::SubOp::create(b, loc, type, x, m);
  node.setOutput(0, mlir::slm::DivOp::create(b, loc, type, centered, std));
  return success();
}

/// LRN across channels: x / (bias + alpha / size * sum of squares over
/// [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta.
static LogicalResult importLRN(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  if (!isa<FloatType>(element) || type.getRank() < 3)
    return node.error("needs a floating-point input [N, C, D1, ...]");
  int64_t size = node.intAttr("size", 0);
  if (size <= 0)
    return node.error("size must be positive");
  double alpha = node.floatAttr("alpha", 1e-4f);
  double beta = node.floatAttr("beta", 0.75f);
  double bias = node.floatAttr("bias", 1.0f);
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  int64_t rank = type.getRank();
  int64_t before = (size - 1) / 2, after = size - 1 - before;
  Value squares = mlir::slm::MulOp::create(b, loc, type, x, x);
  // Zero-pad the channels, then add `size` shifted windows.
  SmallVector<OpFoldResult> low(rank, b.getIndexAttr(0)),
      high(rank, b.getIndexAttr(0));
  low[1] = b.getIndexAttr(before);
  high[1] = b.getIndexAttr(after);
  SmallVector<int64_t> paddedShape(type.getShape());
  if (!type.isDynamicDim(1))
    paddedShape[1] += size - 1;
  auto paddedType = RankedTensorType::get(paddedShape, element);
  Value padded = tensor::PadOp::create(b, loc, paddedType, squares, low, high,
                                       scalar(b, loc, element, 0));
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d < rank; ++d)
    sizes.push_back(type.isDynamicDim(d)
                        ? OpFoldResult(tensor::DimOp::create(b, loc, x, d))
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(d))));
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  Value sum;
  for (int64_t k = 0; k < size; ++k) {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    offsets[1] = b.getIndexAttr(k);
    Value window = tensor::ExtractSliceOp::create(b, loc, type, padded, offsets,
                                                  sizes, strides);
    sum = sum ? mlir::slm::AddOp::create(b, loc, type, sum, window).getResult()
              : window;
  }
  Value scaled = mlir::slm::MulOp::create(
      b, loc, type, sum, scalarConstant(node, element, alpha / size));
  Value base = mlir::slm::AddOp::create(b, loc, type, scaled,
                                        scalarConstant(node, element, bias));
  Value denominator = mlir::slm::PowOp::create(
      b, loc, type, base, scalarConstant(node, element, beta));
  node.setOutput(0, mlir::slm::DivOp::create(b, loc, type, x, denominator));
  return success();
}

//===----------------------------------------------------------------------===//
// Losses: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss
//===----------------------------------------------------------------------===//

/// NegativeLogLikelihoodLoss of `input` [N, C, D...] (log-probabilities)
/// against `target` [N, D...] with optional class `weight` [C]: the node's
/// `reduction` and `ignore_index`. Targets outside [0, C) other than the
/// ignored index fail an assertion at run time (and are read clamped).
static FailureOr<Value> negativeLogLikelihood(NodeContext &node, Value input,
                                              Value target, Value weight) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto targetType = cast<RankedTensorType>(target.getType());
  Type element = inputType.getElementType();
  Type targetElement = targetType.getElementType();
  if (!isa<FloatType>(element))
    return node.error("needs floating-point scores");
  if (!isa<IntegerType>(targetElement) || targetElement.isInteger(1))
    return node.error("needs integer targets");
  int64_t rank = inputType.getRank();
  if (rank < 2 || targetType.getRank() != rank - 1)
    return node.error("needs input [N, C, D...] and target [N, D...]");
  for (int64_t d = 0; d < rank - 1; ++d) {
    int64_t in = inputType.getDimSize(d == 0 ? 0 : d + 1),
            t = targetType.getDimSize(d);
    if (!ShapedType::isDynamic(in) && !ShapedType::isDynamic(t) && in != t)
      return node.error("target shape does not match the input");
  }
  if (weight) {
    auto wType = cast<RankedTensorType>(weight.getType());
    if (wType.getRank() != 1 || wType.getElementType() != element)
      return node.error("weight must be 1-D of the input's element type");
  }
  std::string reduction = node.stringAttr("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return node.error("unknown reduction '" + reduction + "'");
  const onnx::AttributeProto *ignoreAttr = node.attribute("ignore_index");
  std::optional<int64_t> ignoreIndex;
  if (ignoreAttr)
    ignoreIndex = node.intAttr("ignore_index", 0);

  OpBuilder &b = node.builder();
  Location loc = node.loc();
  MLIRContext *ctx = b.getContext();
  int64_t targetRank = targetType.getRank();
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < targetRank; ++d)
    if (targetType.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(b, loc, target, d));
  auto lossType = targetType.clone(element);
  auto validType = targetType.clone(b.getI1Type());
  Value lossInit =
      tensor::EmptyOp::create(b, loc, targetType.getShape(), element, sizes);
  Value weightInit =
      tensor::EmptyOp::create(b, loc, targetType.getShape(), element, sizes);
  Value validInit = tensor::EmptyOp::create(b, loc, targetType.getShape(),
                                            b.getI1Type(), sizes);
  Value classes =
      inputType.isDynamicDim(1)
          ? tensor::DimOp::create(b, loc, input, 1).getResult()
          : arith::ConstantIndexOp::create(b, loc, inputType.getDimSize(1))
                .getResult();
  AffineMap id = AffineMap::getMultiDimIdentityMap(targetRank, ctx);
  SmallVector<utils::IteratorType> iterators(targetRank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{lossType, lossType, validType}, ValueRange{target},
      ValueRange{lossInit, weightInit, validInit},
      SmallVector<AffineMap>(4, id), iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value t = args[0];
        Value index = arith::IndexCastOp::create(nb, l, nb.getIndexType(), t);
        Value zeroIndex = arith::ConstantIndexOp::create(nb, l, 0);
        Value inRange = arith::AndIOp::create(
            nb, l,
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, index,
                                  zeroIndex),
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, index,
                                  classes));
        Value ignored = scalar(nb, l, nb.getI1Type(), 0);
        if (ignoreIndex)
          ignored =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, t,
                                    scalar(nb, l, targetElement, *ignoreIndex));
        Value valid = arith::OrIOp::create(nb, l, ignored, inRange);
        Value safe = arith::SelectOp::create(nb, l, inRange, index, zeroIndex);
        SmallVector<Value> at = {linalg::IndexOp::create(nb, l, 0), safe};
        for (int64_t d = 1; d < targetRank; ++d)
          at.push_back(linalg::IndexOp::create(nb, l, d));
        Value logProb = tensor::ExtractOp::create(nb, l, input, at);
        Value zero = scalar(nb, l, element, 0);
        Value w =
            weight ? tensor::ExtractOp::create(nb, l, weight, ValueRange{safe})
                         .getResult()
                   : scalar(nb, l, element, 1);
        w = arith::SelectOp::create(nb, l, ignored, zero, w);
        Value loss = arith::NegFOp::create(
            nb, l, arith::MulFOp::create(nb, l, logProb, w));
        loss = arith::SelectOp::create(nb, l, ignored, zero, loss);
        linalg::YieldOp::create(nb, l, ValueRange{loss, w, valid});
      });
  assertAll(node, generic.getResult(2), "target index out of range");
  Value loss = generic.getResult(0);
  if (reduction == "none")
    return loss;
  Value total = sumAll(b, loc, loss);
  if (reduction == "sum")
    return total;
  Value weightTotal = sumAll(b, loc, generic.getResult(1));
  return arith::DivFOp::create(b, loc, total, weightTotal).getResult();
}

static LogicalResult importNegativeLogLikelihoodLoss(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value weight = node.hasInput(2) ? node.input(2) : Value();
  FailureOr<Value> loss =
      negativeLogLikelihood(node, node.input(0), node.input(1), weight);
  if (failed(loss))
    return failure();
  node.setOutput(0, *loss);
  return success();
}

/// log_softmax over axis 1, then NegativeLogLikelihoodLoss; the second
/// output is the log-probabilities.
static LogicalResult importSoftmaxCrossEntropyLoss(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() < 2 || !isa<FloatType>(type.getElementType()))
    return node.error("needs floating-point scores [N, C, D...]");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  SmallVector<int64_t> statShape(type.getShape());
  statShape[1] = 1;
  auto statType = RankedTensorType::get(statShape, type.getElementType());
  Value max =
      mlir::slm::ReduceOp::create(b, loc, statType, mlir::slm::ReduceKind::max,
                                  x, ArrayRef<int64_t>{1}, true);
  Value shifted = mlir::slm::SubOp::create(b, loc, type, x, max);
  Value sum = mlir::slm::ReduceOp::create(
      b, loc, statType, mlir::slm::ReduceKind::sum,
      math::ExpOp::create(b, loc, shifted), ArrayRef<int64_t>{1}, true);
  Value logProb = mlir::slm::SubOp::create(b, loc, type, shifted,
                                           math::LogOp::create(b, loc, sum));
  Value weight = node.hasInput(2) ? node.input(2) : Value();
  FailureOr<Value> loss =
      negativeLogLikelihood(node, logProb, node.input(1), weight);
  if (failed(loss))
    return failure();
  node.setOutput(0, *loss);
  if (node.hasOutput(1))
    node.setOutput(1, logProb);
  return success();
}

//===----------------------------------------------------------------------===//
// Window functions
//===----------------------------------------------------------------------===//

namespace {
enum class Window { Hann, Hamming, Blackman };
} // namespace

/// A window of run-time length `size` (a scalar): sum of cosine terms
/// a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or
/// size - 1 (symmetric); computed in f64 and converted to output_datatype.
template <Window kind> static LogicalResult importWindow(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  RankedTensorType sizeType = node.inputType(0);
  if (!isa<IntegerType>(sizeType.getElementType()) ||
      sizeType.getNumElements() != 1)
    return node.error("size must be an integer scalar");
  int64_t dataType = node.intAttr("output_datatype", onnx::TensorProto::FLOAT);
  Type element =
      node.importer().convertElementType(static_cast<int32_t>(dataType));
  if (!element)
    return node.error("unsupported output_datatype " + Twine(dataType));
  bool toUnsigned = dataType == onnx::TensorProto::UINT8 ||
                    dataType == onnx::TensorProto::UINT16 ||
                    dataType == onnx::TensorProto::UINT32 ||
                    dataType == onnx::TensorProto::UINT64;
  bool periodic = node.intAttr("periodic", 1) != 0;
  double a0 = 0.5, a1 = 0.5, a2 = 0.0;
  if (kind == Window::Hamming) {
    a0 = 25.0 / 46.0;
    a1 = 1.0 - a0;
  } else if (kind == Window::Blackman) {
    a0 = 0.42;
    a2 = 0.08;
  }
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  int64_t staticSize = ShapedType::kDynamic;
  Value length;
  if (auto known = node.constantInts(0)) {
    if ((*known)[0] < 0)
      return node.error("size is negative");
    staticSize = (*known)[0];
    length = arith::ConstantIndexOp::create(b, loc, staticSize);
  } else {
    Value s = node.input(0);
    SmallVector<Value> zeros(sizeType.getRank(),
                             arith::ConstantIndexOp::create(b, loc, 0));
    Value v = tensor::ExtractOp::create(b, loc, s, zeros);
    // A negative size gives an empty window.
    v = arith::MaxSIOp::create(b, loc, v, scalar(b, loc, v.getType(), 0));
    length = arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  auto f64Type = RankedTensorType::get({staticSize}, b.getF64Type());
  SmallVector<Value> dynamic;
  if (ShapedType::isDynamic(staticSize))
    dynamic.push_back(length);
  auto generate = tensor::GenerateOp::create(b, loc, f64Type, dynamic);
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body =
        b.createBlock(&generate.getBody(), {}, {b.getIndexType()}, {loc});
    Type f64 = b.getF64Type();
    auto toF64 = [&](Value index) {
      return arith::SIToFPOp::create(
          b, loc, f64,
          arith::IndexCastOp::create(b, loc, b.getI64Type(), index));
    };
    Value n = toF64(body->getArgument(0));
    Value denominator = toF64(length);
    if (!periodic)
      denominator =
          arith::SubFOp::create(b, loc, denominator, scalar(b, loc, f64, 1));
    Value phase = arith::DivFOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, n,
                              scalar(b, loc, f64, 2 * 3.14159265358979323846)),
        denominator);
    Value w = arith::SubFOp::create(
        b, loc, scalar(b, loc, f64, a0),
        arith::MulFOp::create(b, loc, scalar(b, loc, f64, a1),
                              math::CosOp::create(b, loc, phase)));
    if (a2 != 0)
      w = arith::AddFOp::create(
          b, loc, w,
          arith::MulFOp::create(
              b, loc, scalar(b, loc, f64, a2),
              math::CosOp::create(b, loc,
                                  arith::MulFOp::create(
                                      b, loc, phase, scalar(b, loc, f64, 2)))));
    tensor::YieldOp::create(b, loc, w);
  }
  Value result = castElements(b, loc, generate, false, element, toUnsigned);
  node.setOutput(0, result, toUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// Einsum
//===----------------------------------------------------------------------===//

namespace {
/// A parsed Einsum equation: one list of labels per input and the output.
/// Letters are their character codes; the dimensions an ellipsis stands for
/// are labels 256, 257, ... aligned from the right.
struct EinsumEquation {
  SmallVector<SmallVector<int>> inputs;
  SmallVector<int> output;
};
} // namespace

/// Splits one term into letters and at most one ellipsis (-1).
static std::optional<SmallVector<int>> parseTerm(StringRef term) {
  SmallVector<int> labels;
  bool ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    char c = term[i];
    if (c == '.') {
      if (ellipsis || term.substr(i, 3) != "...")
        return std::nullopt;
      ellipsis = true;
      labels.push_back(-1);
      i += 2;
      continue;
    }
    if (!llvm::isAlpha(c))
      return std::nullopt;
    labels.push_back(static_cast<unsigned char>(c));
  }
  return labels;
}

static FailureOr<EinsumEquation> parseEinsum(NodeContext &node, StringRef text,
                                             ArrayRef<int64_t> ranks) {
  std::string eq;
  for (char c : text)
    if (!llvm::isSpace(c))
      eq.push_back(c);
  auto bad = [&](const Twine &why) {
    return node.error("equation '" + text + "': " + why);
  };
  StringRef all(eq);
  auto [lhs, rhs] = all.split("->");
  bool explicitOutput = all.contains("->");
  SmallVector<StringRef> terms;
  lhs.split(terms, ',');
  if (terms.size() != ranks.size())
    return bad("has " + Twine(terms.size()) + " terms for " +
               Twine(ranks.size()) + " inputs");
  EinsumEquation result;
  int64_t ellipsisRank = 0;
  SmallVector<SmallVector<int>> parsed;
  for (auto [term, rank] : llvm::zip(terms, ranks)) {
    std::optional<SmallVector<int>> labels = parseTerm(term);
    if (!labels)
      return bad("cannot parse the term '" + term + "'");
    int64_t letters = llvm::count_if(*labels, [](int l) { return l >= 0; });
    bool hasEllipsis = letters != static_cast<int64_t>(labels->size());
    if (letters > rank || (!hasEllipsis && letters != rank))
      return bad("the term '" + term + "' does not match rank " + Twine(rank));
    SmallVector<int> expanded;
    for (int l : *labels) {
      if (l >= 0) {
        expanded.push_back(l);
        continue;
      }
      int64_t e = rank - letters;
      ellipsisRank = std::max(ellipsisRank, e);
      for (int64_t k = 0; k < e; ++k)
        expanded.push_back(-2 - static_cast<int>(e - k)); // fixed below
    }
    parsed.push_back(expanded);
  }
  // Ellipsis dimensions aligned from the right: -2 - j (j counted from the
  // end, 1-based) becomes label 256 + ellipsisRank - j.
  auto fix = [&](int l) {
    return l <= -2 ? 256 + static_cast<int>(ellipsisRank) + (l + 2) : l;
  };
  for (auto &labels : parsed)
    for (int &l : labels)
      l = fix(l);
  result.inputs = parsed;
  if (explicitOutput) {
    std::optional<SmallVector<int>> labels = parseTerm(rhs);
    if (!labels)
      return bad("cannot parse the output '" + rhs + "'");
    for (int l : *labels) {
      if (l >= 0) {
        if (llvm::is_contained(result.output, l))
          return bad("an output label repeats");
        bool found = llvm::any_of(
            parsed, [&](auto &in) { return llvm::is_contained(in, l); });
        if (!found)
          return bad("an output label is in no input");
        result.output.push_back(l);
      } else {
        for (int64_t k = 0; k < ellipsisRank; ++k)
          result.output.push_back(256 + k);
      }
    }
  } else {
    for (int64_t k = 0; k < ellipsisRank; ++k)
      result.output.push_back(256 + k);
    std::map<int, int> counts;
    for (auto &in : parsed)
      for (int l : in)
        if (l < 256)
          ++counts[l];
    for (auto [l, n] : counts)
      if (n == 1)
        result.output.push_back(l);
  }
  return result;
}

/// Einsum as transposes and one slm.matmul when the equation is a batched
/// matrix product (batch labels in both inputs and the output, one label
/// each for M, N and K); null otherwise.
static Value einsumAsMatmul(NodeContext &node, const EinsumEquation &eq,
                            ArrayRef<Value> operands) {
  if (operands.size() != 2)
    return {};
  ArrayRef<int> a = eq.inputs[0], c = eq.inputs[1];
  auto typeA = cast<RankedTensorType>(operands[0].getType());
  auto typeC = cast<RankedTensorType>(operands[1].getType());
  for (ArrayRef<int> in : {a, c})
    for (int l : in)
      if (llvm::count(in, l) != 1)
        return {};
  SmallVector<int> batch, m, n, k;
  for (int l : eq.output) {
    bool inA = llvm::is_contained(a, l), inC = llvm::is_contained(c, l);
    if (inA && inC)
      batch.push_back(l);
    else if (inA)
      m.push_back(l);
    else
      n.push_back(l);
  }
  for (int l : a) {
    if (llvm::is_contained(eq.output, l))
      continue;
    if (!llvm::is_contained(c, l))
      return {};
    k.push_back(l);
  }
  for (int l : c)
    if (!llvm::is_contained(eq.output, l) && !llvm::is_contained(a, l))
      return {};
  if (m.size() != 1 || n.size() != 1 || k.size() != 1)
    return {};
  // Batch extents must agree statically (no broadcasting here).
  auto position = [](ArrayRef<int> labels, int l) {
    return static_cast<int64_t>(llvm::find(labels, l) - labels.begin());
  };
  for (int l : batch) {
    int64_t x = typeA.getDimSize(position(a, l)),
            y = typeC.getDimSize(position(c, l));
    if (ShapedType::isDynamic(x) || ShapedType::isDynamic(y) || x != y)
      return {};
  }
  if (typeA.getDimSize(position(a, k[0])) !=
      typeC.getDimSize(position(c, k[0])))
    return {};
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto transposeTo = [&](Value v, ArrayRef<int> from,
                         ArrayRef<int> to) -> Value {
    auto type = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> perm, shape;
    for (int l : to) {
      perm.push_back(position(from, l));
      shape.push_back(type.getDimSize(perm.back()));
    }
    if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
      return v;
    return mlir::slm::TransposeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), v, perm);
  };
  SmallVector<int> orderA(batch), orderC(batch), orderOut(batch);
  orderA.append({m[0], k[0]});
  orderC.append({k[0], n[0]});
  orderOut.append({m[0], n[0]});
  Value lhs = transposeTo(operands[0], a, orderA);
  Value rhs = transposeTo(operands[1], c, orderC);
  SmallVector<int64_t> shape;
  for (int l : batch)
    shape.push_back(typeA.getDimSize(position(a, l)));
  shape.push_back(typeA.getDimSize(position(a, m[0])));
  shape.push_back(typeC.getDimSize(position(c, n[0])));
  auto productType = RankedTensorType::get(shape, typeA.getElementType());
  Value product = mlir::slm::MatMulOp::create(b, loc, productType, lhs, rhs);
  return transposeTo(product, orderOut, eq.output);
}

/// Einsum in general: one linalg.generic over every label, the output
/// labels parallel and the others summed; repeated labels in one input read
/// its diagonal, and dimensions of static size 1 broadcast.
static LogicalResult importEinsum(NodeContext &node) {
  if (node.numInputs() < 1)
    return node.error("needs at least one input");
  SmallVector<Value> operands;
  SmallVector<int64_t> ranks;
  for (int i = 0; i < node.numInputs(); ++i) {
    if (!node.hasInput(i))
      return node.error("input " + Twine(i) + " is missing");
    operands.push_back(node.input(i));
    ranks.push_back(
        cast<RankedTensorType>(operands.back().getType()).getRank());
  }
  Type element = cast<RankedTensorType>(operands[0].getType()).getElementType();
  for (Value v : operands)
    if (cast<RankedTensorType>(v.getType()).getElementType() != element)
      return node.error("input element types differ");
  if (element.isInteger(1))
    return node.error("needs numeric inputs");
  FailureOr<EinsumEquation> eq =
      parseEinsum(node, node.stringAttr("equation", ""), ranks);
  if (failed(eq))
    return failure();
  if (Value r = einsumAsMatmul(node, *eq, operands)) {
    node.setOutput(0, r, node.inputInfo(0)->isUnsigned);
    return success();
  }
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  MLIRContext *ctx = b.getContext();
  // Loop order: the output labels, then the summed ones.
  SmallVector<int> loops(eq->output);
  for (auto &in : eq->inputs)
    for (int l : in)
      if (!llvm::is_contained(loops, l))
        loops.push_back(l);
  // The extent of each label: a static size other than 1, else a dynamic
  // one, else 1.
  struct Extent {
    int64_t size = 1;
    int input = -1, dim = -1;
  };
  SmallVector<Extent> extents(loops.size());
  for (auto [i, in] : llvm::enumerate(eq->inputs)) {
    auto type = cast<RankedTensorType>(operands[i].getType());
    for (auto [d, l] : llvm::enumerate(in)) {
      Extent &e = extents[llvm::find(loops, l) - loops.begin()];
      int64_t s = type.getDimSize(d);
      if (s == 1)
        continue;
      if (ShapedType::isDynamic(s)) {
        if (e.input < 0 && e.size == 1) {
          e.size = s;
          e.input = i;
          e.dim = d;
        }
        continue;
      }
      if (!ShapedType::isDynamic(e.size) && e.size != 1 && e.size != s)
        return node.error(
            "label '" +
            Twine(l < 256 ? std::string(1, char(l)) : std::string("...")) +
            "' has extents " + Twine(e.size) + " and " + Twine(s));
      e.size = s;
      e.input = i;
      e.dim = d;
    }
  }
  SmallVector<AffineMap> maps;
  for (auto [i, in] : llvm::enumerate(eq->inputs)) {
    auto type = cast<RankedTensorType>(operands[i].getType());
    SmallVector<AffineExpr> exprs;
    for (auto [d, l] : llvm::enumerate(in)) {
      int64_t loop = llvm::find(loops, l) - loops.begin();
      if (type.getDimSize(d) == 1 && extents[loop].size != 1)
        exprs.push_back(getAffineConstantExpr(0, ctx));
      else
        exprs.push_back(getAffineDimExpr(loop, ctx));
    }
    maps.push_back(AffineMap::get(loops.size(), 0, exprs, ctx));
  }
  int64_t outRank = eq->output.size();
  SmallVector<AffineExpr> outExprs;
  SmallVector<int64_t> outShape;
  SmallVector<Value> outSizes;
  for (int64_t d = 0; d < outRank; ++d) {
    outExprs.push_back(getAffineDimExpr(d, ctx));
    outShape.push_back(extents[d].size);
    if (ShapedType::isDynamic(extents[d].size))
      outSizes.push_back(tensor::DimOp::create(
          b, loc, operands[extents[d].input], extents[d].dim));
  }
  maps.push_back(AffineMap::get(loops.size(), 0, outExprs, ctx));
  SmallVector<utils::IteratorType> iterators;
  for (size_t d = 0; d < loops.size(); ++d)
    iterators.push_back(static_cast<int64_t>(d) < outRank
                            ? utils::IteratorType::parallel
                            : utils::IteratorType::reduction);
  auto outType = RankedTensorType::get(outShape, element);
  Value empty = tensor::EmptyOp::create(b, loc, outShape, element, outSizes);
  Value init =
      linalg::FillOp::create(b, loc, ValueRange{scalar(b, loc, element, 0)},
                             ValueRange{empty})
          .getResult(0);
  bool isFloat = isa<FloatType>(element);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{outType}, operands, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value product = args[0];
        for (Value v : args.drop_front().drop_back())
          product = isFloat
                        ? arith::MulFOp::create(nb, l, product, v).getResult()
                        : arith::MulIOp::create(nb, l, product, v).getResult();
        Value sum =
            isFloat
                ? arith::AddFOp::create(nb, l, args.back(), product).getResult()
                : arith::AddIOp::create(nb, l, args.back(), product)
                      .getResult();
        linalg::YieldOp::create(nb, l, sum);
      });
  node.setOutput(0, generic.getResult(0), node.inputInfo(0)->isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// Det
//===----------------------------------------------------------------------===//

/// The determinant of each [M, M] matrix of `x` [*, M, M], by Gaussian
/// elimination with partial pivoting (in f64 for f32/f16 inputs) in scf
/// loops over a copy of each matrix.
static LogicalResult importDet(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  int64_t rank = type.getRank();
  if (!isa<FloatType>(element) || rank < 2)
    return node.error("needs a floating-point input [*, M, M]");
  int64_t m = type.getDimSize(rank - 1);
  if (ShapedType::isDynamic(m) || type.getDimSize(rank - 2) != m)
    return node.error("needs square matrices of static size");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  GraphImporter &g = node.importer();
  SmallVector<DimExpr> dims = g.shapeOf(x);
  DimExpr batch = DimExpr::constant(1);
  for (int64_t d = 0; d < rank - 2; ++d)
    batch = batch * dims[d];
  Value flat =
      g.reshape(loc, x, {batch, DimExpr::constant(m), DimExpr::constant(m)});
  Type f64 = b.getF64Type();
  Value flat64 = castElements(b, loc, flat, false, f64, false);
  auto flatType = cast<RankedTensorType>(flat64.getType());
  Value count = g.materializeIndex(loc, batch);
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value cm = arith::ConstantIndexOp::create(b, loc, m);
  auto resultType = RankedTensorType::get({flatType.getDimSize(0)}, f64);
  SmallVector<Value> resultSizes;
  if (resultType.isDynamicDim(0))
    resultSizes.push_back(count);
  Value results =
      tensor::EmptyOp::create(b, loc, resultType.getShape(), f64, resultSizes);
  auto matrixType = RankedTensorType::get({m, m}, f64);
  auto outer = scf::ForOp::create(
      b, loc, c0, count, c1, ValueRange{results},
      [&](OpBuilder &b, Location loc, Value bi, ValueRange outerArgs) {
        SmallVector<OpFoldResult> offsets = {bi, b.getIndexAttr(0),
                                             b.getIndexAttr(0)};
        SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(m),
                                           b.getIndexAttr(m)};
        SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
        Value a = tensor::ExtractSliceOp::create(b, loc, matrixType, flat64,
                                                 offsets, sizes, strides);
        Value one = scalar(b, loc, f64, 1), zero = scalar(b, loc, f64, 0);
        // For each column k: pick the largest |a[i, k]| for i >= k, swap it
        // to row k, eliminate below.
        auto columns = scf::ForOp::create(
            b, loc, c0, cm, c1, ValueRange{a, one},
            [&](OpBuilder &b, Location loc, Value k, ValueRange args) {
              Value mat = args[0], det = args[1];
              auto at = [&](Value mt, Value i, Value j) {
                return tensor::ExtractOp::create(b, loc, mt, ValueRange{i, j})
                    .getResult();
              };
              auto search = scf::ForOp::create(
                  b, loc, k, cm, c1, ValueRange{k, zero},
                  [&](OpBuilder &b, Location loc, Value i, ValueRange s) {
                    Value v = math::AbsFOp::create(b, loc, at(mat, i, k));
                    Value better = arith::CmpFOp::create(
                        b, loc, arith::CmpFPredicate::OGT, v, s[1]);
                    scf::YieldOp::create(
                        b, loc,
                        ValueRange{
                            arith::SelectOp::create(b, loc, better, i, s[0]),
                            arith::SelectOp::create(b, loc, better, v, s[1])});
                  });
              Value p = search.getResult(0);
              // Swap rows k and p.
              auto swap = scf::ForOp::create(
                  b, loc, c0, cm, c1, ValueRange{mat},
                  [&](OpBuilder &b, Location loc, Value j, ValueRange s) {
                    Value rowK = at(s[0], k, j), rowP = at(s[0], p, j);
                    Value t = tensor::InsertOp::create(b, loc, rowP, s[0],
                                                       ValueRange{k, j});
                    t = tensor::InsertOp::create(b, loc, rowK, t,
                                                 ValueRange{p, j});
                    scf::YieldOp::create(b, loc, t);
                  });
              Value swapped = swap.getResult(0);
              Value moved =
                  arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, p, k);
              Value pivot = at(swapped, k, k);
              Value signed_ = arith::SelectOp::create(
                  b, loc, moved, arith::NegFOp::create(b, loc, det), det);
              Value newDet = arith::MulFOp::create(b, loc, signed_, pivot);
              // Eliminate rows below k (a zero pivot makes det 0 and the
              // rest does not matter; divide by 1 then).
              Value pivotZero = arith::CmpFOp::create(
                  b, loc, arith::CmpFPredicate::OEQ, pivot, zero);
              Value divisor =
                  arith::SelectOp::create(b, loc, pivotZero, one, pivot);
              Value k1 = arith::AddIOp::create(b, loc, k, c1);
              auto rows = scf::ForOp::create(
                  b, loc, k1, cm, c1, ValueRange{swapped},
                  [&](OpBuilder &b, Location loc, Value i, ValueRange r) {
                    Value f =
                        arith::DivFOp::create(b, loc, at(r[0], i, k), divisor);
                    auto cols = scf::ForOp::create(
                        b, loc, k, cm, c1, ValueRange{r[0]},
                        [&](OpBuilder &b, Location loc, Value j, ValueRange c) {
                          Value v = arith::SubFOp::create(
                              b, loc, at(c[0], i, j),
                              arith::MulFOp::create(b, loc, f, at(c[0], k, j)));
                          scf::YieldOp::create(
                              b, loc,
                              tensor::InsertOp::create(b, loc, v, c[0],
                                                       ValueRange{i, j})
                                  .getResult());
                        });
                    scf::YieldOp::create(b, loc, cols.getResult(0));
                  });
              scf::YieldOp::create(b, loc,
                                   ValueRange{rows.getResult(0), newDet});
            });
        Value det = columns.getResult(1);
        scf::YieldOp::create(
            b, loc,
            tensor::InsertOp::create(b, loc, det, outerArgs[0], ValueRange{bi})
                .getResult());
      });
  Value dets = castElements(b, loc, outer.getResult(0), false, element, false);
  SmallVector<DimExpr> outDims(dims.begin(), dims.end() - 2);
  node.setOutput(0, g.reshape(loc, dets, outDims));
  return success();
}

//===----------------------------------------------------------------------===//
// DFT, STFT
//===----------------------------------------------------------------------===//

/// An index from the scalar input `i` (known at import time or read at run
/// time); null after an error.
static Value indexScalar(NodeContext &node, int i, int64_t &known) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  known = ShapedType::kDynamic;
  RankedTensorType type = node.inputType(i);
  if (!isa<IntegerType>(type.getElementType()) || type.getNumElements() != 1) {
    (void)node.error("input " + Twine(i) + " must be an integer scalar");
    return {};
  }
  if (auto c = node.constantInts(i)) {
    known = (*c)[0];
    return arith::ConstantIndexOp::create(b, loc, known);
  }
  SmallVector<Value> zeros(type.getRank(),
                           arith::ConstantIndexOp::create(b, loc, 0));
  Value v = tensor::ExtractOp::create(b, loc, node.input(i), zeros);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

/// The complex sample of `signal` (last dimension 1: real, 2: complex) at
/// `at` with the last index left out, as (re, im) in f64.
static std::pair<Value, Value> complexAt(OpBuilder &b, Location loc,
                                         Value signal, SmallVector<Value> at) {
  auto type = cast<RankedTensorType>(signal.getType());
  Type f64 = b.getF64Type();
  auto read = [&](int64_t c) {
    SmallVector<Value> idx(at);
    idx.push_back(arith::ConstantIndexOp::create(b, loc, c));
    Value v = tensor::ExtractOp::create(b, loc, signal, idx);
    return type.getElementType().isF64()
               ? v
               : arith::ExtFOp::create(b, loc, f64, v).getResult();
  };
  Value re = read(0);
  Value im = type.getDimSize(type.getRank() - 1) == 2 ? read(1)
                                                      : scalar(b, loc, f64, 0);
  return {re, im};
}

/// Component `c` (0: re, 1: im) of (re + i im) * exp(-+ 2 pi i (k n mod N) / N)
/// (minus for the forward transform), in f64.
static Value twiddled(OpBuilder &b, Location loc, Value re, Value im, Value k,
                      Value n, Value length, Value c, bool inverse) {
  Type f64 = b.getF64Type();
  Value kn = arith::RemUIOp::create(b, loc, arith::MulIOp::create(b, loc, k, n),
                                    length);
  auto toF64 = [&](Value index) {
    return arith::UIToFPOp::create(
        b, loc, f64, arith::IndexCastOp::create(b, loc, b.getI64Type(), index));
  };
  Value theta = arith::DivFOp::create(
      b, loc,
      arith::MulFOp::create(b, loc, toF64(kn),
                            scalar(b, loc, f64, 2 * 3.14159265358979323846)),
      toF64(length));
  Value cos = math::CosOp::create(b, loc, theta);
  Value sin = math::SinOp::create(b, loc, theta);
  if (inverse)
    sin = arith::NegFOp::create(b, loc, sin);
  // (re + i im)(cos - i sin) = re cos + im sin + i (im cos - re sin)
  Value outRe =
      arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, re, cos),
                            arith::MulFOp::create(b, loc, im, sin));
  Value outIm =
      arith::SubFOp::create(b, loc, arith::MulFOp::create(b, loc, im, cos),
                            arith::MulFOp::create(b, loc, re, sin));
  Value isRe = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, c,
                                     arith::ConstantIndexOp::create(b, loc, 0));
  return arith::SelectOp::create(b, loc, isRe, outRe, outIm);
}

/// A linalg.generic over `shape` (dynamic extents `sizes`) plus one summed
/// loop over the elements of `weights` (1-D): `body(indices, weight)` gives
/// the f64 term added to each output element (of `element` type).
static Value sumOverWeights(
    OpBuilder &b, Location loc, ArrayRef<int64_t> shape, ValueRange sizes,
    Type element, Value weights,
    function_ref<Value(OpBuilder &, Location, ArrayRef<Value>, Value)> body) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = shape.size();
  Value empty = tensor::EmptyOp::create(b, loc, shape, element, sizes);
  Value init =
      linalg::FillOp::create(b, loc, ValueRange{scalar(b, loc, element, 0)},
                             ValueRange{empty})
          .getResult(0);
  SmallVector<AffineMap> maps = {
      AffineMap::get(rank + 1, 0, {getAffineDimExpr(rank, ctx)}, ctx),
      AffineMap::getMultiDimIdentityMap(rank + 1, ctx).getMajorSubMap(rank)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{RankedTensorType::get(shape, element)},
      ValueRange{weights}, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        SmallVector<Value> indices;
        for (int64_t d = 0; d <= rank; ++d)
          indices.push_back(linalg::IndexOp::create(nb, l, d));
        Value w = args[0];
        if (!w.getType().isF64())
          w = arith::ExtFOp::create(nb, l, nb.getF64Type(), w);
        Value term = body(nb, l, indices, w);
        if (!element.isF64())
          term = arith::TruncFOp::create(nb, l, element, term);
        linalg::YieldOp::create(
            nb, l, arith::AddFOp::create(nb, l, args[1], term).getResult());
      });
  return generic.getResult(0);
}

/// A 1-D tensor of `length` ones (f64).
static Value onesOf(OpBuilder &b, Location loc, Value length,
                    int64_t knownLength) {
  auto type = RankedTensorType::get({knownLength}, b.getF64Type());
  SmallVector<Value> sizes;
  if (ShapedType::isDynamic(knownLength))
    sizes.push_back(length);
  Value empty =
      tensor::EmptyOp::create(b, loc, type.getShape(), b.getF64Type(), sizes);
  return linalg::FillOp::create(b, loc,
                                ValueRange{scalar(b, loc, b.getF64Type(), 1)},
                                ValueRange{empty})
      .getResult(0);
}

/// DFT along `axis` of [batch, ..., 1 or 2]: the sum over n < N of
/// x[n] exp(-2 pi i k n / N) (inverse: +, divided by N); samples past the
/// signal are zeros. N is dft_length or the axis extent.
static LogicalResult importDFT(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  int64_t rank = type.getRank();
  if (!isa<FloatType>(element) || rank < 3 ||
      (type.getDimSize(rank - 1) != 1 && type.getDimSize(rank - 1) != 2))
    return node.error("needs a floating-point signal [batch, ..., 1 or 2]");
  int64_t axisValue = node.intAttr("axis", 1);
  if (node.opset() >= 20) {
    axisValue = -2;
    if (node.hasInput(2)) {
      auto a = node.constantInts(2);
      if (!a)
        return node.error("an axis computed at run time is not supported");
      axisValue = (*a)[0];
    }
  }
  std::optional<int64_t> axis = normalizeAxis(axisValue, rank);
  if (!axis || *axis == rank - 1)
    return node.error("axis " + Twine(axisValue) + " is out of range");
  bool inverse = node.intAttr("inverse", 0) != 0;
  bool onesided = node.intAttr("onesided", 0) != 0;
  if (inverse && onesided)
    return node.error("onesided inverse transforms are not supported");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  int64_t knownLength = type.getDimSize(*axis);
  Value length;
  if (node.hasInput(1)) {
    length = indexScalar(node, 1, knownLength);
    if (!length)
      return failure();
    if (!ShapedType::isDynamic(knownLength) && knownLength <= 0)
      return node.error("dft_length must be positive");
  } else {
    length =
        ShapedType::isDynamic(knownLength)
            ? tensor::DimOp::create(b, loc, x, *axis).getResult()
            : arith::ConstantIndexOp::create(b, loc, knownLength).getResult();
  }
  Value signalLength = tensor::DimOp::create(b, loc, x, *axis);
  SmallVector<int64_t> shape(type.getShape());
  shape[rank - 1] = 2;
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < rank; ++d) {
    if (d == *axis) {
      Value bins = length;
      int64_t known = knownLength;
      if (onesided) {
        bins = arith::AddIOp::create(
            b, loc,
            arith::DivUIOp::create(b, loc, length,
                                   arith::ConstantIndexOp::create(b, loc, 2)),
            arith::ConstantIndexOp::create(b, loc, 1));
        if (!ShapedType::isDynamic(known))
          known = known / 2 + 1;
      }
      shape[d] = known;
      if (ShapedType::isDynamic(known))
        sizes.push_back(bins);
    } else if (type.isDynamicDim(d)) {
      sizes.push_back(tensor::DimOp::create(b, loc, x, d));
    }
  }
  Value ones = onesOf(b, loc, length, knownLength);
  int64_t a = *axis;
  Value y = sumOverWeights(
      b, loc, shape, sizes, element, ones,
      [&](OpBuilder &nb, Location l, ArrayRef<Value> idx, Value) -> Value {
        Value n = idx[rank];
        Value inside = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                             n, signalLength);
        Value zeroIndex = arith::ConstantIndexOp::create(nb, l, 0);
        SmallVector<Value> at(idx.begin(), idx.begin() + rank - 1);
        at[a] = arith::SelectOp::create(nb, l, inside, n, zeroIndex);
        auto [re, im] = complexAt(nb, l, x, at);
        Value zero = scalar(nb, l, nb.getF64Type(), 0);
        re = arith::SelectOp::create(nb, l, inside, re, zero);
        im = arith::SelectOp::create(nb, l, inside, im, zero);
        return twiddled(nb, l, re, im, idx[a], n, length, idx[rank - 1],
                        inverse);
      });
  if (inverse) {
    Value n = arith::UIToFPOp::create(
        b, loc, element,
        arith::IndexCastOp::create(b, loc, b.getI64Type(), length));
    Value divisor = tensor::FromElementsOp::create(
        b, loc, RankedTensorType::get({}, element), ValueRange{n});
    y = mlir::slm::DivOp::create(b, loc, cast<RankedTensorType>(y.getType()), y,
                                 divisor);
  }
  node.setOutput(0, y);
  return success();
}

/// STFT of signal [batch, length, 1 or 2]: frame f starts at f * frame_step;
/// out[b, f, k] = sum over n < frame_length of x[f * step + n] window[n]
/// exp(-2 pi i k n / frame_length), k < frame_length / 2 + 1 when onesided.
static LogicalResult importSTFT(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  if (!isa<FloatType>(element) || type.getRank() != 3 ||
      (type.getDimSize(2) != 1 && type.getDimSize(2) != 2))
    return node.error("needs a floating-point signal [batch, length, 1 or 2]");
  bool onesided = node.intAttr("onesided", 1) != 0;
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  int64_t knownStep;
  Value step = indexScalar(node, 1, knownStep);
  if (!step)
    return failure();
  Value window = node.hasInput(2) ? node.input(2) : Value();
  int64_t knownFrame = ShapedType::kDynamic;
  Value frameLength;
  if (node.hasInput(3)) {
    frameLength = indexScalar(node, 3, knownFrame);
    if (!frameLength)
      return failure();
  } else if (window) {
    auto wType = cast<RankedTensorType>(window.getType());
    if (wType.getRank() != 1)
      return node.error("window must be 1-D");
    knownFrame = wType.getDimSize(0);
    frameLength = tensor::DimOp::create(b, loc, window, 0);
  } else {
    return node.error("needs a window or a frame_length");
  }
  if (window) {
    auto wType = cast<RankedTensorType>(window.getType());
    if (wType.getRank() != 1 || wType.getElementType() != element)
      return node.error("window must be 1-D of the signal's element type");
  }
  if ((!ShapedType::isDynamic(knownStep) && knownStep <= 0) ||
      (!ShapedType::isDynamic(knownFrame) && knownFrame <= 0))
    return node.error("frame_step and frame_length must be positive");
  Value signalLength = tensor::DimOp::create(b, loc, x, 1);
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
  // Frames that fit: (length - frame_length) / step + 1, 0 if none.
  Value fits = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                     signalLength, frameLength);
  Value frames = arith::SelectOp::create(
      b, loc, fits,
      arith::AddIOp::create(
          b, loc,
          arith::DivUIOp::create(
              b, loc, arith::SubIOp::create(b, loc, signalLength, frameLength),
              arith::MaxUIOp::create(b, loc, step, c1)),
          c1),
      c0);
  int64_t knownFrames = ShapedType::kDynamic;
  if (!type.isDynamicDim(1) && !ShapedType::isDynamic(knownStep) &&
      !ShapedType::isDynamic(knownFrame))
    knownFrames = type.getDimSize(1) >= knownFrame
                      ? (type.getDimSize(1) - knownFrame) / knownStep + 1
                      : 0;
  Value bins = frameLength;
  int64_t knownBins = knownFrame;
  if (onesided) {
    bins = arith::AddIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, frameLength, c2), c1);
    if (!ShapedType::isDynamic(knownFrame))
      knownBins = knownFrame / 2 + 1;
  }
  SmallVector<int64_t> shape = {type.getDimSize(0), knownFrames, knownBins, 2};
  SmallVector<Value> sizes;
  if (type.isDynamicDim(0))
    sizes.push_back(tensor::DimOp::create(b, loc, x, 0));
  if (ShapedType::isDynamic(knownFrames))
    sizes.push_back(frames);
  if (ShapedType::isDynamic(knownBins))
    sizes.push_back(bins);
  Value weights = window ? window : onesOf(b, loc, frameLength, knownFrame);
  Value y = sumOverWeights(
      b, loc, shape, sizes, element, weights,
      [&](OpBuilder &nb, Location l, ArrayRef<Value> idx, Value w) -> Value {
        Value n = idx[4];
        Value pos = arith::AddIOp::create(
            nb, l, arith::MulIOp::create(nb, l, idx[1], step), n);
        Value inside = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                             pos, signalLength);
        Value safe = arith::SelectOp::create(
            nb, l, inside, pos, arith::ConstantIndexOp::create(nb, l, 0));
        auto [re, im] = complexAt(nb, l, x, {idx[0], safe});
        Value zero = scalar(nb, l, nb.getF64Type(), 0);
        re = arith::SelectOp::create(nb, l, inside,
                                     arith::MulFOp::create(nb, l, re, w), zero);
        im = arith::SelectOp::create(nb, l, inside,
                                     arith::MulFOp::create(nb, l, im, w), zero);
        return twiddled(nb, l, re, im, idx[2], n, frameLength, idx[3], false);
      });
  node.setOutput(0, y);
  return success();
}

/// MelWeightMatrix [dft_length / 2 + 1, num_mel_bins]: triangular filters
/// between mel-spaced bin edges, as ONNX's reference (edges from f32 mel
/// bounds, computed in f64 and floored to spectrogram bins).
static LogicalResult importMelWeightMatrix(NodeContext &node) {
  if (failed(requireInputs(node, 5)))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  int64_t knownMel, knownLength, knownRate;
  Value mel = indexScalar(node, 0, knownMel);
  Value length = mel ? indexScalar(node, 1, knownLength) : Value();
  Value rate = length ? indexScalar(node, 2, knownRate) : Value();
  if (!rate)
    return failure();
  for (int i : {3, 4})
    if (!isa<FloatType>(node.inputType(i).getElementType()) ||
        node.inputType(i).getNumElements() != 1)
      return node.error("the edge frequencies must be float scalars");
  int64_t dataType = node.intAttr("output_datatype", onnx::TensorProto::FLOAT);
  Type element =
      node.importer().convertElementType(static_cast<int32_t>(dataType));
  if (!element || !isa<FloatType>(element))
    return node.error("unsupported output_datatype " + Twine(dataType));
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  auto readF32 = [&](int i) {
    SmallVector<Value> zeros(node.inputType(i).getRank(),
                             arith::ConstantIndexOp::create(b, loc, 0));
    Value v = tensor::ExtractOp::create(b, loc, node.input(i), zeros);
    if (v.getType().getIntOrFloatBitWidth() < 32)
      return arith::ExtFOp::create(b, loc, f32, v).getResult();
    if (v.getType().getIntOrFloatBitWidth() > 32)
      return arith::TruncFOp::create(b, loc, f32, v).getResult();
    return v;
  };
  auto toMel = [&](Value hz) { // 2595 log10(1 + hz / 700), in f32
    Value r = arith::AddFOp::create(
        b, loc, scalar(b, loc, f32, 1),
        arith::DivFOp::create(b, loc, hz, scalar(b, loc, f32, 700)));
    return arith::MulFOp::create(b, loc, scalar(b, loc, f32, 2595),
                                 math::Log10Op::create(b, loc, r));
  };
  auto indexToF64 = [&](OpBuilder &nb, Location l, Value index) {
    return arith::SIToFPOp::create(
        nb, l, f64, arith::IndexCastOp::create(nb, l, nb.getI64Type(), index));
  };
  Value lowMel = toMel(readF32(3)), highMel = toMel(readF32(4));
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
  Value stepF32 = arith::DivFOp::create(
      b, loc, arith::SubFOp::create(b, loc, highMel, lowMel),
      arith::SIToFPOp::create(
          b, loc, f32,
          arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                     arith::AddIOp::create(b, loc, mel, c2))));
  Value step = arith::ExtFOp::create(b, loc, f64, stepF32);
  Value low64 = arith::ExtFOp::create(b, loc, f64, lowMel);
  Value lengthPlus1 =
      indexToF64(b, loc, arith::AddIOp::create(b, loc, length, c1));
  Value rate64 = indexToF64(b, loc, rate);
  Value bins = arith::AddIOp::create(
      b, loc, arith::DivSIOp::create(b, loc, length, c2), c1);
  int64_t knownBins = ShapedType::isDynamic(knownLength) ? ShapedType::kDynamic
                                                         : knownLength / 2 + 1;
  auto type = RankedTensorType::get({knownBins, knownMel}, f64);
  SmallVector<Value> sizes;
  if (ShapedType::isDynamic(knownBins))
    sizes.push_back(bins);
  if (ShapedType::isDynamic(knownMel))
    sizes.push_back(mel);
  auto generate = tensor::GenerateOp::create(b, loc, type, sizes);
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body =
        b.createBlock(&generate.getBody(), {},
                      {b.getIndexType(), b.getIndexType()}, {loc, loc});
    Value j = body->getArgument(0), i = body->getArgument(1);
    // edge(m) = floor((L + 1) * 700 (10^((m step + low) / 2595) - 1) / rate)
    auto edge = [&](int64_t offset) {
      Value m = indexToF64(
          b, loc,
          arith::AddIOp::create(
              b, loc, i, arith::ConstantIndexOp::create(b, loc, offset)));
      Value melValue = arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, m, step), low64);
      Value hz = arith::MulFOp::create(
          b, loc, scalar(b, loc, f64, 700),
          arith::SubFOp::create(
              b, loc,
              math::PowFOp::create(
                  b, loc, scalar(b, loc, f64, 10),
                  arith::DivFOp::create(b, loc, melValue,
                                        scalar(b, loc, f64, 2595))),
              scalar(b, loc, f64, 1)));
      return math::FloorOp::create(
                 b, loc,
                 arith::DivFOp::create(
                     b, loc, arith::MulFOp::create(b, loc, lengthPlus1, hz),
                     rate64))
          .getResult();
    };
    Value lower = edge(0), center = edge(1), higher = edge(2);
    Value jf = indexToF64(b, loc, j);
    Value zero = scalar(b, loc, f64, 0), one = scalar(b, loc, f64, 1);
    auto cmp = [&](arith::CmpFPredicate p, Value x, Value y) {
      return arith::CmpFOp::create(b, loc, p, x, y).getResult();
    };
    Value lowToCenter = arith::SubFOp::create(b, loc, center, lower);
    Value centerToHigh = arith::SubFOp::create(b, loc, higher, center);
    // Rising edge (a spike of 1 at the center when it is empty).
    Value rising = arith::SelectOp::create(
        b, loc, cmp(arith::CmpFPredicate::OEQ, lowToCenter, zero),
        arith::SelectOp::create(
            b, loc, cmp(arith::CmpFPredicate::OEQ, jf, center), one, zero),
        arith::SelectOp::create(
            b, loc,
            arith::AndIOp::create(b, loc,
                                  cmp(arith::CmpFPredicate::OGE, jf, lower),
                                  cmp(arith::CmpFPredicate::OLE, jf, center)),
            arith::DivFOp::create(
                b, loc, arith::SubFOp::create(b, loc, jf, lower), lowToCenter),
            zero));
    // The falling edge overwrites [center, higher).
    Value falling = arith::AndIOp::create(
        b, loc, cmp(arith::CmpFPredicate::OGT, centerToHigh, zero),
        arith::AndIOp::create(b, loc,
                              cmp(arith::CmpFPredicate::OGE, jf, center),
                              cmp(arith::CmpFPredicate::OLT, jf, higher)));
    Value v = arith::SelectOp::create(
        b, loc, falling,
        arith::DivFOp::create(b, loc, arith::SubFOp::create(b, loc, higher, jf),
                              centerToHigh),
        rising);
    tensor::YieldOp::create(b, loc, v);
  }
  node.setOutput(0, castElements(b, loc, generate, false, element, false));
  return success();
}

void mlir::slm::onnx_import::registerMathOps(OpTable &table) {
  table.add("Mod", 10, importMod);
  table.add("BitShift", 11, importBitShift);
  table.add("IsInf", 10, importIsInf);
  table.add("Shrink", 9, importShrink);
  table.add("PRelu", 7, importPRelu);
  table.add("ReduceProd", 1, importReduceProd);
  table.add("MeanVarianceNormalization", 9, importMVN);
  table.add("LRN", 1, importLRN);
  table.add("NegativeLogLikelihoodLoss", 12, importNegativeLogLikelihoodLoss);
  table.add("SoftmaxCrossEntropyLoss", 12, importSoftmaxCrossEntropyLoss);
  table.add("HannWindow", 17, importWindow<Window::Hann>);
  table.add("HammingWindow", 17, importWindow<Window::Hamming>);
  table.add("BlackmanWindow", 17, importWindow<Window::Blackman>);
  table.add("Einsum", 12, importEinsum);
  table.add("Det", 11, importDet);
  table.add("DFT", 17, importDFT);
  table.add("STFT", 17, importSTFT);
  table.add("MelWeightMatrix", 17, importMelWeightMatrix);
}
