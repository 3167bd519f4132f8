//===- PackedLinear.h - Linear layers over packed weights -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// What the linear-layer lowerings over packed weights share: the panel
// output, the weight readers, the finishing reshape (Linear.cpp for f32 and
// int8 weight-only, QuantizedLinear.cpp for W8A8 and 4-bit weights).
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_CONVERSION_SLMTOLINALG_PACKEDLINEAR_H
#define SLM_LIB_CONVERSION_SLMTOLINALG_PACKEDLINEAR_H

#include "LoweringUtils.h"

#include "slm/IR/SLMConstants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

#include <vector>

namespace mlir::slm::linalg_lowering {

/// The output of a linear layer lowered over packed weights,
/// [lead.., P, panel] with P = ceil(N / panel), and the affine maps of the
/// contractions that write it: loops (lead.., p, j, ...).
struct PanelOutput {
  PanelOutput(OpBuilder &b, LinearOp op, int64_t panel)
      : b(b), loc(op.getLoc()), op(op), x(op.getInput()), panel(panel),
        panels(llvm::divideCeil(op.getOutFeatures(), panel)),
        padded(panels * panel), lead(op.getType().getRank() - 1) {}

  AffineExpr dim(int64_t i) const {
    return getAffineDimExpr(i, b.getContext());
  }
  /// A map over `loops` loops: the leading dimensions, then `tail`.
  AffineMap leadThen(int64_t loops, ArrayRef<int64_t> tail) const {
    SmallVector<AffineExpr> exprs;
    for (int64_t i = 0; i < lead; ++i)
      exprs.push_back(dim(i));
    for (int64_t d : tail)
      exprs.push_back(dim(d));
    return AffineMap::get(loops, 0, exprs, b.getContext());
  }
  /// A map over `loops` loops to `dims` only.
  AffineMap only(int64_t loops, ArrayRef<int64_t> dims) const {
    SmallVector<AffineExpr> exprs;
    for (int64_t d : dims)
      exprs.push_back(dim(d));
    return AffineMap::get(loops, 0, exprs, b.getContext());
  }
  RankedTensorType type(Type element) const {
    SmallVector<int64_t> shape(op.getType().getShape().drop_back());
    shape.append({panels, panel});
    return RankedTensorType::get(shape, element);
  }
  Value empty(Type element) const {
    return emptyTensor(b, loc, type(element), [&](int64_t i) -> Value {
      return tensor::DimOp::create(b, loc, x, i);
    });
  }
  /// Whether the bias can be laid out in panels: none, N a multiple of the
  /// panel, or a constant to pad.
  bool biasFits() const {
    Value bias = op.getBias();
    return !bias || padded == op.getOutFeatures() ||
           matchPattern(bias, m_Constant());
  }
  /// The bias as [P, panel] (zero-padded past N), or null without one.
  Value biasPanels() const {
    Value bias = op.getBias();
    if (!bias)
      return {};
    Attribute attr;
    if (padded != op.getOutFeatures() && matchPattern(bias, m_Constant(&attr)))
      return arith::ConstantOp::create(
          b, loc, cast<TypedAttr>(padConstantPanels(attr, padded, panel)));
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({panels, panel}, b.getF32Type()), bias,
        SmallVector<ReassociationIndices>{{0, 1}});
  }
  /// The f32 accumulator the contraction starts from: the bias broadcast
  /// over the rows, or zeros.
  Value init() const {
    Value e = empty(b.getF32Type());
    if (Value bias = biasPanels())
      return broadcastInto(b, loc, type(b.getF32Type()), bias, e,
                           only(lead + 2, {lead, lead + 1}));
    return zeroFilled(b, loc, e, b.getF32Type());
  }

  OpBuilder &b;
  Location loc;
  // Ops are handles: their accessors are not const.
  mutable LinearOp op;
  Value x;
  int64_t panel, panels, padded, lead;
};

/// The codes and per-row scales of an int8 per-channel symmetric weight
/// (`slm.dequantize_weight <int8>` of constants, no zero points, one group
/// per row).
bool readInt8Weight(Value weight, Attribute &codes, std::vector<float> &scales);

/// The bytes of an i8 constant (splat or dense/resource), `count` of them.
bool readBytes(Attribute attr, int64_t count, std::vector<uint8_t> &out);

/// Replaces `op` by the packed result `y` ([lead.., panels, panel]),
/// reshaped, sliced to the output features and activated.
void finishPackedLinear(PatternRewriter &rewriter, LinearOp op, Value y,
                        int64_t padded);

/// W8A8 (`op` quantizes its input; `codesAttr` holds its int8 weight's
/// codes [N, K], `scales` one per row): replaces `op` by the uint8 x int8
/// dot-product contraction and its dequantizing epilogue, over panels of
/// `2 * panel` columns when N allows (else `panel`); fails (nothing
/// changed) when the layout does not allow it.
LogicalResult lowerW8A8Linear(LinearOp op, PatternRewriter &rewriter,
                              Attribute codesAttr, ArrayRef<float> scales,
                              int64_t panel);

/// A linear layer computed in bfloat16 (`precision = bf16`, `weightAttr`
/// its f32 weight [N, K]): replaces `op` by the rounding of its input and
/// the bf16 x bf16 dot-product contraction summing in f32, over panels of
/// `2 * panel` columns when N allows (else `panel`); fails (nothing
/// changed) when the layout does not allow it.
LogicalResult lowerBF16Linear(LinearOp op, PatternRewriter &rewriter,
                              Attribute weightAttr, int64_t panel);
/// A linear layer with a 4-bit weight: replaces `op` by the contraction
/// that decodes the codes in its body; fails (nothing changed) otherwise.
LogicalResult lowerNibbleLinear(LinearOp op, PatternRewriter &rewriter,
                                int64_t panel);

} // namespace mlir::slm::linalg_lowering

#endif // SLM_LIB_CONVERSION_SLMTOLINALG_PACKEDLINEAR_H
