//===- SLMOps.cpp - slm operations: verifiers and helpers -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Verifier messages name the operand (as spelled in ODS) and say what was
// expected against what was found.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Support/Shape.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"

#include <cmath>

using namespace mlir;
using namespace mlir::slm;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

static slm::Shape shapeOf(Type type) {
  auto ranked = cast<RankedTensorType>(type);
  return slm::Shape(ranked.getShape().begin(), ranked.getShape().end());
}

static std::string str(ArrayRef<int64_t> shape) {
  return slm::formatShape(slm::Shape(shape.begin(), shape.end()));
}

/// Checks that `result` has a shape compatible with `expected` (one rank,
/// extents equal or dynamic on either side).
static LogicalResult verifyResultShape(Operation *op, RankedTensorType result,
                                       const slm::Shape &expected) {
  if (!slm::shapesCompatible(shapeOf(result), expected))
    return op->emitOpError("result shape ")
           << str(result.getShape()) << " does not match the expected shape "
           << slm::formatShape(expected);
  return success();
}

static LogicalResult verifySameElementType(Operation *op, StringRef name,
                                           Type actual, StringRef refName,
                                           Type reference) {
  Type a = getElementTypeOrSelf(actual), r = getElementTypeOrSelf(reference);
  if (a != r)
    return op->emitOpError("'") << name << "' has element type " << a
                                << " but '" << refName << "' has " << r;
  return success();
}

/// Broadcasts the named operands together; on success `shape` holds the
/// broadcast shape.
static LogicalResult
verifyBroadcastOperands(Operation *op,
                        ArrayRef<std::pair<StringRef, Value>> operands,
                        slm::Shape &shape) {
  shape = shapeOf(operands.front().second.getType());
  StringRef firstName = operands.front().first;
  for (auto [name, value] : operands.drop_front()) {
    std::optional<slm::Shape> next =
        slm::broadcastShapes(shape, shapeOf(value.getType()));
    if (!next)
      return op->emitOpError("'")
             << name << "' (" << value.getType()
             << ") does not broadcast with '" << firstName << "': shapes "
             << slm::formatShape(shape) << " and "
             << str(cast<RankedTensorType>(value.getType()).getShape());
    shape = *next;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

static LogicalResult verifyBinaryElementwise(Operation *op, Value lhs,
                                             Value rhs, Value result) {
  if (failed(verifySameElementType(op, "rhs", rhs.getType(), "lhs",
                                   lhs.getType())) ||
      failed(verifySameElementType(op, "result", result.getType(), "lhs",
                                   lhs.getType())))
    return failure();
  slm::Shape shape;
  if (failed(verifyBroadcastOperands(op, {{"lhs", lhs}, {"rhs", rhs}}, shape)))
    return failure();
  return verifyResultShape(op, cast<RankedTensorType>(result.getType()), shape);
}

#define SLM_BINARY_VERIFIER(OpClass)                                           \
  LogicalResult OpClass::verify() {                                            \
    return verifyBinaryElementwise(*this, getLhs(), getRhs(), getResult());    \
  }
SLM_BINARY_VERIFIER(AddOp)
SLM_BINARY_VERIFIER(SubOp)
SLM_BINARY_VERIFIER(MulOp)
SLM_BINARY_VERIFIER(DivOp)
SLM_BINARY_VERIFIER(PowOp)
SLM_BINARY_VERIFIER(MaxOp)
SLM_BINARY_VERIFIER(MinOp)
#undef SLM_BINARY_VERIFIER

LogicalResult CompareOp::verify() {
  if (failed(verifySameElementType(*this, "rhs", getRhs().getType(), "lhs",
                                   getLhs().getType())))
    return failure();
  slm::Shape shape;
  if (failed(verifyBroadcastOperands(
          *this, {{"lhs", getLhs()}, {"rhs", getRhs()}}, shape)))
    return failure();
  return verifyResultShape(*this, getResult().getType(), shape);
}

LogicalResult SelectOp::verify() {
  if (failed(verifySameElementType(*this, "false_value",
                                   getFalseValue().getType(), "true_value",
                                   getTrueValue().getType())) ||
      failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "true_value", getTrueValue().getType())))
    return failure();
  slm::Shape shape;
  if (failed(verifyBroadcastOperands(*this,
                                     {{"condition", getCondition()},
                                      {"true_value", getTrueValue()},
                                      {"false_value", getFalseValue()}},
                                     shape)))
    return failure();
  return verifyResultShape(*this, getResult().getType(), shape);
}

//===----------------------------------------------------------------------===//
// MatMulOp
//===----------------------------------------------------------------------===//

LogicalResult MatMulOp::verify() {
  RankedTensorType lhs = getLhs().getType(), rhs = getRhs().getType();
  if (lhs.getRank() < 2)
    return emitOpError("'lhs' must have rank >= 2, got ") << lhs;
  if (rhs.getRank() < 2)
    return emitOpError("'rhs' must have rank >= 2, got ") << rhs;
  if (failed(verifySameElementType(*this, "rhs", rhs, "lhs", lhs)) ||
      failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "lhs", lhs)))
    return failure();
  int64_t lhsK = lhs.getShape().back();
  int64_t rhsK = rhs.getShape()[rhs.getRank() - 2];
  if (!slm::extentsCompatible(lhsK, rhsK))
    return emitOpError("contraction dimension mismatch: 'lhs' has K = ")
           << lhsK << " but 'rhs' has K = " << rhsK;
  slm::Shape lhsBatch(lhs.getShape().begin(), lhs.getShape().end() - 2);
  slm::Shape rhsBatch(rhs.getShape().begin(), rhs.getShape().end() - 2);
  std::optional<slm::Shape> batch = slm::broadcastShapes(lhsBatch, rhsBatch);
  if (!batch)
    return emitOpError("batch dimensions ")
           << slm::formatShape(lhsBatch) << " and "
           << slm::formatShape(rhsBatch) << " do not broadcast";
  batch->push_back(lhs.getShape()[lhs.getRank() - 2]);
  batch->push_back(rhs.getShape().back());
  return verifyResultShape(*this, getResult().getType(), *batch);
}

//===----------------------------------------------------------------------===//
// TransposeOp
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::verify() {
  RankedTensorType input = getInput().getType();
  ArrayRef<int64_t> perm = getPermutation();
  if (static_cast<int64_t>(perm.size()) != input.getRank())
    return emitOpError("permutation has ")
           << perm.size() << " entries but 'input' has rank "
           << input.getRank();
  SmallVector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= input.getRank() || seen[p])
      return emitOpError("permutation [")
             << perm << "] is not a permutation of 0.." << input.getRank() - 1;
    seen[p] = true;
  }
  if (failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "input", input)))
    return failure();
  slm::Shape expected;
  for (int64_t p : perm)
    expected.push_back(input.getDimSize(p));
  return verifyResultShape(*this, getResult().getType(), expected);
}

//===----------------------------------------------------------------------===//
// ReshapeOp and BroadcastToOp
//===----------------------------------------------------------------------===//

/// Checks that a `shape` operand, when present, has one entry per result
/// dimension.
static LogicalResult verifyShapeOperand(Operation *op, Value shape,
                                        RankedTensorType result) {
  if (!shape)
    return success();
  auto shapeType = cast<RankedTensorType>(shape.getType());
  if (shapeType.getRank() != 1)
    return op->emitOpError("'shape' must be 1-D, got ") << shapeType;
  if (!shapeType.isDynamicDim(0) && shapeType.getDimSize(0) != result.getRank())
    return op->emitOpError("'shape' has ")
           << shapeType.getDimSize(0) << " entries but the result has rank "
           << result.getRank();
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto input = getInput().getType(), result = getResult().getType();
  if (failed(verifySameElementType(*this, "result", result, "input", input)) ||
      failed(verifyShapeOperand(*this, getShape(), result)))
    return failure();
  if (!getShape() && result.getNumDynamicDims() > 1)
    return emitOpError("result has ")
           << result.getNumDynamicDims()
           << " dynamic dimensions; a 'shape' operand must give them";
  if (input.hasStaticShape() && result.hasStaticShape() &&
      input.getNumElements() != result.getNumElements())
    return emitOpError("cannot reshape ")
           << input.getNumElements() << " elements into "
           << result.getNumElements();
  if (input.hasStaticShape() && result.getNumDynamicDims() == 1) {
    int64_t known = 1;
    for (int64_t d : result.getShape())
      if (d != ShapedType::kDynamic)
        known *= d;
    if (known == 0 || input.getNumElements() % known != 0)
      return emitOpError("cannot reshape ")
             << input.getNumElements() << " elements into "
             << str(result.getShape());
  }
  return success();
}

LogicalResult BroadcastToOp::verify() {
  auto input = getInput().getType(), result = getResult().getType();
  if (failed(verifySameElementType(*this, "result", result, "input", input)) ||
      failed(verifyShapeOperand(*this, getShape(), result)))
    return failure();
  if (!slm::isBroadcastableTo(shapeOf(input), shapeOf(result)))
    return emitOpError("'input' (")
           << input << ") does not broadcast to " << str(result.getShape());
  if (!getShape()) {
    // Without a shape operand, every dynamic result extent must come from a
    // dynamic input extent.
    int64_t offset = result.getRank() - input.getRank();
    for (int64_t i = 0; i < result.getRank(); ++i)
      if (result.isDynamicDim(i) &&
          (i < offset || !input.isDynamicDim(i - offset)))
        return emitOpError("result dimension ")
               << i << " is dynamic and not given by 'input'; a 'shape' "
               << "operand must give it";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ReduceOp, GatherOp, SoftmaxOp
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::verify() {
  RankedTensorType input = getInput().getType();
  SmallVector<bool> reduced(input.getRank(), false);
  if (getAxes().empty())
    return emitOpError("'axes' must name at least one dimension");
  for (int64_t axis : getAxes()) {
    std::optional<int64_t> a = slm::normalizeAxis(axis, input.getRank());
    if (!a)
      return emitOpError("axis ")
             << axis << " is out of range for 'input' of rank "
             << input.getRank();
    if (reduced[*a])
      return emitOpError("axis ") << axis << " is given twice";
    reduced[*a] = true;
  }
  if (failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "input", input)))
    return failure();
  slm::Shape expected;
  for (int64_t i = 0; i < input.getRank(); ++i) {
    if (!reduced[i])
      expected.push_back(input.getDimSize(i));
    else if (getKeepDims())
      expected.push_back(1);
  }
  return verifyResultShape(*this, getResult().getType(), expected);
}

LogicalResult GatherOp::verify() {
  auto data = cast<RankedTensorType>(getData().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  std::optional<int64_t> axis =
      slm::normalizeAxis(static_cast<int64_t>(getAxis()), data.getRank());
  if (!axis)
    return emitOpError("axis ")
           << static_cast<int64_t>(getAxis())
           << " is out of range for 'data' of rank " << data.getRank();
  if (failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "data", data)))
    return failure();
  slm::Shape expected(data.getShape().begin(), data.getShape().begin() + *axis);
  expected.insert(expected.end(), indices.getShape().begin(),
                  indices.getShape().end());
  expected.insert(expected.end(), data.getShape().begin() + *axis + 1,
                  data.getShape().end());
  return verifyResultShape(*this, cast<RankedTensorType>(getResult().getType()),
                           expected);
}

LogicalResult SoftmaxOp::verify() {
  if (!slm::normalizeAxis(static_cast<int64_t>(getAxis()),
                          getInput().getType().getRank()))
    return emitOpError("axis ") << static_cast<int64_t>(getAxis())
                                << " is out of range for 'input' of rank "
                                << getInput().getType().getRank();
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  RankedTensorType input = getInput().getType(), weight = getWeight().getType();
  if (input.getRank() < 1)
    return emitOpError("'input' must have rank >= 1, got ") << input;
  if (weight.getRank() != 2)
    return emitOpError("'weight' must be 2-D [out_features, in_features], got ")
           << weight;
  if (failed(verifySameElementType(*this, "weight", weight, "input", input)) ||
      failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "input", input)))
    return failure();
  if (!slm::extentsCompatible(weight.getDimSize(1), input.getShape().back()))
    return emitOpError("'weight' has in_features = ")
           << weight.getDimSize(1) << " but the last dimension of 'input' is "
           << input.getShape().back();
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (failed(verifySameElementType(*this, "bias", biasType, "input", input)))
      return failure();
    if (biasType.getRank() != 1 ||
        !slm::extentsCompatible(biasType.getDimSize(0), weight.getDimSize(0)))
      return emitOpError("'bias' must be [")
             << weight.getDimSize(0) << "] (out_features), got " << biasType;
  }
  if (getInputQuant() == InputQuant::fixed) {
    if (!getInputScale() || !getInputZeroPoint())
      return emitOpError("fixed input quantization needs 'input_scale' and "
                         "'input_zero_point'");
    if (!(getInputScale()->convertToFloat() > 0.0f) ||
        !std::isfinite(getInputScale()->convertToFloat()))
      return emitOpError("'input_scale' must be positive and finite");
    if (*getInputZeroPoint() < 0 || *getInputZeroPoint() > 255)
      return emitOpError("'input_zero_point' must be in [0, 255] (uint8)");
  }
  if (getPrecision() == Precision::bf16) {
    if (getInputQuant() != InputQuant::none)
      return emitOpError("bf16 precision and input quantization exclude "
                         "each other");
    const int64_t k = weight.getDimSize(1);
    if (ShapedType::isDynamic(k) || k % 2 != 0)
      return emitOpError("bf16 precision needs a static, even in_features "
                         "(products are taken two k at a time), got ")
             << (ShapedType::isDynamic(k) ? std::string("?")
                                          : std::to_string(k));
  }
  slm::Shape expected(input.getShape().begin(), input.getShape().end() - 1);
  expected.push_back(weight.getDimSize(0));
  return verifyResultShape(*this, getResult().getType(), expected);
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

int64_t AttentionOp::getQueryHeadDim() {
  int64_t width = getQuery().getType().getDimSize(2);
  return width == ShapedType::kDynamic ? width : width / getNumHeads();
}

double AttentionOp::getEffectiveScale() {
  if (FloatAttr scale = getScaleAttr())
    return scale.getValueAsDouble();
  return 1.0 / std::sqrt(static_cast<double>(getQueryHeadDim()));
}

LogicalResult AttentionOp::verify() {
  const int64_t heads = getNumHeads();
  RankedTensorType q = getQuery().getType(), k = getKey().getType(),
                   v = getValue().getType();
  for (auto [name, type] : {std::pair<StringRef, RankedTensorType>{"query", q},
                            {"key", k},
                            {"value", v}}) {
    if (type.getRank() != 3)
      return emitOpError("'")
             << name << "' must be [batch, seq, heads * head_dim], got "
             << type;
    if (failed(verifySameElementType(*this, name, type, "query", q)))
      return failure();
    int64_t width = type.getDimSize(2);
    if (width != ShapedType::kDynamic && width % heads != 0)
      return emitOpError("'") << name << "' width " << width
                              << " is not divisible by num_heads = " << heads;
  }
  if (q.isDynamicDim(2) || v.isDynamicDim(2))
    return emitOpError("'query' and 'value' widths must be static");
  if (!slm::extentsCompatible(k.getDimSize(2), q.getDimSize(2)))
    return emitOpError("'key' width ")
           << k.getDimSize(2) << " differs from 'query' width "
           << q.getDimSize(2);
  if (!slm::extentsCompatible(k.getDimSize(0), q.getDimSize(0)) ||
      !slm::extentsCompatible(v.getDimSize(0), q.getDimSize(0)))
    return emitOpError("'query', 'key' and 'value' batch sizes differ: ")
           << q.getDimSize(0) << ", " << k.getDimSize(0) << ", "
           << v.getDimSize(0);
  if (!slm::extentsCompatible(k.getDimSize(1), v.getDimSize(1)))
    return emitOpError("'key' has ")
           << k.getDimSize(1) << " positions but 'value' has "
           << v.getDimSize(1);
  if (FloatAttr scale = getScaleAttr();
      scale && !(scale.getValueAsDouble() > 0.0))
    return emitOpError("scale must be positive, got ")
           << scale.getValueAsDouble();
  if (Value mask = getMask()) {
    auto maskType = cast<RankedTensorType>(mask.getType());
    Type elem = maskType.getElementType();
    if (!elem.isInteger(1) && elem != q.getElementType())
      return emitOpError("'mask' must hold i1 (keep) or ")
             << q.getElementType() << " (additive) values, got " << elem;
    slm::Shape scores = {q.getDimSize(0), heads, q.getDimSize(1),
                         k.getDimSize(1)};
    if (!slm::isBroadcastableTo(shapeOf(maskType), scores))
      return emitOpError("'mask' (")
             << maskType
             << ") does not broadcast to [batch, heads, query_seq, key_seq] = "
             << slm::formatShape(scores);
  }
  if (failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "query", q)))
    return failure();
  return verifyResultShape(*this, getResult().getType(),
                           {q.getDimSize(0), q.getDimSize(1), v.getDimSize(2)});
}

//===----------------------------------------------------------------------===//
// FusedAttentionOp
//===----------------------------------------------------------------------===//

int64_t FusedAttentionOp::getNumKVHeads() {
  return cast<ShapedType>(getKey().getType()).getDimSize(getHeadsDim(1));
}

LogicalResult FusedAttentionOp::verify() {
  ArrayRef<int64_t> seqDims = getSeqDims();
  if (seqDims.size() != 3 ||
      llvm::any_of(seqDims, [](int64_t d) { return d != 1 && d != 2; }))
    return emitOpError("seq_dims must hold 1 or 2 for each of query, key "
                       "and value");
  const bool onBuffers = isa<MemRefType>(getQuery().getType());
  for (Value v : getOperands())
    if (isa<MemRefType>(v.getType()) != onBuffers)
      return emitOpError("operands must be all tensors or all buffers");
  const size_t results = getImportance() ? 2 : 1;
  if (onBuffers ? !getOutputs().empty() : getOutputs().size() != results)
    return emitOpError(onBuffers ? "on buffers has no result"
                                 : "on tensors has one result per destination");
  if (getResult() && getResult().getType() != getInit().getType())
    return emitOpError("result type must be the type of 'init'");
  if (getImportanceResult() &&
      getImportanceResult().getType() != getImportance().getType())
    return emitOpError("second result type must be the type of 'importance'");
  const int64_t heads = getNumHeads();
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType q = shapeOf(getQuery()), k = shapeOf(getKey()),
             v = shapeOf(getValue()), out = shapeOf(getInit());
  for (auto [name, type] :
       {std::pair<StringRef, ShapedType>{"query", q}, {"key", k}, {"value", v}})
    if (type.getRank() != 4)
      return emitOpError("'") << name << "' must be rank 4, got " << type;
  auto headsOf = [&](unsigned i, ShapedType t) {
    return t.getDimSize(getHeadsDim(i));
  };
  auto seqOf = [&](unsigned i, ShapedType t) {
    return t.getDimSize(seqDims[i]);
  };
  if (headsOf(0, q) != heads)
    return emitOpError("'query' must have num_heads = ")
           << heads << " heads, got " << headsOf(0, q);
  const int64_t kvHeads = headsOf(1, k);
  if (ShapedType::isDynamic(kvHeads) || kvHeads <= 0 || heads % kvHeads != 0 ||
      headsOf(2, v) != kvHeads)
    return emitOpError("'key' and 'value' must have the same static number "
                       "of heads, dividing num_heads = ")
           << heads << "; got " << kvHeads << " and " << headsOf(2, v);
  const int64_t dk = q.getDimSize(3), dv = v.getDimSize(3);
  if (ShapedType::isDynamic(dk) || ShapedType::isDynamic(dv) ||
      k.getDimSize(3) != dk)
    return emitOpError("head widths must be static and equal for 'query' "
                       "and 'key', got ")
           << dk << " and " << k.getDimSize(3);
  if (!slm::extentsCompatible(k.getDimSize(0), q.getDimSize(0)) ||
      !slm::extentsCompatible(v.getDimSize(0), q.getDimSize(0)))
    return emitOpError("'query', 'key' and 'value' batch sizes differ");
  if (!slm::extentsCompatible(seqOf(1, k), seqOf(2, v)))
    return emitOpError("'key' has ") << seqOf(1, k) << " positions but "
                                     << "'value' has " << seqOf(2, v);
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError("scale must be positive");
  if (Value mask = getMask()) {
    ShapedType m = shapeOf(mask);
    slm::Shape scores = {q.getDimSize(0), heads, seqOf(0, q), seqOf(1, k)};
    if (m.getRank() != 4 ||
        !slm::isBroadcastableTo(
            slm::Shape(m.getShape().begin(), m.getShape().end()), scores))
      return emitOpError("'mask' (")
             << m << ") does not broadcast to [batch, heads, query_seq, "
             << "key_seq] = " << slm::formatShape(scores);
  }
  if (Value offsets = getOffsets()) {
    if (getMask())
      return emitOpError("a packed batch ('offsets') has no 'mask'");
    if (shapeOf(offsets).getRank() != 1)
      return emitOpError("'offsets' must be rank 1, got ") << offsets.getType();
    for (auto [name, type] : {std::pair<StringRef, ShapedType>{"query", q},
                              {"key", k},
                              {"value", v},
                              {"init", out}})
      if (type.getRank() > 0 && type.getDimSize(0) != 1)
        return emitOpError("with 'offsets', '")
               << name << "' must have batch 1 (the packed sequences), got "
               << type;
  }
  if (Value importance = getImportance()) {
    ShapedType imp = shapeOf(importance);
    if (imp.getRank() != 2 ||
        !slm::extentsCompatible(imp.getDimSize(0), k.getDimSize(0)) ||
        !slm::extentsCompatible(imp.getDimSize(1), seqOf(1, k)))
      return emitOpError("'importance' must be [batch, key_seq] = [")
             << k.getDimSize(0) << ", " << seqOf(1, k) << "], got " << imp;
  }
  if (out.getRank() != 3 ||
      !slm::extentsCompatible(out.getDimSize(0), q.getDimSize(0)) ||
      !slm::extentsCompatible(out.getDimSize(1), seqOf(0, q)) ||
      out.getDimSize(2) != heads * dv)
    return emitOpError("'init' must be [batch, query_seq, num_heads * "
                       "value_head_dim] = [")
           << q.getDimSize(0) << ", " << seqOf(0, q) << ", " << heads * dv
           << "], got " << out;
  return success();
}

void FusedAttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!isa<MemRefType>(getInit().getType()))
    return;
  for (OpOperand &operand : getOperation()->getOpOperands()) {
    if (isDpsInit(&operand))
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
    else
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
  }
}

bool FusedAttentionOp::bufferizesToMemoryRead(
    OpOperand &operand, const bufferization::AnalysisState &) {
  // Every element of the results is written: the destinations are not read.
  return !isDpsInit(&operand);
}

bool FusedAttentionOp::bufferizesToMemoryWrite(
    OpOperand &operand, const bufferization::AnalysisState &) {
  return isDpsInit(&operand);
}

bufferization::AliasingValueList
FusedAttentionOp::getAliasingValues(OpOperand &operand,
                                    const bufferization::AnalysisState &) {
  if (!isDpsInit(&operand))
    return {};
  return {
      {getTiedOpResult(&operand), bufferization::BufferRelation::Equivalent}};
}

LogicalResult
FusedAttentionOp::bufferize(RewriterBase &rewriter,
                            const bufferization::BufferizationOptions &options,
                            bufferization::BufferizationState &state) {
  SmallVector<Value> buffers;
  for (Value operand : getOperands()) {
    FailureOr<Value> buffer =
        bufferization::getBuffer(rewriter, operand, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
  }
  unsigned next = 3;
  Value mask = getMask() ? buffers[next++] : Value();
  Value offsets = getOffsets() ? buffers[next++] : Value();
  Value init = buffers[next++];
  Value importance = getImportance() ? buffers[next++] : Value();
  FusedAttentionOp::create(rewriter, getLoc(), TypeRange(), buffers[0],
                           buffers[1], buffers[2], mask, offsets, init,
                           importance, getNumHeadsAttr(), getScaleAttr(),
                           getSeqDimsAttr(), getCausalAttr());
  SmallVector<Value> replacements{init};
  if (importance)
    replacements.push_back(importance);
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, replacements);
  return success();
}

//===----------------------------------------------------------------------===//
// Normalizations and embedding
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::verify() {
  RankedTensorType input = getInput().getType();
  std::optional<int64_t> axis =
      slm::normalizeAxis(static_cast<int64_t>(getAxis()), input.getRank());
  if (!axis)
    return emitOpError("axis ")
           << static_cast<int64_t>(getAxis())
           << " is out of range for 'input' of rank " << input.getRank();
  slm::Shape normalized(input.getShape().begin() + *axis,
                        input.getShape().end());
  for (auto [name, value] : {std::pair<StringRef, Value>{"gamma", getGamma()},
                             {"beta", getBeta()}}) {
    if (!value)
      continue;
    if (failed(verifySameElementType(*this, name, value.getType(), "input",
                                     input)))
      return failure();
    if (!slm::shapesCompatible(shapeOf(value.getType()), normalized))
      return emitOpError("'")
             << name << "' must have the normalized shape "
             << slm::formatShape(normalized) << ", got " << value.getType();
  }
  if (getEpsilon().convertToDouble() < 0)
    return emitOpError("epsilon must be >= 0");
  if (getResult().getType() != input)
    return emitOpError("result type ")
           << getResult().getType() << " differs from 'input' type " << input;
  return success();
}

LogicalResult RMSNormOp::verify() {
  RankedTensorType input = getInput().getType(), gamma = getGamma().getType();
  if (input.getRank() < 1)
    return emitOpError("'input' must have rank >= 1");
  if (failed(verifySameElementType(*this, "gamma", gamma, "input", input)))
    return failure();
  if (gamma.getRank() != 1 ||
      !slm::extentsCompatible(gamma.getDimSize(0), input.getShape().back()))
    return emitOpError("'gamma' must be [")
           << input.getShape().back() << "], got " << gamma;
  if (getEpsilon().convertToDouble() < 0)
    return emitOpError("epsilon must be >= 0");
  if (getResult().getType() != input)
    return emitOpError("result type ")
           << getResult().getType() << " differs from 'input' type " << input;
  return success();
}

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType();
  if (table.getRank() != 2)
    return emitOpError("'table' must be 2-D [vocab, dim], got ") << table;
  if (failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "table", table)))
    return failure();
  slm::Shape expected = shapeOf(getIds().getType());
  expected.push_back(table.getDimSize(1));
  return verifyResultShape(*this, getResult().getType(), expected);
}

//===----------------------------------------------------------------------===//
// Compressed weights
//===----------------------------------------------------------------------===//

/// Checks that a compressed weight op produces a static 2-D weight.
static LogicalResult verifyDenseWeightResult(Operation *op,
                                             RankedTensorType result) {
  if (result.getRank() != 2 || !result.hasStaticShape())
    return op->emitOpError("result must be a static 2-D [out, in] weight, got ")
           << result;
  return success();
}

unsigned DequantizeWeightOp::getCodeBits() {
  return getKind() == WeightQuantKind::int8 ? 8 : 4;
}

LogicalResult DequantizeWeightOp::verify() {
  RankedTensorType result = getResult().getType();
  if (failed(verifyDenseWeightResult(*this, result)))
    return failure();
  const int64_t rows = result.getDimSize(0), cols = result.getDimSize(1);
  const unsigned bits = getCodeBits();
  const int64_t codeCols = bits == 8 ? cols : (cols + 1) / 2;
  RankedTensorType codes = getCodes().getType();
  if (codes.getRank() != 2 ||
      codes.getShape() != ArrayRef<int64_t>{rows, codeCols})
    return emitOpError("'codes' must be [")
           << rows << ", " << codeCols << "] for a " << stringifyEnum(getKind())
           << " weight of shape " << str(result.getShape())
           << (bits == 4 ? " (two codes per byte)" : "") << ", got " << codes;
  int64_t groups = 1;
  if (std::optional<uint64_t> group = getGroupSize()) {
    if (cols % static_cast<int64_t>(*group) != 0)
      return emitOpError("group_size ")
             << *group << " does not divide in_features = " << cols;
    groups = cols / static_cast<int64_t>(*group);
  }
  RankedTensorType scales = getScales().getType();
  if (scales.getShape() != ArrayRef<int64_t>{rows, groups})
    return emitOpError("'scales' must be [")
           << rows << ", " << groups << "] (one per row and group), got "
           << scales;
  if (failed(verifySameElementType(*this, "result", result, "scales", scales)))
    return failure();
  if (Value zp = getZeroPoints()) {
    if (getKind() == WeightQuantKind::nf4)
      return emitOpError("nf4 codes are symmetric and take no 'zero_points'");
    if (cast<RankedTensorType>(zp.getType()).getShape() != scales.getShape())
      return emitOpError("'zero_points' must be shaped like 'scales' [")
             << rows << ", " << groups << "], got " << zp.getType();
  }
  return success();
}

LogicalResult SparseWeightOp::verify() {
  RankedTensorType result = getResult().getType();
  if (failed(verifyDenseWeightResult(*this, result)))
    return failure();
  ArrayRef<int64_t> block = getBlockShape();
  if (block.size() != 2 || block[0] <= 0 || block[1] <= 0)
    return emitOpError("block_shape must be two positive extents, got [")
           << block << "]";
  const int64_t rows = result.getDimSize(0), cols = result.getDimSize(1);
  if (rows % block[0] != 0 || cols % block[1] != 0)
    return emitOpError("block_shape [")
           << block << "] does not tile the weight " << str(result.getShape());
  RankedTensorType values = getValues().getType();
  if (!slm::extentsCompatible(values.getDimSize(1), block[0]) ||
      !slm::extentsCompatible(values.getDimSize(2), block[1]))
    return emitOpError("'values' must be [nnz_blocks, ")
           << block[0] << ", " << block[1] << "], got " << values;
  if (failed(verifySameElementType(*this, "result", result, "values", values)))
    return failure();
  int64_t nnz = values.getDimSize(0);
  int64_t cols0 = getColIndices().getType().getDimSize(0);
  if (!slm::extentsCompatible(nnz, cols0))
    return emitOpError("'col_indices' has ")
           << cols0 << " entries but 'values' has " << nnz << " blocks";
  int64_t offsets = getRowOffsets().getType().getDimSize(0);
  if (!slm::extentsCompatible(offsets, rows / block[0] + 1))
    return emitOpError("'row_offsets' must have ")
           << rows / block[0] + 1 << " entries (block rows + 1), got "
           << offsets;
  return success();
}

//===----------------------------------------------------------------------===//
// PruneTokensOp
//===----------------------------------------------------------------------===//

LogicalResult PruneTokensOp::verify() {
  if (getKeepRatio().has_value() == getTopK().has_value())
    return emitOpError("needs exactly one of keep_ratio and top_k");
  if (FloatAttr ratioAttr = getKeepRatioAttr()) {
    double ratio = ratioAttr.getValueAsDouble();
    if (!(ratio > 0.0 && ratio <= 1.0))
      return emitOpError("keep_ratio must be in (0, 1], got ") << ratio;
  }
  if (static_cast<int64_t>(getKeepLeading()) < 0)
    return emitOpError("keep_leading must be >= 0, got ")
           << static_cast<int64_t>(getKeepLeading());
  RankedTensorType hidden = getHidden().getType(),
                   importance = getImportance().getType();
  if (hidden.getRank() != 3)
    return emitOpError("'hidden' must be [batch, seq, dim], got ") << hidden;
  if (!slm::shapesCompatible(shapeOf(importance),
                             {hidden.getDimSize(0), hidden.getDimSize(1)}))
    return emitOpError("'importance' must be [batch, seq] = [")
           << hidden.getDimSize(0) << ", " << hidden.getDimSize(1)
           << "] (one score per token), got " << importance;
  if (failed(verifySameElementType(*this, "result", getResult().getType(),
                                   "hidden", hidden)))
    return failure();
  RankedTensorType result = getResult().getType();
  if (failed(verifyResultShape(
          *this, result,
          {hidden.getDimSize(0), ShapedType::kDynamic, hidden.getDimSize(2)})))
    return failure();
  RankedTensorType kept = getKeptPositions().getType();
  if (!slm::shapesCompatible(shapeOf(kept),
                             {result.getDimSize(0), result.getDimSize(1)}))
    return emitOpError("'kept_positions' must be [batch, kept_seq], got ")
           << kept;
  return success();
}

#define GET_OP_CLASSES
#include "slm/IR/SLMOps.cpp.inc"
