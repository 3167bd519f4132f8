//===- NeuralNetOps.cpp - ONNX matmul, normalization, reductions -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// MatMul Gemm Softmax LayerNormalization Gelu ReduceMean/Sum/Max/Min and the
// patch-embedding Conv of vision transformers (other Convs: VisionOps.cpp). Nodes map one to one onto
// slm ops; the raising passes (slm-raise-*) find linear layers, layer norms,
// GELUs and attention in what the importer produces.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "slm/Support/Shape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::slm::onnx_import;

static Value transpose(NodeContext &node, Value x, ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  return mlir::slm::TransposeOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get(shape, type.getElementType()), x, perm);
}

/// numpy matmul of `a` and `b` (rank >= 1 each), as ONNX MatMul.
static FailureOr<Value> matmul(NodeContext &node, Value a, Value b) {
  GraphImporter &g = node.importer();
  auto aType = cast<RankedTensorType>(a.getType());
  auto bType = cast<RankedTensorType>(b.getType());
  if (!isa<FloatType>(aType.getElementType()))
    return node.error("slm imports floating-point MatMul only; integer "
                      "products come through MatMulInteger");
  if (aType.getElementType() != bType.getElementType())
    return node.error("input element types differ");
  if (aType.getRank() == 0 || bType.getRank() == 0)
    return node.error("inputs must have rank 1 or more (got " +
                      Twine(aType.getRank()) + " and " +
                      Twine(bType.getRank()) + ")");
  bool aVector = aType.getRank() == 1, bVector = bType.getRank() == 1;
  if (aVector)
    a = g.reshape(node.loc(), a, {DimExpr::constant(1), DimExpr::dimOf(a, 0)});
  if (bVector)
    b = g.reshape(node.loc(), b, {DimExpr::dimOf(b, 0), DimExpr::constant(1)});
  aType = cast<RankedTensorType>(a.getType());
  bType = cast<RankedTensorType>(b.getType());
  int64_t k1 = aType.getShape().back(),
          k2 = bType.getDimSize(bType.getRank() - 2);
  if (!slm::extentsCompatible(k1, k2))
    return node.error("contraction extents differ: " + Twine(k1) + " and " +
                      Twine(k2));
  slm::Shape aBatch(aType.getShape().begin(), aType.getShape().end() - 2);
  slm::Shape bBatch(bType.getShape().begin(), bType.getShape().end() - 2);
  std::optional<slm::Shape> batch = slm::broadcastShapes(aBatch, bBatch);
  if (!batch)
    return node.error("batch dimensions do not broadcast");
  batch->push_back(aType.getDimSize(aType.getRank() - 2));
  batch->push_back(bType.getShape().back());
  Value result = mlir::slm::MatMulOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get(*batch, aType.getElementType()), a, b);
  if (aVector || bVector) {
    SmallVector<DimExpr> dims = g.shapeOf(result);
    if (bVector)
      dims.pop_back();
    if (aVector)
      dims.erase(dims.end() - (bVector ? 1 : 2));
    result = g.reshape(node.loc(), result, dims);
  }
  return result;
}

static LogicalResult importMatMul(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  FailureOr<Value> result = matmul(node, node.input(0), node.input(1));
  if (failed(result))
    return failure();
  node.setOutput(0, *result);
  return success();
}

static LogicalResult importGemm(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value a = node.input(0), b = node.input(1);
  if (cast<RankedTensorType>(a.getType()).getRank() != 2 ||
      cast<RankedTensorType>(b.getType()).getRank() != 2)
    return node.error("A and B must be 2-D");
  if (node.intAttr("transA", 0))
    a = transpose(node, a, {1, 0});
  if (node.intAttr("transB", 0))
    b = transpose(node, b, {1, 0});
  FailureOr<Value> product = matmul(node, a, b);
  if (failed(product))
    return failure();
  Value y = *product;
  auto type = cast<RankedTensorType>(y.getType());
  Type element = type.getElementType();
  OpBuilder &builder = node.builder();
  float alpha = node.floatAttr("alpha", 1.0f),
        beta = node.floatAttr("beta", 1.0f);
  if (alpha != 1.0f)
    y = mlir::slm::MulOp::create(builder, node.loc(), type, y,
                                 scalarConstant(node, element, alpha));
  if (node.hasInput(2) && beta != 0.0f) {
    Value c = node.input(2);
    if (beta != 1.0f)
      c = mlir::slm::MulOp::create(builder, node.loc(), c.getType(), c,
                                   scalarConstant(node, element, beta));
    RankedTensorType resultType =
        broadcastType(node, type, cast<RankedTensorType>(c.getType()), element);
    if (!resultType)
      return failure();
    y = mlir::slm::AddOp::create(builder, node.loc(), resultType, y, c);
  }
  node.setOutput(0, y);
  return success();
}

static LogicalResult importSoftmax(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  int64_t defaultAxis = node.opset() >= 13 ? -1 : 1;
  std::optional<int64_t> axis =
      normalizeAxis(node.intAttr("axis", defaultAxis), rank);
  if (!axis)
    return node.error("axis is out of range for rank " + Twine(rank));
  // Before opset 13 the input is flattened to 2-D at `axis`: that equals a
  // softmax over one axis only when it is the last.
  if (node.opset() < 13 && *axis != rank - 1)
    return node.error("before opset 13, Softmax flattens from axis " +
                      Twine(*axis) + "; slm supports the last axis only");
  node.setOutput(
      0, mlir::slm::SoftmaxOp::create(node.builder(), node.loc(), x, *axis));
  return success();
}

static LogicalResult importLayerNorm(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value x = node.input(0), scale = node.input(1);
  Value bias = node.hasInput(2) ? node.input(2) : Value();
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  std::optional<int64_t> axis = normalizeAxis(node.intAttr("axis", -1), rank);
  if (!axis)
    return node.error("axis is out of range for rank " + Twine(rank));
  // Scale and bias broadcast over the normalized dimensions in ONNX; slm
  // wants them shaped exactly like those dimensions.
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<DimExpr> normalized;
  for (int64_t i = *axis; i < rank; ++i)
    normalized.push_back(DimExpr::dimOf(x, i));
  auto fit = [&](Value v) -> Value {
    if (!v)
      return v;
    auto vType = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> want = staticShape(normalized);
    if (vType.getShape() == ArrayRef<int64_t>(want))
      return v;
    if (vType.getRank() > static_cast<int64_t>(want.size()))
      v = node.importer().reshape(
          node.loc(), v,
          ArrayRef<DimExpr>(node.importer().shapeOf(v)).take_back(want.size()));
    auto fitted = RankedTensorType::get(want, vType.getElementType());
    if (v.getType() == fitted)
      return v;
    Value shape;
    if (!fitted.hasStaticShape())
      shape = node.importer().materializeShape(node.loc(), normalized);
    return mlir::slm::BroadcastToOp::create(node.builder(), node.loc(), fitted,
                                            v, shape);
  };
  Value result = mlir::slm::LayerNormOp::create(
      node.builder(), node.loc(), type, x, fit(scale), fit(bias),
      node.builder().getF64FloatAttr(node.floatAttr("epsilon", 1e-5f)),
      node.builder().getI64IntegerAttr(*axis));
  node.setOutput(0, result);
  // The optional statistics: mean and 1/sqrt(var + epsilon), kept as size-1
  // dimensions over the normalized axes.
  if (node.hasOutput(1) || node.hasOutput(2)) {
    OpBuilder &b = node.builder();
    Location loc = node.loc();
    Type element = type.getElementType();
    SmallVector<int64_t> axes, statShape(type.getShape());
    for (int64_t i = *axis; i < rank; ++i) {
      axes.push_back(i);
      statShape[i] = 1;
    }
    auto statType = RankedTensorType::get(statShape, element);
    Value mean = mlir::slm::ReduceOp::create(
        b, loc, statType, mlir::slm::ReduceKind::mean, x, axes, true);
    Value centered = mlir::slm::SubOp::create(b, loc, type, x, mean);
    Value squared = mlir::slm::MulOp::create(b, loc, type, centered, centered);
    Value var = mlir::slm::ReduceOp::create(
        b, loc, statType, mlir::slm::ReduceKind::mean, squared, axes, true);
    Value eps = scalarConstant(node, element, node.floatAttr("epsilon", 1e-5f));
    Value std = math::SqrtOp::create(
        b, loc, mlir::slm::AddOp::create(b, loc, statType, var, eps));
    node.setOutput(1, mean);
    node.setOutput(2, mlir::slm::DivOp::create(b, loc, statType,
                                               scalarConstant(node, element, 1),
                                               std));
  }
  return success();
}

static LogicalResult importGelu(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  std::string approximate = node.stringAttr("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    return node.error("unknown approximation '" + approximate + "'");
  auto mode = approximate == "tanh" ? mlir::slm::GeluApproximation::tanh
                                    : mlir::slm::GeluApproximation::none;
  node.setOutput(0, mlir::slm::GeluOp::create(node.builder(), node.loc(),
                                              node.input(0), mode));
  return success();
}

namespace {
/// The reductions ONNX has, in terms of slm.reduce and elementwise ops.
enum class Reduction {
  Sum,
  Mean,
  Max,
  Min,
  SumSquare,
  L1,
  L2,
  LogSum,
  LogSumExp
};
} // namespace

template <Reduction kind> static LogicalResult importReduce(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  // The axes became an input in opset 13 for ReduceSum, 18 for the others.
  int64_t inputSince = kind == Reduction::Sum ? 13 : 18;
  std::optional<SmallVector<int64_t>> axes;
  bool runtimeAxes = false;
  if (node.opset() < inputSince) {
    axes = node.intsAttr("axes");
  } else if (node.hasInput(1)) {
    axes = node.constantInts(1);
    // Axes known only at run time (a non-empty list): the general path.
    RankedTensorType axesType = node.inputType(1);
    runtimeAxes =
        !axes && !(axesType.getRank() == 1 && axesType.getDimSize(0) == 0);
  }
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  if (!runtimeAxes && (!axes || axes->empty())) {
    if (node.opset() >= inputSince && node.intAttr("noop_with_empty_axes", 0)) {
      node.setOutput(0, x);
      return success();
    }
    axes.emplace();
    for (int64_t i = 0; i < rank; ++i)
      axes->push_back(i);
  }
  if (runtimeAxes)
    axes.emplace(); // named at run time, none here
  bool keepDims = node.intAttr("keepdims", 1) != 0;
  SmallVector<bool> reduced(rank, false);
  for (int64_t &axis : *axes) {
    std::optional<int64_t> a = normalizeAxis(axis, rank);
    if (!a || reduced[*a])
      return node.error("axis " + Twine(axis) + " is out of range or repeated");
    reduced[*a] = true;
    axis = *a;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i])
      shape.push_back(type.getDimSize(i));
    else if (keepDims)
      shape.push_back(1);
  }
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  // Elementwise before, combiner, elementwise after.
  mlir::slm::ReduceKind combiner = mlir::slm::ReduceKind::sum;
  switch (kind) {
  case Reduction::Mean:
    combiner = mlir::slm::ReduceKind::mean;
    break;
  case Reduction::Max:
    combiner = mlir::slm::ReduceKind::max;
    break;
  case Reduction::Min:
    combiner = mlir::slm::ReduceKind::min;
    break;
  case Reduction::SumSquare:
  case Reduction::L2:
    x = mlir::slm::MulOp::create(b, loc, type, x, x);
    break;
  case Reduction::L1:
    x = isa<FloatType>(type.getElementType())
            ? math::AbsFOp::create(b, loc, x).getResult()
            : math::AbsIOp::create(b, loc, x).getResult();
    break;
  case Reduction::LogSumExp:
    x = math::ExpOp::create(b, loc, x);
    break;
  default:
    break;
  }
  Value result;
  if (runtimeAxes) {
    FailureOr<Value> reducedValue =
        reduceOverRuntimeAxes(node, x, combiner, keepDims);
    if (failed(reducedValue))
      return failure();
    result = *reducedValue;
  } else {
    result = mlir::slm::ReduceOp::create(b, loc, resultType, combiner, x, *axes,
                                         keepDims);
  }
  if (kind == Reduction::L2)
    result = math::SqrtOp::create(b, loc, result);
  else if (kind == Reduction::LogSum || kind == Reduction::LogSumExp)
    result = math::LogOp::create(b, loc, result);
  node.setOutput(0, result);
  return success();
}

/// x - max - log(sum(exp(x - max))) along one axis.
static LogicalResult importLogSoftmax(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  std::optional<int64_t> axis =
      normalizeAxis(node.intAttr("axis", node.opset() >= 13 ? -1 : 1), rank);
  if (!axis)
    return node.error("axis is out of range for rank " + Twine(rank));
  if (node.opset() < 13 && *axis != rank - 1)
    return node.error("before opset 13, LogSoftmax flattens from axis " +
                      Twine(*axis) + "; slm supports the last axis only");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  SmallVector<int64_t> statShape(type.getShape());
  statShape[*axis] = 1;
  auto statType = RankedTensorType::get(statShape, type.getElementType());
  Value max =
      mlir::slm::ReduceOp::create(b, loc, statType, mlir::slm::ReduceKind::max,
                                  x, ArrayRef<int64_t>{*axis}, true);
  Value shifted = mlir::slm::SubOp::create(b, loc, type, x, max);
  Value sum = mlir::slm::ReduceOp::create(
      b, loc, statType, mlir::slm::ReduceKind::sum,
      math::ExpOp::create(b, loc, shifted), ArrayRef<int64_t>{*axis}, true);
  node.setOutput(0, mlir::slm::SubOp::create(b, loc, type, shifted,
                                             math::LogOp::create(b, loc, sum)));
  return success();
}

/// True for a Conv where every patch is seen once (kernel == stride, no
/// padding, no dilation, one group, a static whole number of patches): a
/// linear layer over flattened patches, the patch embedding of vision
/// transformers, which the raising passes see as slm.linear.
static bool isPatchEmbeddingConv(NodeContext &node) {
  RankedTensorType xType = node.inputType(0), wType = node.inputType(1);
  if (!xType || !wType || xType.getRank() != 4 || wType.getRank() != 4 ||
      !wType.hasStaticShape() ||
      xType.getElementType() != wType.getElementType() ||
      !isa<FloatType>(xType.getElementType()))
    return false;
  int64_t channels = wType.getDimSize(1), kh = wType.getDimSize(2),
          kw = wType.getDimSize(3);
  SmallVector<int64_t> strides =
      node.intsAttr("strides").value_or(SmallVector<int64_t>{1, 1});
  SmallVector<int64_t> pads =
      node.intsAttr("pads").value_or(SmallVector<int64_t>{0, 0, 0, 0});
  SmallVector<int64_t> dilations =
      node.intsAttr("dilations").value_or(SmallVector<int64_t>{1, 1});
  std::string autoPad = node.stringAttr("auto_pad", "NOTSET");
  if (node.intAttr("group", 1) != 1 ||
      strides != SmallVector<int64_t>{kh, kw} ||
      llvm::any_of(pads, [](int64_t p) { return p != 0; }) ||
      llvm::any_of(dilations, [](int64_t d) { return d != 1; }) ||
      (autoPad != "NOTSET" && autoPad != "VALID"))
    return false;
  int64_t h = xType.getDimSize(2), wd = xType.getDimSize(3);
  if (ShapedType::isDynamic(h) || ShapedType::isDynamic(wd) ||
      xType.getDimSize(1) != channels || h % kh || wd % kw)
    return false;
  if (node.hasInput(2)) {
    RankedTensorType bType = node.inputType(2);
    if (!bType || bType.getRank() != 1 ||
        bType.getDimSize(0) != wType.getDimSize(0))
      return false;
  }
  return true;
}

/// Conv: the patch embedding as a linear layer over flattened patches when
/// it applies (isPatchEmbeddingConv), otherwise the general convolution of
/// VisionOps.cpp.
static LogicalResult importConv(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  if (!isPatchEmbeddingConv(node))
    return importGeneralConv(node);
  Value x = node.input(0), w = node.input(1);
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  int64_t outChannels = wType.getDimSize(0), channels = wType.getDimSize(1),
          kh = wType.getDimSize(2), kw = wType.getDimSize(3);
  int64_t h = xType.getDimSize(2), wd = xType.getDimSize(3);
  GraphImporter &g = node.importer();
  Location loc = node.loc();
  DimExpr n = DimExpr::dimOf(x, 0);
  int64_t ph = h / kh, pw = wd / kw, patch = channels * kh * kw;
  auto c = [](int64_t v) { return DimExpr::constant(v); };
  // [N, C, ph, kh, pw, kw] -> [N, ph, pw, C, kh, kw] -> [N, ph*pw, C*kh*kw]
  Value patches =
      g.reshape(loc, x, {n, c(channels), c(ph), c(kh), c(pw), c(kw)});
  patches = transpose(node, patches, {0, 2, 4, 1, 3, 5});
  patches = g.reshape(loc, patches, {n, c(ph * pw), c(patch)});
  Value weight = g.reshape(loc, w, {c(outChannels), c(patch)});
  Value bias = node.hasInput(2) ? node.input(2) : Value();
  auto linearType = RankedTensorType::get(
      {xType.getDimSize(0), ph * pw, outChannels}, xType.getElementType());
  Value y = mlir::slm::LinearOp::create(node.builder(), loc, linearType,
                                        patches, weight, bias);
  // [N, ph*pw, O] -> [N, ph, pw, O] -> [N, O, ph, pw]
  y = g.reshape(loc, y, {n, c(ph), c(pw), c(outChannels)});
  node.setOutput(0, transpose(node, y, {0, 3, 1, 2}));
  return success();
}

void mlir::slm::onnx_import::registerNeuralNetOps(OpTable &table) {
  table.add("MatMul", 9, importMatMul);
  table.add("Gemm", 11, importGemm);
  table.add("Softmax", 1, importSoftmax);
  table.add("LayerNormalization", 17, importLayerNorm);
  table.add("Gelu", 20, importGelu);
  table.add("LogSoftmax", 1, importLogSoftmax);
  table.add("ReduceMean", 1, importReduce<Reduction::Mean>);
  table.add("ReduceSum", 1, importReduce<Reduction::Sum>);
  table.add("ReduceMax", 1, importReduce<Reduction::Max>);
  table.add("ReduceMin", 1, importReduce<Reduction::Min>);
  table.add("ReduceSumSquare", 1, importReduce<Reduction::SumSquare>);
  table.add("ReduceL1", 1, importReduce<Reduction::L1>);
  table.add("ReduceL2", 1, importReduce<Reduction::L2>);
  table.add("ReduceLogSum", 1, importReduce<Reduction::LogSum>);
  table.add("ReduceLogSumExp", 1, importReduce<Reduction::LogSumExp>);
  table.add("Conv", 1, importConv);
}
