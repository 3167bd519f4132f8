//===- Linear.cpp - slm.matmul and slm.linear to linalg ---------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Matrix products and linear layers with f32 or int8 weight-only weights:
// the contractions the GEMM kernels take, each with its declaration
// (slm/Codegen/Contraction.h). W8A8 and 4-bit weights: QuantizedLinear.cpp.
//
//===----------------------------------------------------------------------===//

#include "PackedLinear.h"

#include "slm/Codegen/Contraction.h"
#include "slm/IR/SLMConstants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::linalg_lowering;

/// The codes and per-row scales of an int8 per-channel symmetric weight
/// (`slm.dequantize_weight <int8>` of constants, no zero points, one group
/// per row).
bool linalg_lowering::readInt8Weight(Value weight, Attribute &codes,
                                     std::vector<float> &scales) {
  auto dq = weight.getDefiningOp<DequantizeWeightOp>();
  if (!dq || dq.getKind() != WeightQuantKind::int8 || dq.getZeroPoints())
    return false;
  int64_t k = dq.getType().getDimSize(1);
  if (dq.getGroupSize() && static_cast<int64_t>(*dq.getGroupSize()) != k)
    return false;
  Attribute scaleAttr;
  if (!matchPattern(dq.getCodes(), m_Constant(&codes)) ||
      !matchPattern(dq.getScales(), m_Constant(&scaleAttr)) ||
      !readF32Constant(scaleAttr, scales) ||
      static_cast<int64_t>(scales.size()) != dq.getType().getDimSize(0))
    return false;
  return true;
}

void linalg_lowering::finishPackedLinear(PatternRewriter &rewriter, LinearOp op,
                                         Value y, int64_t padded) {
  Location loc = op.getLoc();
  RankedTensorType type = op.getType();
  Value x = op.getInput();
  const int64_t n = op.getOutFeatures();
  const int64_t rank = type.getRank(), lead = rank - 1;
  SmallVector<ReassociationIndices> collapse;
  for (int64_t i = 0; i < lead; ++i)
    collapse.push_back({i});
  collapse.push_back({lead, lead + 1});
  SmallVector<int64_t> paddedShape(type.getShape());
  paddedShape.back() = padded;
  y = tensor::CollapseShapeOp::create(
      rewriter, loc, RankedTensorType::get(paddedShape, type.getElementType()),
      y, collapse);
  if (padded != n) {
    SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0)),
        strides(rank, rewriter.getIndexAttr(1)), sizes;
    for (int64_t i = 0; i < lead; ++i)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, x, i));
    sizes.push_back(rewriter.getIndexAttr(n));
    y = tensor::ExtractSliceOp::create(rewriter, loc, type, y, offsets, sizes,
                                       strides);
  }
  rewriter.replaceOp(op, applyActivation(rewriter, loc, op, y));
}

namespace {

struct LowerMatMul : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value lhs = op.getLhs(), rhs = op.getRhs();
    auto lhsType = cast<RankedTensorType>(lhs.getType());
    auto rhsType = cast<RankedTensorType>(rhs.getType());
    int64_t rank = type.getRank(), batch = rank - 2;
    MLIRContext *ctx = getContext();
    // Loops: batch.., m, n, k.
    int64_t loops = rank + 1;
    auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    auto operandMap = [&](RankedTensorType t, AffineExpr row, AffineExpr col) {
      SmallVector<AffineExpr> exprs;
      int64_t tb = t.getRank() - 2;
      for (int64_t j = 0; j < tb; ++j) {
        int64_t i = j + batch - tb;
        bool stretched = t.getDimSize(j) == 1 && type.getDimSize(i) != 1;
        exprs.push_back(stretched ? getAffineConstantExpr(0, ctx) : d(i));
      }
      exprs.push_back(row);
      exprs.push_back(col);
      return AffineMap::get(loops, 0, exprs, ctx);
    };
    SmallVector<AffineExpr> outExprs;
    for (int64_t i = 0; i < rank; ++i)
      outExprs.push_back(d(i));
    SmallVector<AffineMap> maps = {
        operandMap(lhsType, d(batch), d(batch + 2)),
        operandMap(rhsType, d(batch + 2), d(batch + 1)),
        AffineMap::get(loops, 0, outExprs, ctx)};
    Value empty = emptyTensor(rewriter, loc, type, [&](int64_t i) -> Value {
      if (i == rank - 2)
        return tensor::DimOp::create(rewriter, loc, lhs, lhsType.getRank() - 2);
      if (i == rank - 1)
        return tensor::DimOp::create(rewriter, loc, rhs, rhsType.getRank() - 1);
      return broadcastExtent(rewriter, loc, {lhs, rhs}, rank - 2, i, 2);
    });
    Value init = zeroFilled(rewriter, loc, empty, type.getElementType());
    rewriter.replaceOp(op,
                       contraction(rewriter, loc, type, lhs, rhs, init, maps,
                                   /*declare=*/true));
    return success();
  }
};

/// slm.linear with a constant weight, packed at compile time into column
/// panels [ceil(N/P), K, P]: the contraction's loops are (leading.., p, j,
/// k) and its output [leading.., N/P, P] is the result, reshaped (and
/// sliced when N is not a multiple of P). An int8 weight-only layer reads
/// the codes so packed and their per-column scales; W8A8 layers go to
/// lowerW8A8Linear, bf16 layers to lowerBF16Linear.
static LogicalResult lowerPackedLinear(LinearOp op, PatternRewriter &rewriter,
                                       int64_t panel, PanelCache *cache) {
  Attribute weightAttr;
  // int8 weight-only: the contraction reads the codes and the per-column
  // scales, `out + x * (sitofp(q) * s)`; the GEMM kernels widen and scale
  // B in registers, so nothing else changes (bias, epilogues, fusion).
  std::vector<float> scales;
  if (!matchPattern(op.getWeight(), m_Constant(&weightAttr)) &&
      !readInt8Weight(op.getWeight(), weightAttr, scales))
    return failure();
  const bool quantized = !scales.empty();
  RankedTensorType type = op.getType();
  RankedTensorType weightType = op.getWeight().getType();
  if (!weightType.hasStaticShape() || !type.getElementType().isF32())
    return failure();
  const bool w8a8 = op.getInputQuant() != InputQuant::none;
  if (w8a8)
    return quantized ? lowerW8A8Linear(op, rewriter, weightAttr, scales, panel)
                     : failure();
  if (op.getPrecision() == Precision::bf16)
    return quantized ? failure()
                     : lowerBF16Linear(op, rewriter, weightAttr, panel);
  PanelOutput out(rewriter, op, panel);
  if (!out.biasFits())
    return failure();
  Attribute packed = cache ? cache->pack(weightAttr, panel)
                           : packConstantPanels(weightAttr, panel);
  if (!packed)
    return failure();
  Location loc = op.getLoc();
  Value x = op.getInput();
  Value w = arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(packed));
  // Loops: leading.., p, j, k.
  const int64_t lead = out.lead, loops = lead + 3;
  const int64_t p = lead, j = lead + 1, k = lead + 2;
  Value init = out.init();
  SmallVector<AffineMap> maps = {out.leadThen(loops, {k}),
                                 out.only(loops, {p, k, j}),
                                 out.leadThen(loops, {p, j})};
  MLIRContext *ctx = rewriter.getContext();
  Value y;
  if (!quantized) {
    y = buildDeclaredContraction(
            rewriter, loc,
            ContractionAttr::get(ctx, ContractionKind::f32, panel, 0),
            out.type(rewriter.getF32Type()), ValueRange{x, w}, init, maps)
            .getResult(0);
  } else {
    scales.resize(out.padded, 1.0f);
    auto scaleType =
        RankedTensorType::get({out.panels, panel}, rewriter.getF32Type());
    Value scalePanels = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(scaleType, ArrayRef<float>(scales)));
    maps.insert(maps.begin() + 2, out.only(loops, {p, j}));
    y = buildDeclaredContraction(
            rewriter, loc,
            ContractionAttr::get(ctx, ContractionKind::int8_weight, panel, 0),
            out.type(rewriter.getF32Type()), ValueRange{x, w, scalePanels},
            init, maps)
            .getResult(0);
  }
  finishPackedLinear(rewriter, op, y, out.padded);
  return success();
}

struct LowerLinear : OpRewritePattern<LinearOp> {
  LowerLinear(MLIRContext *ctx, int64_t panel, PanelCache *cache)
      : OpRewritePattern(ctx), panel(panel), cache(cache) {}
  int64_t panel;
  PanelCache *cache;
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    // An input whose in_features is dynamic (a reshape folded only at run
    // time) against a weight whose is known: checked, then static, so that
    // every kernel (packed, int8, 4-bit) sees the weight's K.
    RankedTensorType inputType = op.getInput().getType();
    const int64_t inFeatures = op.getWeight().getType().getDimSize(1);
    if (inputType.isDynamicDim(inputType.getRank() - 1) &&
        !ShapedType::isDynamic(inFeatures)) {
      Value input =
          castDimAtRunTime(rewriter, op.getLoc(), op.getInput(),
                           inputType.getRank() - 1, inFeatures,
                           "the input's last extent differs from the weight's "
                           "in_features (" +
                               Twine(inFeatures) + ")");
      rewriter.modifyOpInPlace(op, [&] { op.getInputMutable().assign(input); });
      return success();
    }
    if (panel > 0 &&
        (succeeded(lowerPackedLinear(op, rewriter, panel, cache)) ||
         succeeded(lowerNibbleLinear(op, rewriter, panel))))
      return success();
    // Compressed weights are decoded inside the GEMM (packed path only):
    // anything else stays and is reported.
    if (op.getWeight().getDefiningOp<CompressedWeightOpInterface>())
      return rewriter.notifyMatchFailure(op, "compressed weight");
    // bf16 products need the packed weight: never silently f32.
    if (op.getPrecision() == Precision::bf16)
      return rewriter.notifyMatchFailure(
          op, "bf16 precision needs a float constant weight and packed "
              "weights (--weight-panel > 0)");
    // A quantized input needs the integer GEMM: never computed in f32.
    if (op.getInputQuant() != InputQuant::none)
      return rewriter.notifyMatchFailure(
          op, "input quantization needs an int8 per-channel constant weight "
              "with in_features a multiple of 4");
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value x = op.getInput(), w = op.getWeight();
    int64_t rank = type.getRank();
    MLIRContext *ctx = getContext();
    auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    // Loops: leading.., n, k.
    int64_t loops = rank + 1;
    SmallVector<AffineExpr> xExprs, outExprs;
    for (int64_t i = 0; i + 1 < rank; ++i) {
      xExprs.push_back(d(i));
      outExprs.push_back(d(i));
    }
    xExprs.push_back(d(rank));
    outExprs.push_back(d(rank - 1));
    SmallVector<AffineMap> maps = {
        AffineMap::get(loops, 0, xExprs, ctx),
        AffineMap::get(loops, 0, {d(rank - 1), d(rank)}, ctx),
        AffineMap::get(loops, 0, outExprs, ctx)};
    Value empty = emptyTensor(rewriter, loc, type, [&](int64_t i) -> Value {
      return tensor::DimOp::create(rewriter, loc, x, i);
    });
    // The accumulator starts at the bias (broadcast over rows) or zero.
    Value init;
    if (Value bias = op.getBias()) {
      init = broadcastInto(rewriter, loc, type, bias, empty,
                           AffineMap::get(rank, 0, {d(rank - 1)}, ctx));
    } else {
      init = zeroFilled(rewriter, loc, empty, type.getElementType());
    }
    // [N, K] weights: no kernel reads B along the reduction, no declaration.
    Value y = contraction(rewriter, loc, type, x, w, init, maps,
                          /*declare=*/false);
    rewriter.replaceOp(op, applyActivation(rewriter, loc, op, y));
    return success();
  }
};

} // namespace

void mlir::slm::linalg_lowering::populateLinearPatterns(
    RewritePatternSet &patterns, int64_t weightPanel, PanelCache *cache) {
  patterns.add<LowerMatMul>(patterns.getContext());
  patterns.add<LowerLinear>(patterns.getContext(), weightPanel, cache);
}
