//===- FuseAttention.cpp - slm.attention as one fused kernel --------------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// slm.attention keeps heads merged ([B, S, H*D]); raising reached it through
// the producers' own layout (HF writes [B, H, S, D] and, for grouped-query
// attention, repeats the key/value heads). The fused kernel reads Q, K and V
// in whatever layout their producer wrote, so this pass looks back through
// the merge (a transpose and a reshape) and the head repeat and hands the
// kernel the tensors before them: the decomposition's head split, its
// repeated K/V and its [B, H, Sq, Skv] scores are never built.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

#include <limits>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMFUSEATTENTION
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

/// Extent `i` of `v` as an index value (a constant when static).
Value extentOf(OpBuilder &b, Location loc, Value v, int64_t i) {
  auto type = cast<RankedTensorType>(v.getType());
  if (!type.isDynamicDim(i))
    return arith::ConstantIndexOp::create(b, loc, type.getDimSize(i));
  return tensor::DimOp::create(b, loc, v, i);
}

/// `extent` with tensor.dim of a reshape or broadcast_to replaced by the
/// entry of its shape operand, repeatedly: the value it was computed from.
Value resolveExtent(Value extent) {
  for (int depth = 0; depth < 16; ++depth) {
    auto dim = extent.getDefiningOp<tensor::DimOp>();
    std::optional<int64_t> i =
        dim ? getConstantIntValue(dim.getIndex()) : std::nullopt;
    if (!i)
      return extent;
    Value shape;
    if (auto reshape = dim.getSource().getDefiningOp<ReshapeOp>())
      shape = reshape.getShape();
    else if (auto broadcast = dim.getSource().getDefiningOp<BroadcastToOp>())
      shape = broadcast.getShape();
    auto elements =
        shape ? shape.getDefiningOp<tensor::FromElementsOp>() : nullptr;
    if (!elements || *i >= static_cast<int64_t>(elements.getNumOperands()))
      return extent;
    extent = elements.getElements()[*i];
  }
  return extent;
}

/// `x` reshaped to `type` (of extents `extents`): a static shape needs no
/// shape operand.
Value reshapeTo(OpBuilder &b, Location loc, Value x, RankedTensorType type,
                ValueRange extents) {
  Value shape;
  if (!type.hasStaticShape())
    shape = tensor::FromElementsOp::create(
        b, loc,
        RankedTensorType::get({static_cast<int64_t>(extents.size())},
                              b.getIndexType()),
        extents);
  return ReshapeOp::create(b, loc, type, x, shape);
}

/// Whether index values `a` and `b` are known to be equal.
bool knownEqual(Value a, Value b) {
  a = resolveExtent(a);
  b = resolveExtent(b);
  if (a == b)
    return true;
  std::optional<int64_t> ca = getConstantIntValue(a),
                         cb = getConstantIntValue(b);
  if (ca && cb)
    return *ca == *cb;
  auto da = a.getDefiningOp<tensor::DimOp>(),
       db = b.getDefiningOp<tensor::DimOp>();
  return da && db && da.getSource() == db.getSource() &&
         getConstantIntValue(da.getIndex()) &&
         getConstantIntValue(da.getIndex()) ==
             getConstantIntValue(db.getIndex());
}

/// Extent `i` of `v`, statically or by tensor.dim.
bool isExtentOf(Value extent, Value v, int64_t i) {
  auto type = cast<RankedTensorType>(v.getType());
  if (!type.isDynamicDim(i))
    return getConstantIntValue(extent) == type.getDimSize(i);
  auto dim = extent.getDefiningOp<tensor::DimOp>();
  return dim && dim.getSource() == v &&
         getConstantIntValue(dim.getIndex()) == i;
}

/// What the fused op reads for one of Q, K, V, and run-time conditions the
/// view rests on (extents the IR does not prove equal).
struct Operand {
  Value tensor;
  int64_t seqDim = 1;
  /// (a, b): extents that must be equal.
  SmallVector<std::pair<Value, Value>> equalities;
};

/// The shape operand's entries of `reshape`, or none.
std::optional<SmallVector<Value>> shapeEntries(ReshapeOp reshape) {
  Value shape = reshape.getShape();
  if (!shape)
    return std::nullopt;
  auto elements = shape.getDefiningOp<tensor::FromElementsOp>();
  if (!elements)
    return std::nullopt;
  return SmallVector<Value>(elements.getElements());
}

/// `merged` ([B, S, H*D]) as a rank-4 tensor of the producer's layout:
/// reshape(transpose(z [B, H, S, D], [0, 2, 1, 3])) gives z (sequence in
/// dimension 2), reshape(x [B, S, H, D]) gives x; anything else is viewed
/// as [B, S, H, D] by a reshape of its own.
Operand peelMerge(OpBuilder &b, Location loc, Value merged, int64_t heads) {
  auto type = cast<RankedTensorType>(merged.getType());
  const int64_t width = type.getDimSize(2), headDim = width / heads;
  if (auto reshape = merged.getDefiningOp<ReshapeOp>()) {
    Value x = reshape.getInput();
    auto xType = cast<RankedTensorType>(x.getType());
    std::optional<SmallVector<Value>> entries = shapeEntries(reshape);
    bool viewed = xType.getRank() == 4 && xType.getDimSize(2) == heads &&
                  xType.getDimSize(3) == headDim;
    if (viewed && !type.isDynamicDim(0) && !type.isDynamicDim(1))
      viewed = xType.getDimSize(0) == type.getDimSize(0) &&
               xType.getDimSize(1) == type.getDimSize(1);
    else if (viewed)
      viewed = entries && entries->size() == 3 &&
               isExtentOf((*entries)[0], x, 0) &&
               isExtentOf((*entries)[1], x, 1);
    if (viewed) {
      if (auto t = x.getDefiningOp<TransposeOp>();
          t && t.getPermutation() == ArrayRef<int64_t>{0, 2, 1, 3})
        return {t.getInput(), 2, {}};
      return {x, 1, {}};
    }
  }
  SmallVector<int64_t> split = {type.getDimSize(0), type.getDimSize(1), heads,
                                headDim};
  auto splitType = RankedTensorType::get(split, type.getElementType());
  SmallVector<Value> extents;
  if (!splitType.hasStaticShape())
    extents = {extentOf(b, loc, merged, 0), extentOf(b, loc, merged, 1),
               arith::ConstantIndexOp::create(b, loc, heads),
               arith::ConstantIndexOp::create(b, loc, headDim)};
  return {reshapeTo(b, loc, merged, splitType, extents), 1, {}};
}

/// Grouped-query attention's head repeat, z [B, H, T, D] =
/// reshape(broadcast_to(u [B, Hkv, 1, T, D] -> [B, Hkv, H/Hkv, T, D])):
/// u viewed as [B, Hkv, T, D]. `operand` is unchanged when z is not that.
void peelRepeat(OpBuilder &b, Location loc, Operand &operand) {
  if (operand.seqDim != 2)
    return;
  auto reshape = operand.tensor.getDefiningOp<ReshapeOp>();
  if (!reshape)
    return;
  auto broadcast = reshape.getInput().getDefiningOp<BroadcastToOp>();
  if (!broadcast)
    return;
  Value w = broadcast.getResult(), u = broadcast.getInput();
  auto zType = cast<RankedTensorType>(operand.tensor.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  auto uType = cast<RankedTensorType>(u.getType());
  if (wType.getRank() != 5 || uType.getRank() != 5 ||
      uType.getDimSize(2) != 1 || uType.isDynamicDim(1) ||
      wType.getDimSize(1) != uType.getDimSize(1) || wType.isDynamicDim(2) ||
      wType.getDimSize(1) * wType.getDimSize(2) != zType.getDimSize(1) ||
      uType.getDimSize(4) != zType.getDimSize(3) ||
      wType.getDimSize(4) != zType.getDimSize(3))
    return;
  std::optional<SmallVector<Value>> entries = shapeEntries(reshape);
  if (!entries || entries->size() != 4)
    return;
  // Batch and positions keep their extents through the repeat and the
  // merge of the heads (checked at run time where the IR does not say).
  Operand peeled;
  peeled.seqDim = 2;
  for (int64_t i : {0, 3}) {
    Value ue = extentOf(b, loc, u, i), we = extentOf(b, loc, w, i);
    if (!knownEqual(ue, we))
      peeled.equalities.push_back({ue, we});
    Value ze = (*entries)[i == 0 ? 0 : 2];
    if (!knownEqual(ze, we))
      peeled.equalities.push_back({ze, we});
  }
  SmallVector<int64_t> view = {uType.getDimSize(0), uType.getDimSize(1),
                               uType.getDimSize(3), uType.getDimSize(4)};
  auto viewType = RankedTensorType::get(view, uType.getElementType());
  // u is usually x [B, Hkv, T, D] with the unit dimension inserted: x it is.
  if (auto unsqueeze = u.getDefiningOp<ReshapeOp>()) {
    Value x = unsqueeze.getInput();
    std::optional<SmallVector<Value>> in = shapeEntries(unsqueeze);
    if (x.getType() == viewType && in && in->size() == 5 &&
        getConstantIntValue((*in)[2]) == 1) {
      for (auto [entry, dim] : {std::pair<int64_t, int64_t>{0, 0}, {3, 2}})
        if (!isExtentOf((*in)[entry], x, dim))
          peeled.equalities.push_back({(*in)[entry], extentOf(b, loc, x, dim)});
      peeled.tensor = x;
      operand = peeled;
      return;
    }
  }
  SmallVector<Value> extents;
  if (!viewType.hasStaticShape())
    extents = {extentOf(b, loc, u, 0), extentOf(b, loc, u, 1),
               extentOf(b, loc, u, 3), extentOf(b, loc, u, 4)};
  peeled.tensor = reshapeTo(b, loc, u, viewType, extents);
  operand = peeled;
}

/// A 0-D f32 constant.
Value scalar(OpBuilder &b, Location loc, float value) {
  auto type = RankedTensorType::get({}, b.getF32Type());
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, b.getF32FloatAttr(value)));
}

struct FuseAttention : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    const int64_t heads = op.getNumHeads();
    for (RankedTensorType t : {op.getQuery().getType(), op.getKey().getType(),
                               op.getValue().getType()})
      if (!t.getElementType().isF32() || t.isDynamicDim(2))
        return rewriter.notifyMatchFailure(op, "not f32 with static widths");
    Value mask = op.getMask();
    if (mask) {
      Type element = cast<RankedTensorType>(mask.getType()).getElementType();
      if (!element.isF32() && !element.isInteger(1))
        return rewriter.notifyMatchFailure(op, "mask is neither f32 nor i1");
    }
    Operand query = peelMerge(rewriter, loc, op.getQuery(), heads);
    Operand key = peelMerge(rewriter, loc, op.getKey(), heads);
    Operand value = peelMerge(rewriter, loc, op.getValue(), heads);
    Operand repeatedKey = key, repeatedValue = value;
    peelRepeat(rewriter, loc, key);
    peelRepeat(rewriter, loc, value);
    auto headsOf = [](const Operand &o) {
      return cast<RankedTensorType>(o.tensor.getType())
          .getDimSize(3 - o.seqDim);
    };
    // Keys and values share their heads, or both keep the repeat.
    if (headsOf(key) != headsOf(value)) {
      key = repeatedKey;
      value = repeatedValue;
    }
    SmallVector<std::pair<Value, Value>> equalities;
    for (const Operand &o : {query, key, value})
      equalities.append(o.equalities);

    Value batch = extentOf(rewriter, loc, query.tensor, 0);
    Value querySeq = extentOf(rewriter, loc, query.tensor, query.seqDim);
    Value keySeq = extentOf(rewriter, loc, key.tensor, key.seqDim);
    if (mask) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      // An i1 mask keeps `true`: masked scores get the lowest finite value
      // added, which exp() turns into 0 as the decomposition's select does.
      if (maskType.getElementType().isInteger(1)) {
        auto f32Type = maskType.clone(rewriter.getF32Type());
        mask = SelectOp::create(
            rewriter, loc, f32Type, mask, scalar(rewriter, loc, 0.0f),
            scalar(rewriter, loc, -std::numeric_limits<float>::max()));
        maskType = f32Type;
      }
      if (maskType.getRank() < 4) {
        SmallVector<int64_t> shape(4 - maskType.getRank(), 1);
        SmallVector<Value> extents;
        for (int64_t i = 0; i < 4 - maskType.getRank(); ++i)
          if (!maskType.hasStaticShape())
            extents.push_back(arith::ConstantIndexOp::create(rewriter, loc, 1));
        for (int64_t i = 0; i < maskType.getRank(); ++i) {
          shape.push_back(maskType.getDimSize(i));
          if (!maskType.hasStaticShape())
            extents.push_back(extentOf(rewriter, loc, mask, i));
        }
        mask = reshapeTo(rewriter, loc, mask, maskType.clone(shape), extents);
        maskType = cast<RankedTensorType>(mask.getType());
      }
    }
    auto check = [&](Value ok, StringRef what) {
      cf::AssertOp::create(rewriter, loc, ok,
                           "fused attention: " + what.str() +
                               " differs from the attention's");
    };
    for (auto [a, b] : equalities)
      check(
          arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq, a, b),
          "an extent of K or V");
    if (mask) {
      // A dynamic mask extent is the full one or 1 (broadcast, as the
      // kernel does when it finds 1 at run time).
      auto maskType = cast<RankedTensorType>(mask.getType());
      Value full[4] = {batch,
                       arith::ConstantIndexOp::create(rewriter, loc, heads),
                       querySeq, keySeq};
      Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
      for (int64_t i = 0; i < 4; ++i) {
        if (!maskType.isDynamicDim(i))
          continue;
        Value extent = tensor::DimOp::create(rewriter, loc, mask, i);
        if (knownEqual(extent, full[i]))
          continue;
        Value isFull = arith::CmpIOp::create(
            rewriter, loc, arith::CmpIPredicate::eq, extent, full[i]);
        Value isOne = arith::CmpIOp::create(
            rewriter, loc, arith::CmpIPredicate::eq, extent, one);
        check(arith::OrIOp::create(rewriter, loc, isFull, isOne),
              "an extent of the mask (neither 1 nor the scores')");
      }
    }
    auto resultType = op.getType();
    SmallVector<Value> dynamicSizes;
    if (resultType.isDynamicDim(0))
      dynamicSizes.push_back(batch);
    if (resultType.isDynamicDim(1))
      dynamicSizes.push_back(querySeq);
    Value init = tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                         rewriter.getF32Type(), dynamicSizes);
    auto fused = FusedAttentionOp::create(
        rewriter, loc, TypeRange{resultType}, query.tensor, key.tensor,
        value.tensor, mask, /*offsets=*/Value(), init, /*importance=*/Value(),
        op.getNumHeadsAttr(),
        rewriter.getF64FloatAttr(op.getEffectiveScale()),
        rewriter.getDenseI64ArrayAttr({query.seqDim, key.seqDim, value.seqDim}),
        op.getCausalAttr());
    rewriter.replaceOp(op, fused.getResult());
    return success();
  }
};

struct SLMFuseAttentionPass
    : mlir::slm::impl::SLMFuseAttentionBase<SLMFuseAttentionPass> {
  void runOnOperation() override {
    // One rewrite per attention, nothing to iterate on: a walk does.
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseAttention>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
