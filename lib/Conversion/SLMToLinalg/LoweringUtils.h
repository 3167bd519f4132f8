//===- LoweringUtils.h - Helpers of --convert-slm-to-linalg -----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Shared by the files of --convert-slm-to-linalg (one per op family):
// tensors, broadcasting maps, accumulators and activations, and the
// populate functions of each family.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_CONVERSION_SLMTOLINALG_LOWERINGUTILS_H
#define SLM_LIB_CONVERSION_SLMTOLINALG_LOWERINGUTILS_H

#include "slm/IR/SLMOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::slm::linalg_lowering {

/// An empty tensor of `type`; each dynamic extent `d` comes from `extent(d)`.
Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type,
                  function_ref<Value(int64_t)> extent);

/// Result extent `d` of a broadcasting op over the leading `resultRank`
/// dimensions of `operands`, whose last `trailing` dimensions are not
/// broadcast (2 for matmul operands, else 0): a static extent other than 1
/// if an operand has one there, else the extent of an operand that is
/// dynamic there, else 1.
Value broadcastExtent(OpBuilder &b, Location loc, ValueRange operands,
                      int64_t resultRank, int64_t d, int64_t trailing = 0);

/// The map reading `operand` inside a loop nest over `resultShape`: aligned
/// from the right, a static 1 against a larger extent reads index 0.
AffineMap broadcastMap(MLIRContext *ctx, RankedTensorType operand,
                       ArrayRef<int64_t> resultShape);

/// Where an extent comes from: dimension `dim` of `value`, followed back
/// through ops that keep it (destination-style ops to their init,
/// tensor.empty to its size operand, same-shape ops to their operand).
struct ExtentRoot {
  Value value;
  int64_t dim;
  bool operator==(const ExtentRoot &other) const {
    return value == other.value && dim == other.dim;
  }
  bool operator!=(const ExtentRoot &other) const { return !(*this == other); }
};

/// The root of extent `d` of `value`; two equal roots are equal extents at
/// run time.
ExtentRoot extentRoot(Value value, int64_t d, int depth = 0);

/// The root of an index value that is a tensor.dim (possibly through
/// tensor.from_elements + tensor.extract); std::nullopt otherwise.
std::optional<ExtentRoot> indexRoot(Value index, int depth = 0);

/// `operand` with dimension `dim` made static (`extent`) by a tensor.cast,
/// after a run-time check that it has that extent (a reshape the importer
/// could not fold leaves such dimensions dynamic; the kernels need them
/// static and a mismatch must not read past a buffer).
Value castDimAtRunTime(OpBuilder &b, Location loc, Value operand, int64_t dim,
                       int64_t extent, const Twine &what);

/// `operand` stretched at run time: for each (dimension, target extent) of
/// `targets`, an extent of 1 is repeated to the target (numpy
/// broadcasting). An scf.if keeps the operand as it is when every extent
/// already matches; the result has the operand's type.
Value stretchAtRunTime(OpBuilder &b, Location loc, Value operand,
                       ArrayRef<std::pair<int64_t, Value>> targets);

/// Numpy broadcasting of `operands` to `resultType` with extents known only
/// at run time: the result extents, and the operands stretched where a
/// dynamic extent may be 1 against a larger one (static 1s are left to
/// broadcastMap). Where dynamic extents meet, a cf.assert checks that they
/// broadcast.
struct RuntimeBroadcast {
  SmallVector<Value> extents;
  SmallVector<Value> operands;
};
RuntimeBroadcast broadcastAtRunTime(OpBuilder &b, Location loc,
                                    ValueRange operands,
                                    RankedTensorType resultType);

/// A parallel linalg.generic over the result of a broadcasting op.
Value broadcastGeneric(
    OpBuilder &b, Location loc, RankedTensorType resultType,
    ValueRange operands,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// Whether `t` is a floating-point type.
inline bool isFloat(Type t) { return isa<FloatType>(t); }

/// `empty` filled with zeros of `elementType`.
Value zeroFilled(OpBuilder &b, Location loc, Value empty, Type elementType);

/// `source` broadcast into `empty` (of `type`) through `sourceMap`: the
/// starting value of an accumulator (a bias).
Value broadcastInto(OpBuilder &b, Location loc, RankedTensorType type,
                    Value source, Value empty, AffineMap sourceMap);

/// A multiply-accumulate contraction of `lhs` and `rhs` into `init` with
/// `maps`, the last loop the reduction. f32 products carry the declaration
/// `#slm.contraction<kind = f32>` (B read in place) when `declare` is set;
/// other element types never do.
Value contraction(OpBuilder &b, Location loc, Type type, Value lhs, Value rhs,
                  Value init, ArrayRef<AffineMap> maps, bool declare);

/// The scalar activation of a linear epilogue.
Value scalarActivation(OpBuilder &b, Location loc, Activation activation,
                       Value x);

/// Applies the activation of `op` (if any) to `y`.
Value applyActivation(PatternRewriter &rewriter, Location loc, LinearOp op,
                      Value y);

/// Broadcasting elementwise ops: binary arithmetic, compare, select,
/// broadcast_to (Elementwise.cpp).
void populateElementwisePatterns(RewritePatternSet &patterns);

/// Weights packed into panels during one conversion, each once: a tied
/// embedding (a gather table equal to a packed linear weight, as exporters
/// write an LM head that shares the token embedding) is read from the
/// linear's panels, and the model stores it once.
struct PanelCache {
  /// `attr` packed into panels of `panel` columns (packConstantPanels),
  /// the same attribute every time.
  Attribute pack(Attribute attr, int64_t panel);
  /// Finds the gather tables (axis 0, f32 [V, H] constants) of `root` that
  /// equal the weight of a linear layer whose weight packing applies.
  void findTiedTables(Operation *root);
  /// The linear weight a gather table is tied to, or null.
  Attribute tiedWeight(Attribute table) const {
    return tiedTables.lookup(table);
  }
  int64_t panel = 0;

private:
  llvm::DenseMap<std::pair<Attribute, int64_t>, Attribute> packed;
  llvm::DenseMap<Attribute, Attribute> tiedTables;
};

/// slm.matmul and slm.linear, with weights packed into panels of
/// `weightPanel` columns (0: not packed) and compressed weights decoded in
/// the contraction (Linear.cpp, QuantizedLinear.cpp); packed through
/// `cache` when given.
void populateLinearPatterns(RewritePatternSet &patterns, int64_t weightPanel,
                            PanelCache *cache = nullptr);

/// Transpose, reshape and gather (DataMovement.cpp); a gather of a table
/// tied to a linear weight in `cache` reads that weight's panels.
void populateDataMovementPatterns(RewritePatternSet &patterns,
                                  PanelCache *cache = nullptr);

/// slm.reduce (Reductions.cpp).
void populateReductionPatterns(RewritePatternSet &patterns);

} // namespace mlir::slm::linalg_lowering

#endif // SLM_LIB_CONVERSION_SLMTOLINALG_LOWERINGUTILS_H
