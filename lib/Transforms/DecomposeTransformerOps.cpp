//===- DecomposeTransformerOps.cpp - Transformer ops to tensor ops --------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// How transformer-level ops reach code generation: attention,
// normalizations, GELU, softmax and embedding spelled out in tensor-level slm
// ops and math ops, which --convert-slm-to-linalg lowers (it lowers
// slm.linear itself, to the GEMM kernels' layout).
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <limits>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMDECOMPOSETRANSFORMEROPS
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

/// A 0-D constant of `elementType`.
Value scalar(OpBuilder &b, Location loc, Type elementType, double value) {
  auto type = RankedTensorType::get({}, elementType);
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, b.getFloatAttr(elementType, value)));
}

/// Extent `i` of `v` as an index value.
Value dim(OpBuilder &b, Location loc, Value v, int64_t i) {
  return tensor::DimOp::create(b, loc, v, i);
}

/// A 1-D index tensor of the given extents.
Value shapeOf(OpBuilder &b, Location loc, ArrayRef<Value> extents) {
  return tensor::FromElementsOp::create(
      b, loc,
      RankedTensorType::get({static_cast<int64_t>(extents.size())},
                            b.getIndexType()),
      extents);
}

/// [B, S, H*D] -> [B, S, H, D] -> permuted by `perm`.
Value splitHeads(OpBuilder &b, Location loc, Value x, int64_t heads,
                 ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t width = type.getDimSize(2);
  SmallVector<int64_t> split = {type.getDimSize(0), type.getDimSize(1), heads,
                                width / heads};
  Value shape =
      shapeOf(b, loc,
              {dim(b, loc, x, 0), dim(b, loc, x, 1),
               arith::ConstantIndexOp::create(b, loc, heads),
               arith::ConstantIndexOp::create(b, loc, width / heads)});
  Value r = ReshapeOp::create(
      b, loc, RankedTensorType::get(split, type.getElementType()), x, shape);
  SmallVector<int64_t> permuted;
  for (int64_t p : perm)
    permuted.push_back(split[p]);
  return TransposeOp::create(
      b, loc, RankedTensorType::get(permuted, type.getElementType()), r, perm);
}

struct DecomposeAttention : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t heads = op.getNumHeads();
    Type f = op.getQuery().getType().getElementType();
    // Q [B, H, Sq, D], K^T [B, H, D, Skv], V [B, H, Skv, Dv].
    Value q = splitHeads(rewriter, loc, op.getQuery(), heads, {0, 2, 1, 3});
    Value kt = splitHeads(rewriter, loc, op.getKey(), heads, {0, 2, 3, 1});
    Value v = splitHeads(rewriter, loc, op.getValue(), heads, {0, 2, 1, 3});
    auto qType = cast<RankedTensorType>(q.getType());
    auto ktType = cast<RankedTensorType>(kt.getType());
    auto vType = cast<RankedTensorType>(v.getType());
    auto scoresType = RankedTensorType::get(
        {qType.getDimSize(0), heads, qType.getDimSize(2), ktType.getDimSize(3)},
        f);
    Value scores = MatMulOp::create(rewriter, loc, scoresType, q, kt);
    scores = MulOp::create(rewriter, loc, scoresType, scores,
                           scalar(rewriter, loc, f, op.getEffectiveScale()));
    // A masked score is the lowest finite value: exp() of it is 0 and fully
    // masked rows stay finite.
    Value lowest = scalar(rewriter, loc, f, -std::numeric_limits<float>::max());
    if (Value mask = op.getMask()) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      if (maskType.getElementType().isInteger(1))
        scores =
            SelectOp::create(rewriter, loc, scoresType, mask, scores, lowest);
      else
        scores = AddOp::create(rewriter, loc, scoresType, scores, mask);
    }
    if (op.getCausal()) {
      // keep[i, j] = j <= i + (Skv - Sq): the last query sees every key.
      Value sq = dim(rewriter, loc, q, 2), skv = dim(rewriter, loc, kt, 3);
      Value offset = arith::SubIOp::create(rewriter, loc, skv, sq);
      auto keepType = RankedTensorType::get(
          {scoresType.getDimSize(2), scoresType.getDimSize(3)},
          rewriter.getI1Type());
      SmallVector<Value> dynamicSizes;
      if (keepType.isDynamicDim(0))
        dynamicSizes.push_back(sq);
      if (keepType.isDynamicDim(1))
        dynamicSizes.push_back(skv);
      auto keep =
          tensor::GenerateOp::create(rewriter, loc, keepType, dynamicSizes);
      {
        OpBuilder::InsertionGuard guard(rewriter);
        Block *body = rewriter.createBlock(
            &keep.getBody(), {},
            {rewriter.getIndexType(), rewriter.getIndexType()}, {loc, loc});
        Value limit =
            arith::AddIOp::create(rewriter, loc, body->getArgument(0), offset);
        Value ok =
            arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::sle,
                                  body->getArgument(1), limit);
        tensor::YieldOp::create(rewriter, loc, ok);
      }
      scores =
          SelectOp::create(rewriter, loc, scoresType, keep, scores, lowest);
    }
    Value probs = SoftmaxOp::create(rewriter, loc, scores, 3);
    auto contextType = RankedTensorType::get(
        {qType.getDimSize(0), heads, qType.getDimSize(2), vType.getDimSize(3)},
        f);
    Value context = MatMulOp::create(rewriter, loc, contextType, probs, v);
    auto mergedType = RankedTensorType::get(
        {qType.getDimSize(0), qType.getDimSize(2), heads, vType.getDimSize(3)},
        f);
    context = TransposeOp::create(rewriter, loc, mergedType, context,
                                  ArrayRef<int64_t>{0, 2, 1, 3});
    Value shape =
        shapeOf(rewriter, loc,
                {dim(rewriter, loc, context, 0), dim(rewriter, loc, context, 1),
                 arith::ConstantIndexOp::create(rewriter, loc,
                                                op.getType().getDimSize(2))});
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), context, shape);
    return success();
  }
};

/// The trailing axes [axis, rank).
SmallVector<int64_t> trailingAxes(int64_t axis, int64_t rank) {
  SmallVector<int64_t> axes;
  for (int64_t i = axis; i < rank; ++i)
    axes.push_back(i);
  return axes;
}

RankedTensorType keepDimsType(RankedTensorType type, ArrayRef<int64_t> axes) {
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t a : axes)
    shape[a] = 1;
  return RankedTensorType::get(shape, type.getElementType());
}

struct DecomposeLayerNorm : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    int64_t axis = static_cast<int64_t>(op.getAxis());
    if (axis < 0)
      axis += type.getRank();
    SmallVector<int64_t> axes = trailingAxes(axis, type.getRank());
    RankedTensorType statType = keepDimsType(type, axes);
    Value x = op.getInput();
    Value mean = ReduceOp::create(rewriter, loc, statType, ReduceKind::mean, x,
                                  axes, true);
    Value d = SubOp::create(rewriter, loc, type, x, mean);
    Value var =
        ReduceOp::create(rewriter, loc, statType, ReduceKind::mean,
                         MulOp::create(rewriter, loc, type, d, d), axes, true);
    Value eps = scalar(rewriter, loc, type.getElementType(),
                       op.getEpsilon().convertToDouble());
    Value rstd = math::RsqrtOp::create(
        rewriter, loc, AddOp::create(rewriter, loc, statType, var, eps));
    Value y = MulOp::create(rewriter, loc, type, d, rstd);
    y = MulOp::create(rewriter, loc, type, y, op.getGamma());
    if (Value beta = op.getBeta())
      y = AddOp::create(rewriter, loc, type, y, beta);
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct DecomposeRMSNorm : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    SmallVector<int64_t> axes = {type.getRank() - 1};
    RankedTensorType statType = keepDimsType(type, axes);
    Value x = op.getInput();
    Value ms =
        ReduceOp::create(rewriter, loc, statType, ReduceKind::mean,
                         MulOp::create(rewriter, loc, type, x, x), axes, true);
    Value eps = scalar(rewriter, loc, type.getElementType(),
                       op.getEpsilon().convertToDouble());
    Value r = math::RsqrtOp::create(
        rewriter, loc, AddOp::create(rewriter, loc, statType, ms, eps));
    Value y = MulOp::create(rewriter, loc, type, x, r);
    rewriter.replaceOpWithNewOp<MulOp>(op, type, y, op.getGamma());
    return success();
  }
};

/// GELU as math on tensors.
Value buildGelu(OpBuilder &b, Location loc, Value x, bool tanhForm) {
  auto type = cast<RankedTensorType>(x.getType());
  Type f = type.getElementType();
  Value half = MulOp::create(b, loc, type, x, scalar(b, loc, f, 0.5));
  Value inner;
  if (tanhForm) {
    Value cube =
        MulOp::create(b, loc, type, x, MulOp::create(b, loc, type, x, x));
    Value t = AddOp::create(
        b, loc, type, x,
        MulOp::create(b, loc, type, cube, scalar(b, loc, f, 0.044715)));
    inner = math::TanhOp::create(
        b, loc,
        MulOp::create(b, loc, type, t,
                      scalar(b, loc, f, std::sqrt(2.0 / M_PI))));
  } else {
    inner = math::ErfOp::create(
        b, loc,
        MulOp::create(b, loc, type, x,
                      scalar(b, loc, f, 1.0 / std::sqrt(2.0))));
  }
  Value onePlus = AddOp::create(b, loc, type, inner, scalar(b, loc, f, 1.0));
  return MulOp::create(b, loc, type, half, onePlus);
}

struct DecomposeGelu : OpRewritePattern<GeluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GeluOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, buildGelu(rewriter, op.getLoc(), op.getInput(),
                      op.getApproximate() == GeluApproximation::tanh));
    return success();
  }
};

struct DecomposeSoftmax : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    int64_t axis = static_cast<int64_t>(op.getAxis());
    if (axis < 0)
      axis += type.getRank();
    RankedTensorType statType = keepDimsType(type, {axis});
    Value x = op.getInput();
    Value max = ReduceOp::create(rewriter, loc, statType, ReduceKind::max, x,
                                 ArrayRef<int64_t>{axis}, true);
    Value e = math::ExpOp::create(rewriter, loc,
                                  SubOp::create(rewriter, loc, type, x, max));
    Value sum = ReduceOp::create(rewriter, loc, statType, ReduceKind::sum, e,
                                 ArrayRef<int64_t>{axis}, true);
    rewriter.replaceOpWithNewOp<DivOp>(op, type, e, sum);
    return success();
  }
};

struct DecomposeEmbedding : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<GatherOp>(op, op.getType(), op.getTable(),
                                          op.getIds(),
                                          rewriter.getI64IntegerAttr(0));
    return success();
  }
};

struct SLMDecomposeTransformerOpsPass
    : mlir::slm::impl::SLMDecomposeTransformerOpsBase<
          SLMDecomposeTransformerOpsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateDecomposeTransformerOpsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::slm::populateDecomposeTransformerOpsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DecomposeAttention, DecomposeLayerNorm, DecomposeRMSNorm,
               DecomposeGelu, DecomposeSoftmax, DecomposeEmbedding>(
      patterns.getContext());
}
