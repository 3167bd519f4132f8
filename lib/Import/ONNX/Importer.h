//===- Importer.h - ONNX graph importer internals ---------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The pieces the per-op handler files share: how an imported value is
// tracked (including shape arithmetic known at import time), the context a
// handler sees, and the opset-versioned op table.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_IMPORT_ONNX_IMPORTER_H
#define SLM_LIB_IMPORT_ONNX_IMPORTER_H

#include "onnx/onnx_pb.h"

#include "slm/IR/SLMOps.h"

#include "slm/Analysis/SymbolicExtent.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <memory>
#include <optional>
#include <vector>

namespace mlir::slm::onnx_import {

using mlir::Location;
using mlir::LogicalResult;
using mlir::OpBuilder;
using mlir::RankedTensorType;
using mlir::Type;
using mlir::Value;

/// One extent known at import time: `factor` times the product of dimensions
/// of tensors (`tensor.dim` at run time). A constant has no dimensions.
using DimExpr = mlir::slm::SymbolicExtent;

/// What the importer knows of one ONNX value.
///
/// Most values are tensors. ONNX sequences and optionals exist only at import
/// time: a sequence is the list of its tensors (its length known when the
/// graph is imported), an optional holds zero or one value. They lower to
/// nothing themselves; the tensors they hold are ordinary MLIR values.
struct ImportedValue {
  /// What kind of ONNX value this is.
  enum class Kind { Tensor, Sequence, Optional };
  Kind kind = Kind::Tensor;
  /// Sequence: its elements in order. Optional: empty (no value) or the
  /// value it holds. Unused for tensors.
  std::vector<ImportedValue> items;
  /// Sequence and empty optional: the element type their (possible) elements
  /// have, when the model says (SequenceEmpty's dtype); may be null.
  Type itemElementType;
  /// The MLIR value; null while a symbolic value is not materialized yet.
  Value value;
  /// The value's type (known even before materialization).
  RankedTensorType type;
  /// For small 0-D/1-D integer or bool tensors computed from shapes and
  /// constants: every element, known at import time.
  std::optional<llvm::SmallVector<DimExpr>> elements;
  /// ONNX unsigned integer types map onto signless MLIR integers; this keeps
  /// the signedness for casts and quantization.
  bool isUnsigned = false;

  /// All elements known and constant.
  std::optional<llvm::SmallVector<int64_t>> constantElements() const;
  /// True for a plain tensor (not a sequence or optional).
  bool isTensor() const { return kind == Kind::Tensor; }
  /// "tensor", "sequence" or "optional", for messages.
  llvm::StringRef kindName() const;
};

class GraphImporter;

/// What a handler sees of one node.
class NodeContext {
public:
  NodeContext(GraphImporter &importer, const onnx::NodeProto &node,
              std::string name, int64_t opset, Location loc);

  const onnx::NodeProto &node() const { return proto; }
  int64_t opset() const { return opsetVersion; }
  Location loc() const { return location; }
  OpBuilder &builder();
  mlir::MLIRContext *context();
  GraphImporter &importer() { return graph; }

  /// Number of inputs given (trailing optional inputs may be absent).
  int numInputs() const { return proto.input_size(); }
  /// True when input `i` is present (not missing, not the empty name).
  bool hasInput(int i) const;
  /// Input `i`, materialized. Null (after an error) when absent.
  Value input(int i);
  /// The tracked information of input `i`; null when absent.
  ImportedValue *inputInfo(int i);
  /// Type of input `i`.
  RankedTensorType inputType(int i);
  /// Contents of input `i` when it is a constant (inline or resource).
  mlir::ElementsAttr constantInput(int i);
  /// Integer contents of input `i` when known at import time.
  std::optional<llvm::SmallVector<int64_t>> constantInts(int i);

  /// Attribute accessors with defaults.
  const onnx::AttributeProto *attribute(llvm::StringRef name) const;
  int64_t intAttr(llvm::StringRef name, int64_t defaultValue) const;
  float floatAttr(llvm::StringRef name, float defaultValue) const;
  std::string stringAttr(llvm::StringRef name,
                         llvm::StringRef defaultValue) const;
  std::optional<llvm::SmallVector<int64_t>>
  intsAttr(llvm::StringRef name) const;

  /// Defines output `i` as `value`. Unless `isUnsigned` says otherwise, an
  /// integer output is unsigned when an input of the same element type is
  /// (data movement and arithmetic keep ONNX's uint8..uint64); outputs that
  /// are int64 whatever the data (indices, counts) must pass false.
  void setOutput(int i, Value value,
                 std::optional<bool> isUnsigned = std::nullopt);
  /// Defines output `i` as `value` of any kind (sequences, optionals).
  void setOutputValue(int i, ImportedValue value);
  /// The graph-valued attribute `name` (If branches, Loop/Scan bodies), or
  /// null when the node has none of that name.
  const onnx::GraphProto *graphAttr(llvm::StringRef name) const;
  /// Defines output `i` symbolically (materialized on first use).
  void setSymbolicOutput(int i, RankedTensorType type,
                         llvm::ArrayRef<DimExpr> elements);
  /// Number of outputs the node declares.
  int numOutputs() const { return proto.output_size(); }
  /// True when output `i` is used by the graph (declared, non-empty name).
  bool hasOutput(int i) const;

  /// Emits "node 'name' (Op): message" and returns failure.
  LogicalResult error(const llvm::Twine &message);

private:
  GraphImporter &graph;
  const onnx::NodeProto &proto;
  std::string nodeName;
  int64_t opsetVersion;
  Location location;
};

/// A handler imports one node; it reports problems through
/// `NodeContext::error`.
using OpHandler = LogicalResult (*)(NodeContext &node);

/// Handlers keyed by op type and the opset version from which each applies.
class OpTable {
public:
  /// `handler` imports `opType` for opsets >= `sinceVersion` (until the next
  /// registered version of the same op).
  void add(llvm::StringRef opType, int64_t sinceVersion, OpHandler handler);
  /// The handler for `opType` at `opset`, or null.
  OpHandler lookup(llvm::StringRef opType, int64_t opset) const;
  /// The lowest opset any handler of `opType` supports, or 0 when none.
  int64_t firstVersion(llvm::StringRef opType) const;

  /// The table with every supported op.
  static const OpTable &get();

private:
  llvm::StringMap<llvm::SmallVector<std::pair<int64_t, OpHandler>, 2>> entries;
};

// Per-family registration, one file each.
void registerElementwiseOps(OpTable &table);
void registerShapeOps(OpTable &table);
void registerNeuralNetOps(OpTable &table);
void registerQuantizationOps(OpTable &table);
void registerControlFlowOps(OpTable &table);
void registerRecurrentOps(OpTable &table);

/// True for the ops whose inputs may be sequences or optionals (If, Loop,
/// the Sequence* and Optional* ops); every other op takes tensors only.
bool acceptsNonTensorInputs(llvm::StringRef opType);
void registerIndexingOps(OpTable &table);
void registerMathOps(OpTable &table);
void registerVisionOps(OpTable &table);
/// Conv in general (VisionOps.cpp); NeuralNetOps' Conv falls back to it.
LogicalResult importGeneralConv(NodeContext &node);
void registerContribOps(OpTable &table);
void registerTransformerOps(OpTable &table);

/// The importer of one graph into one function.
class GraphImporter {
public:
  GraphImporter(mlir::MLIRContext &context, const std::string &baseDir,
                int64_t inlineConstantLimit);

  OpBuilder &builder() { return b; }
  mlir::MLIRContext &context() { return ctx; }

  /// Looks a value up by ONNX name; null when undefined.
  ImportedValue *lookup(llvm::StringRef name);
  /// Defines an ONNX name.
  void define(llvm::StringRef name, ImportedValue value);
  /// The MLIR value of `info`, materializing symbolic contents.
  Value materialize(ImportedValue &info);

  /// The MLIR element type of an ONNX element type (null when unsupported).
  Type convertElementType(int32_t dataType);
  /// A constant op for `tensor` (inline or resource). Null after an error.
  mlir::FailureOr<ImportedValue> importTensor(const onnx::TensorProto &tensor,
                                              Location loc);
  /// A constant value of type `type` from the attribute `attr`.
  Value constant(Location loc, mlir::TypedAttr attr);
  /// An index value for `expr` (tensor.dim / arith ops).
  Value materializeIndex(Location loc, const DimExpr &expr);
  /// A 1-D index tensor with one entry per expression.
  Value materializeShape(Location loc, llvm::ArrayRef<DimExpr> exprs);
  /// The dimensions of `tensor` as expressions.
  llvm::SmallVector<DimExpr> shapeOf(Value tensor);
  /// Reshapes `input` to `dims`, with a shape operand when needed.
  Value reshape(Location loc, Value input, llvm::ArrayRef<DimExpr> dims);

  /// Imports the subgraph `graph` (an If branch, a Loop or Scan body) at the
  /// builder's insertion point. The values of the enclosing graphs stay
  /// visible; names the subgraph defines shadow them and are forgotten
  /// afterwards. `inputs` bind the subgraph's formal inputs in order; on
  /// success `outputs` holds what the subgraph's outputs are.
  LogicalResult importSubgraph(const onnx::GraphProto &graph,
                               llvm::ArrayRef<ImportedValue> inputs,
                               llvm::SmallVectorImpl<ImportedValue> &outputs,
                               Location loc);
  /// The opset of the default domain the model imports.
  int64_t opset() const { return opsetVersion; }

  /// Imports the graph into a function named `name` in `module`.
  LogicalResult importGraph(const onnx::GraphProto &graph, int64_t opset,
                            llvm::StringRef name, mlir::ModuleOp module,
                            llvm::StringRef fileName);

private:
  LogicalResult checkSupported(const onnx::GraphProto &graph, int64_t opset,
                               llvm::StringRef fileName);
  void collectUnsupported(const onnx::GraphProto &graph, int64_t opset,
                          llvm::SmallVectorImpl<std::string> &problems);
  /// Imports the initializers and nodes of `graph` into the current scope.
  LogicalResult importNodes(const onnx::GraphProto &graph, Location fileLoc);
  mlir::FailureOr<RankedTensorType>
  convertValueInfo(const onnx::ValueInfoProto &info, mlir::Location loc,
                   bool &isUnsigned);

  mlir::MLIRContext &ctx;
  OpBuilder b;
  std::string baseDir;
  int64_t inlineLimit;
  /// Names defined so far: the main graph's scope first, then one scope per
  /// subgraph being imported (innermost last).
  std::vector<std::unique_ptr<llvm::StringMap<ImportedValue>>> scopes;
  int64_t opsetVersion = 0;
};

/// Shared helpers for handlers.

/// Normalizes an ONNX axis for `rank`; std::nullopt when out of range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

/// The shape of a tensor type as expressions (dynamic extents of `value`).
llvm::SmallVector<int64_t> staticShape(llvm::ArrayRef<DimExpr> dims);

/// A splat constant of `elementType` holding `value`, as a 0-D tensor.
Value scalarConstant(NodeContext &node, Type elementType, double value);

/// Fails with an error unless the node has at least `count` inputs present.
LogicalResult requireInputs(NodeContext &node, int count);

/// The numpy broadcast of two shapes as a tensor type of `elementType`;
/// null (after an error on the node) when they do not broadcast.
RankedTensorType broadcastType(NodeContext &node, RankedTensorType lhs,
                               RankedTensorType rhs, Type elementType);

/// slm.reduce of `x` (with `kind`) over the axes that input 1 of `node`
/// holds at run time: each dimension is reduced or kept behind an scf.if,
/// and without `keepDims` the reduced extents are squeezed at run time.
mlir::FailureOr<Value> reduceOverRuntimeAxes(NodeContext &node, Value x,
                                             mlir::slm::ReduceKind kind,
                                             bool keepDims);

/// The scalar float `x` converted to the integer type `to` toward zero, as
/// ONNX Runtime on x86 converts: NaN and values out of range give the
/// "integer indefinite" (0x80..0 of 32 or 64 bits, truncated to `to`).
Value floatToInteger(OpBuilder &b, Location loc, Value x, IntegerType to,
                     bool toUnsigned);

/// Floats already saturated to the range of the integer type `to`
/// (quantization codes) converted with the plain tensor-wise arith cast,
/// the form the quantized-matmul raising recognises.
Value convertSaturated(OpBuilder &b, Location loc, Value value, Type to,
                       bool toUnsigned);

/// Converts `value` to the element type `to` (tensor-wise arith casts);
/// signedness of integers comes from the flags.
Value castElements(OpBuilder &b, Location loc, Value value, bool fromUnsigned,
                   Type to, bool toUnsigned);

/// A parallel linalg.generic computing `body` on the elements of `operands`
/// broadcast (numpy rules) to `type`: for ops with no slm op (MathOps.cpp).
Value broadcastElementwise(
    OpBuilder &b, Location loc, RankedTensorType type,
    mlir::ValueRange operands,
    llvm::function_ref<Value(OpBuilder &, Location, mlir::ValueRange)> body);

} // namespace mlir::slm::onnx_import

#endif // SLM_LIB_IMPORT_ONNX_IMPORTER_H
