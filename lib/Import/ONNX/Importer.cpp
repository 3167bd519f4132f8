//===- Importer.cpp - ONNX graphs into the slm dialect ----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"
#include "ModelReader.h"
#include "slm/Import/ONNX/ImportONNX.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"
#include "slm/Support/Shape.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Path.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::slm::onnx_import;

//===----------------------------------------------------------------------===//
// ImportedValue
//===----------------------------------------------------------------------===//

std::optional<SmallVector<int64_t>> ImportedValue::constantElements() const {
  if (!elements)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const DimExpr &e : *elements) {
    if (!e.isConstant())
      return std::nullopt;
    out.push_back(e.factor);
  }
  return out;
}

StringRef ImportedValue::kindName() const {
  switch (kind) {
  case Kind::Tensor:
    return "tensor";
  case Kind::Sequence:
    return "sequence";
  case Kind::Optional:
    return "optional";
  }
  return "value";
}

//===----------------------------------------------------------------------===//
// NodeContext
//===----------------------------------------------------------------------===//

NodeContext::NodeContext(GraphImporter &importer, const onnx::NodeProto &node,
                         std::string name, int64_t opset, Location loc)
    : graph(importer), proto(node), nodeName(std::move(name)),
      opsetVersion(opset), location(loc) {}

OpBuilder &NodeContext::builder() { return graph.builder(); }
MLIRContext *NodeContext::context() { return &graph.context(); }

bool NodeContext::hasInput(int i) const {
  return i >= 0 && i < proto.input_size() && !proto.input(i).empty();
}

ImportedValue *NodeContext::inputInfo(int i) {
  if (!hasInput(i))
    return nullptr;
  return graph.lookup(proto.input(i));
}

Value NodeContext::input(int i) {
  ImportedValue *info = inputInfo(i);
  if (!info) {
    (void)error("needs input " + llvm::Twine(i));
    return {};
  }
  if (!info->isTensor()) {
    (void)error("input " + llvm::Twine(i) + " is a " + info->kindName() +
                ", not a tensor");
    return {};
  }
  return graph.materialize(*info);
}

RankedTensorType NodeContext::inputType(int i) {
  ImportedValue *info = inputInfo(i);
  return info ? info->type : RankedTensorType();
}

ElementsAttr NodeContext::constantInput(int i) {
  ImportedValue *info = inputInfo(i);
  if (!info)
    return {};
  if (!info->value && info->constantElements())
    graph.materialize(*info);
  ElementsAttr attr;
  if (info->value && matchPattern(info->value, m_Constant(&attr)))
    return attr;
  return {};
}

std::optional<SmallVector<int64_t>> NodeContext::constantInts(int i) {
  ImportedValue *info = inputInfo(i);
  if (!info)
    return std::nullopt;
  if (auto known = info->constantElements())
    return known;
  ElementsAttr attr = constantInput(i);
  auto dense = dyn_cast_if_present<DenseIntElementsAttr>(attr);
  if (!dense)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &v : dense.getValues<APInt>())
    out.push_back(dense.getElementType().isInteger(1) ? v.getZExtValue()
                                                      : v.getSExtValue());
  return out;
}

const onnx::AttributeProto *NodeContext::attribute(StringRef name) const {
  for (const onnx::AttributeProto &attr : proto.attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

int64_t NodeContext::intAttr(StringRef name, int64_t defaultValue) const {
  const onnx::AttributeProto *attr = attribute(name);
  return attr ? attr->i() : defaultValue;
}

float NodeContext::floatAttr(StringRef name, float defaultValue) const {
  const onnx::AttributeProto *attr = attribute(name);
  return attr ? attr->f() : defaultValue;
}

std::string NodeContext::stringAttr(StringRef name,
                                    StringRef defaultValue) const {
  const onnx::AttributeProto *attr = attribute(name);
  return attr ? attr->s() : defaultValue.str();
}

std::optional<SmallVector<int64_t>>
NodeContext::intsAttr(StringRef name) const {
  const onnx::AttributeProto *attr = attribute(name);
  if (!attr)
    return std::nullopt;
  return SmallVector<int64_t>(attr->ints().begin(), attr->ints().end());
}

bool NodeContext::hasOutput(int i) const {
  return i >= 0 && i < proto.output_size() && !proto.output(i).empty();
}

/// Whether the dim_param `param` names a dimension that inputs may share.
/// Exporters also write placeholders for "unknown" ("?" from PaddlePaddle,
/// "None"): dimensions so marked are each their own (ORT does the same).
static bool namesADimension(StringRef param) {
  return param != "None" && llvm::any_of(param, [](char c) {
           return llvm::isAlnum(c);
         });
}

/// Whether an output of element type `element` inherits an unsigned input's
/// signedness (see NodeContext::setOutput).
static bool inheritsUnsigned(NodeContext &node, Type element) {
  if (!element.isInteger() || element.isInteger(1))
    return false;
  for (int j = 0, e = node.numInputs(); j < e; ++j) {
    if (!node.hasInput(j))
      continue;
    ImportedValue *in = node.inputInfo(j);
    if (in && in->isUnsigned && in->type &&
        in->type.getElementType() == element)
      return true;
  }
  return false;
}

void NodeContext::setOutput(int i, Value value,
                            std::optional<bool> isUnsigned) {
  if (!hasOutput(i))
    return;
  ImportedValue info;
  info.value = value;
  info.type = cast<RankedTensorType>(value.getType());
  info.isUnsigned = isUnsigned ? *isUnsigned
                               : inheritsUnsigned(*this, info.type.getElementType());
  // Small integer constants also carry their elements, for shape arithmetic.
  DenseIntElementsAttr attr;
  if (info.type.getRank() <= 1 && info.type.hasStaticShape() &&
      matchPattern(value, m_Constant(&attr)) && attr.getNumElements() >= 0 &&
      attr.getNumElements() <= 64) {
    SmallVector<DimExpr> elements;
    for (const APInt &v : attr.getValues<APInt>())
      elements.push_back(DimExpr::constant(
          info.type.getElementType().isInteger(1) ? v.getZExtValue()
                                                  : v.getSExtValue()));
    info.elements = std::move(elements);
  }
  graph.define(proto.output(i), std::move(info));
}

void NodeContext::setOutputValue(int i, ImportedValue value) {
  if (!hasOutput(i))
    return;
  graph.define(proto.output(i), std::move(value));
}

const onnx::GraphProto *NodeContext::graphAttr(StringRef name) const {
  const onnx::AttributeProto *attr = attribute(name);
  if (!attr || !attr->has_g())
    return nullptr;
  return &attr->g();
}

void NodeContext::setSymbolicOutput(int i, RankedTensorType type,
                                    ArrayRef<DimExpr> elements) {
  if (!hasOutput(i))
    return;
  ImportedValue info;
  info.type = type;
  info.elements = SmallVector<DimExpr>(elements.begin(), elements.end());
  graph.define(proto.output(i), std::move(info));
}

LogicalResult NodeContext::error(const Twine &message) {
  return emitError(location) << "node '" << nodeName << "' (" << proto.op_type()
                             << "): " << message;
}

//===----------------------------------------------------------------------===//
// OpTable
//===----------------------------------------------------------------------===//

void OpTable::add(StringRef opType, int64_t sinceVersion, OpHandler handler) {
  auto &versions = entries[opType];
  versions.emplace_back(sinceVersion, handler);
  llvm::sort(versions, [](auto &a, auto &b) { return a.first < b.first; });
}

OpHandler OpTable::lookup(StringRef opType, int64_t opset) const {
  auto it = entries.find(opType);
  if (it == entries.end())
    return nullptr;
  OpHandler found = nullptr;
  for (const auto &[since, handler] : it->second)
    if (since <= opset)
      found = handler;
  return found;
}

int64_t OpTable::firstVersion(StringRef opType) const {
  auto it = entries.find(opType);
  return it == entries.end() ? 0 : it->second.front().first;
}

const OpTable &OpTable::get() {
  static const OpTable table = [] {
    OpTable t;
    registerElementwiseOps(t);
    registerShapeOps(t);
    registerNeuralNetOps(t);
    registerQuantizationOps(t);
    registerControlFlowOps(t);
    registerRecurrentOps(t);
    registerIndexingOps(t);
    registerMathOps(t);
    registerVisionOps(t);
    registerContribOps(t);
    registerTransformerOps(t);
    return t;
  }();
  return table;
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

GraphImporter::GraphImporter(MLIRContext &context, const std::string &baseDir,
                             int64_t inlineConstantLimit)
    : ctx(context), b(&context), baseDir(baseDir),
      inlineLimit(inlineConstantLimit) {
  scopes.push_back(std::make_unique<llvm::StringMap<ImportedValue>>());
}

ImportedValue *GraphImporter::lookup(StringRef name) {
  for (size_t depth = scopes.size(); depth-- > 0;) {
    auto it = scopes[depth]->find(name);
    if (it == scopes[depth]->end())
      continue;
    // A symbolic value of an enclosing graph is copied into the innermost
    // scope: materialized here, inside a region, it must not be reused
    // outside of it.
    if (depth + 1 != scopes.size() && !it->second.value &&
        it->second.isTensor()) {
      ImportedValue &copy = (*scopes.back())[name];
      copy = it->second;
      return &copy;
    }
    return &it->second;
  }
  return nullptr;
}

void GraphImporter::define(StringRef name, ImportedValue value) {
  (*scopes.back())[name] = std::move(value);
}

Type GraphImporter::convertElementType(int32_t dataType) {
  switch (dataType) {
  case onnx::TensorProto::FLOAT:
    return b.getF32Type();
  case onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto::FLOAT16:
    return b.getF16Type();
  case onnx::TensorProto::BFLOAT16:
    return b.getBF16Type();
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
    return b.getI8Type();
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
    return b.getI16Type();
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return b.getI32Type();
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::UINT64:
    return b.getI64Type();
  case onnx::TensorProto::BOOL:
    return b.getI1Type();
  default:
    return {};
  }
}

static bool isUnsignedType(int32_t dataType) {
  return dataType == onnx::TensorProto::UINT8 ||
         dataType == onnx::TensorProto::UINT16 ||
         dataType == onnx::TensorProto::UINT32 ||
         dataType == onnx::TensorProto::UINT64;
}

Value GraphImporter::constant(Location loc, TypedAttr attr) {
  return arith::ConstantOp::create(b, loc, attr);
}

FailureOr<ImportedValue>
GraphImporter::importTensor(const onnx::TensorProto &tensor, Location loc) {
  Type elementType = convertElementType(tensor.data_type());
  if (!elementType)
    return emitError(loc) << "tensor '" << tensor.name()
                          << "' has element type "
                          << elementTypeName(tensor.data_type())
                          << ", which slm does not support";
  std::vector<char> bytes;
  std::string error;
  if (!readTensorBytes(tensor, baseDir, bytes, error))
    return emitError(loc) << error;
  auto type = RankedTensorType::get(
      SmallVector<int64_t>(tensor.dims().begin(), tensor.dims().end()),
      elementType);
  TypedAttr attr;
  if (elementType.isInteger(1)) {
    SmallVector<bool> bits(bytes.begin(), bytes.end());
    attr = DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  } else if (type.getNumElements() <= inlineLimit) {
    attr = DenseElementsAttr::getFromRawBuffer(type, bytes);
  } else {
    const int64_t alignment =
        std::max<int64_t>(1, elementByteSize(tensor.data_type()));
    std::string name =
        tensor.name().empty() ? std::string("constant") : tensor.name();
    attr = DenseResourceElementsAttr::get(
        type, name,
        HeapAsmResourceBlob::allocateAndCopyWithAlign(
            ArrayRef<char>(bytes.data(), bytes.size()), alignment));
  }
  ImportedValue info;
  info.value = constant(loc, attr);
  info.type = type;
  info.isUnsigned = isUnsignedType(tensor.data_type());
  if (type.getRank() <= 1 && isa<IntegerType>(elementType)) {
    if (auto dense = dyn_cast<DenseIntElementsAttr>(attr)) {
      SmallVector<DimExpr> elements;
      for (const APInt &v : dense.getValues<APInt>())
        elements.push_back(DimExpr::constant(
            elementType.isInteger(1) || info.isUnsigned ? v.getZExtValue()
                                                        : v.getSExtValue()));
      info.elements = std::move(elements);
    }
  }
  return info;
}

Value GraphImporter::materializeIndex(Location loc, const DimExpr &expr) {
  Value result = arith::ConstantIndexOp::create(b, loc, expr.factor);
  if (expr.dims.empty())
    return result;
  Value product;
  for (const auto &[tensor, index] : expr.dims) {
    Value dim = tensor::DimOp::create(b, loc, tensor, index);
    product =
        product ? arith::MulIOp::create(b, loc, product, dim).getResult() : dim;
  }
  if (expr.factor == 1)
    return product;
  return arith::MulIOp::create(b, loc, product, result);
}

Value GraphImporter::materializeShape(Location loc, ArrayRef<DimExpr> exprs) {
  SmallVector<Value> elements;
  for (const DimExpr &e : exprs)
    elements.push_back(materializeIndex(loc, e));
  return tensor::FromElementsOp::create(
      b, loc,
      RankedTensorType::get({static_cast<int64_t>(exprs.size())},
                            b.getIndexType()),
      elements);
}

Value GraphImporter::materialize(ImportedValue &info) {
  if (info.value)
    return info.value;
  Location loc = b.getUnknownLoc();
  Type elementType = info.type.getElementType();
  if (auto known = info.constantElements()) {
    TypedAttr attr;
    if (elementType.isInteger(1)) {
      SmallVector<bool> bits(known->begin(), known->end());
      attr = DenseElementsAttr::get(info.type, ArrayRef<bool>(bits));
    } else {
      SmallVector<APInt> ints;
      for (int64_t v : *known)
        ints.push_back(APInt(elementType.getIntOrFloatBitWidth(), v,
                             /*isSigned=*/true));
      attr = DenseElementsAttr::get(info.type, ints);
    }
    info.value = constant(loc, attr);
    return info.value;
  }
  SmallVector<Value> elements;
  for (const DimExpr &e : *info.elements) {
    Value index = materializeIndex(loc, e);
    elements.push_back(arith::IndexCastOp::create(b, loc, elementType, index));
  }
  info.value = tensor::FromElementsOp::create(b, loc, info.type, elements);
  return info.value;
}

SmallVector<DimExpr> GraphImporter::shapeOf(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<DimExpr> dims;
  for (int64_t i = 0; i < type.getRank(); ++i)
    dims.push_back(DimExpr::dimOf(tensor, i));
  return dims;
}

SmallVector<int64_t>
mlir::slm::onnx_import::staticShape(ArrayRef<DimExpr> dims) {
  SmallVector<int64_t> shape;
  for (const DimExpr &d : dims)
    shape.push_back(d.isConstant() ? d.factor : ShapedType::kDynamic);
  return shape;
}

Value GraphImporter::reshape(Location loc, Value input,
                             ArrayRef<DimExpr> dims) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto resultType =
      RankedTensorType::get(staticShape(dims), inputType.getElementType());
  if (resultType == inputType && resultType.hasStaticShape())
    return input;
  Value shape;
  if (resultType.getNumDynamicDims() > 1)
    shape = materializeShape(loc, dims);
  return slm::ReshapeOp::create(b, loc, resultType, input, shape);
}

std::optional<int64_t> mlir::slm::onnx_import::normalizeAxis(int64_t axis,
                                                             int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

Value mlir::slm::onnx_import::scalarConstant(NodeContext &node,
                                             Type elementType, double value) {
  auto type = RankedTensorType::get({}, elementType);
  TypedAttr attr;
  if (auto floatType = dyn_cast<FloatType>(elementType))
    attr = DenseElementsAttr::get(type, FloatAttr::get(floatType, value));
  else
    attr = DenseElementsAttr::get(
        type, IntegerAttr::get(elementType, static_cast<int64_t>(value)));
  return node.importer().constant(node.loc(), attr);
}

LogicalResult mlir::slm::onnx_import::requireInputs(NodeContext &node,
                                                    int count) {
  for (int i = 0; i < count; ++i)
    if (!node.hasInput(i))
      return node.error("needs " + Twine(count) + " inputs, input " + Twine(i) +
                        " is missing");
  return success();
}

RankedTensorType mlir::slm::onnx_import::broadcastType(NodeContext &node,
                                                       RankedTensorType lhs,
                                                       RankedTensorType rhs,
                                                       Type elementType) {
  slm::Shape a(lhs.getShape().begin(), lhs.getShape().end());
  slm::Shape b(rhs.getShape().begin(), rhs.getShape().end());
  std::optional<slm::Shape> shape = slm::broadcastShapes(a, b);
  if (!shape) {
    (void)node.error("input shapes " + slm::formatShape(a) + " and " +
                     slm::formatShape(b) + " do not broadcast");
    return {};
  }
  return RankedTensorType::get(*shape, elementType);
}

Value mlir::slm::onnx_import::floatToInteger(OpBuilder &b, Location loc,
                                             Value x, IntegerType to,
                                             bool toUnsigned) {
  // Out of range (and NaN) a float -> integer conversion is undefined in
  // C++ and poison in LLVM; ONNX Runtime's x86 build gives what cvttss2si
  // gives: the "integer indefinite" 0x80..0 of 32 or 64 bits, truncated to
  // the target (numpy agrees). Models do compute such values (T5's
  // relative buckets at log(0), then an index check), so the result must be
  // defined and the same as ORT's.
  // uint32 and uint64 convert as clang compiles them for x86-64: values
  // from 2^(W-1) up are converted from x - 2^(W-1) and get the top bit
  // flipped; the others (and NaN) as the signed conversion of W bits.
  // Narrower targets go through the 32-bit signed conversion.
  const unsigned bits = to.getWidth();
  const bool wideUnsigned = toUnsigned && (bits == 32 || bits == 64);
  const unsigned viaBits = bits == 64 || wideUnsigned ? bits : 32;
  Type f64 = b.getF64Type();
  IntegerType via = b.getIntegerType(viaBits);
  if (x.getType() != f64)
    x = arith::ExtFOp::create(b, loc, f64, x);
  auto f = [&](double v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(f64, v));
  };
  const double limit = std::ldexp(1.0, viaBits - 1);
  Value indefinite = arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(via, APInt::getSignedMinValue(viaBits)));
  auto convert = [&](Value v) -> Value {
    Value inRange = arith::AndIOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, v,
                              f(-limit)),
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, v, f(limit)));
    return arith::SelectOp::create(
        b, loc, inRange, arith::FPToSIOp::create(b, loc, via, v), indefinite);
  };
  Value r = convert(x);
  if (wideUnsigned) {
    Value high = arith::XOrIOp::create(
        b, loc, convert(arith::SubFOp::create(b, loc, x, f(limit))),
        indefinite);
    r = arith::SelectOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, x, f(limit)),
        high, r);
  }
  if (bits < via.getWidth())
    r = arith::TruncIOp::create(b, loc, to, r);
  return r;
}

Value mlir::slm::onnx_import::convertSaturated(OpBuilder &b, Location loc,
                                               Value value, Type to,
                                               bool toUnsigned) {
  auto resultType = cast<RankedTensorType>(value.getType()).clone(to);
  if (toUnsigned)
    return arith::FPToUIOp::create(b, loc, resultType, value);
  return arith::FPToSIOp::create(b, loc, resultType, value);
}

Value mlir::slm::onnx_import::castElements(OpBuilder &b, Location loc,
                                           Value value, bool fromUnsigned,
                                           Type to, bool toUnsigned) {
  auto type = cast<RankedTensorType>(value.getType());
  Type from = type.getElementType();
  if (from == to)
    return value;
  auto resultType = type.clone(to);
  if (from.isIndex() || to.isIndex())
    return arith::IndexCastOp::create(b, loc, resultType, value);
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (to.isInteger(1)) {
    // x != 0
    Value zero = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(
            type, fromFloat ? Attribute(b.getFloatAttr(from, 0.0))
                            : Attribute(b.getIntegerAttr(from, 0))));
    if (!type.hasStaticShape()) {
      SmallVector<Value> dynamic;
      for (int64_t i = 0; i < type.getRank(); ++i)
        if (type.isDynamicDim(i))
          dynamic.push_back(tensor::DimOp::create(b, loc, value, i));
      Value scalar = arith::ConstantOp::create(
          b, loc,
          fromFloat ? TypedAttr(b.getFloatAttr(from, 0.0))
                    : TypedAttr(b.getIntegerAttr(from, 0)));
      zero = tensor::SplatOp::create(b, loc, type, scalar, dynamic);
    }
    if (fromFloat)
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, value,
                                   zero);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, value, zero);
  }
  if (fromFloat && toFloat) {
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, resultType, value);
    return arith::TruncFOp::create(b, loc, resultType, value);
  }
  if (fromFloat)
    return broadcastElementwise(
        b, loc, resultType, {value},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          return floatToInteger(nb, l, args[0], cast<IntegerType>(to),
                                toUnsigned);
        });
  if (toFloat)
    return fromUnsigned || from.isInteger(1)
               ? arith::UIToFPOp::create(b, loc, resultType, value).getResult()
               : arith::SIToFPOp::create(b, loc, resultType, value).getResult();
  unsigned fromBits = from.getIntOrFloatBitWidth(),
           toBits = to.getIntOrFloatBitWidth();
  if (fromBits < toBits)
    return fromUnsigned || from.isInteger(1)
               ? arith::ExtUIOp::create(b, loc, resultType, value).getResult()
               : arith::ExtSIOp::create(b, loc, resultType, value).getResult();
  return arith::TruncIOp::create(b, loc, resultType, value);
}

FailureOr<RankedTensorType>
GraphImporter::convertValueInfo(const onnx::ValueInfoProto &info, Location loc,
                                bool &isUnsigned) {
  if (!info.type().has_tensor_type())
    return emitError(loc) << "graph value '" << info.name()
                          << "' is not a tensor; slm supports tensors only";
  const onnx::TypeProto::Tensor &tensorType = info.type().tensor_type();
  Type elementType = convertElementType(tensorType.elem_type());
  if (!elementType)
    return emitError(loc) << "graph value '" << info.name()
                          << "' has element type "
                          << elementTypeName(tensorType.elem_type())
                          << ", which slm does not support";
  isUnsigned = isUnsignedType(tensorType.elem_type());
  if (!tensorType.has_shape())
    return emitError(loc) << "graph value '" << info.name()
                          << "' has no shape; slm needs at least its rank";
  SmallVector<int64_t> shape;
  for (const onnx::TensorShapeProto::Dimension &dim :
       tensorType.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() >= 0)
      shape.push_back(dim.dim_value());
    else
      shape.push_back(ShapedType::kDynamic);
  }
  return RankedTensorType::get(shape, elementType);
}

/// The op table's key of `node`: its type, qualified by its domain when
/// that is not the default one ("com.microsoft::MatMulNBits"; such ops are
/// registered at version 1).
static std::string opKey(const onnx::NodeProto &node) {
  if (node.domain().empty() || node.domain() == "ai.onnx")
    return node.op_type();
  return node.domain() + "::" + node.op_type();
}

void GraphImporter::collectUnsupported(const onnx::GraphProto &graph,
                                       int64_t opset,
                                       SmallVectorImpl<std::string> &problems) {
  const OpTable &table = OpTable::get();
  for (const onnx::NodeProto &node : graph.node()) {
    // Subgraphs (If branches, Loop and Scan bodies) are checked too.
    for (const onnx::AttributeProto &attr : node.attribute()) {
      if (attr.has_g())
        collectUnsupported(attr.g(), opset, problems);
      for (const onnx::GraphProto &g : attr.graphs())
        collectUnsupported(g, opset, problems);
    }
    std::string where = node.op_type() + " (node '" + node.name() + "'";
    const std::string &domain = node.domain();
    const bool standard = domain.empty() || domain == "ai.onnx";
    if (table.lookup(opKey(node), standard ? opset : 1))
      continue;
    if (!standard) {
      problems.push_back(where + ", domain '" + domain + "')");
      continue;
    }
    int64_t first = table.firstVersion(node.op_type());
    if (first)
      problems.push_back(where + ", opset " + std::to_string(opset) +
                         "; supported from opset " + std::to_string(first) +
                         ")");
    else
      problems.push_back(where + ", opset " + std::to_string(opset) + ")");
  }
}

LogicalResult GraphImporter::checkSupported(const onnx::GraphProto &graph,
                                            int64_t opset, StringRef fileName) {
  SmallVector<std::string> problems;
  collectUnsupported(graph, opset, problems);
  if (problems.empty())
    return success();
  InFlightDiagnostic diag = emitError(FileLineColLoc::get(&ctx, fileName, 0, 0))
                            << problems.size() << " node"
                            << (problems.size() == 1 ? " uses an ONNX op"
                                                     : "s use ONNX ops")
                            << " that slm does not support:";
  for (const std::string &p : problems)
    diag << "\n  " << p;
  return failure();
}

LogicalResult GraphImporter::importGraph(const onnx::GraphProto &graph,
                                         int64_t opset, StringRef name,
                                         ModuleOp module, StringRef fileName) {
  if (failed(checkSupported(graph, opset, fileName)))
    return failure();
  opsetVersion = opset;
  Location fileLoc = FileLineColLoc::get(&ctx, fileName, 0, 0);

  llvm::StringSet<> initializerNames;
  for (const onnx::TensorProto &t : graph.initializer())
    initializerNames.insert(t.name());

  // Arguments: graph inputs that are not initializers.
  SmallVector<Type> argTypes;
  SmallVector<const onnx::ValueInfoProto *> argInfos;
  SmallVector<bool> argUnsigned;
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializerNames.contains(input.name()))
      continue;
    bool isUnsigned = false;
    FailureOr<RankedTensorType> type =
        convertValueInfo(input, fileLoc, isUnsigned);
    if (failed(type))
      return failure();
    argTypes.push_back(*type);
    argInfos.push_back(&input);
    argUnsigned.push_back(isUnsigned);
  }

  b.setInsertionPointToEnd(module.getBody());
  auto func =
      func::FuncOp::create(b, fileLoc, name, b.getFunctionType(argTypes, {}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  for (auto [i, info] : llvm::enumerate(argInfos)) {
    func.setArgAttr(i, "slm.name", b.getStringAttr(info->name()));
    // Symbolic dimension names ("batch", "seq"): inputs that share a name
    // share the extent, which raising and shape checks rely on.
    SmallVector<Attribute> dimNames;
    bool anyNamed = false;
    for (const auto &dim : info->type().tensor_type().shape().dim()) {
      StringRef param = dim.has_dim_param() ? StringRef(dim.dim_param()) : "";
      if (!namesADimension(param))
        param = "";
      dimNames.push_back(b.getStringAttr(param));
      anyNamed |= !param.empty();
    }
    if (anyNamed)
      func.setArgAttr(i, "slm.dim_names", b.getArrayAttr(dimNames));
    // The element types are signless: an unsigned ONNX dtype is recorded
    // so that the model's interface names the real one (uint8, not int8).
    if (argUnsigned[i])
      func.setArgAttr(i, "slm.unsigned", b.getUnitAttr());
    ImportedValue value;
    value.value = body->getArgument(i);
    value.type = cast<RankedTensorType>(argTypes[i]);
    value.isUnsigned = argUnsigned[i];
    define(info->name(), std::move(value));
  }

  if (failed(importNodes(graph, fileLoc)))
    return failure();

  SmallVector<Value> results;
  SmallVector<bool> resultUnsigned;
  for (const onnx::ValueInfoProto &output : graph.output()) {
    ImportedValue *value = lookup(output.name());
    if (!value)
      return emitError(fileLoc) << "graph output '" << output.name()
                                << "' is not produced by any node";
    if (!value->isTensor())
      return emitError(fileLoc)
             << "graph output '" << output.name() << "' is a "
             << value->kindName()
             << "; slm supports tensors only as graph inputs and outputs";
    Value result = materialize(*value);
    if (!result)
      return failure();
    // The declared dtype, where there is one, must be what the graph
    // computes (the bits; whether they are unsigned is the declaration's):
    // the model's interface reports the declared one.
    bool isUnsigned = value->isUnsigned;
    if (output.type().has_tensor_type() &&
        output.type().tensor_type().elem_type() !=
            onnx::TensorProto::UNDEFINED) {
      int32_t declared = output.type().tensor_type().elem_type();
      Type declaredType = convertElementType(declared);
      Type computed = cast<ShapedType>(result.getType()).getElementType();
      if (declaredType != computed)
        return emitError(fileLoc)
               << "graph output '" << output.name() << "' is declared "
               << elementTypeName(declared) << " but the graph computes "
               << computed;
      isUnsigned = isUnsignedType(declared);
    }
    results.push_back(result);
    resultUnsigned.push_back(isUnsigned);
  }
  func::ReturnOp::create(b, fileLoc, results);
  func.setType(b.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (auto [i, output] : llvm::enumerate(graph.output())) {
    func.setResultAttr(i, "slm.name", b.getStringAttr(output.name()));
    if (resultUnsigned[i])
      func.setResultAttr(i, "slm.unsigned", b.getUnitAttr());
  }
  return success();
}

LogicalResult GraphImporter::importNodes(const onnx::GraphProto &graph,
                                         Location fileLoc) {
  for (const onnx::TensorProto &tensor : graph.initializer()) {
    Location loc = NameLoc::get(b.getStringAttr(tensor.name()), fileLoc);
    FailureOr<ImportedValue> value = importTensor(tensor, loc);
    if (failed(value))
      return failure();
    define(tensor.name(), std::move(*value));
  }

  const OpTable &table = OpTable::get();
  const int64_t opset = opsetVersion;
  for (auto [index, node] : llvm::enumerate(graph.node())) {
    std::string nodeName = node.name().empty()
                               ? node.op_type() + "_" + std::to_string(index)
                               : node.name();
    Location loc = NameLoc::get(b.getStringAttr(nodeName), fileLoc);
    for (const std::string &input : node.input())
      if (!input.empty() && !lookup(input))
        return emitError(loc) << "node '" << nodeName << "' (" << node.op_type()
                              << "): input '" << input
                              << "' is not defined by a graph input, an "
                                 "initializer or an earlier node";
    // Sequences and optionals reach only the ops that take them; Identity
    // passes them through.
    if (!acceptsNonTensorInputs(node.op_type())) {
      bool aliased = false;
      for (auto [i, input] : llvm::enumerate(node.input())) {
        ImportedValue *value = input.empty() ? nullptr : lookup(input);
        if (!value || value->isTensor())
          continue;
        if (node.op_type() == "Identity" && i == 0 && node.output_size() == 1) {
          ImportedValue copy = *value;
          define(node.output(0), std::move(copy));
          aliased = true;
          break;
        }
        return emitError(loc)
               << "node '" << nodeName << "' (" << node.op_type()
               << "): input '" << input << "' is a " << value->kindName()
               << "; this op takes tensors only";
      }
      if (aliased)
        continue;
    }
    const bool standard = node.domain().empty() || node.domain() == "ai.onnx";
    NodeContext context(*this, node, nodeName, standard ? opset : 1, loc);
    if (failed(table.lookup(opKey(node), standard ? opset : 1)(context)))
      return failure();
    for (const std::string &output : node.output())
      if (!output.empty() && !lookup(output))
        return emitError(loc) << "node '" << nodeName << "' (" << node.op_type()
                              << "): output '" << output
                              << "' was not produced (an optional output "
                                 "slm does not compute)";
  }
  return success();
}

LogicalResult GraphImporter::importSubgraph(
    const onnx::GraphProto &graph, ArrayRef<ImportedValue> inputs,
    SmallVectorImpl<ImportedValue> &outputs, Location loc) {
  if (graph.input_size() != static_cast<int>(inputs.size()))
    return emitError(loc) << "subgraph '" << graph.name() << "' declares "
                          << graph.input_size() << " inputs, the op binds "
                          << inputs.size();
  scopes.push_back(std::make_unique<llvm::StringMap<ImportedValue>>());
  llvm::scope_exit popScope([&] { scopes.pop_back(); });
  for (auto [formal, actual] : llvm::zip(graph.input(), inputs))
    define(formal.name(), actual);
  if (failed(importNodes(graph, loc)))
    return failure();
  outputs.clear();
  for (const onnx::ValueInfoProto &output : graph.output()) {
    ImportedValue *value = lookup(output.name());
    if (!value)
      return emitError(loc) << "subgraph '" << graph.name() << "' output '"
                            << output.name() << "' is not produced";
    outputs.push_back(*value);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

void mlir::slm::registerONNXImportDialects(DialectRegistry &registry) {
  registry.insert<slm::SLMDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, tensor::TensorDialect,
                  linalg::LinalgDialect, scf::SCFDialect,
                  cf::ControlFlowDialect>();
}

/// Imports a parsed model; `baseDir` is where its external data lives.
static OwningOpRef<ModuleOp> importModel(MLIRContext &context,
                                         const onnx::ModelProto &model,
                                         StringRef baseDir, StringRef fileName,
                                         const slm::ONNXImportOptions &options) {
  DialectRegistry registry;
  slm::registerONNXImportDialects(registry);
  context.appendDialectRegistry(registry);
  for (StringRef dialect : registry.getDialectNames())
    context.getOrLoadDialect(dialect);
  Location fileLoc = FileLineColLoc::get(&context, fileName, 0, 0);
  int64_t opset = -1;
  for (const onnx::OperatorSetIdProto &id : model.opset_import())
    if (id.domain().empty() || id.domain() == "ai.onnx")
      opset = id.version();
  if (opset < 0) {
    emitError(fileLoc) << "the model imports no opset of the default ONNX "
                          "domain";
    return {};
  }
  if (opset > 23) {
    emitError(fileLoc) << "opset " << opset
                       << " is newer than slm supports (up to 23)";
    return {};
  }

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  GraphImporter importer(context, baseDir.str(), options.inlineConstantLimit);
  if (failed(importer.importGraph(model.graph(), opset, options.functionName,
                                  *module, fileName)))
    return {};
  if (failed(verify(*module)))
    return {};
  return module;
}

OwningOpRef<ModuleOp>
mlir::slm::importONNXFile(MLIRContext &context, StringRef path,
                          const ONNXImportOptions &options) {
  onnx::ModelProto model;
  std::string error;
  if (!mlir::slm::onnx_import::readModelFile(path.str(), model, error)) {
    emitError(FileLineColLoc::get(&context, path, 0, 0)) << error;
    return {};
  }
  llvm::SmallString<256> baseDir(path);
  llvm::sys::path::remove_filename(baseDir);
  if (baseDir.empty())
    baseDir = ".";
  return importModel(context, model, baseDir, path, options);
}

OwningOpRef<ModuleOp>
mlir::slm::importONNXBuffer(MLIRContext &context, StringRef bytes,
                            StringRef baseDir, StringRef name,
                            const ONNXImportOptions &options) {
  onnx::ModelProto model;
  std::string error;
  if (!mlir::slm::onnx_import::parseModel(bytes, "'" + name.str() + "'", model,
                                          error)) {
    emitError(FileLineColLoc::get(&context, name, 0, 0)) << error;
    return {};
  }
  return importModel(context, model, baseDir, name, options);
}
