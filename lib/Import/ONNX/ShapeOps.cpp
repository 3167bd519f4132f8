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
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "slm/IR/SLMConstants.h"

#include <climits>

using namespace mlir;
using namespace mlir::slm::onnx_import;

static RankedTensorType shapeTensorType(OpBuilder &b, int64_t n) {
  return RankedTensorType::get({n}, b.getI64Type());
}

//===----------------------------------------------------------------------===//
// Run-time shape arithmetic
//===----------------------------------------------------------------------===//
//
// The general path of ops whose shapes, axes or counts arrive at run time:
// index arithmetic in the IR (tensor.extract of the shape values, arith),
// folded as it is built so that whatever is known at import time stays
// constant.

namespace {
/// Index arithmetic that folds constants as it is built.
struct IndexMath {
  OpBuilder &b;
  Location loc;

  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) {
    return b.createOrFold<arith::AddIOp>(loc, x, y);
  }
  Value sub(Value x, Value y) {
    return b.createOrFold<arith::SubIOp>(loc, x, y);
  }
  Value mul(Value x, Value y) {
    return b.createOrFold<arith::MulIOp>(loc, x, y);
  }
  Value min(Value x, Value y) {
    return b.createOrFold<arith::MinSIOp>(loc, x, y);
  }
  Value max(Value x, Value y) {
    return b.createOrFold<arith::MaxSIOp>(loc, x, y);
  }
  Value clamp(Value x, Value lo, Value hi) { return min(max(x, lo), hi); }
  /// Signed division rounding towards +infinity (divisor != 0).
  Value ceilDiv(Value x, Value y) {
    return b.createOrFold<arith::CeilDivSIOp>(loc, x, y);
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return b.createOrFold<arith::CmpIOp>(loc, p, x, y);
  }
  Value eq(Value x, Value y) { return cmp(arith::CmpIPredicate::eq, x, y); }
  Value select(Value cond, Value x, Value y) {
    return b.createOrFold<arith::SelectOp>(loc, cond, x, y);
  }
  Value andI(Value x, Value y) {
    return b.createOrFold<arith::AndIOp>(loc, x, y);
  }
  Value orI(Value x, Value y) {
    return b.createOrFold<arith::OrIOp>(loc, x, y);
  }
  Value boolean(bool v) {
    return arith::ConstantIntOp::create(b, loc, b.getI1Type(), v);
  }
  Value notI(Value x) {
    return b.createOrFold<arith::XOrIOp>(loc, x, boolean(true));
  }
  /// Extent `d` of `tensor` (a constant when static).
  Value dim(Value tensor, int64_t d) {
    return b.createOrFold<tensor::DimOp>(loc, tensor, d);
  }
};
} // namespace

/// "name (Op)" of `node`, for run-time error messages.
static std::string nodeLabel(NodeContext &node) {
  std::string name = node.node().name();
  if (auto nameLoc = dyn_cast<NameLoc>(node.loc()))
    name = nameLoc.getName().str();
  return name + " (" + node.node().op_type() + ")";
}

/// A run-time check that `cond` holds, with an error naming the node; none
/// when `cond` folded to true.
static void runtimeCheck(NodeContext &node, Value cond, const Twine &what) {
  if (matchPattern(cond, m_One()))
    return;
  cf::AssertOp::create(node.builder(), node.loc(), cond,
                       nodeLabel(node) + ": " + what.str());
}

/// Element `i` of the 0-D or 1-D integer input `input` as an index: a
/// constant or tensor.dim arithmetic when known at import time, else a
/// tensor.extract.
static Value elementAsIndex(NodeContext &node, int input, int64_t i) {
  ImportedValue *info = node.inputInfo(input);
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  if (info->elements)
    return node.importer().materializeIndex(loc, (*info->elements)[i]);
  Value tensor = node.input(input);
  SmallVector<Value> indices;
  if (info->type.getRank() == 1)
    indices.push_back(arith::ConstantIndexOp::create(b, loc, i));
  Value element = tensor::ExtractOp::create(b, loc, tensor, indices);
  if (element.getType().isIndex())
    return element;
  if (info->isUnsigned)
    return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), element);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), element);
}

/// The most entries a shape, axes or similar list computed at run time may
/// have (each becomes code; real models stay far below it).
static constexpr int64_t kMaxShapeLength = 64;

/// The number of elements of the 1-D input `input` (0-D counts as one),
/// which must be known at import time.

static FailureOr<int64_t> staticLength(NodeContext &node, int input,
                                       StringRef what) {
  RankedTensorType type = node.inputType(input);
  if (type.getRank() == 0)
    return 1;
  if (type.getRank() != 1 || type.isDynamicDim(0))
    return node.error(what + " must be a 1-D tensor of known length");
  if (type.getDimSize(0) > kMaxShapeLength)
    return node.error(what + " has " + Twine(type.getDimSize(0)) +
                      " entries; slm supports at most " +
                      Twine(kMaxShapeLength));
  return type.getDimSize(0);
}

/// The static extent of `v` when it folded to a constant, else dynamic.
static int64_t staticExtent(Value v) {
  std::optional<int64_t> c = getConstantIntValue(v);
  return c ? *c : ShapedType::kDynamic;
}

/// A 1-D index tensor of `extents`.
static Value indexTensor(OpBuilder &b, Location loc, ArrayRef<Value> extents) {
  return tensor::FromElementsOp::create(
      b, loc,
      RankedTensorType::get({static_cast<int64_t>(extents.size())},
                            b.getIndexType()),
      extents);
}

/// `x` reshaped to `extents` (computed at run time), through slm.reshape
/// with a shape operand unless the result is static.
static Value reshapeTo(NodeContext &node, Value x, ArrayRef<Value> extents) {
  OpBuilder &b = node.builder();
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape;
  for (Value e : extents)
    shape.push_back(staticExtent(e));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  if (resultType == type && type.hasStaticShape())
    return x;
  Value shapeValue;
  if (!resultType.hasStaticShape())
    shapeValue = indexTensor(b, node.loc(), extents);
  return mlir::slm::ReshapeOp::create(b, node.loc(), resultType, x, shapeValue);
}

/// The extents of `x` as index values (constants where static).
static SmallVector<Value> extentsOf(IndexMath &m, Value x) {
  SmallVector<Value> extents;
  for (int64_t d = 0; d < cast<RankedTensorType>(x.getType()).getRank(); ++d)
    extents.push_back(m.dim(x, d));
  return extents;
}

/// An ONNX axis given at run time normalized for `rank`, with a run-time
/// check that it is in range.
static Value runtimeAxis(NodeContext &node, IndexMath &m, Value axis,
                         int64_t rank) {
  runtimeCheck(node,
               m.andI(m.cmp(arith::CmpIPredicate::sge, axis, m.c(-rank)),
                      m.cmp(arith::CmpIPredicate::slt, axis, m.c(rank))),
               "axis out of range");
  Value negative = m.cmp(arith::CmpIPredicate::slt, axis, m.c(0));
  return m.select(negative, m.add(axis, m.c(rank)), axis);
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

/// Reshape to a shape computed at run time: ONNX's 0 (copy the input
/// extent, unless `allowZero`) and -1 (inferred from the element count) are
/// resolved in the IR, with run-time checks that the shape is valid.
static Value runtimeReshape(NodeContext &node, Value x, bool allowZero) {
  OpBuilder &b = node.builder();
  IndexMath m{b, node.loc()};
  int64_t n = node.inputType(1).getDimSize(0);
  SmallVector<Value> inDims = extentsOf(m, x);
  Value total = m.c(1);
  for (Value d : inDims)
    total = m.mul(total, d);
  SmallVector<Value> given, inferredAt;
  Value known = m.c(1), inferredCount = m.c(0);
  for (int64_t i = 0; i < n; ++i) {
    Value s = elementAsIndex(node, 1, i);
    if (!allowZero) {
      Value isZero = m.eq(s, m.c(0));
      if (i < static_cast<int64_t>(inDims.size()))
        s = m.select(isZero, inDims[i], s);
      else
        runtimeCheck(node, m.cmp(arith::CmpIPredicate::ne, s, m.c(0)),
                     "shape entry " + Twine(i) +
                         " is 0 (copy) beyond the input's rank");
    }
    runtimeCheck(node, m.cmp(arith::CmpIPredicate::sge, s, m.c(-1)),
                 "shape entry " + Twine(i) + " is negative");
    Value isInferred = m.eq(s, m.c(-1));
    known = m.mul(known, m.select(isInferred, m.c(1), s));
    inferredCount = m.add(inferredCount, m.select(isInferred, m.c(1), m.c(0)));
    given.push_back(s);
    inferredAt.push_back(isInferred);
  }
  runtimeCheck(node, m.cmp(arith::CmpIPredicate::sle, inferredCount, m.c(1)),
               "the shape has more than one -1");
  // A known product of 0 leaves nothing to infer from: 1 keeps the division
  // defined, and the count check below rejects what does not fit.
  Value divisor = m.select(m.eq(known, m.c(0)), m.c(1), known);
  Value inferred = b.createOrFold<arith::DivUIOp>(node.loc(), total, divisor);
  SmallVector<Value> extents;
  Value count = m.c(1);
  for (auto [s, isInferred] : llvm::zip(given, inferredAt)) {
    extents.push_back(m.select(isInferred, inferred, s));
    count = m.mul(count, extents.back());
  }
  runtimeCheck(node, m.eq(count, total),
               "the shape does not match the input's element count");
  return reshapeTo(node, x, extents);
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
    if (failed(staticLength(node, 1, "the shape")))
      return failure();
    node.setOutput(0, runtimeReshape(node, x, allowZero), xInfo->isUnsigned);
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
        // An empty tensor (a known extent of 0) must not divide by zero.
        IndexMath m{b, loc};
        known = m.max(known, m.c(1));
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
        node.setOutput(0,
                       mlir::slm::ReshapeOp::create(
                           b, loc,
                           RankedTensorType::get(shape, type.getElementType()),
                           x, shapeValue),
                       xInfo->isUnsigned);
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
      node.setOutput(0, x, xInfo->isUnsigned);
    else
      node.setOutput(0,
                     mlir::slm::ReshapeOp::create(node.builder(), node.loc(),
                                                  resultType, x, Value()),
                     xInfo->isUnsigned);
    return success();
  }
  node.setOutput(0, g.reshape(node.loc(), x, dims), xInfo->isUnsigned);
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

/// True when the axes of Unsqueeze/Squeeze/Reduce* are an input (from
/// opset `inputSince`) whose contents arrive at run time.
static bool axesAtRunTime(NodeContext &node, int64_t inputSince) {
  return node.opset() >= inputSince && node.hasInput(1) &&
         !node.constantInts(1);
}

/// The run-time axes of input 1 (n of them), normalized for `rank`: for
/// each of the `rank` positions whether an axis names it, with a run-time
/// check that none repeats.
static SmallVector<Value> runtimeAxesMask(NodeContext &node, IndexMath &m,
                                          int64_t n, int64_t rank) {
  SmallVector<Value> axes;
  for (int64_t k = 0; k < n; ++k)
    axes.push_back(runtimeAxis(node, m, elementAsIndex(node, 1, k), rank));
  SmallVector<Value> named;
  Value count = m.c(0);
  for (int64_t d = 0; d < rank; ++d) {
    Value here = m.boolean(false);
    for (Value axis : axes)
      here = m.orI(here, m.eq(axis, m.c(d)));
    named.push_back(here);
    count = m.add(count, m.select(here, m.c(1), m.c(0)));
  }
  runtimeCheck(node, m.eq(count, m.c(n)), "an axis is repeated");
  return named;
}

/// The number of true values among `flags` before position `i`.
static Value countBefore(IndexMath &m, ArrayRef<Value> flags, int64_t i) {
  Value count = m.c(0);
  for (int64_t j = 0; j < i; ++j)
    count = m.add(count, m.select(flags[j], m.c(1), m.c(0)));
  return count;
}

/// The extents of `inDims` whose `removed` flag is false, in order (the
/// flags hold `n` true values).
static SmallVector<Value> keptExtents(IndexMath &m, ArrayRef<Value> inDims,
                                      ArrayRef<Value> removed, int64_t n) {
  int64_t rank = inDims.size();
  SmallVector<Value> extents;
  for (int64_t i = 0; i < rank - n; ++i) {
    // Output position i holds the (i+1)-th kept input extent.
    Value extent = m.c(1);
    for (int64_t j = i; j <= i + n && j < rank; ++j) {
      Value kept = m.eq(m.sub(m.c(j), countBefore(m, removed, j)), m.c(i));
      Value isSource = m.andI(kept, m.notI(removed[j]));
      extent = m.select(isSource, inDims[j], extent);
    }
    extents.push_back(extent);
  }
  return extents;
}

/// Unsqueeze with axes computed at run time: the output extents (1 where
/// an axis names the position, the next input extent elsewhere) are
/// computed in the IR.
static LogicalResult importRuntimeUnsqueeze(NodeContext &node) {
  FailureOr<int64_t> n = staticLength(node, 1, "axes");
  if (failed(n))
    return failure();
  Value x = node.input(0);
  IndexMath m{node.builder(), node.loc()};
  int64_t rank = node.inputType(0).getRank(), outRank = rank + *n;
  SmallVector<Value> inDims = extentsOf(m, x);
  SmallVector<Value> inserted = runtimeAxesMask(node, m, *n, outRank);
  SmallVector<Value> extents;
  for (int64_t i = 0; i < outRank; ++i) {
    // Output position i holds input extent i - (insertions before i).
    Value source = m.sub(m.c(i), countBefore(m, inserted, i));
    Value extent = m.c(1);
    for (int64_t j = std::max<int64_t>(0, i - *n); j <= i && j < rank; ++j)
      extent = m.select(m.eq(source, m.c(j)), inDims[j], extent);
    extents.push_back(m.select(inserted[i], m.c(1), extent));
  }
  node.setOutput(0, reshapeTo(node, x, extents), node.inputInfo(0)->isUnsigned);
  return success();
}

/// Squeeze with axes computed at run time: run-time checks that each named
/// extent is 1, and the remaining extents in order.
static LogicalResult importRuntimeSqueeze(NodeContext &node) {
  FailureOr<int64_t> n = staticLength(node, 1, "axes");
  if (failed(n))
    return failure();
  Value x = node.input(0);
  IndexMath m{node.builder(), node.loc()};
  int64_t rank = node.inputType(0).getRank();
  if (rank < *n)
    return node.error("has more axes than the input has dimensions");
  SmallVector<Value> inDims = extentsOf(m, x);
  SmallVector<Value> removed = runtimeAxesMask(node, m, *n, rank);
  for (int64_t d = 0; d < rank; ++d)
    runtimeCheck(node, m.orI(m.eq(inDims[d], m.c(1)), m.notI(removed[d])),
                 "cannot squeeze a dimension whose extent is not 1");
  node.setOutput(0, reshapeTo(node, x, keptExtents(m, inDims, removed, *n)),
                 node.inputInfo(0)->isUnsigned);
  return success();
}

FailureOr<Value> mlir::slm::onnx_import::reduceOverRuntimeAxes(
    NodeContext &node, Value x, mlir::slm::ReduceKind kind, bool keepDims) {
  FailureOr<int64_t> n = staticLength(node, 1, "axes");
  if (failed(n))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath m{b, loc};
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  SmallVector<Value> inDims = extentsOf(m, x);
  SmallVector<Value> reduced = runtimeAxesMask(node, m, *n, rank);
  // One dimension at a time: reduced (kept as extent 1) when an axis names
  // it, else left as it is. Sum, max, min and the mean (of equal-sized
  // groups) compose that way.
  Value acc = x;
  for (int64_t d = 0; d < rank; ++d) {
    auto accType = cast<RankedTensorType>(acc.getType());
    SmallVector<int64_t> shape(accType.getShape());
    shape[d] = ShapedType::kDynamic;
    auto joined = RankedTensorType::get(shape, accType.getElementType());
    SmallVector<int64_t> reducedShape(accType.getShape());
    reducedShape[d] = 1;
    auto ifOp = scf::IfOp::create(
        b, loc, reduced[d],
        [&](OpBuilder &tb, Location l) {
          Value r = mlir::slm::ReduceOp::create(
              tb, l, RankedTensorType::get(reducedShape, type.getElementType()),
              kind, acc, ArrayRef<int64_t>{d}, true);
          scf::YieldOp::create(tb, l,
                               tb.createOrFold<tensor::CastOp>(l, joined, r));
        },
        [&](OpBuilder &eb, Location l) {
          scf::YieldOp::create(eb, l,
                               eb.createOrFold<tensor::CastOp>(l, joined, acc));
        });
    acc = ifOp.getResult(0);
  }
  if (keepDims)
    return acc;
  if (rank - *n < 0) {
    (void)node.error("has more axes than the input has dimensions");
    return failure();
  }
  return reshapeTo(node, acc, keptExtents(m, inDims, reduced, *n));
}

static LogicalResult importUnsqueeze(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  if (axesAtRunTime(node, 13))
    return importRuntimeUnsqueeze(node);
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
  if (axesAtRunTime(node, 13))
    return importRuntimeSqueeze(node);
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

/// Offset, size and stride of one sliced axis, and its static size (or
/// dynamic).
namespace {
struct SliceRange {
  OpFoldResult offset, size, stride;
  int64_t staticSize;
};
} // namespace

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
  // An empty slice, or a slice of an empty tensor, reads nothing (and an
  // offset into an empty axis does not verify): an empty tensor of the
  // result's shape.
  if (llvm::is_contained(shape, 0) || llvm::is_contained(type.getShape(), 0)) {
    SmallVector<Value> dynamic;
    for (const SliceRange &r : ranges)
      if (ShapedType::isDynamic(r.staticSize))
        dynamic.push_back(getValueOrCreateConstantIndexOp(node.builder(),
                                                          node.loc(), r.size));
    return tensor::EmptyOp::create(node.builder(), node.loc(), resultType,
                                   dynamic);
  }
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

namespace {
/// One Slice entry: start, end and step as index values, and the axis (a
/// constant or a value computed at run time).
struct SliceEntry {
  Value start, end, step;
  std::optional<int64_t> axis;
  Value runtimeAxis;
};
} // namespace

/// The ONNX range of one axis of extent `dim`: negative bounds count from
/// the end, then starts clamp to [0, dim] ([0, dim - 1] for negative steps)
/// and ends to [0, dim] ([-1, dim - 1]). Returns the first index and the
/// count (the step is unchanged).
static std::pair<Value, Value>
clampSliceRange(IndexMath &m, Value dim, Value start, Value end, Value step) {
  auto fromEnd = [&](Value v) {
    // A constant >= 0 stays as it is; anything else may count from the end.
    if (std::optional<int64_t> c = getConstantIntValue(v); c && *c >= 0)
      return v;
    return m.select(m.cmp(arith::CmpIPredicate::slt, v, m.c(0)), m.add(v, dim),
                    v);
  };
  auto clampPositive = [&](Value v) {
    // INT64_MAX and friends mean "to the end".
    if (std::optional<int64_t> c = getConstantIntValue(v); c && *c >= INT_MAX)
      return dim;
    if (std::optional<int64_t> c = getConstantIntValue(v); c && *c == 0)
      return v;
    return m.clamp(fromEnd(v), m.c(0), dim);
  };
  std::optional<int64_t> constantStep = getConstantIntValue(step);
  Value dimMinusOne = m.sub(dim, m.c(1));
  auto clampNegative = [&](Value v, Value lo) {
    return m.clamp(fromEnd(v), lo, dimMinusOne);
  };
  Value first, last;
  if (constantStep && *constantStep > 0) {
    first = clampPositive(start);
    last = clampPositive(end);
  } else if (constantStep) {
    first = clampNegative(start, m.c(0));
    last = clampNegative(end, m.c(-1));
  } else {
    Value positive = m.cmp(arith::CmpIPredicate::sgt, step, m.c(0));
    first =
        m.select(positive, clampPositive(start), clampNegative(start, m.c(0)));
    last = m.select(positive, clampPositive(end), clampNegative(end, m.c(-1)));
  }
  Value count = m.sub(last, first);
  if (!constantStep || *constantStep != 1)
    count = m.ceilDiv(count, step);
  return {first, m.max(count, m.c(0))};
}

/// Slice in general: bounds, axes and steps may be known at import time,
/// be shape arithmetic or arrive at run time. Positive steps known at import
/// time give a tensor.extract_slice; others a tensor.generate reading
/// `start + i * step` along each axis.
static LogicalResult importGeneralSlice(NodeContext &node,
                                        ArrayRef<SliceEntry> entries) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath m{b, loc};
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  SmallVector<Value> starts(rank, m.c(0)), counts = extentsOf(m, x),
                                           steps(rank, m.c(1));
  SmallVector<bool> seen(rank, false);
  for (SliceEntry e : entries) {
    if (std::optional<int64_t> c = getConstantIntValue(e.step); c && *c == 0)
      return node.error("a step is 0");
    Value isZero = m.eq(e.step, m.c(0));
    runtimeCheck(node, m.notI(isZero), "a step is 0");
    // Past a failed check, 1 keeps the arithmetic defined.
    e.step = m.select(isZero, m.c(1), e.step);
    if (e.axis) {
      if (seen[*e.axis])
        return node.error("axis " + Twine(*e.axis) + " is repeated");
      seen[*e.axis] = true;
      std::tie(starts[*e.axis], counts[*e.axis]) =
          clampSliceRange(m, counts[*e.axis], e.start, e.end, e.step);
      steps[*e.axis] = e.step;
      continue;
    }
    // An axis known only at run time: every axis may be the one.
    for (int64_t d = 0; d < rank; ++d) {
      Value dim = m.dim(x, d);
      auto [first, count] = clampSliceRange(m, dim, e.start, e.end, e.step);
      Value here = m.eq(e.runtimeAxis, m.c(d));
      starts[d] = m.select(here, first, starts[d]);
      counts[d] = m.select(here, count, counts[d]);
      steps[d] = m.select(here, e.step, steps[d]);
    }
  }
  bool positiveSteps = llvm::all_of(steps, [](Value s) {
    std::optional<int64_t> c = getConstantIntValue(s);
    return c && *c > 0;
  });
  if (positiveSteps) {
    SmallVector<SliceRange> ranges;
    for (int64_t d = 0; d < rank; ++d)
      ranges.push_back({getAsOpFoldResult(starts[d]),
                        getAsOpFoldResult(counts[d]),
                        getAsOpFoldResult(steps[d]), staticExtent(counts[d])});
    node.setOutput(0, extractSlice(node, x, ranges),
                   node.inputInfo(0)->isUnsigned);
    return success();
  }
  SmallVector<int64_t> shape;
  SmallVector<Value> dynamicSizes;
  for (Value c : counts) {
    shape.push_back(staticExtent(c));
    if (ShapedType::isDynamic(shape.back()))
      dynamicSizes.push_back(c);
  }
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  auto generate = tensor::GenerateOp::create(b, loc, resultType, dynamicSizes);
  {
    OpBuilder::InsertionGuard guard(b);
    SmallVector<Type> indexTypes(rank, b.getIndexType());
    SmallVector<Location> locs(rank, loc);
    Block *body = b.createBlock(&generate.getBody(), {}, indexTypes, locs);
    SmallVector<Value> coords;
    for (int64_t d = 0; d < rank; ++d)
      coords.push_back(m.add(starts[d], m.mul(body->getArgument(d), steps[d])));
    tensor::YieldOp::create(b, loc,
                            tensor::ExtractOp::create(b, loc, x, coords));
  }
  node.setOutput(0, generate, node.inputInfo(0)->isUnsigned);
  return success();
}

static LogicalResult importSlice(NodeContext &node) {
  bool attributeForm = node.opset() < 10;
  if (failed(requireInputs(node, attributeForm ? 1 : 3)))
    return failure();
  ImportedValue *data = node.inputInfo(0);
  int64_t rank = data->type.getRank();
  // Starts, ends, axes and steps known at import time, where they are.
  std::optional<SmallVector<int64_t>> starts, ends, axes, steps;
  int64_t n;
  if (attributeForm) {
    starts = node.intsAttr("starts");
    ends = node.intsAttr("ends");
    if (!starts || !ends)
      return node.error("needs 'starts' and 'ends' attributes");
    axes = node.intsAttr("axes");
    n = starts->size();
    steps = SmallVector<int64_t>(n, 1);
    if (ends->size() != starts->size() ||
        (axes && axes->size() != ends->size()))
      return node.error("starts, ends and axes differ in length");
  } else {
    FailureOr<int64_t> length = staticLength(node, 1, "starts");
    if (failed(length))
      return failure();
    n = *length;
    for (int i = 2; i <= 4; ++i) {
      if (!node.hasInput(i))
        continue;
      FailureOr<int64_t> other = staticLength(node, i, "ends, axes and steps");
      if (failed(other))
        return failure();
      if (*other != n)
        return node.error("starts, ends, axes and steps differ in length");
    }
    starts = node.constantInts(1);
    ends = node.constantInts(2);
    axes = node.hasInput(3) ? node.constantInts(3) : std::nullopt;
    steps =
        node.hasInput(4) ? node.constantInts(4) : SmallVector<int64_t>(n, 1);
  }
  bool axesAtRunTime = !attributeForm && node.hasInput(3) && !axes;
  if (!axes && !axesAtRunTime) {
    axes.emplace();
    for (int64_t i = 0; i < n; ++i)
      axes->push_back(i);
  }
  if (axes)
    for (int64_t &axis : *axes) {
      std::optional<int64_t> a = normalizeAxis(axis, rank);
      if (!a)
        return node.error("axis " + Twine(axis) + " is out of range");
      axis = *a;
    }
  // Shape values slice at import time.
  if (data->elements && rank == 1 && starts && ends && axes && steps &&
      n == 1 && (*steps)[0] > 0) {
    int64_t size = data->elements->size(), step = (*steps)[0];
    auto clamp = [&](int64_t v) {
      if (v < 0)
        v += size;
      return std::clamp<int64_t>(v, 0, size);
    };
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
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath m{b, loc};
  auto entryValue = [&](std::optional<SmallVector<int64_t>> &known, int input,
                        int64_t k, int64_t defaultValue) -> Value {
    if (known)
      return m.c((*known)[k]);
    if (input < 0 || !node.hasInput(input))
      return m.c(defaultValue);
    return elementAsIndex(node, input, k);
  };
  SmallVector<SliceEntry> entries;
  for (int64_t k = 0; k < n; ++k) {
    SliceEntry e;
    e.start = entryValue(starts, attributeForm ? -1 : 1, k, 0);
    e.end = entryValue(ends, attributeForm ? -1 : 2, k, 0);
    e.step = entryValue(steps, attributeForm ? -1 : 4, k, 1);
    if (axes)
      e.axis = (*axes)[k];
    else
      e.runtimeAxis = runtimeAxis(node, m, elementAsIndex(node, 3, k), rank);
    entries.push_back(e);
  }
  return importGeneralSlice(node, entries);
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
  OpBuilder &b = node.builder();
  IndexMath m{b, node.loc()};
  int64_t outputs = node.numOutputs();
  Value extent = m.dim(x, *axis);
  SmallVector<Value> sizes;
  if (node.opset() >= 13 && node.hasInput(1)) {
    FailureOr<int64_t> n = staticLength(node, 1, "split");
    if (failed(n))
      return failure();
    for (int64_t i = 0; i < *n; ++i)
      sizes.push_back(elementAsIndex(node, 1, i));
  } else if (auto attr = node.intsAttr("split"); attr && node.opset() < 13) {
    for (int64_t size : *attr)
      sizes.push_back(m.c(size));
  } else {
    // Equal parts, the last one smaller when the extent does not divide
    // (opset 18's num_outputs).
    if (node.opset() >= 18)
      outputs = node.intAttr("num_outputs", outputs);
    if (outputs <= 0)
      return node.error("needs at least one output");
    Value chunk = m.ceilDiv(extent, m.c(outputs));
    for (int64_t i = 0; i < outputs; ++i)
      sizes.push_back(
          m.clamp(m.sub(extent, m.mul(m.c(i), chunk)), m.c(0), chunk));
  }
  if (static_cast<int64_t>(sizes.size()) != node.numOutputs())
    return node.error("has " + Twine(node.numOutputs()) + " outputs but " +
                      Twine(sizes.size()) + " split sizes");
  Value total = m.c(0);
  for (Value size : sizes) {
    runtimeCheck(node, m.cmp(arith::CmpIPredicate::sge, size, m.c(0)),
                 "a split size is negative");
    total = m.add(total, size);
  }
  if (std::optional<int64_t> t = getConstantIntValue(total),
      d = getConstantIntValue(extent);
      t && d && *t != *d)
    return node.error("split sizes add up to " + Twine(*t) + ", not " +
                      Twine(*d));
  runtimeCheck(node, m.eq(total, extent),
               "the split sizes do not add up to the extent");
  SmallVector<SliceRange> ranges = fullRanges(node, x);
  Value offset = m.c(0);
  for (auto [i, size] : llvm::enumerate(sizes)) {
    ranges[*axis] = {getAsOpFoldResult(offset), getAsOpFoldResult(size),
                     b.getIndexAttr(1), staticExtent(size)};
    node.setOutput(i, extractSlice(node, x, ranges),
                   node.inputInfo(0)->isUnsigned);
    offset = m.add(offset, size);
  }
  return success();
}

/// A tensor.generate of `type` (dynamic extents `sizes`) whose element at
/// the loop indices is `element(b, indices)`.
static Value generate(OpBuilder &b, Location loc, RankedTensorType type,
                      ValueRange sizes,
                      function_ref<Value(OpBuilder &, ValueRange)> element) {
  auto op = tensor::GenerateOp::create(b, loc, type, sizes);
  OpBuilder::InsertionGuard guard(b);
  SmallVector<Type> indexTypes(type.getRank(), b.getIndexType());
  SmallVector<Location> locs(type.getRank(), loc);
  Block *body = b.createBlock(&op.getBody(), {}, indexTypes, locs);
  tensor::YieldOp::create(b, loc, element(b, body->getArguments()));
  return op;
}

/// The dynamic ones among `extents`, for tensor.empty/generate/splat.
static SmallVector<Value> dynamicOnly(ArrayRef<Value> extents) {
  SmallVector<Value> dynamic;
  for (Value e : extents)
    if (ShapedType::isDynamic(staticExtent(e)))
      dynamic.push_back(e);
  return dynamic;
}

/// Expand: numpy broadcasting of the input against the target shape. Known
/// extents fold at import time; the others are computed at run time (an
/// input extent of 1 stretches, and a target extent of 1 keeps the input's),
/// with a run-time check that they are compatible.
static LogicalResult importExpand(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value x = node.input(0);
  FailureOr<int64_t> n = staticLength(node, 1, "the shape");
  if (failed(n))
    return failure();
  ImportedValue *shapeInfo = node.inputInfo(1);
  auto type = cast<RankedTensorType>(x.getType());
  OpBuilder &b = node.builder();
  IndexMath m{b, node.loc()};
  SmallVector<DimExpr> inDims = node.importer().shapeOf(x);
  int64_t inRank = inDims.size();
  int64_t rank = std::max(inRank, *n);
  SmallVector<Value> extents;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t j = i - (rank - inRank), k = i - (rank - *n);
    if (k < 0) {
      extents.push_back(m.dim(x, j));
      continue;
    }
    if (j < 0) {
      extents.push_back(elementAsIndex(node, 1, k));
      continue;
    }
    // Both given: fold what import time knows.
    const DimExpr &a = inDims[j];
    std::optional<DimExpr> t;
    if (shapeInfo->elements)
      t = (*shapeInfo->elements)[k];
    if (t && (*t == a || (t->isConstant() && t->factor == 1))) {
      extents.push_back(m.dim(x, j));
      continue;
    }
    if (t && a.isConstant() && a.factor == 1) {
      extents.push_back(node.importer().materializeIndex(node.loc(), *t));
      continue;
    }
    if (t && a.isConstant() && t->isConstant())
      return node.error("cannot expand extent " + Twine(a.factor) + " to " +
                        Twine(t->factor));
    Value av = m.dim(x, j), tv = elementAsIndex(node, 1, k);
    Value aIsOne = m.eq(av, m.c(1));
    runtimeCheck(node, m.orI(m.orI(aIsOne, m.eq(tv, m.c(1))), m.eq(av, tv)),
                 "the input does not broadcast to the shape");
    extents.push_back(m.select(aIsOne, tv, av));
  }
  SmallVector<int64_t> shape;
  for (Value e : extents)
    shape.push_back(staticExtent(e));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  if (resultType == type && type.hasStaticShape()) {
    node.setOutput(0, x, node.inputInfo(0)->isUnsigned);
    return success();
  }
  Value shapeValue;
  if (!resultType.hasStaticShape())
    shapeValue = indexTensor(b, node.loc(), extents);
  node.setOutput(0,
                 mlir::slm::BroadcastToOp::create(b, node.loc(), resultType, x,
                                                  shapeValue),
                 node.inputInfo(0)->isUnsigned);
  return success();
}

/// Tile: output extent d is input extent d times repeats[d]; element i
/// reads input element i mod extent.
static LogicalResult importTile(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  FailureOr<int64_t> n = staticLength(node, 1, "repeats");
  if (failed(n))
    return failure();
  if (*n != type.getRank() || type.getRank() == 0)
    return node.error("needs one repeat count per input dimension (" +
                      Twine(type.getRank()) + "), got " + Twine(*n));
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath m{b, loc};
  SmallVector<Value> inDims = extentsOf(m, x), extents;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    Value repeats = elementAsIndex(node, 1, d);
    runtimeCheck(node, m.cmp(arith::CmpIPredicate::sge, repeats, m.c(0)),
                 "a repeat count is negative");
    extents.push_back(m.mul(inDims[d], repeats));
  }
  SmallVector<int64_t> shape;
  for (Value e : extents)
    shape.push_back(staticExtent(e));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  Value result =
      generate(b, loc, resultType, dynamicOnly(extents),
               [&](OpBuilder &nb, ValueRange indices) -> Value {
                 SmallVector<Value> coords;
                 for (auto [i, index] : llvm::enumerate(indices))
                   coords.push_back(
                       nb.createOrFold<arith::RemUIOp>(loc, index, inDims[i]));
                 return tensor::ExtractOp::create(nb, loc, x, coords);
               });
  node.setOutput(0, result, node.inputInfo(0)->isUnsigned);
  return success();
}

static LogicalResult importConstantOfShape(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  OpBuilder &b = node.builder();
  TypedAttr element = b.getF32FloatAttr(0.0f);
  bool isUnsigned = false;
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
    isUnsigned = tensor->isUnsigned;
    tensor->value.getDefiningOp()->erase();
  }
  ImportedValue *shapeInfo = node.inputInfo(0);
  if (shapeInfo->elements) {
    SmallVector<DimExpr> dims = *shapeInfo->elements;
    for (const DimExpr &d : dims)
      if (d.isConstant() && d.factor < 0)
        return node.error("the shape holds the negative extent " +
                          Twine(d.factor));
    auto type = RankedTensorType::get(staticShape(dims), element.getType());
    if (type.hasStaticShape()) {
      node.setOutput(0,
                     node.importer().constant(
                         node.loc(), DenseElementsAttr::get(type, element)),
                     isUnsigned);
      return success();
    }
  }
  // Extents computed at run time (or from shape arithmetic).
  FailureOr<int64_t> n = staticLength(node, 0, "the shape");
  if (failed(n))
    return failure();
  if (node.inputType(0).getRank() != 1)
    return node.error("the shape must be 1-D");
  IndexMath m{b, node.loc()};
  SmallVector<Value> extents;
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < *n; ++i) {
    extents.push_back(elementAsIndex(node, 0, i));
    runtimeCheck(node, m.cmp(arith::CmpIPredicate::sge, extents.back(), m.c(0)),
                 "a shape entry is negative");
    shape.push_back(staticExtent(extents.back()));
  }
  auto type = RankedTensorType::get(shape, element.getType());
  Value scalar = arith::ConstantOp::create(b, node.loc(), element);
  node.setOutput(0,
                 tensor::SplatOp::create(b, node.loc(), type, scalar,
                                         dynamicOnly(extents)),
                 isUnsigned);
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
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  // Integer ranges with start and delta known: elements at import time, or
  // 0, 1, ..., limit - 1 for a dynamic limit.
  if (isa<IntegerType>(element) && start && delta && limitInfo->elements &&
      (*delta)[0] != 0) {
    int64_t s = (*start)[0], d = (*delta)[0];
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
  }
  if (!isa<IntegerType>(element) && !isa<FloatType>(element))
    return node.error("needs integer or floating-point inputs");
  // In general: n = max(ceil((limit - start) / delta), 0) elements
  // start + i * delta, all computed at run time.
  IndexMath m{b, loc};
  auto scalarOf = [&](int i) -> Value {
    if (isa<IntegerType>(element))
      return elementAsIndex(node, i, 0);
    Value t = node.input(i);
    SmallVector<Value> indices;
    if (node.inputType(i).getRank() == 1)
      indices.push_back(m.c(0));
    return tensor::ExtractOp::create(b, loc, t, indices);
  };
  Value s = scalarOf(0), limit = scalarOf(1), d = scalarOf(2);
  Value count;
  if (isa<IntegerType>(element)) {
    runtimeCheck(node, m.cmp(arith::CmpIPredicate::ne, d, m.c(0)),
                 "delta is 0");
    // A zero delta (failing the check) must not divide by zero.
    Value safeDelta = m.select(m.eq(d, m.c(0)), m.c(1), d);
    count = m.max(m.ceilDiv(m.sub(limit, s), safeDelta), m.c(0));
  } else {
    Value quotient = arith::DivFOp::create(
        b, loc, arith::SubFOp::create(b, loc, limit, s), d);
    Value ceiling = math::CeilOp::create(b, loc, quotient);
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0));
    // NaN (0/0) and negative counts give an empty range.
    Value positive =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, ceiling, zero);
    ceiling = arith::SelectOp::create(b, loc, positive, ceiling, zero);
    Value asInt = arith::FPToSIOp::create(b, loc, b.getI64Type(), ceiling);
    count = arith::IndexCastOp::create(b, loc, b.getIndexType(), asInt);
  }
  auto resultType = RankedTensorType::get({staticExtent(count)}, element);
  Value result =
      generate(b, loc, resultType, dynamicOnly({count}),
               [&](OpBuilder &nb, ValueRange indices) -> Value {
                 Value i = indices[0];
                 if (isa<IntegerType>(element)) {
                   Value v = nb.createOrFold<arith::AddIOp>(
                       loc, s, nb.createOrFold<arith::MulIOp>(loc, i, d));
                   return arith::IndexCastOp::create(nb, loc, element, v);
                 }
                 Value fi = arith::UIToFPOp::create(
                     nb, loc, element,
                     arith::IndexCastUIOp::create(nb, loc, nb.getI64Type(), i));
                 return arith::AddFOp::create(
                     nb, loc, s, arith::MulFOp::create(nb, loc, fi, d));
               });
  node.setOutput(0, result, startInfo->isUnsigned);
  return success();
}

static LogicalResult importTrilu(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() < 2)
    return node.error("needs an input of rank >= 2");
  bool upper = node.intAttr("upper", 1) != 0;
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  // k: known at import time or read at run time.
  Value kValue = arith::ConstantIndexOp::create(b, loc, 0);
  if (node.hasInput(1)) {
    FailureOr<int64_t> n = staticLength(node, 1, "k");
    if (failed(n))
      return failure();
    if (*n != 1)
      return node.error("k must hold one element");
    kValue = elementAsIndex(node, 1, 0);
  }
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
    Value keep = arith::CmpIOp::create(
        b, loc, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
        diff, kValue);
    tensor::YieldOp::create(b, loc, keep);
  }
  Value zero = scalarConstant(node, type.getElementType(), 0);
  node.setOutput(0,
                 mlir::slm::SelectOp::create(b, loc, type, generate, x, zero),
                 node.inputInfo(0)->isUnsigned);
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
  table.add("Slice", 1, importSlice);
  table.add("Split", 2, importSplit);
  table.add("Expand", 8, importExpand);
  table.add("ConstantOfShape", 9, importConstantOfShape);
  table.add("Range", 11, importRange);
  table.add("Trilu", 14, importTrilu);
  table.add("Tile", 6, importTile);
}
