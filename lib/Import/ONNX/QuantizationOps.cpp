//===- QuantizationOps.cpp - ONNX quantized ops -----------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// QuantizeLinear DequantizeLinear DynamicQuantizeLinear MatMulInteger
// QLinearMatMul, spelled out in slm arithmetic with their exact ONNX
// semantics (round half to even, saturation). The quantization passes
// recognise these forms around weights and turn them into
// slm.dequantize_weight and integer kernels.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"
#include "slm/IR/SLMConstants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::slm::onnx_import;

namespace {
/// A scale or zero point reshaped to broadcast along `axis` of a rank-`rank`
/// tensor (per-axis quantization), or left alone when it is a scalar.
Value alongAxis(NodeContext &node, Value v, int64_t axis, int64_t rank) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() == 0 || (type.getRank() == 1 && type.getDimSize(0) == 1))
    return v;
  SmallVector<DimExpr> dims(rank, DimExpr::constant(1));
  dims[axis] = DimExpr::dimOf(v, 0);
  return node.importer().reshape(node.loc(), v, dims);
}

/// (float(x) - float(zp)) * scale
Value dequantize(NodeContext &node, Value x, bool xUnsigned, Value scale,
                 Value zeroPoint, bool zpUnsigned) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto xType = cast<RankedTensorType>(x.getType());
  Type f = cast<RankedTensorType>(scale.getType()).getElementType();
  auto fType = xType.clone(f);
  Value xf = castElements(b, loc, x, xUnsigned, f, false);
  if (zeroPoint) {
    Value zf = castElements(b, loc, zeroPoint, zpUnsigned, f, false);
    xf = mlir::slm::SubOp::create(b, loc, fType, xf, zf);
  }
  return mlir::slm::MulOp::create(b, loc, fType, xf, scale);
}

/// select(v != v, replacement, v): NaN elements of a float tensor become
/// `replacement`.
Value replaceNaN(NodeContext &node, Value v, double replacement) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(v.getType());
  Value isNaN = mlir::slm::CompareOp::create(
      b, loc, type.clone(b.getI1Type()), mlir::slm::ComparePredicate::ne, v, v);
  return mlir::slm::SelectOp::create(
      b, loc, type, isNaN,
      scalarConstant(node, type.getElementType(), replacement), v);
}

/// saturate(round_half_even(x / scale) + zp) in the integer type of `zp`.
/// The clamp leaves exact integers in range, or NaN (x / scale is NaN for
/// x = +-inf with an infinite scale, as calibration on a -inf mask writes,
/// and 0 / 0 for a zero scale). NaN becomes code 0, what ORT on x86 and the
/// defined float-to-integer conversion give, so the final conversion is the
/// plain arith cast with no undefined input: the form the quantized-matmul
/// raising recognises (a plain cast of NaN would be poison).
Value quantize(NodeContext &node, Value x, Value scale, Value zeroPoint,
               Type intType, bool isUnsigned) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto xType = cast<RankedTensorType>(x.getType());
  Type f = xType.getElementType();
  Value q = mlir::slm::DivOp::create(b, loc, xType, x, scale);
  q = math::RoundEvenOp::create(b, loc, q);
  if (zeroPoint)
    q = mlir::slm::AddOp::create(
        b, loc, xType, q,
        castElements(b, loc, zeroPoint, isUnsigned, f, false));
  unsigned bits = intType.getIntOrFloatBitWidth();
  double lo = isUnsigned ? 0.0 : -std::ldexp(1.0, bits - 1);
  double hi =
      isUnsigned ? std::ldexp(1.0, bits) - 1 : std::ldexp(1.0, bits - 1) - 1;
  q = mlir::slm::MaxOp::create(b, loc, xType, q, scalarConstant(node, f, lo));
  q = mlir::slm::MinOp::create(b, loc, xType, q, scalarConstant(node, f, hi));
  q = replaceNaN(node, q, 0);
  return convertSaturated(b, loc, q, intType, isUnsigned);
}
} // namespace

/// The quantization axis of QuantizeLinear/DequantizeLinear (per-tensor
/// parameters ignore it).
static FailureOr<int64_t> quantizationAxis(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  if (node.opset() >= 21 && node.intAttr("block_size", 0) != 0)
    return node.error("blocked quantization (block_size) is not supported");
  // Per-tensor parameters: the axis (default 1) does not apply.
  RankedTensorType scale = node.inputType(1);
  if (scale.getRank() == 0 || scale.getNumElements() == 1)
    return 0;
  int64_t rank = node.inputType(0).getRank();
  std::optional<int64_t> axis = normalizeAxis(node.intAttr("axis", 1), rank);
  if (!axis)
    return node.error("axis " + Twine(node.intAttr("axis", 1)) +
                      " is out of range for an input of rank " + Twine(rank));
  return *axis;
}

static LogicalResult importDequantizeLinear(NodeContext &node) {
  FailureOr<int64_t> axis = quantizationAxis(node);
  if (failed(axis))
    return failure();
  Value x = node.input(0);
  int64_t rank = node.inputType(0).getRank();
  Value scale = alongAxis(node, node.input(1), *axis, rank);
  Value zp =
      node.hasInput(2) ? alongAxis(node, node.input(2), *axis, rank) : Value();
  node.setOutput(0, dequantize(node, x, node.inputInfo(0)->isUnsigned, scale,
                               zp, zp && node.inputInfo(2)->isUnsigned));
  return success();
}

static LogicalResult importQuantizeLinear(NodeContext &node) {
  FailureOr<int64_t> axis = quantizationAxis(node);
  if (failed(axis))
    return failure();
  Value x = node.input(0);
  int64_t rank = node.inputType(0).getRank();
  Value scale = alongAxis(node, node.input(1), *axis, rank);
  Value zp;
  Type intType = node.builder().getI8Type();
  bool isUnsigned = true; // uint8 when no zero point is given
  if (node.hasInput(2)) {
    zp = alongAxis(node, node.input(2), *axis, rank);
    intType = node.inputType(2).getElementType();
    isUnsigned = node.inputInfo(2)->isUnsigned;
  }
  node.setOutput(0, quantize(node, x, scale, zp, intType, isUnsigned),
                 isUnsigned);
  return success();
}

/// y_scale = (max(x, 0) - min(x, 0)) / 255, or 1 where that is 0 (x all
/// zeros: ORT's choice; the formula would give 0 and a NaN zero point),
/// y_zp = saturate(round(-min / s)), y = saturate(round(x / s) + y_zp), all
/// uint8.
static LogicalResult importDynamicQuantizeLinear(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Type f = type.getElementType();
  auto scalar = RankedTensorType::get({}, f);
  SmallVector<int64_t> all;
  for (int64_t i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  auto reduce = [&](mlir::slm::ReduceKind kind) -> Value {
    if (all.empty())
      return x;
    return mlir::slm::ReduceOp::create(b, loc, scalar, kind, x, all, false);
  };
  Value zero = scalarConstant(node, f, 0);
  Value hi = mlir::slm::MaxOp::create(b, loc, scalar,
                                      reduce(mlir::slm::ReduceKind::max), zero);
  Value lo = mlir::slm::MinOp::create(b, loc, scalar,
                                      reduce(mlir::slm::ReduceKind::min), zero);
  Value range = mlir::slm::DivOp::create(
      b, loc, scalar, mlir::slm::SubOp::create(b, loc, scalar, hi, lo),
      scalarConstant(node, f, 255));
  Value empty = mlir::slm::CompareOp::create(
      b, loc, scalar.clone(b.getI1Type()), mlir::slm::ComparePredicate::eq,
      range, zero);
  Value scale = mlir::slm::SelectOp::create(b, loc, scalar, empty,
                                            scalarConstant(node, f, 1), range);
  // zp = saturate(round(0 - lo / scale)) in [0, 255].
  Value zpf = mlir::slm::SubOp::create(
      b, loc, scalar, zero,
      mlir::slm::DivOp::create(b, loc, scalar, lo, scale));
  zpf = math::RoundEvenOp::create(b, loc, zpf);
  zpf = mlir::slm::MaxOp::create(b, loc, scalar, zpf, zero);
  zpf = mlir::slm::MinOp::create(b, loc, scalar, zpf,
                                 scalarConstant(node, f, 255));
  // A NaN zero point (an infinite range: -inf / inf) is 255, as ORT's
  // std::min(255, NaN) makes it.
  Value zp =
      convertSaturated(b, loc, replaceNaN(node, zpf, 255), b.getI8Type(), true);
  node.setOutput(0, quantize(node, x, scale, zp, b.getI8Type(), true), true);
  node.setOutput(1, scale);
  node.setOutput(2, zp, true);
  return success();
}

/// Integer matmul with zero points, accumulated in int32.
static LogicalResult importMatMulInteger(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto widen = [&](int i) {
    return castElements(b, loc, node.input(i), node.inputInfo(i)->isUnsigned,
                        b.getI32Type(), false);
  };
  Value a = widen(0), w = widen(1);
  auto aType = cast<RankedTensorType>(a.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  if (node.hasInput(2)) {
    // a_zero_point: scalar or per row of A ([M]); broadcast over K.
    Value zp = widen(2);
    if (cast<RankedTensorType>(zp.getType()).getRank() == 1 &&
        cast<RankedTensorType>(zp.getType()).getDimSize(0) != 1)
      zp = node.importer().reshape(
          loc, zp, {DimExpr::dimOf(zp, 0), DimExpr::constant(1)});
    a = mlir::slm::SubOp::create(b, loc, aType, a, zp);
  }
  if (node.hasInput(3)) {
    // b_zero_point: scalar or per column of B ([N]).
    Value zp = widen(3);
    w = mlir::slm::SubOp::create(b, loc, wType, w, zp);
  }
  if (aType.getRank() < 2 || wType.getRank() < 2)
    return node.error("A and B must have rank >= 2");
  SmallVector<int64_t> shape(aType.getShape().begin(),
                             aType.getShape().end() - 1);
  shape.push_back(wType.getShape().back());
  if (aType.getRank() < wType.getRank())
    return node.error("B may not have more batch dimensions than A");
  node.setOutput(
      0, mlir::slm::MatMulOp::create(
             b, loc, RankedTensorType::get(shape, b.getI32Type()), a, w));
  return success();
}

/// dequantize both, multiply in float, quantize with the output parameters.
static LogicalResult importQLinearMatMul(NodeContext &node) {
  if (failed(requireInputs(node, 8)))
    return failure();
  if (node.inputType(0).getRank() != 2 || node.inputType(3).getRank() != 2)
    return node.error("slm supports 2-D QLinearMatMul only");
  // A's parameters are per tensor or per row (axis 0), B's per tensor or per
  // column (axis 1).
  Value a = dequantize(node, node.input(0), node.inputInfo(0)->isUnsigned,
                       alongAxis(node, node.input(1), 0, 2),
                       alongAxis(node, node.input(2), 0, 2),
                       node.inputInfo(2)->isUnsigned);
  Value bf = dequantize(node, node.input(3), node.inputInfo(3)->isUnsigned,
                        alongAxis(node, node.input(4), 1, 2),
                        alongAxis(node, node.input(5), 1, 2),
                        node.inputInfo(5)->isUnsigned);
  auto aType = cast<RankedTensorType>(a.getType());
  auto bfType = cast<RankedTensorType>(bf.getType());
  Value y = mlir::slm::MatMulOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get({aType.getDimSize(0), bfType.getDimSize(1)},
                            aType.getElementType()),
      a, bf);
  Type intType = node.inputType(7).getElementType();
  bool isUnsigned = node.inputInfo(7)->isUnsigned;
  node.setOutput(
      0, quantize(node, y, node.input(6), node.input(7), intType, isUnsigned),
      isUnsigned);
  return success();
}

/// The bytes of a constant input, or an empty ref.
static ArrayRef<char> constantBytes(NodeContext &node, int i, Attribute &attr) {
  if (!matchPattern(node.input(i), m_Constant(&attr)))
    return {};
  return mlir::slm::rawConstantBytes(attr);
}

/// ONNX Runtime's weight-only MatMul (com.microsoft.MatMulNBits):
/// Y = A x dequant(B)^T (+ bias) with B [N, K/block, block * bits / 8]
/// uint8 codes (4 bits: two per byte, low nibble first), scales
/// [N * K/block] and optional zero points: packed uint (as B) or float
/// (shaped like scales); without them 2^(bits-1). A code `q` of row n and
/// block g stands for (q - zp[n, g]) * scale[n, g].
///  - 4 bits, integer zero points: slm.linear of `slm.dequantize_weight
///    <int4>` with zero points and group_size = block, the representation
///    --quantize=int4 makes, compiled by the same kernels;
///  - 4 bits, float zero points: the same codes with zero point 0, minus a
///    linear layer over per-block sums of A with weight zp * scale [N, G]
///    (q*s - zp*s), so the int4 kernels still run;
///  - 8 bits: one block per row with the default zero point is int8
///    per-channel (`dequantize_weight <int8>`, its kernels); other 8-bit
///    forms are dequantized at compile time into an f32 weight (slm has no
///    grouped int8 kernel yet).
static LogicalResult importMatMulNBits(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  const int64_t k = node.intAttr("K", 0), n = node.intAttr("N", 0),
                bits = node.intAttr("bits", 4),
                block = node.intAttr("block_size", 0);
  if (bits != 4 && bits != 8)
    return node.error("slm supports 4- and 8-bit MatMulNBits, got bits = " +
                      std::to_string(bits));
  if (k <= 0 || n <= 0 || block < 16 || (block & (block - 1)) != 0)
    return node.error("K and N must be positive and block_size a power of 2 "
                      ">= 16");
  if (k % block != 0)
    return node.error(
        "K = " + std::to_string(k) + " is not a multiple of block_size = " +
        std::to_string(block) + " (padded blocks are not supported)");
  if (node.hasInput(4))
    return node.error("g_idx (act-order) is not supported");
  const int64_t blocks = k / block;
  Attribute codesAttr, scalesAttr, zpAttr;
  ArrayRef<char> codes = constantBytes(node, 1, codesAttr);
  if (codes.size() != static_cast<size_t>(n * k * bits / 8))
    return node.error("B must be a constant [N, K/block_size, block_size * "
                      "bits / 8] uint8 tensor");
  std::vector<float> scales;
  if (!matchPattern(node.input(2), m_Constant(&scalesAttr)) ||
      !mlir::slm::readF32Constant(scalesAttr, scales) ||
      scales.size() != static_cast<size_t>(n * blocks))
    return node.error("scales must be a constant float tensor of N * K / "
                      "block_size elements");
  // Zero points per (row, block), as floats; integer ones are exact.
  const float defaultZeroPoint = bits == 4 ? 8.0f : 128.0f;
  std::vector<float> zeroPoints(n * blocks, defaultZeroPoint);
  bool floatZeroPoints = false;
  if (node.hasInput(3)) {
    Type zpType = node.inputType(3).getElementType();
    if (isa<FloatType>(zpType)) {
      floatZeroPoints = true;
      if (!matchPattern(node.input(3), m_Constant(&zpAttr)) ||
          !mlir::slm::readF32Constant(zpAttr, zeroPoints) ||
          zeroPoints.size() != static_cast<size_t>(n * blocks))
        return node.error("float zero_points must be a constant tensor of N * "
                          "K / block_size elements");
    } else {
      ArrayRef<char> zp = constantBytes(node, 3, zpAttr);
      const int64_t perRow = (blocks * bits + 7) / 8;
      if (!zpAttr || !zpType.isInteger(8) ||
          zp.size() != static_cast<size_t>(n * perRow))
        return node.error("zero_points must be a constant packed uint8 tensor "
                          "of N * ceil(K / block_size * bits / 8) elements");
      for (int64_t r = 0; r < n; ++r)
        for (int64_t g = 0; g < blocks; ++g) {
          const uint8_t byte = static_cast<uint8_t>(
              zp[r * perRow + (bits == 4 ? g / 2 : g)]);
          zeroPoints[r * blocks + g] =
              bits == 8 ? byte : (g % 2 == 0 ? (byte & 0xF) : (byte >> 4));
        }
    }
  }
  Value a = node.input(0);
  auto aType = node.inputType(0);
  if (aType.getRank() < 1 || !aType.getElementType().isF32())
    return node.error("A must be a float32 tensor");
  if (!ShapedType::isDynamic(aType.getShape().back()) &&
      aType.getShape().back() != k)
    return node.error("A's last dimension is " +
                      std::to_string(aType.getShape().back()) +
                      " but K = " + std::to_string(k));
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Type i8 = b.getIntegerType(8), f32 = b.getF32Type();
  Value bias = node.hasInput(5) ? node.input(5) : Value();
  SmallVector<int64_t> shape(aType.getShape());
  shape.back() = n;
  auto resultType = RankedTensorType::get(shape, f32);
  auto weightType = RankedTensorType::get({n, k}, f32);
  auto groupsType = [&](Type t, int64_t groups) {
    return RankedTensorType::get({n, groups}, t);
  };
  auto codeAt = [&](int64_t r, int64_t c) -> uint8_t {
    if (bits == 8)
      return static_cast<uint8_t>(codes[r * k + c]);
    const uint8_t byte = static_cast<uint8_t>(codes[(r * k + c) / 2]);
    return c % 2 == 0 ? (byte & 0xF) : (byte >> 4);
  };

  if (bits == 8) {
    const bool perChannel =
        blocks == 1 && llvm::all_of(zeroPoints, [](float z) {
          return z == 128.0f;
        });
    Value weight;
    if (perChannel) {
      // q - 128 as int8 codes, one scale per row.
      std::vector<char> signedCodes(codes.begin(), codes.end());
      for (char &c : signedCodes)
        c = static_cast<char>(static_cast<uint8_t>(c) ^ 0x80);
      auto codesType = RankedTensorType::get({n, k}, i8);
      Value codesValue = arith::ConstantOp::create(
          b, loc,
          cast<TypedAttr>(mlir::slm::makeConstantFromBytes(
              codesAttr, codesType, signedCodes, ".codes")));
      Value scalesValue = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(groupsType(f32, 1), ArrayRef<float>(scales)));
      weight = mlir::slm::DequantizeWeightOp::create(
          b, loc, weightType, mlir::slm::WeightQuantKind::int8, codesValue,
          scalesValue, Value(), IntegerAttr());
    } else {
      std::vector<float> dense(n * k);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c) {
          const int64_t g = r * blocks + c / block;
          dense[r * k + c] =
              (static_cast<float>(codeAt(r, c)) - zeroPoints[g]) * scales[g];
        }
      weight = arith::ConstantOp::create(
          b, loc,
          cast<TypedAttr>(mlir::slm::makeF32ConstantLike(
              codesAttr, weightType, dense, ".dequantized")));
    }
    node.setOutput(0, mlir::slm::LinearOp::create(b, loc, resultType, a,
                                                  weight, bias));
    return success();
  }

  // 4 bits: the codes as they are stored; integer zero points as int8.
  auto codesType = RankedTensorType::get({n, k / 2}, i8);
  Value codesValue = arith::ConstantOp::create(
      b, loc,
      cast<TypedAttr>(mlir::slm::makeConstantFromBytes(codesAttr, codesType,
                                                       codes, ".codes")));
  Value scalesValue = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(groupsType(f32, blocks), ArrayRef<float>(scales)));
  std::vector<int8_t> intZeroPoints(n * blocks, 0);
  if (!floatZeroPoints)
    for (size_t i = 0; i < zeroPoints.size(); ++i)
      intZeroPoints[i] = static_cast<int8_t>(zeroPoints[i]);
  Value zpValue = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(groupsType(i8, blocks),
                             ArrayRef<int8_t>(intZeroPoints)));
  Value weight = mlir::slm::DequantizeWeightOp::create(
      b, loc, weightType, mlir::slm::WeightQuantKind::int4, codesValue,
      scalesValue, zpValue, b.getI64IntegerAttr(block));
  Value y = mlir::slm::LinearOp::create(b, loc, resultType, a, weight, bias);
  if (floatZeroPoints) {
    // y -= sum_g (sum_{k in block g} a[k]) * zp[n, g] * scale[n, g]
    GraphImporter &g = node.importer();
    SmallVector<DimExpr> dims = g.shapeOf(a);
    dims.back() = DimExpr::constant(blocks);
    SmallVector<DimExpr> split(dims);
    split.push_back(DimExpr::constant(block));
    Value grouped = g.reshape(loc, a, split);
    SmallVector<int64_t> sumShape(aType.getShape());
    sumShape.back() = blocks;
    Value sums = mlir::slm::ReduceOp::create(
        b, loc, RankedTensorType::get(sumShape, f32),
        mlir::slm::ReduceKind::sum, grouped,
        ArrayRef<int64_t>{aType.getRank()}, false);
    std::vector<float> offsets(n * blocks);
    for (size_t i = 0; i < offsets.size(); ++i)
      offsets[i] = zeroPoints[i] * scales[i];
    Value offsetWeight = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(groupsType(f32, blocks),
                               ArrayRef<float>(offsets)));
    Value correction = mlir::slm::LinearOp::create(b, loc, resultType, sums,
                                                   offsetWeight, Value());
    y = mlir::slm::SubOp::create(b, loc, resultType, y, correction);
  }
  node.setOutput(0, y);
  return success();
}

void mlir::slm::onnx_import::registerQuantizationOps(OpTable &table) {
  table.add("com.microsoft::MatMulNBits", 1, importMatMulNBits);
  table.add("DequantizeLinear", 10, importDequantizeLinear);
  table.add("QuantizeLinear", 10, importQuantizeLinear);
  table.add("DynamicQuantizeLinear", 11, importDynamicQuantizeLinear);
  table.add("MatMulInteger", 10, importMatMulInteger);
  table.add("QLinearMatMul", 10, importQLinearMatMul);
}
