//===- TransformerOps.cpp - ONNX opset-23 transformer ops -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Attention (opset 23: 3-D or 4-D Q/K/V, grouped-query head counts, bool or
// float attn_mask, is_causal, scale, past/present key and value),
// RMSNormalization and RotaryEmbedding, plus the helpers that the
// com.microsoft attention family (ContribOps.cpp) shares with them
// (TransformerUtils.h). Attention becomes slm.attention and RMS
// normalization slm.rms_norm, so raising, pruning and fusion see them.
//
//===----------------------------------------------------------------------===//

#include "TransformerUtils.h"

#include "slm/Support/Shape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::slm::onnx_import;
using namespace mlir::slm::onnx_import::transformer;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

Value transformer::dimValue(NodeContext &node, Value v, int64_t index) {
  return node.importer().materializeIndex(node.loc(),
                                          DimExpr::dimOf(v, index));
}

void transformer::runtimeCheck(NodeContext &node, Value condition,
                               const Twine &message) {
  std::string name = node.node().name();
  if (auto named = dyn_cast<NameLoc>(node.loc()))
    name = named.getName().str();
  // Loaded on first use: the importer's own dialect list need not know.
  node.context()->getOrLoadDialect<cf::ControlFlowDialect>();
  cf::AssertOp::create(node.builder(), node.loc(), condition,
                       name + " (" + node.node().op_type() + "): " +
                           message.str());
}

LogicalResult transformer::requireSameExtent(NodeContext &node, Value a,
                                             int64_t ai, Value b, int64_t bi,
                                             const Twine &what) {
  int64_t x = cast<RankedTensorType>(a.getType()).getDimSize(ai);
  int64_t y = cast<RankedTensorType>(b.getType()).getDimSize(bi);
  if (!ShapedType::isDynamic(x) && !ShapedType::isDynamic(y)) {
    if (x != y)
      return node.error(what + " (" + Twine(x) + " vs " + Twine(y) + ")");
    return success();
  }
  Value same = arith::CmpIOp::create(node.builder(), node.loc(),
                                     arith::CmpIPredicate::eq,
                                     dimValue(node, a, ai),
                                     dimValue(node, b, bi));
  runtimeCheck(node, same, what);
  return success();
}

Value transformer::sliceLastAxis(NodeContext &node, Value x, int64_t start,
                                 int64_t size) {
  OpBuilder &b = node.builder();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
      strides(rank, b.getIndexAttr(1));
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t i = 0; i + 1 < rank; ++i)
    sizes.push_back(type.isDynamicDim(i)
                        ? OpFoldResult(dimValue(node, x, i))
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
  offsets.back() = b.getIndexAttr(start);
  sizes.push_back(b.getIndexAttr(size));
  shape.back() = size;
  if (start == 0 && size == type.getShape().back())
    return x;
  return tensor::ExtractSliceOp::create(
      b, node.loc(), RankedTensorType::get(shape, type.getElementType()), x,
      offsets, sizes, strides);
}

Value transformer::concatLastAxis(NodeContext &node, ArrayRef<Value> parts) {
  if (parts.size() == 1)
    return parts.front();
  int64_t rank = cast<RankedTensorType>(parts.front().getType()).getRank();
  return tensor::ConcatOp::create(node.builder(), node.loc(), rank - 1,
                                  parts);
}

Value transformer::splitHeads(NodeContext &node, Value x, int64_t heads) {
  GraphImporter &g = node.importer();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t width = type.getDimSize(2);
  Value r = g.reshape(node.loc(), x,
                      {DimExpr::dimOf(x, 0), DimExpr::dimOf(x, 1),
                       DimExpr::constant(heads),
                       DimExpr::constant(width / heads)});
  auto rType = cast<RankedTensorType>(r.getType());
  return mlir::slm::TransposeOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get({rType.getDimSize(0), heads, rType.getDimSize(1),
                             width / heads},
                            type.getElementType()),
      r, ArrayRef<int64_t>{0, 2, 1, 3});
}

Value transformer::mergeHeads(NodeContext &node, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  Value t = mlir::slm::TransposeOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get({type.getDimSize(0), type.getDimSize(2),
                             type.getDimSize(1), type.getDimSize(3)},
                            type.getElementType()),
      x, ArrayRef<int64_t>{0, 2, 1, 3});
  return node.importer().reshape(
      node.loc(), t,
      {DimExpr::dimOf(t, 0), DimExpr::dimOf(t, 1),
       DimExpr::constant(type.getDimSize(1) * type.getDimSize(3))});
}

Value transformer::repeatKVHeads(NodeContext &node, Value x, int64_t kvHeads,
                                 int64_t groups) {
  if (groups == 1)
    return x;
  GraphImporter &g = node.importer();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t headDim = type.getDimSize(2) / kvHeads;
  DimExpr batch = DimExpr::dimOf(x, 0), seq = DimExpr::dimOf(x, 1);
  auto c = [](int64_t v) { return DimExpr::constant(v); };
  Value r = g.reshape(loc, x, {batch, seq, c(kvHeads), c(1), c(headDim)});
  SmallVector<DimExpr> wide = {batch, seq, c(kvHeads), c(groups), c(headDim)};
  auto wideType =
      RankedTensorType::get(staticShape(wide), type.getElementType());
  Value shape;
  if (!wideType.hasStaticShape())
    shape = g.materializeShape(loc, wide);
  Value b =
      mlir::slm::BroadcastToOp::create(node.builder(), loc, wideType, r, shape);
  return g.reshape(loc, b, {batch, seq, c(kvHeads * groups * headDim)});
}

Value transformer::fitToShape(NodeContext &node, Value v,
                              ArrayRef<DimExpr> dims) {
  auto vType = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> want = staticShape(dims);
  if (vType.getShape() == ArrayRef<int64_t>(want))
    return v;
  GraphImporter &g = node.importer();
  if (vType.getRank() > static_cast<int64_t>(want.size()))
    v = g.reshape(node.loc(), v,
                  ArrayRef<DimExpr>(g.shapeOf(v)).take_back(want.size()));
  auto fitted = RankedTensorType::get(want, vType.getElementType());
  if (v.getType() == fitted)
    return v;
  Value shape;
  if (!fitted.hasStaticShape())
    shape = g.materializeShape(node.loc(), dims);
  return mlir::slm::BroadcastToOp::create(node.builder(), node.loc(), fitted, v,
                                          shape);
}

FailureOr<Value> transformer::rmsNorm(NodeContext &node, Value x, Value scale,
                                      int64_t axis, double epsilon,
                                      Value *invStdDev) {
  GraphImporter &g = node.importer();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(x.getType());
  if (!isa<FloatType>(type.getElementType()))
    return node.error("the input must be a float tensor");
  int64_t rank = type.getRank();
  SmallVector<DimExpr> normalized;
  DimExpr flat = DimExpr::constant(1);
  for (int64_t i = axis; i < rank; ++i) {
    normalized.push_back(DimExpr::dimOf(x, i));
    flat = flat * DimExpr::dimOf(x, i);
  }
  ArrayRef<int64_t> scaleShape =
      cast<RankedTensorType>(scale.getType()).getShape();
  SmallVector<int64_t> normalizedShape = staticShape(normalized);
  if (!slm::isBroadcastableTo(
          slm::Shape(scaleShape.begin(), scaleShape.end()),
          slm::Shape(normalizedShape.begin(), normalizedShape.end())))
    return node.error("scale does not broadcast to the normalized axes");
  Value gamma = fitToShape(node, scale, normalized);
  Value y;
  if (axis == rank - 1) {
    y = mlir::slm::RMSNormOp::create(b, loc, type, x, gamma,
                                     b.getF64FloatAttr(epsilon));
  } else {
    // Normalize over one flattened trailing axis.
    SmallVector<DimExpr> dims = g.shapeOf(x), lead(dims.begin(),
                                                   dims.begin() + axis);
    lead.push_back(flat);
    Value xf = g.reshape(loc, x, lead);
    Value gf = g.reshape(loc, gamma, {flat});
    Value yf = mlir::slm::RMSNormOp::create(b, loc, xf.getType(), xf, gf,
                                            b.getF64FloatAttr(epsilon));
    y = g.reshape(loc, yf, dims);
  }
  if (invStdDev) {
    SmallVector<int64_t> axes, statShape(type.getShape());
    for (int64_t i = axis; i < rank; ++i) {
      axes.push_back(i);
      statShape[i] = 1;
    }
    Type element = type.getElementType();
    auto statType = RankedTensorType::get(statShape, element);
    Value squared = mlir::slm::MulOp::create(b, loc, type, x, x);
    Value meanSquare = mlir::slm::ReduceOp::create(
        b, loc, statType, mlir::slm::ReduceKind::mean, squared, axes, true);
    Value rms = math::SqrtOp::create(
        b, loc,
        mlir::slm::AddOp::create(b, loc, statType, meanSquare,
                                 scalarConstant(node, element, epsilon)));
    *invStdDev = mlir::slm::DivOp::create(
        b, loc, statType, scalarConstant(node, element, 1.0), rms);
  }
  return y;
}

Value transformer::applyRotary(NodeContext &node, Value x, Value cos, Value sin,
                               int64_t rotaryDim, bool interleaved) {
  GraphImporter &g = node.importer();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t headDim = type.getShape().back(), half = rotaryDim / 2;
  Value rotated = sliceLastAxis(node, x, 0, rotaryDim);
  Value out;
  if (!interleaved) {
    Value x1 = sliceLastAxis(node, rotated, 0, half);
    Value x2 = sliceLastAxis(node, rotated, half, half);
    Value o1 = binary<mlir::slm::SubOp>(
        node, binary<mlir::slm::MulOp>(node, x1, cos),
        binary<mlir::slm::MulOp>(node, x2, sin));
    Value o2 = binary<mlir::slm::AddOp>(
        node, binary<mlir::slm::MulOp>(node, x2, cos),
        binary<mlir::slm::MulOp>(node, x1, sin));
    out = concatLastAxis(node, {o1, o2});
  } else {
    // [.., R] -> [.., R/2, 2]: even and odd channels side by side.
    SmallVector<DimExpr> dims = g.shapeOf(rotated);
    SmallVector<DimExpr> pairs(dims.begin(), dims.end() - 1);
    pairs.push_back(DimExpr::constant(half));
    pairs.push_back(DimExpr::constant(2));
    Value p = g.reshape(loc, rotated, pairs);
    auto expand = [&](Value t) {
      SmallVector<DimExpr> d = g.shapeOf(t);
      d.push_back(DimExpr::constant(1));
      return g.reshape(loc, t, d);
    };
    Value c = expand(cos), s = expand(sin);
    Value even = sliceLastAxis(node, p, 0, 1);
    Value odd = sliceLastAxis(node, p, 1, 1);
    Value oe = binary<mlir::slm::SubOp>(
        node, binary<mlir::slm::MulOp>(node, even, c),
        binary<mlir::slm::MulOp>(node, odd, s));
    Value oo = binary<mlir::slm::AddOp>(
        node, binary<mlir::slm::MulOp>(node, odd, c),
        binary<mlir::slm::MulOp>(node, even, s));
    out = g.reshape(loc, concatLastAxis(node, {oe, oo}), dims);
  }
  if (rotaryDim == headDim)
    return out;
  return concatLastAxis(
      node, {out, sliceLastAxis(node, x, rotaryDim, headDim - rotaryDim)});
}

//===----------------------------------------------------------------------===//
// RMSNormalization (opset 23)
//===----------------------------------------------------------------------===//

static LogicalResult importRMSNormalization(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Value x = node.input(0);
  int64_t rank = node.inputType(0).getRank();
  std::optional<int64_t> axis = normalizeAxis(node.intAttr("axis", -1), rank);
  if (!axis)
    return node.error("axis is out of range for rank " + Twine(rank));
  if (node.intAttr("stash_type", 1) != 1)
    return node.error("stash_type other than float32 is not supported");
  if (node.inputType(1).getElementType() != node.inputType(0).getElementType())
    return node.error("scale and input element types differ");
  FailureOr<Value> y = rmsNorm(node, x, node.input(1), *axis,
                               node.floatAttr("epsilon", 1e-5f));
  if (failed(y))
    return failure();
  node.setOutput(0, *y);
  return success();
}

//===----------------------------------------------------------------------===//
// RotaryEmbedding (opset 23)
//===----------------------------------------------------------------------===//

/// X [B, S, N*H] (num_heads given) or [B, N, S, H]; cos/sin caches
/// [max_position, R/2] indexed by position_ids [B, S], or [B, S, R/2] when
/// position_ids is absent.
static LogicalResult importRotaryEmbedding(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  GraphImporter &g = node.importer();
  Location loc = node.loc();
  Value x = node.input(0), cosCache = node.input(1), sinCache = node.input(2);
  RankedTensorType xType = node.inputType(0);
  if (!isa<FloatType>(xType.getElementType()))
    return node.error("the input must be a float tensor");
  int64_t rank = xType.getRank();
  int64_t numHeads = node.intAttr("num_heads", 0);
  bool interleaved = node.intAttr("interleaved", 0) != 0;
  // Work in [B, S, N, H].
  Value bsnh;
  if (rank == 4) {
    bsnh = mlir::slm::TransposeOp::create(
        node.builder(), loc,
        RankedTensorType::get({xType.getDimSize(0), xType.getDimSize(2),
                               xType.getDimSize(1), xType.getDimSize(3)},
                              xType.getElementType()),
        x, ArrayRef<int64_t>{0, 2, 1, 3});
  } else if (rank == 3) {
    int64_t hidden = xType.getDimSize(2);
    if (numHeads <= 0 || ShapedType::isDynamic(hidden) || hidden % numHeads)
      return node.error("a 3-D input needs num_heads dividing a static hidden "
                        "size");
    bsnh = g.reshape(loc, x,
                     {DimExpr::dimOf(x, 0), DimExpr::dimOf(x, 1),
                      DimExpr::constant(numHeads),
                      DimExpr::constant(hidden / numHeads)});
  } else {
    return node.error("the input must be 3-D or 4-D");
  }
  int64_t headDim = cast<RankedTensorType>(bsnh.getType()).getDimSize(3);
  if (ShapedType::isDynamic(headDim))
    return node.error("the head size must be static");
  int64_t rotaryDim = node.intAttr("rotary_embedding_dim", 0);
  if (rotaryDim == 0)
    rotaryDim = headDim;
  if (rotaryDim <= 0 || rotaryDim > headDim || rotaryDim % 2)
    return node.error("rotary_embedding_dim must be even and at most the head "
                      "size " +
                      Twine(headDim));
  auto fetch = [&](Value cache) -> Value {
    if (node.hasInput(3)) {
      // [max_position, R/2] gathered at position_ids [B, S].
      auto cacheType = cast<RankedTensorType>(cache.getType());
      RankedTensorType ids = node.inputType(3);
      Value gathered = mlir::slm::GatherOp::create(
          node.builder(), loc,
          RankedTensorType::get({ids.getDimSize(0), ids.getDimSize(1),
                                 cacheType.getDimSize(1)},
                                cacheType.getElementType()),
          cache, node.input(3), node.builder().getI64IntegerAttr(0));
      cache = gathered;
    }
    return g.reshape(loc, cache,
                     {DimExpr::dimOf(cache, 0), DimExpr::dimOf(cache, 1),
                      DimExpr::constant(1), DimExpr::dimOf(cache, 2)});
  };
  RankedTensorType cosType = node.inputType(1);
  int64_t cacheRank = node.hasInput(3) ? 2 : 3;
  if (cosType.getRank() != cacheRank || node.inputType(2) != cosType)
    return node.error(node.hasInput(3)
                          ? "cos and sin caches must be [max_position, R/2]"
                          : "cos and sin caches must be [batch, seq, R/2] "
                            "without position_ids");
  if (cosType.getShape().back() != rotaryDim / 2)
    return node.error("cos and sin caches have " +
                      Twine(cosType.getShape().back()) +
                      " entries per position, expected " + Twine(rotaryDim / 2));
  if (node.hasInput(3) && node.inputType(3).getRank() != 2)
    return node.error("position_ids must be [batch, seq]");
  Value cos = fetch(cosCache), sin = fetch(sinCache);
  // The caches must cover the sequence (and the batch when per batch).
  if (failed(requireSameExtent(node, cos, 1, bsnh, 1,
                               "cos/sin and the input differ in sequence "
                               "length")))
    return failure();
  if (cast<RankedTensorType>(cos.getType()).getDimSize(0) != 1 &&
      failed(requireSameExtent(node, cos, 0, bsnh, 0,
                               "cos/sin and the input differ in batch size")))
    return failure();
  Value y = applyRotary(node, bsnh, cos, sin, rotaryDim, interleaved);
  if (!y)
    return failure();
  if (rank == 4) {
    auto yType = cast<RankedTensorType>(y.getType());
    y = mlir::slm::TransposeOp::create(
        node.builder(), loc,
        RankedTensorType::get({yType.getDimSize(0), yType.getDimSize(2),
                               yType.getDimSize(1), yType.getDimSize(3)},
                              yType.getElementType()),
        y, ArrayRef<int64_t>{0, 2, 1, 3});
  } else {
    y = g.reshape(loc, y, g.shapeOf(x));
  }
  node.setOutput(0, y);
  return success();
}

//===----------------------------------------------------------------------===//
// Attention (opset 23)
//===----------------------------------------------------------------------===//

static LogicalResult importAttention(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  Location loc = node.loc();
  OpBuilder &b = node.builder();
  Value q = node.input(0), k = node.input(1), v = node.input(2);
  RankedTensorType qType = node.inputType(0);
  int64_t rank = qType.getRank();
  if (!isa<FloatType>(qType.getElementType()))
    return node.error("Q must be a float tensor");
  if (node.inputType(1).getRank() != rank ||
      node.inputType(2).getRank() != rank || (rank != 3 && rank != 4))
    return node.error("Q, K and V must all be 3-D or all 4-D");
  if (node.floatAttr("softcap", 0.0f) != 0.0f)
    return node.error("softcap is not supported");
  if (node.intAttr("qk_matmul_output_mode", 0) != 0 || node.hasOutput(3))
    return node.error("the qk_matmul_output output is not supported");
  if (node.hasInput(6))
    return node.error("nonpad_kv_seqlen is not supported");
  if (node.hasInput(4) != node.hasInput(5))
    return node.error("past_key and past_value must be given together");
  int64_t qHeads, kvHeads;
  if (rank == 4) {
    qHeads = qType.getDimSize(1);
    kvHeads = node.inputType(1).getDimSize(1);
    if (ShapedType::isDynamic(qHeads) || ShapedType::isDynamic(kvHeads) ||
        node.inputType(2).getDimSize(1) != kvHeads)
      return node.error("head counts must be static and K, V agree");
    // [B, N, S, H] -> [B, S, N*H]
    q = mergeHeads(node, q);
    k = mergeHeads(node, k);
    v = mergeHeads(node, v);
  } else {
    qHeads = node.intAttr("q_num_heads", 0);
    kvHeads = node.intAttr("kv_num_heads", 0);
    if (qHeads <= 0 || kvHeads <= 0)
      return node.error("3-D inputs need q_num_heads and kv_num_heads");
  }
  if (qHeads % kvHeads)
    return node.error("q heads (" + Twine(qHeads) +
                      ") are not a multiple of kv heads (" + Twine(kvHeads) +
                      ")");
  auto width = [](Value t) {
    return cast<RankedTensorType>(t.getType()).getDimSize(2);
  };
  for (Value t : {q, k, v})
    if (ShapedType::isDynamic(width(t)))
      return node.error("hidden sizes must be static");
  if (width(q) % qHeads || width(k) % kvHeads || width(v) % kvHeads)
    return node.error("hidden sizes are not divisible by the head counts");
  if (width(q) / qHeads != width(k) / kvHeads)
    return node.error("Q and K head sizes differ");
  if (failed(requireSameExtent(node, q, 0, k, 0, "Q and K batch sizes differ")) ||
      failed(requireSameExtent(node, k, 0, v, 0, "K and V batch sizes differ")) ||
      failed(requireSameExtent(node, k, 1, v, 1,
                               "K and V sequence lengths differ")))
    return failure();
  // Past keys and values [B, Nkv, P, H] come before the new ones.
  if (node.hasInput(4)) {
    Value pastK = node.input(4), pastV = node.input(5);
    if (node.inputType(4).getRank() != 4 || node.inputType(5).getRank() != 4)
      return node.error("past_key and past_value must be 4-D");
    Value pk = mergeHeads(node, pastK), pv = mergeHeads(node, pastV);
    if (width(pk) != width(k) || width(pv) != width(v))
      return node.error("past_key/past_value head layout differs from K/V");
    if (failed(requireSameExtent(node, pk, 0, k, 0,
                                 "past_key and K batch sizes differ")) ||
        failed(requireSameExtent(node, pv, 0, v, 0,
                                 "past_value and V batch sizes differ")) ||
        failed(requireSameExtent(node, pk, 1, pv, 1,
                                 "past_key and past_value lengths differ")))
      return failure();
    k = tensor::ConcatOp::create(b, loc, 1, ValueRange{pk, k});
    v = tensor::ConcatOp::create(b, loc, 1, ValueRange{pv, v});
  }
  if (node.hasOutput(1))
    node.setOutput(1, splitHeads(node, k, kvHeads));
  if (node.hasOutput(2))
    node.setOutput(2, splitHeads(node, v, kvHeads));
  // The mask broadcasts to [B, Nq, S, T]; its last extent must be T.
  Value mask;
  if (node.hasInput(3)) {
    mask = node.input(3);
    auto maskType = cast<RankedTensorType>(mask.getType());
    Type elem = maskType.getElementType();
    if (!elem.isInteger(1) && elem != qType.getElementType())
      return node.error("attn_mask must be bool or of Q's element type");
    if (maskType.getRank() < 2 || maskType.getRank() > 4)
      return node.error("attn_mask must have rank 2 to 4");
    if (failed(requireSameExtent(node, mask, maskType.getRank() - 1, k, 1,
                                 "attn_mask is not as long as the keys "
                                 "(shorter masks are not supported)")))
      return failure();
    int64_t qRows = maskType.getDimSize(maskType.getRank() - 2);
    if (qRows != 1 && failed(requireSameExtent(node, mask,
                                               maskType.getRank() - 2, q, 1,
                                               "attn_mask rows differ from "
                                               "the query length")))
      return failure();
  }
  int64_t groups = qHeads / kvHeads;
  k = repeatKVHeads(node, k, kvHeads, groups);
  v = repeatKVHeads(node, v, kvHeads, groups);
  int64_t vWidth = width(v);
  auto resultType = RankedTensorType::get(
      {cast<RankedTensorType>(q.getType()).getDimSize(0),
       cast<RankedTensorType>(q.getType()).getDimSize(1), vWidth},
      qType.getElementType());
  FloatAttr scale;
  if (const onnx::AttributeProto *s = node.attribute("scale"))
    scale = b.getF64FloatAttr(s->f());
  if (scale && !(scale.getValueAsDouble() > 0.0))
    return node.error("scale must be positive");
  auto attention = mlir::slm::AttentionOp::create(
      b, loc, resultType, q, k, v, mask, b.getI64IntegerAttr(qHeads), scale,
      node.intAttr("is_causal", 0) ? b.getUnitAttr() : UnitAttr());
  Value y = attention.getResult();
  if (rank == 4)
    y = splitHeads(node, y, qHeads);
  node.setOutput(0, y);
  return success();
}

void mlir::slm::onnx_import::registerTransformerOps(OpTable &table) {
  table.add("Attention", 23, importAttention);
  table.add("RMSNormalization", 23, importRMSNormalization);
  table.add("RotaryEmbedding", 23, importRotaryEmbedding);
}
