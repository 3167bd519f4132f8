//===- ShapeOps.cpp - ONNX shape and data-movement ops ----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Constant Shape Reshape Transpose Unsqueeze Squeeze Flatten Concat Gather
// Slice Split Expand ConstantOfShape Range Trilu. Shape values (Shape ->
// Gather -> Concat -> Reshape chains) are tracked as DimExprs, so that static
// arithmetic folds and dynamic extents become tensor.dim of graph values.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "slm/IR/SLMConstants.h"

#include <climits>

using namespace mlir;
using namespace mlir::slm::onnx_import;

static RankedTensorType shapeTensorType(OpBuilder &b, int64_t n) {
  return RankedTensorType::get({n}, b.getI64Type());
}

static LogicalResult importConstant(NodeContext &node) {
  OpBuilder &b = node.builder();
  if (const onnx::AttributeProto *value = node.attribute("value")) {
    FailureOr<ImportedValue> tensor =
        node.importer().importTensor(value->t(), node.loc());
    if (failed(tensor))
      return failure();
    if (node.hasOutput(0))
      node.importer().define(node.node().output(0), std::move(*tensor));
    return success();
  }
  TypedAttr attr;
  if (const onnx::AttributeProto *f = node.attribute("value_float")) {
    attr = DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()),
                                  b.getF32FloatAttr(f->f()));
  } else if (const onnx::AttributeProto *i = node.attribute("value_int")) {
    attr = DenseElementsAttr::get(RankedTensorType::get({}, b.getI64Type()),
                                  b.getI64IntegerAttr(i->i()));
  } else if (const onnx::AttributeProto *fs = node.attribute("value_floats")) {
    SmallVector<float> values(fs->floats().begin(), fs->floats().end());
    attr = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(values.size())},
                              b.getF32Type()),
        ArrayRef<float>(values));
  } else if (const onnx::AttributeProto *is = node.attribute("value_ints")) {
    SmallVector<int64_t> values(is->ints().begin(), is->ints().end());
    attr = DenseElementsAttr::get(
        shapeTensorType(b, static_cast<int64_t>(values.size())),
        ArrayRef<int64_t>(values));
  } else {
    return node.error("needs a 'value', 'value_float(s)' or 'value_int(s)' "
                      "attribute (sparse and string constants are not "
                      "supported)");
  }
  node.setOutput(0, node.importer().constant(node.loc(), attr));
  return success();
}

static LogicalResult importShape(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  // A static shape needs no value; a dynamic one refers to the tensor.
  ImportedValue *info = node.inputInfo(0);
  SmallVector<DimExpr> dims;
  if (info->type.hasStaticShape()) {
    for (int64_t d : info->type.getShape())
      dims.push_back(DimExpr::constant(d));
  } else {
    dims = node.importer().shapeOf(node.input(0));
  }
  int64_t rank = dims.size();
  // Opset 15: start/end select a range of dimensions (clamped).
  auto clampAxis = [&](int64_t a) {
    if (a < 0)
      a += rank;
    return std::clamp<int64_t>(a, 0, rank);
  };
  int64_t start = clampAxis(node.intAttr("start", 0));
  int64_t end = clampAxis(node.intAttr("end", rank));
  SmallVector<DimExpr> selected;
  for (int64_t i = start; i < end; ++i)
    selected.push_back(dims[i]);
  node.setSymbolicOutput(
      0, shapeTensorType(node.builder(), static_cast<int64_t>(selected.size())),
      selected);
  return success();
}

static LogicalResult importSize(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  DimExpr total = DimExpr::constant(1);
  for (const DimExpr &d : node.importer().shapeOf(node.input(0)))
    total = total * d;
  node.setSymbolicOutput(
      0, RankedTensorType::get({}, node.builder().getI64Type()), {total});
  return success();
}

/// The product of `dims`.
static DimExpr product(ArrayRef<DimExpr> dims) {
  DimExpr p = DimExpr::constant(1);
  for (const DimExpr &d : dims)
    p = p * d;
  return p;
}

static LogicalResult importReshape(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value x = node.input(0);
  GraphImporter &g = node.importer();
  SmallVector<DimExpr> inputDims = g.shapeOf(x);
  ImportedValue *shapeInfo = node.inputInfo(1);
  RankedTensorType shapeType = shapeInfo->type;
  if (shapeType.getRank() != 1 || shapeType.isDynamicDim(0))
    return node.error("the shape input must be a 1-D tensor of known length");
  bool allowZero = node.opset() >= 14 && node.intAttr("allowzero", 0) != 0;
  // A shape value reshaped to 0-D or 1-D keeps its known elements.
  ImportedValue *xInfo = node.inputInfo(0);
  if (xInfo->elements && shapeInfo->constantElements() &&
      shapeInfo->constantElements()->size() <= 1) {
    int64_t n = xInfo->elements->size();
    auto target = *shapeInfo->constantElements();
    if (target.empty()
            ? n == 1
            : (target[0] == -1 || target[0] == n ||
               (target[0] == 0 && !allowZero && xInfo->type.getRank() == 1))) {
      SmallVector<int64_t> shape;
      if (!target.empty())
        shape.push_back(n);
      node.setSymbolicOutput(
          0, RankedTensorType::get(shape, xInfo->type.getElementType()),
          *xInfo->elements);
      return success();
    }
  }

  if (!shapeInfo->elements) {
    // A shape computed at run time: every extent is dynamic.
    auto type = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape(shapeType.getDimSize(0), ShapedType::kDynamic);
    Value shapeIndex =
        castElements(node.builder(), node.loc(), g.materialize(*shapeInfo),
                     false, node.builder().getIndexType(), false);
    node.setOutput(0, mlir::slm::ReshapeOp::create(
                          node.builder(), node.loc(),
                          RankedTensorType::get(shape, type.getElementType()),
                          x, shapeIndex));
    return success();
  }
  SmallVector<DimExpr> dims;
  int inferred = -1;
  bool inferAtRunTime = false;
  for (auto [i, e] : llvm::enumerate(*shapeInfo->elements)) {
    if (e.isConstant() && e.factor == 0 && !allowZero) {
      if (i >= inputDims.size())
        return node.error("shape entry " + Twine(i) +
                          " is 0 (copy) but the input has rank " +
                          Twine(inputDims.size()));
      dims.push_back(inputDims[i]);
    } else if (e.isConstant() && e.factor == -1) {
      if (inferred >= 0)
        return node.error("the shape has more than one -1");
      inferred = static_cast<int>(i);
      dims.push_back(DimExpr::constant(-1));
    } else if (e.isConstant() && e.factor < 0) {
      return node.error("shape entry " + Twine(i) + " is " + Twine(e.factor));
    } else {
      dims.push_back(e);
    }
  }
  if (inferred >= 0) {
    SmallVector<DimExpr> others;
    for (auto [i, d] : llvm::enumerate(dims))
      if (static_cast<int>(i) != inferred)
        others.push_back(d);
    std::optional<DimExpr> rest = product(inputDims).dividedBy(product(others));
    if (rest) {
      dims[inferred] = *rest;
    } else {
      // Not derivable at import time: leave it dynamic. With other dynamic
      // extents, the shape operand computes it at run time.
      int dynamicOthers = llvm::count_if(
          others, [](const DimExpr &d) { return !d.isConstant(); });
      if (dynamicOthers > 0) {
        OpBuilder &b = node.builder();
        Location loc = node.loc();
        Value total = g.materializeIndex(loc, product(inputDims));
        Value known = g.materializeIndex(loc, product(others));
        Value extent = arith::DivUIOp::create(b, loc, total, known);
        SmallVector<Value> extents;
        SmallVector<int64_t> shape;
        for (auto [i, d] : llvm::enumerate(dims)) {
          bool isInferred = static_cast<int>(i) == inferred;
          extents.push_back(isInferred ? extent : g.materializeIndex(loc, d));
          shape.push_back(!isInferred && d.isConstant() ? d.factor
                                                        : ShapedType::kDynamic);
        }
        Value shapeValue = tensor::FromElementsOp::create(
            b, loc,
            RankedTensorType::get({static_cast<int64_t>(extents.size())},
                                  b.getIndexType()),
            extents);
        auto type = cast<RankedTensorType>(x.getType());
        node.setOutput(
            0, mlir::slm::ReshapeOp::create(
                   b, loc, RankedTensorType::get(shape, type.getElementType()),
                   x, shapeValue));
        return success();
      }
      // The only dynamic extent: slm.reshape infers it from the count.
      inferAtRunTime = true;
    }
  }
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape = staticShape(dims);
  if (inferAtRunTime)
    shape[inferred] = ShapedType::kDynamic;
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  if (type.hasStaticShape() && resultType.hasStaticShape() &&
      type.getNumElements() != resultType.getNumElements())
    return node.error("cannot reshape " + llvm::formatv("{0}", type).str() +
                      " to " + llvm::formatv("{0}", resultType).str());
  if (inferAtRunTime || resultType.getNumDynamicDims() <= 1) {
    if (resultType == type && type.hasStaticShape())
      node.setOutput(0, x);
    else
      node.setOutput(0, mlir::slm::ReshapeOp::create(node.builder(), node.loc(),
                                                     resultType, x, Value()));
    return success();
  }
  node.setOutput(0, g.reshape(node.loc(), x, dims));
  return success();
}

static LogicalResult importTranspose(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  SmallVector<int64_t> perm;
  if (auto given = node.intsAttr("perm"))
    perm = *given;
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != rank)
    return node.error("perm has " + Twine(perm.size()) +
                      " entries for an input of rank " + Twine(rank));
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank)
      return node.error("perm entry " + Twine(p) + " is out of range");
    shape.push_back(type.getDimSize(p));
  }
  node.setOutput(0, mlir::slm::TransposeOp::create(
                        node.builder(), node.loc(),
                        RankedTensorType::get(shape, type.getElementType()), x,
                        perm));
  return success();
}

/// The axes of Unsqueeze/Squeeze/Reduce*: an attribute before `inputSince`,
/// the second input from it on. std::nullopt when absent.
static FailureOr<std::optional<SmallVector<int64_t>>>
axesOf(NodeContext &node, int64_t inputSince) {
  if (node.opset() < inputSince)
    return node.intsAttr("axes");
  if (!node.hasInput(1))
    return std::optional<SmallVector<int64_t>>();
  std::optional<SmallVector<int64_t>> axes = node.constantInts(1);
  if (!axes)
    return node.error("axes computed at run time are not supported");
  return axes;
}

static LogicalResult importUnsqueeze(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  auto axesOrFailure = axesOf(node, 13);
  if (failed(axesOrFailure))
    return failure();
  if (!*axesOrFailure)
    return node.error("needs axes");
  ImportedValue *info = node.inputInfo(0);
  int64_t outRank = info->type.getRank() + (*axesOrFailure)->size();
  SmallVector<bool> inserted(outRank, false);
  for (int64_t axis : **axesOrFailure) {
    std::optional<int64_t> a = normalizeAxis(axis, outRank);
    if (!a || inserted[*a])
      return node.error("axis " + Twine(axis) + " is out of range or repeated");
    inserted[*a] = true;
  }
  // A scalar shape value becomes a 1-element one.
  if (info->elements && outRank == 1) {
    node.setSymbolicOutput(
        0, RankedTensorType::get({1}, info->type.getElementType()),
        *info->elements);
    return success();
  }
  Value x = node.input(0);
  SmallVector<DimExpr> inDims = node.importer().shapeOf(x), dims;
  size_t next = 0;
  for (int64_t i = 0; i < outRank; ++i)
    dims.push_back(inserted[i] ? DimExpr::constant(1) : inDims[next++]);
  node.setOutput(0, node.importer().reshape(node.loc(), x, dims),
                 info->isUnsigned);
  return success();
}

static LogicalResult importSqueeze(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  auto axesOrFailure = axesOf(node, 13);
  if (failed(axesOrFailure))
    return failure();
  ImportedValue *info = node.inputInfo(0);
  RankedTensorType type = info->type;
  int64_t rank = type.getRank();
  SmallVector<bool> removed(rank, false);
  if (*axesOrFailure) {
    for (int64_t axis : **axesOrFailure) {
      std::optional<int64_t> a = normalizeAxis(axis, rank);
      if (!a)
        return node.error("axis " + Twine(axis) + " is out of range");
      if (!type.isDynamicDim(*a) && type.getDimSize(*a) != 1)
        return node.error("cannot squeeze dimension " + Twine(*a) +
                          " of size " + Twine(type.getDimSize(*a)));
      removed[*a] = true;
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) {
      if (type.isDynamicDim(i))
        return node.error("cannot squeeze without axes: dimension " + Twine(i) +
                          " is dynamic");
      removed[i] = type.getDimSize(i) == 1;
    }
  }
  if (info->elements && rank == 1 && removed[0]) {
    node.setSymbolicOutput(0, RankedTensorType::get({}, type.getElementType()),
                           *info->elements);
    return success();
  }
  Value x = node.input(0);
  SmallVector<DimExpr> inDims = node.importer().shapeOf(x), dims;
  for (int64_t i = 0; i < rank; ++i)
    if (!removed[i])
      dims.push_back(inDims[i]);
  node.setOutput(0, node.importer().reshape(node.loc(), x, dims),
                 info->isUnsigned);
  return success();
}

static LogicalResult importFlatten(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  SmallVector<DimExpr> inDims = node.importer().shapeOf(x);
  int64_t rank = inDims.size();
  int64_t axis = node.intAttr("axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return node.error("axis " + Twine(node.intAttr("axis", 1)) +
                      " is out of range");
  SmallVector<DimExpr> dims = {
      product(ArrayRef<DimExpr>(inDims).take_front(axis)),
      product(ArrayRef<DimExpr>(inDims).drop_front(axis))};
  node.setOutput(0, node.importer().reshape(node.loc(), x, dims));
  return success();
}

static LogicalResult importConcat(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  RankedTensorType first = node.inputType(0);
  int64_t rank = first.getRank();
  std::optional<int64_t> axis = normalizeAxis(node.intAttr("axis", 0), rank);
  if (!axis)
    return node.error("axis is out of range for rank " + Twine(rank));
  // Shape values concatenate at import time.
  if (rank == 1) {
    SmallVector<DimExpr> all;
    bool known = true;
    for (int i = 0; i < node.numInputs() && known; ++i) {
      ImportedValue *info = node.inputInfo(i);
      known = info && info->elements;
      if (known)
        all.append(info->elements->begin(), info->elements->end());
    }
    if (known) {
      node.setSymbolicOutput(
          0,
          RankedTensorType::get({static_cast<int64_t>(all.size())},
                                first.getElementType()),
          all);
      return success();
    }
  }
  SmallVector<Value> inputs;
  for (int i = 0; i < node.numInputs(); ++i) {
    if (!node.hasInput(i))
      continue;
    RankedTensorType t = node.inputType(i);
    if (t.getRank() != rank || t.getElementType() != first.getElementType())
      return node.error("input " + Twine(i) + " (" +
                        llvm::formatv("{0}", t).str() +
                        ") does not match input 0 (" +
                        llvm::formatv("{0}", first).str() + ")");
    for (int64_t d = 0; d < rank; ++d)
      if (d != *axis && !t.isDynamicDim(d) && !first.isDynamicDim(d) &&
          t.getDimSize(d) != first.getDimSize(d))
        return node.error("input " + Twine(i) + " (" +
                          llvm::formatv("{0}", t).str() +
                          ") does not match input 0 (" +
                          llvm::formatv("{0}", first).str() +
                          ") outside the axis");
    // Empty pieces contribute nothing.
    if (!t.isDynamicDim(*axis) && t.getDimSize(*axis) == 0)
      continue;
    inputs.push_back(node.input(i));
  }
  // Only empty pieces: the result is (empty) input 0.
  if (inputs.empty())
    inputs.push_back(node.input(0));
  if (inputs.size() == 1) {
    node.setOutput(0, inputs.front());
    return success();
  }
  node.setOutput(
      0, tensor::ConcatOp::create(node.builder(), node.loc(), *axis, inputs));
  return success();
}

static LogicalResult importGather(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  ImportedValue *data = node.inputInfo(0);
  RankedTensorType dataType = data->type, indexType = node.inputType(1);
  std::optional<int64_t> axis =
      normalizeAxis(node.intAttr("axis", 0), dataType.getRank());
  if (!axis)
    return node.error("axis is out of range for rank " +
                      Twine(dataType.getRank()));
  if (data->elements && indexType.getRank() <= 1) {
    if (auto indices = node.constantInts(1)) {
      SmallVector<DimExpr> out;
      int64_t n = data->elements->size();
      for (int64_t i : *indices) {
        if (i < -n || i >= n)
          return node.error("index " + Twine(i) + " is out of range [" +
                            Twine(-n) + ", " + Twine(n) + ")");
        out.push_back((*data->elements)[i < 0 ? i + n : i]);
      }
      node.setSymbolicOutput(0, indexType.clone(dataType.getElementType()),
                             out);
      return success();
    }
  }
  SmallVector<int64_t> shape(dataType.getShape().begin(),
                             dataType.getShape().begin() + *axis);
  shape.append(indexType.getShape().begin(), indexType.getShape().end());
  shape.append(dataType.getShape().begin() + *axis + 1,
               dataType.getShape().end());
  Value result = mlir::slm::GatherOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get(shape, dataType.getElementType()), node.input(0),
      node.input(1), node.builder().getI64IntegerAttr(*axis));
  node.setOutput(0, result, data->isUnsigned);
  return success();
}

/// Start, end and step of one sliced axis, with ONNX clamping applied at
/// import time where the extent is static.
namespace {
struct SliceRange {
  OpFoldResult offset, size, stride;
  int64_t staticSize;
};
} // namespace

static FailureOr<SliceRange> sliceRange(NodeContext &node, Value x,
                                        int64_t axis, int64_t start,
                                        int64_t end, int64_t step) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(x.getType());
  if (step <= 0)
    return node.error("only positive steps are supported, got " + Twine(step));
  if (!type.isDynamicDim(axis)) {
    int64_t d = type.getDimSize(axis);
    auto clamp = [&](int64_t v) {
      if (v < 0)
        v += d;
      return std::clamp<int64_t>(v, 0, d);
    };
    int64_t s = clamp(start), e = clamp(end);
    int64_t size = e > s ? (e - s + step - 1) / step : 0;
    return SliceRange{b.getIndexAttr(s), b.getIndexAttr(size),
                      b.getIndexAttr(step), size};
  }
  // Dynamic extent: the common forms are [s, end-of-axis) with s >= 0 or
  // s < 0 counted from the end, and [s, e) with 0 <= s <= e static.
  Value dim = tensor::DimOp::create(b, loc, x, axis);
  const int64_t huge = INT_MAX;
  if (start >= 0 && end >= 0 && end < huge && step == 1) {
    // Static window; ONNX clamps to the extent, which a static window
    // inside a sequence does not reach in practice: trust it.
    return SliceRange{b.getIndexAttr(start), b.getIndexAttr(end - start),
                      b.getIndexAttr(1), end - start};
  }
  if (end >= huge || end == LLONG_MAX) {
    Value offset =
        start >= 0
            ? arith::ConstantIndexOp::create(b, loc, start).getResult()
            : arith::SubIOp::create(
                  b, loc, dim, arith::ConstantIndexOp::create(b, loc, -start))
                  .getResult();
    Value size = arith::SubIOp::create(b, loc, dim, offset);
    if (step != 1) {
      Value stepValue = arith::ConstantIndexOp::create(b, loc, step);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      size = arith::DivUIOp::create(
          b, loc,
          arith::AddIOp::create(b, loc, size,
                                arith::SubIOp::create(b, loc, stepValue, one)),
          stepValue);
    }
    return SliceRange{offset, size, b.getIndexAttr(step), ShapedType::kDynamic};
  }
  if (start >= 0 && end < 0 && step == 1) {
    Value endValue = arith::SubIOp::create(
        b, loc, dim, arith::ConstantIndexOp::create(b, loc, -end));
    Value size = arith::SubIOp::create(
        b, loc, endValue, arith::ConstantIndexOp::create(b, loc, start));
    return SliceRange{b.getIndexAttr(start), size, b.getIndexAttr(1),
                      ShapedType::kDynamic};
  }
  return node.error("this slice of a dynamic dimension is not supported "
                    "(start " +
                    Twine(start) + ", end " + Twine(end) + ", step " +
                    Twine(step) + ")");
}

static Value extractSlice(NodeContext &node, Value x,
                          ArrayRef<SliceRange> ranges) {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  SmallVector<int64_t> shape;
  for (const SliceRange &r : ranges) {
    offsets.push_back(r.offset);
    sizes.push_back(r.size);
    strides.push_back(r.stride);
    shape.push_back(r.staticSize);
  }
  auto type = cast<RankedTensorType>(x.getType());
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  // Slices of weights (split in_proj matrices and biases) are taken now, so
  // that the pieces are constants again.
  ElementsAttr constant;
  std::optional<SmallVector<int64_t>> staticOffsets =
      getConstantIntValues(offsets);
  std::optional<SmallVector<int64_t>> staticStrides =
      getConstantIntValues(strides);
  if (resultType.hasStaticShape() && staticOffsets && staticStrides &&
      matchPattern(x, m_Constant(&constant)))
    if (Attribute sliced = mlir::slm::sliceConstant(
            constant, resultType, *staticOffsets, *staticStrides))
      return node.importer().constant(node.loc(), cast<TypedAttr>(sliced));
  return tensor::ExtractSliceOp::create(node.builder(), node.loc(), resultType,
                                        x, offsets, sizes, strides);
}

/// The full range of every axis of `x`.
static SmallVector<SliceRange> fullRanges(NodeContext &node, Value x) {
  OpBuilder &b = node.builder();
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<SliceRange> ranges;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    OpFoldResult size =
        type.isDynamicDim(i)
            ? OpFoldResult(
                  tensor::DimOp::create(b, node.loc(), x, i).getResult())
            : OpFoldResult(b.getIndexAttr(type.getDimSize(i)));
    ranges.push_back(
        {b.getIndexAttr(0), size, b.getIndexAttr(1), type.getDimSize(i)});
  }
  return ranges;
}

/// Slice whose bounds are DimExprs: constant starts >= 0, ends that are
/// constants or extents, unit steps.
static LogicalResult importSymbolicSlice(NodeContext &node,
                                         ArrayRef<DimExpr> starts,
                                         ArrayRef<DimExpr> ends) {
  int64_t rank = node.inputType(0).getRank();
  SmallVector<int64_t> axes;
  if (node.hasInput(3)) {
    auto given = node.constantInts(3);
    if (!given)
      return node.error("axes computed at run time are not supported");
    axes = *given;
  } else {
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  }
  if (node.hasInput(4)) {
    auto steps = node.constantInts(4);
    if (!steps || llvm::any_of(*steps, [](int64_t s) { return s != 1; }))
      return node.error("slices with run-time bounds need unit steps");
  }
  if (ends.size() != starts.size() || axes.size() != starts.size())
    return node.error("starts, ends and axes differ in length");
  Value x = node.input(0);
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  SmallVector<SliceRange> ranges = fullRanges(node, x);
  auto type = cast<RankedTensorType>(x.getType());
  for (size_t i = 0; i < axes.size(); ++i) {
    std::optional<int64_t> axis = normalizeAxis(axes[i], rank);
    if (!axis)
      return node.error("axis " + Twine(axes[i]) + " is out of range");
    if (!starts[i].isConstant() || starts[i].factor < 0 ||
        (ends[i].isConstant() && ends[i].factor < 0))
      return node.error("slices with run-time bounds need constant, "
                        "non-negative starts and non-negative ends");
    int64_t start = starts[i].factor;
    // end = min(end, extent), size = end - start.
    Value end = node.importer().materializeIndex(loc, ends[i]);
    Value extent =
        type.isDynamicDim(*axis)
            ? tensor::DimOp::create(b, loc, x, *axis).getResult()
            : arith::ConstantIndexOp::create(b, loc, type.getDimSize(*axis))
                  .getResult();
    end = arith::MinSIOp::create(b, loc, end, extent);
    Value size = arith::SubIOp::create(
        b, loc, end, arith::ConstantIndexOp::create(b, loc, start));
    int64_t staticSize = ShapedType::kDynamic;
    if (ends[i].isConstant() && !type.isDynamicDim(*axis))
      staticSize = std::max<int64_t>(
          0, std::min(ends[i].factor, type.getDimSize(*axis)) - start);
    ranges[*axis] = {b.getIndexAttr(start),
                     staticSize == ShapedType::kDynamic
                         ? OpFoldResult(size)
                         : OpFoldResult(b.getIndexAttr(staticSize)),
                     b.getIndexAttr(1), staticSize};
  }
  node.setOutput(0, extractSlice(node, x, ranges),
                 node.inputInfo(0)->isUnsigned);
  return success();
}

static LogicalResult importSlice(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  ImportedValue *data = node.inputInfo(0);
  int64_t rank = data->type.getRank();
  auto starts = node.constantInts(1), ends = node.constantInts(2);
  if (!starts || !ends) {
    // Bounds from shape arithmetic (x[:, :s] with s = x.size(1)): a range
    // [start, end) of one axis, start constant, end an extent.
    ImportedValue *startInfo = node.inputInfo(1), *endInfo = node.inputInfo(2);
    if (startInfo->elements && endInfo->elements)
      return importSymbolicSlice(node, *startInfo->elements,
                                 *endInfo->elements);
    return node.error("starts and ends computed at run time are not supported");
  }
  SmallVector<int64_t> axes, steps(starts->size(), 1);
  if (node.hasInput(3)) {
    auto given = node.constantInts(3);
    if (!given)
      return node.error("axes computed at run time are not supported");
    axes = *given;
  } else {
    for (size_t i = 0; i < starts->size(); ++i)
      axes.push_back(i);
  }
  if (node.hasInput(4)) {
    auto given = node.constantInts(4);
    if (!given)
      return node.error("steps computed at run time are not supported");
    steps = *given;
  }
  if (ends->size() != starts->size() || axes.size() != starts->size() ||
      steps.size() != starts->size())
    return node.error("starts, ends, axes and steps differ in length");
  // Shape values slice at import time.
  if (data->elements && rank == 1 && axes.size() == 1) {
    int64_t n = data->elements->size(), step = steps[0];
    auto clamp = [&](int64_t v) {
      if (v < 0)
        v += n;
      return std::clamp<int64_t>(v, 0, n);
    };
    if (step > 0) {
      SmallVector<DimExpr> out;
      for (int64_t i = clamp((*starts)[0]); i < clamp((*ends)[0]); i += step)
        out.push_back((*data->elements)[i]);
      node.setSymbolicOutput(
          0,
          RankedTensorType::get({static_cast<int64_t>(out.size())},
                                data->type.getElementType()),
          out);
      return success();
    }
  }
  Value x = node.input(0);
  SmallVector<SliceRange> ranges = fullRanges(node, x);
  for (size_t i = 0; i < axes.size(); ++i) {
    std::optional<int64_t> axis = normalizeAxis(axes[i], rank);
    if (!axis)
      return node.error("axis " + Twine(axes[i]) + " is out of range");
    FailureOr<SliceRange> range =
        sliceRange(node, x, *axis, (*starts)[i], (*ends)[i], steps[i]);
    if (failed(range))
      return failure();
    ranges[*axis] = *range;
  }
  node.setOutput(0, extractSlice(node, x, ranges), data->isUnsigned);
  return success();
}

static LogicalResult importSplit(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  std::optional<int64_t> axis =
      normalizeAxis(node.intAttr("axis", 0), type.getRank());
  if (!axis)
    return node.error("axis is out of range");
  int64_t outputs = node.numOutputs();
  SmallVector<int64_t> sizes;
  if (node.opset() >= 13 && node.hasInput(1)) {
    auto given = node.constantInts(1);
    if (!given)
      return node.error("split sizes computed at run time are not supported");
    sizes = *given;
  } else if (auto attr = node.intsAttr("split"); attr && node.opset() < 13) {
    sizes = *attr;
  }
  if (sizes.empty()) {
    if (type.isDynamicDim(*axis))
      return node.error("cannot split a dynamic dimension into equal parts");
    int64_t d = type.getDimSize(*axis);
    if (node.opset() >= 18)
      outputs = node.intAttr("num_outputs", outputs);
    int64_t chunk = (d + outputs - 1) / outputs;
    for (int64_t i = 0; i < outputs; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, d - i * chunk)));
  }
  if (static_cast<int64_t>(sizes.size()) != node.numOutputs())
    return node.error("has " + Twine(node.numOutputs()) + " outputs but " +
                      Twine(sizes.size()) + " split sizes");
  SmallVector<SliceRange> ranges = fullRanges(node, x);
  int64_t offset = 0;
  for (auto [i, size] : llvm::enumerate(sizes)) {
    ranges[*axis] = {node.builder().getIndexAttr(offset),
                     node.builder().getIndexAttr(size),
                     node.builder().getIndexAttr(1), size};
    node.setOutput(i, extractSlice(node, x, ranges));
    offset += size;
  }
  return success();
}

static LogicalResult importExpand(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value x = node.input(0);
  ImportedValue *shapeInfo = node.inputInfo(1);
  if (!shapeInfo->elements)
    return node.error("a target shape computed at run time is not supported");
  SmallVector<DimExpr> inDims = node.importer().shapeOf(x);
  const SmallVector<DimExpr> &target = *shapeInfo->elements;
  size_t rank = std::max(inDims.size(), target.size());
  SmallVector<DimExpr> dims;
  for (size_t i = 0; i < rank; ++i) {
    std::optional<DimExpr> a, t;
    if (i >= rank - inDims.size())
      a = inDims[i - (rank - inDims.size())];
    if (i >= rank - target.size())
      t = target[i - (rank - target.size())];
    if (!t || (t->isConstant() && t->factor == 1))
      dims.push_back(*a);
    else if (!a || (a->isConstant() && a->factor == 1) || *a == *t)
      dims.push_back(*t);
    else if (a->isConstant() && t->isConstant())
      return node.error("cannot expand extent " + Twine(a->factor) + " to " +
                        Twine(t->factor));
    else
      dims.push_back(a->isConstant() ? *a : *t);
  }
  auto type = cast<RankedTensorType>(x.getType());
  auto resultType =
      RankedTensorType::get(staticShape(dims), type.getElementType());
  if (resultType == type) {
    node.setOutput(0, x);
    return success();
  }
  Value shape;
  if (!resultType.hasStaticShape())
    shape = node.importer().materializeShape(node.loc(), dims);
  node.setOutput(0, mlir::slm::BroadcastToOp::create(node.builder(), node.loc(),
                                                     resultType, x, shape));
  return success();
}

static LogicalResult importConstantOfShape(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  OpBuilder &b = node.builder();
  TypedAttr element = b.getF32FloatAttr(0.0f);
  if (const onnx::AttributeProto *value = node.attribute("value")) {
    FailureOr<ImportedValue> tensor =
        node.importer().importTensor(value->t(), node.loc());
    if (failed(tensor))
      return failure();
    ElementsAttr attr;
    if (!matchPattern(tensor->value, m_Constant(&attr)) ||
        attr.getNumElements() != 1)
      return node.error("'value' must hold one element");
    auto dense = cast<DenseElementsAttr>(attr);
    element = cast<TypedAttr>(*dense.value_begin<Attribute>());
    tensor->value.getDefiningOp()->erase();
  }
  ImportedValue *shapeInfo = node.inputInfo(0);
  if (!shapeInfo->elements)
    return node.error("a shape computed at run time is not supported");
  SmallVector<DimExpr> dims = *shapeInfo->elements;
  for (const DimExpr &d : dims)
    if (d.isConstant() && d.factor < 0)
      return node.error("the shape holds the negative extent " +
                        Twine(d.factor));
  auto type = RankedTensorType::get(staticShape(dims), element.getType());
  if (type.hasStaticShape()) {
    node.setOutput(0, node.importer().constant(
                          node.loc(), DenseElementsAttr::get(type, element)));
    return success();
  }
  SmallVector<Value> dynamicSizes;
  for (const DimExpr &d : dims)
    if (!d.isConstant())
      dynamicSizes.push_back(node.importer().materializeIndex(node.loc(), d));
  Value scalar = arith::ConstantOp::create(b, node.loc(), element);
  node.setOutput(
      0, tensor::SplatOp::create(b, node.loc(), type, scalar, dynamicSizes));
  return success();
}

static LogicalResult importRange(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  RankedTensorType type = node.inputType(0);
  Type element = type.getElementType();
  ImportedValue *startInfo = node.inputInfo(0), *limitInfo = node.inputInfo(1),
                *deltaInfo = node.inputInfo(2);
  auto start = startInfo->constantElements(),
       delta = deltaInfo->constantElements();
  if (!isa<IntegerType>(element) || !start || !delta || !limitInfo->elements)
    return node.error("only integer ranges with start and delta known at "
                      "import time are supported");
  int64_t s = (*start)[0], d = (*delta)[0];
  if (d == 0)
    return node.error("delta is 0");
  const DimExpr &limit = (*limitInfo->elements)[0];
  if (limit.isConstant()) {
    SmallVector<DimExpr> values;
    for (int64_t v = s; d > 0 ? v < limit.factor : v > limit.factor; v += d)
      values.push_back(DimExpr::constant(v));
    node.setSymbolicOutput(
        0,
        RankedTensorType::get({static_cast<int64_t>(values.size())}, element),
        values);
    return success();
  }
  if (s != 0 || d != 1)
    return node.error("a range with a dynamic limit must start at 0 with "
                      "step 1");
  // 0, 1, ..., limit - 1
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Value n = node.importer().materializeIndex(loc, limit);
  auto resultType = RankedTensorType::get({ShapedType::kDynamic}, element);
  auto generate = tensor::GenerateOp::create(b, loc, resultType, ValueRange{n});
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body =
        b.createBlock(&generate.getBody(), {}, {b.getIndexType()}, {loc});
    Value v = arith::IndexCastOp::create(b, loc, element, body->getArgument(0));
    tensor::YieldOp::create(b, loc, v);
  }
  node.setOutput(0, generate);
  return success();
}

static LogicalResult importTrilu(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() < 2)
    return node.error("needs an input of rank >= 2");
  int64_t k = 0;
  if (node.hasInput(1)) {
    auto given = node.constantInts(1);
    if (!given || given->size() != 1)
      return node.error("k must be a constant scalar");
    k = (*given)[0];
  }
  bool upper = node.intAttr("upper", 1) != 0;
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  int64_t r = type.getRank();
  // keep[i, j] = upper ? j - i >= k : j - i <= k, then select(keep, x, 0).
  SmallVector<int64_t> maskShape = {type.getDimSize(r - 2),
                                    type.getDimSize(r - 1)};
  SmallVector<Value> dynamicSizes;
  for (int64_t i = r - 2; i < r; ++i)
    if (type.isDynamicDim(i))
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, x, i));
  auto maskType = RankedTensorType::get(maskShape, b.getI1Type());
  auto generate = tensor::GenerateOp::create(b, loc, maskType, dynamicSizes);
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body =
        b.createBlock(&generate.getBody(), {},
                      {b.getIndexType(), b.getIndexType()}, {loc, loc});
    Value diff = arith::SubIOp::create(b, loc, body->getArgument(1),
                                       body->getArgument(0));
    Value kValue = arith::ConstantIndexOp::create(b, loc, k);
    Value keep = arith::CmpIOp::create(
        b, loc, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
        diff, kValue);
    tensor::YieldOp::create(b, loc, keep);
  }
  Value zero = scalarConstant(node, type.getElementType(), 0);
  node.setOutput(0,
                 mlir::slm::SelectOp::create(b, loc, type, generate, x, zero));
  return success();
}

void mlir::slm::onnx_import::registerShapeOps(OpTable &table) {
  table.add("Constant", 1, importConstant);
  table.add("Shape", 1, importShape);
  table.add("Size", 1, importSize);
  table.add("Reshape", 5, importReshape);
  table.add("Transpose", 1, importTranspose);
  table.add("Unsqueeze", 1, importUnsqueeze);
  table.add("Squeeze", 1, importSqueeze);
  table.add("Flatten", 1, importFlatten);
  table.add("Concat", 4, importConcat);
  table.add("Gather", 1, importGather);
  table.add("Slice", 10, importSlice);
  table.add("Split", 2, importSplit);
  table.add("Expand", 8, importExpand);
  table.add("ConstantOfShape", 9, importConstantOfShape);
  table.add("Range", 11, importRange);
  table.add("Trilu", 14, importTrilu);
}
