//===- ContribOps.cpp - ONNX Runtime's com.microsoft transformer ops ------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The fused ops that ONNX Runtime's transformer optimizer
// (onnxruntime.transformers.optimizer) writes into the models users pass
// around, with the semantics of its CPU kernels:
//   Attention MultiHeadAttention GroupQueryAttention RotaryEmbedding
//   SkipLayerNormalization SkipSimplifiedLayerNormalization
//   SimplifiedLayerNormalization EmbedLayerNormalization
//   FastGelu BiasGelu Gelu QuickGelu BiasAdd BiasSplitGelu
// Each is decomposed into the slm ops the passes understand: slm.attention
// (heads merged, an additive mask), slm.layer_norm, slm.rms_norm, slm.gelu,
// slm.matmul with constant weights (raised to slm.linear) and elementwise
// ops. Padding masks follow ONNX Runtime: masked scores get
// `mask_filter_value` added (-10000 by default); causally masked keys are
// excluded (slm.attention's `causal`).
//
//===----------------------------------------------------------------------===//

#include "TransformerUtils.h"

#include "slm/IR/SLMConstants.h"
#include "slm/Support/Shape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::slm::onnx_import;
using namespace mlir::slm::onnx_import::transformer;

namespace {

/// ONNX Runtime's defaults for the epsilon of its fused norms.
constexpr float kSkipLayerNormEpsilon = 1e-12f;
constexpr float kEmbedLayerNormEpsilon = 1e-12f;

Value add(NodeContext &node, Value a, Value b) {
  return binary<mlir::slm::AddOp>(node, a, b);
}
Value mul(NodeContext &node, Value a, Value b) {
  return binary<mlir::slm::MulOp>(node, a, b);
}

/// Fails unless input `i` is a float tensor of the element type of input 0.
LogicalResult requireSameFloat(NodeContext &node, int i) {
  Type want = node.inputType(0).getElementType();
  if (!isa<FloatType>(want))
    return node.error("input 0 must be a float tensor");
  if (node.hasInput(i) && node.inputType(i).getElementType() != want)
    return node.error("input " + Twine(i) + " has element type other than " +
                      "input 0's");
  return success();
}

/// slm.layer_norm over the last axis with 1-D gamma and beta.
FailureOr<Value> layerNormLast(NodeContext &node, Value x, Value gamma,
                               Value beta, double epsilon) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t hidden = type.getShape().back();
  for (Value v : {gamma, beta}) {
    if (!v)
      continue;
    auto vType = cast<RankedTensorType>(v.getType());
    if (vType.getRank() != 1 ||
        !slm::extentsCompatible(vType.getDimSize(0), hidden))
      return node.error("gamma and beta must be [hidden] = [" + Twine(hidden) +
                        "]");
  }
  OpBuilder &b = node.builder();
  return mlir::slm::LayerNormOp::create(
             b, node.loc(), type, x, gamma, beta, b.getF64FloatAttr(epsilon),
             b.getI64IntegerAttr(-1))
      .getResult();
}

//===----------------------------------------------------------------------===//
// Activations and biases
//===----------------------------------------------------------------------===//

Value gelu(NodeContext &node, Value x, mlir::slm::GeluApproximation mode) {
  return mlir::slm::GeluOp::create(node.builder(), node.loc(), x, mode);
}

/// Gelu (erf) of input 0 plus the optional bias input 1.
template <mlir::slm::GeluApproximation mode>
LogicalResult importGeluWithBias(NodeContext &node) {
  if (failed(requireInputs(node, 1)) || failed(requireSameFloat(node, 1)))
    return failure();
  Value x = node.input(0);
  if (node.hasInput(1) && !(x = add(node, x, node.input(1))))
    return failure();
  node.setOutput(0, gelu(node, x, mode));
  return success();
}

/// x * sigmoid(alpha * x).
LogicalResult importQuickGelu(NodeContext &node) {
  if (failed(requireInputs(node, 1)) || failed(requireSameFloat(node, 0)))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type f = type.getElementType();
  float alpha = node.floatAttr("alpha", 1.702f);
  // sigmoid(a x) = 1 / (1 + exp(-a x))
  Value ax = mlir::slm::MulOp::create(b, loc, type, x,
                                      scalarConstant(node, f, -alpha));
  Value denominator = mlir::slm::AddOp::create(
      b, loc, type, math::ExpOp::create(b, loc, ax),
      scalarConstant(node, f, 1.0));
  node.setOutput(0, mlir::slm::DivOp::create(b, loc, type, x, denominator));
  return success();
}

/// X + bias + skip.
LogicalResult importBiasAdd(NodeContext &node) {
  if (failed(requireInputs(node, 3)) || failed(requireSameFloat(node, 1)) ||
      failed(requireSameFloat(node, 2)))
    return failure();
  Value y = add(node, node.input(0), node.input(1));
  if (!y || !(y = add(node, y, node.input(2))))
    return failure();
  node.setOutput(0, y);
  return success();
}

/// (X + bias) split in halves along the last axis: left * gelu(right).
LogicalResult importBiasSplitGelu(NodeContext &node) {
  if (failed(requireInputs(node, 2)) || failed(requireSameFloat(node, 1)))
    return failure();
  Value x = add(node, node.input(0), node.input(1));
  if (!x)
    return failure();
  int64_t width = cast<RankedTensorType>(x.getType()).getShape().back();
  if (ShapedType::isDynamic(width) || width % 2)
    return node.error("the last extent must be static and even");
  Value left = sliceLastAxis(node, x, 0, width / 2);
  Value right = sliceLastAxis(node, x, width / 2, width / 2);
  node.setOutput(
      0, mul(node, left,
             gelu(node, right, mlir::slm::GeluApproximation::none)));
  return success();
}

//===----------------------------------------------------------------------===//
// Normalizations
//===----------------------------------------------------------------------===//

/// SkipLayerNormalization / SkipSimplifiedLayerNormalization: normalize
/// s = input + skip (+ bias); output 3 is s.
template <bool simplified> LogicalResult importSkipNorm(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  for (int i = 1; i < node.numInputs(); ++i)
    if (failed(requireSameFloat(node, i)))
      return failure();
  if (node.hasOutput(1) || node.hasOutput(2))
    return node.error("the mean and inv_std_var outputs are not supported");
  const int biasInput = simplified ? 3 : 4;
  Value sum = add(node, node.input(0), node.input(1));
  if (!sum)
    return failure();
  if (node.hasInput(biasInput) && !(sum = add(node, sum, node.input(biasInput))))
    return failure();
  if (sum.getType() != node.inputType(0))
    return node.error("skip does not broadcast to the input's shape");
  double epsilon = node.floatAttr("epsilon", kSkipLayerNormEpsilon);
  FailureOr<Value> y =
      simplified
          ? rmsNorm(node, sum, node.input(2),
                    node.inputType(0).getRank() - 1, epsilon)
          : layerNormLast(node, sum, node.input(2),
                          node.hasInput(3) ? node.input(3) : Value(), epsilon);
  if (failed(y))
    return failure();
  node.setOutput(0, *y);
  if (node.hasOutput(3))
    node.setOutput(3, sum);
  return success();
}

/// LayerNormalization before opset 17: ONNX Runtime registers it in the
/// ONNX domain from version 1 and its optimizer writes it into models of
/// any opset, with the semantics opset 17 adopted.
LogicalResult importOrtLayerNorm(NodeContext &node) {
  if (failed(requireInputs(node, 2)) || failed(requireSameFloat(node, 1)) ||
      failed(requireSameFloat(node, 2)))
    return failure();
  if (node.hasOutput(1) || node.hasOutput(2))
    return node.error("the mean and inv_std_var outputs are not supported "
                      "before opset 17");
  Value x = node.input(0);
  int64_t rank = node.inputType(0).getRank();
  std::optional<int64_t> axis = normalizeAxis(node.intAttr("axis", -1), rank);
  if (!axis)
    return node.error("axis is out of range for rank " + Twine(rank));
  SmallVector<DimExpr> normalized;
  for (int64_t i = *axis; i < rank; ++i)
    normalized.push_back(DimExpr::dimOf(x, i));
  Value gamma = fitToShape(node, node.input(1), normalized);
  Value beta =
      node.hasInput(2) ? fitToShape(node, node.input(2), normalized) : Value();
  OpBuilder &b = node.builder();
  node.setOutput(0, mlir::slm::LayerNormOp::create(
                        b, node.loc(), node.inputType(0), x, gamma, beta,
                        b.getF64FloatAttr(node.floatAttr("epsilon", 1e-5f)),
                        b.getI64IntegerAttr(*axis)));
  return success();
}

/// SimplifiedLayerNormalization: RMS normalization from `axis`, with the
/// optional inv_std_var output.
LogicalResult importSimplifiedLayerNorm(NodeContext &node) {
  if (failed(requireInputs(node, 2)) || failed(requireSameFloat(node, 1)))
    return failure();
  int64_t rank = node.inputType(0).getRank();
  std::optional<int64_t> axis = normalizeAxis(node.intAttr("axis", -1), rank);
  if (!axis)
    return node.error("axis is out of range for rank " + Twine(rank));
  Value invStdDev;
  FailureOr<Value> y =
      rmsNorm(node, node.input(0), node.input(1), *axis,
              node.floatAttr("epsilon", 1e-5f),
              node.hasOutput(1) ? &invStdDev : nullptr);
  if (failed(y))
    return failure();
  node.setOutput(0, *y);
  if (node.hasOutput(1))
    node.setOutput(1, invStdDev);
  return success();
}

/// EmbedLayerNormalization: layer_norm(word[ids] + position[pos] +
/// segment[segment_ids]); mask_index[b] = count(mask[b, :] == 1).
LogicalResult importEmbedLayerNorm(NodeContext &node) {
  for (int i : {0, 2, 3, 5, 6})
    if (!node.hasInput(i))
      return node.error("input " + Twine(i) + " is required");
  GraphImporter &g = node.importer();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Value ids = node.input(0), word = node.input(2), position = node.input(3);
  RankedTensorType idsType = node.inputType(0);
  RankedTensorType wordType = node.inputType(2);
  if (idsType.getRank() != 2 || !isa<IntegerType>(idsType.getElementType()))
    return node.error("input_ids must be a 2-D integer tensor");
  if (wordType.getRank() != 2 || node.inputType(3).getRank() != 2 ||
      !isa<FloatType>(wordType.getElementType()))
    return node.error("embedding tables must be 2-D float tensors");
  Type f = wordType.getElementType();
  int64_t hidden = wordType.getDimSize(1);
  auto rowsType = [&](Value indices) {
    auto t = cast<RankedTensorType>(indices.getType());
    return RankedTensorType::get({t.getDimSize(0), t.getDimSize(1), hidden}, f);
  };
  auto gather = [&](Value table, Value indices) -> Value {
    return mlir::slm::GatherOp::create(b, loc, rowsType(indices), table,
                                       indices, b.getI64IntegerAttr(0));
  };
  Value sum = gather(word, ids);
  // Positions: position_ids (input 8) or 0 .. S-1.
  Value positions;
  if (node.hasInput(8)) {
    Value pos = node.input(8);
    if (node.inputType(8).getRank() != 2)
      return node.error("position_ids must be 2-D");
    positions = gather(position, pos);
  } else {
    // The first S rows of the table; S must not exceed its length.
    Value seq = dimValue(node, ids, 1);
    Value rows = dimValue(node, position, 0);
    runtimeCheck(node,
                 arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, seq,
                                       rows),
                 "the sequence is longer than the position embedding table");
    auto sliceType = RankedTensorType::get({idsType.getDimSize(1), hidden}, f);
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {
        idsType.isDynamicDim(1) ? OpFoldResult(seq)
                                : OpFoldResult(
                                      b.getIndexAttr(idsType.getDimSize(1))),
        b.getIndexAttr(hidden)};
    SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
    positions = tensor::ExtractSliceOp::create(b, loc, sliceType, position,
                                               offsets, sizes, strides);
  }
  if (!(sum = add(node, sum, positions)))
    return failure();
  if (node.hasInput(1) && node.hasInput(4)) {
    if (failed(requireSameExtent(node, node.input(1), 0, ids, 0,
                                 "segment_ids and input_ids differ")) ||
        failed(requireSameExtent(node, node.input(1), 1, ids, 1,
                                 "segment_ids and input_ids differ")))
      return failure();
    if (!(sum = add(node, sum, gather(node.input(4), node.input(1)))))
      return failure();
  }
  if (sum.getType() != rowsType(ids))
    return node.error("embeddings do not combine to [batch, seq, hidden]");
  FailureOr<Value> y =
      layerNormLast(node, sum, node.input(5), node.input(6),
                    node.floatAttr("epsilon", kEmbedLayerNormEpsilon));
  if (failed(y))
    return failure();
  node.setOutput(0, *y);
  if (node.hasOutput(1)) {
    Type i32 = b.getI32Type();
    auto indexType = RankedTensorType::get({idsType.getDimSize(0)}, i32);
    Value maskIndex;
    if (node.hasInput(7)) {
      Value mask = node.input(7);
      if (node.inputType(7).getRank() != 2 ||
          !isa<IntegerType>(node.inputType(7).getElementType()))
        return node.error("mask must be a 2-D integer tensor");
      Type maskElem = node.inputType(7).getElementType();
      Value one = scalarConstant(node, maskElem, 1);
      auto cmpType = node.inputType(7).clone(b.getI1Type());
      Value isOne = mlir::slm::CompareOp::create(
          b, loc, cmpType, mlir::slm::ComparePredicate::eq, mask, one);
      Value counted = castElements(b, loc, isOne, true, i32, false);
      maskIndex = mlir::slm::ReduceOp::create(
          b, loc, indexType, mlir::slm::ReduceKind::sum, counted,
          ArrayRef<int64_t>{1}, false);
    } else {
      Value zero = scalarConstant(node, i32, 0);
      maskIndex = mlir::slm::BroadcastToOp::create(
          b, loc, indexType, zero,
          indexType.hasStaticShape()
              ? Value()
              : g.materializeShape(loc, {DimExpr::dimOf(ids, 0)}));
    }
    node.setOutput(1, maskIndex);
  }
  if (node.hasOutput(2))
    node.setOutput(2, sum);
  return success();
}

//===----------------------------------------------------------------------===//
// Attention family
//===----------------------------------------------------------------------===//

/// The additive padding mask of ONNX Runtime's attention kernels,
/// [B, 1, S, T] or [B, 1, 1, T]: `filter` where `keyMask` masks a key.
/// `keyMask` (null when absent) is one of ONNX Runtime's forms: [B] valid
/// lengths (right padding), [2B] end and start positions, [B, T] or
/// [B, S, T] with 1 keeping a position. Returns a null value without one.
/// (A causal mask is not folded in: ONNX Runtime excludes causally masked
/// keys outright, which is slm.attention's `causal`; a row whose visible
/// keys are all padding then still sees them.)
FailureOr<Value> ortAttentionMask(NodeContext &node, Value keyMask, Value q,
                                  Value k, float filter) {
  if (!keyMask)
    return Value();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto qType = cast<RankedTensorType>(q.getType());
  auto kType = cast<RankedTensorType>(k.getType());
  Type f = qType.getElementType();
  int64_t maskRank = 0;
  // For a 1-D mask: whether it holds end and start positions ([2B]), known
  // at run time.
  Value withStart;
  if (keyMask) {
    auto maskType = cast<RankedTensorType>(keyMask.getType());
    maskRank = maskType.getRank();
    if (!isa<IntegerType>(maskType.getElementType()))
      return node.error("mask_index must be an integer tensor");
    if (maskRank == 1) {
      int64_t n = maskType.getDimSize(0), batch = qType.getDimSize(0);
      if (!ShapedType::isDynamic(n) && !ShapedType::isDynamic(batch) &&
          n != batch && n != 2 * batch)
        return node.error("mask_index is neither [batch] nor [2 * batch]");
      Value length = dimValue(node, keyMask, 0);
      Value batchSize = dimValue(node, q, 0);
      Value twice = arith::AddIOp::create(b, loc, batchSize, batchSize);
      Value isEnd = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          length, batchSize);
      withStart = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        length, twice);
      runtimeCheck(node, arith::OrIOp::create(b, loc, isEnd, withStart),
                   "mask_index is neither [batch] nor [2 * batch]");
      withStart = arith::AndIOp::create(
          b, loc, withStart,
          arith::XOrIOp::create(
              b, loc, isEnd,
              arith::ConstantOp::create(b, loc, b.getBoolAttr(true))));
    } else if (maskRank == 2 || maskRank == 3) {
      if (failed(requireSameExtent(node, keyMask, 0, q, 0,
                                   "the mask's batch size differs")) ||
          failed(requireSameExtent(node, keyMask, maskRank - 1, k, 1,
                                   "the mask's length differs from the "
                                   "keys'")))
        return failure();
      if (maskRank == 3 &&
          failed(requireSameExtent(node, keyMask, 1, q, 1,
                                   "the mask's rows differ from the query "
                                   "length")))
        return failure();
    } else {
      return node.error("a mask of rank " + Twine(maskRank) +
                        " is not supported");
    }
  }
  bool perQuery = maskRank == 3;
  int64_t rows = perQuery ? qType.getDimSize(1) : 1;
  auto type = RankedTensorType::get(
      {qType.getDimSize(0), 1, rows, kType.getDimSize(1)}, f);
  SmallVector<Value> dynamic;
  if (type.isDynamicDim(0))
    dynamic.push_back(dimValue(node, q, 0));
  if (type.isDynamicDim(2))
    dynamic.push_back(dimValue(node, q, 1));
  if (type.isDynamicDim(3))
    dynamic.push_back(dimValue(node, k, 1));
  Value batch = dimValue(node, q, 0);
  auto generate = tensor::GenerateOp::create(
      b, loc, type, dynamic,
      [&](OpBuilder &nb, Location l, ValueRange iv) {
        Value bi = iv[0], s = iv[2], t = iv[3];
        Value zero = arith::ConstantOp::create(nb, l, nb.getFloatAttr(f, 0.0));
        Value masked =
            arith::ConstantOp::create(nb, l, nb.getFloatAttr(f, filter));
        Value value = zero;
        auto toIndex = [&](Value v) {
          return arith::IndexCastOp::create(nb, l, nb.getIndexType(), v);
        };
        if (keyMask) {
          Value keep;
          if (maskRank == 1) {
            Value end =
                toIndex(tensor::ExtractOp::create(nb, l, keyMask, bi));
            keep = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, t,
                                         end);
            // Start positions follow the ends in a [2B] mask; read in
            // range either way.
            Value at = arith::SelectOp::create(
                nb, l, withStart, arith::AddIOp::create(nb, l, bi, batch), bi);
            Value start = arith::SelectOp::create(
                nb, l, withStart,
                toIndex(tensor::ExtractOp::create(nb, l, keyMask, at)),
                arith::ConstantIndexOp::create(nb, l, 0));
            keep = arith::AndIOp::create(
                nb, l, keep,
                arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, t,
                                      start));
          } else {
            SmallVector<Value> at = {bi};
            if (maskRank == 3)
              at.push_back(s);
            at.push_back(t);
            Value m = tensor::ExtractOp::create(nb, l, keyMask, at);
            Value zeroInt =
                arith::ConstantOp::create(nb, l, nb.getZeroAttr(m.getType()));
            keep = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sgt, m,
                                         zeroInt);
          }
          value = arith::SelectOp::create(nb, l, keep, zero, masked);
        }
        tensor::YieldOp::create(nb, l, value);
      });
  return generate.getResult();
}

/// slm.attention of merged-head Q [B, S, N*H] and K, V [B, T, Nkv*H] with an
/// additive mask (keys after query s + T - S excluded when `causal`); key
/// and value heads repeat for grouped-query attention.
Value attend(NodeContext &node, Value q, Value k, Value v, Value mask,
             int64_t heads, int64_t kvHeads, float scale, bool causal) {
  OpBuilder &b = node.builder();
  k = repeatKVHeads(node, k, kvHeads, heads / kvHeads);
  v = repeatKVHeads(node, v, kvHeads, heads / kvHeads);
  auto qType = cast<RankedTensorType>(q.getType());
  auto resultType = RankedTensorType::get(
      {qType.getDimSize(0), qType.getDimSize(1),
       cast<RankedTensorType>(v.getType()).getDimSize(2)},
      qType.getElementType());
  return mlir::slm::AttentionOp::create(
             b, node.loc(), resultType, q, k, v, mask,
             b.getI64IntegerAttr(heads),
             scale != 0.0f ? b.getF64FloatAttr(scale) : FloatAttr(),
             causal ? b.getUnitAttr() : UnitAttr())
      .getResult();
}

/// Columns [offset, offset + width) of the 2-D `w` (a constant: sliced now),
/// or entries of the 1-D `w`.
Value sliceColumns(NodeContext &node, Value w, int64_t offset, int64_t width) {
  auto type = cast<RankedTensorType>(w.getType());
  Attribute attr;
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = width;
  auto sliceType = RankedTensorType::get(shape, type.getElementType());
  if (type.hasStaticShape() && matchPattern(w, m_Constant(&attr))) {
    SmallVector<int64_t> offsets(type.getRank(), 0), steps(type.getRank(), 1);
    offsets.back() = offset;
    if (Attribute sliced =
            mlir::slm::sliceConstant(attr, sliceType, offsets, steps))
      return arith::ConstantOp::create(node.builder(), node.loc(),
                                       cast<TypedAttr>(sliced));
  }
  return sliceLastAxis(node, w, offset, width);
}

/// x [B, S, In] x W[:, offset : offset + width] + bias[offset : ...].
Value project(NodeContext &node, Value x, Value w, Value bias, int64_t offset,
              int64_t width) {
  auto xType = cast<RankedTensorType>(x.getType());
  Value weight = sliceColumns(node, w, offset, width);
  Value y = mlir::slm::MatMulOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get({xType.getDimSize(0), xType.getDimSize(1), width},
                            xType.getElementType()),
      x, weight);
  if (bias)
    y = add(node, y, sliceColumns(node, bias, offset, width));
  return y;
}

/// com.microsoft Attention: one [In, Dq + Dk + Dv] weight for Q, K and V,
/// optional bias, mask_index in any of ONNX Runtime's forms, unidirectional
/// (causal), attention_bias (relative position bias, input 5).
LogicalResult importAttention(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  for (int i : {1, 2})
    if (failed(requireSameFloat(node, i)))
      return failure();
  if (node.hasInput(4) || node.hasOutput(1))
    return node.error("past and present state are not supported");
  if (node.hasInput(6))
    return node.error("past_sequence_length is not supported");
  if (node.intAttr("do_rotary", 0))
    return node.error("do_rotary is not supported");
  if (node.intAttr("past_present_share_buffer", 0))
    return node.error("past_present_share_buffer is not supported");
  Value x = node.input(0), w = node.input(1);
  Value bias = node.hasInput(2) ? node.input(2) : Value();
  RankedTensorType xType = node.inputType(0), wType = node.inputType(1);
  if (xType.getRank() != 3 || wType.getRank() != 2 || !wType.hasStaticShape())
    return node.error("input must be [batch, seq, in] and weights a static "
                      "[in, Dq + Dk + Dv] matrix");
  int64_t heads = node.intAttr("num_heads", 0);
  if (heads <= 0)
    return node.error("num_heads must be positive");
  SmallVector<int64_t> sizes =
      node.intsAttr("qkv_hidden_sizes").value_or(SmallVector<int64_t>{});
  if (sizes.empty()) {
    if (wType.getDimSize(1) % 3)
      return node.error("the weight's width is not 3 * hidden");
    sizes.assign(3, wType.getDimSize(1) / 3);
  }
  if (sizes.size() != 3 || sizes[0] + sizes[1] + sizes[2] != wType.getDimSize(1))
    return node.error("qkv_hidden_sizes do not add up to the weight's width");
  if (sizes[0] != sizes[1])
    return node.error("Q and K hidden sizes differ");
  for (int64_t s : sizes)
    if (s <= 0 || s % heads)
      return node.error("hidden sizes must be multiples of num_heads");
  if (!slm::extentsCompatible(xType.getDimSize(2), wType.getDimSize(0)))
    return node.error("input width differs from the weight's rows");
  if (bias && (node.inputType(2).getRank() != 1 ||
               node.inputType(2).getDimSize(0) != wType.getDimSize(1)))
    return node.error("bias must be [Dq + Dk + Dv]");
  Value q = project(node, x, w, bias, 0, sizes[0]);
  Value k = project(node, x, w, bias, sizes[0], sizes[1]);
  Value v = project(node, x, w, bias, sizes[0] + sizes[1], sizes[2]);
  if (!q || !k || !v)
    return failure();
  float filter = node.floatAttr("mask_filter_value", -10000.0f);
  FailureOr<Value> mask = ortAttentionMask(
      node, node.hasInput(3) ? node.input(3) : Value(), q, k, filter);
  if (failed(mask))
    return failure();
  Value combined = *mask;
  if (node.hasInput(5)) {
    // attention_bias [B or 1, N or 1, S, T] + the padding mask.
    Value attentionBias = node.input(5);
    if (failed(requireSameFloat(node, 5)))
      return failure();
    combined = combined ? add(node, attentionBias, combined) : attentionBias;
    if (!combined)
      return failure();
  }
  node.setOutput(0, attend(node, q, k, v, combined, heads, heads,
                           node.floatAttr("scale", 0.0f),
                           node.intAttr("unidirectional", 0) != 0));
  return success();
}

/// com.microsoft MultiHeadAttention: Q [B, S, D] with K, V [B, L, D] (or
/// [B, N, L, H] already split), packed KV [B, L, N, 2, H] in `key`, or packed
/// QKV [B, S, N, 3, H] in `query`; bias [D + D + Dv]; key_padding_mask;
/// attention_bias; past_key/past_value [B, N, P, H] with present outputs.
LogicalResult importMultiHeadAttention(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  for (int i : {1, 2, 3, 5, 6, 7})
    if (failed(requireSameFloat(node, i)))
      return failure();
  if (node.hasInput(8) || node.hasInput(9))
    return node.error("past_sequence_length and cache_indirection are not "
                      "supported");
  if (node.hasOutput(3))
    return node.error("the qk output is not supported");
  GraphImporter &g = node.importer();
  Location loc = node.loc();
  int64_t heads = node.intAttr("num_heads", 0);
  if (heads <= 0)
    return node.error("num_heads must be positive");
  Value query = node.input(0);
  RankedTensorType qType = node.inputType(0);
  Value q, k, v;
  auto c = [](int64_t x) { return DimExpr::constant(x); };
  // [B, L, N, n, H] -> part `which` as [B, L, N * H].
  auto unpack = [&](Value packed, int64_t which, int64_t count) -> Value {
    auto t = cast<RankedTensorType>(packed.getType());
    int64_t n = t.getDimSize(2), h = t.getDimSize(4);
    Value flat = g.reshape(loc, packed,
                           {DimExpr::dimOf(packed, 0), DimExpr::dimOf(packed, 1),
                            c(n), c(count * h)});
    Value part = sliceLastAxis(node, flat, which * h, h);
    return g.reshape(loc, part,
                     {DimExpr::dimOf(packed, 0), DimExpr::dimOf(packed, 1),
                      c(n * h)});
  };
  auto staticPacked = [&](RankedTensorType t, int64_t count) {
    return t.getRank() == 5 && t.getDimSize(3) == count &&
           t.getDimSize(2) == heads && !t.isDynamicDim(4);
  };
  bool kvSplit = false; // key/value given as [B, N, L, H]
  if (qType.getRank() == 5) {
    if (!staticPacked(qType, 3) || node.hasInput(1) || node.hasInput(2))
      return node.error("packed QKV must be [B, S, num_heads, 3, H] with no "
                        "separate key or value");
    q = unpack(query, 0, 3);
    k = unpack(query, 1, 3);
    v = unpack(query, 2, 3);
  } else if (qType.getRank() == 3) {
    q = query;
    if (!node.hasInput(1))
      return node.error("key is required unless QKV is packed");
    RankedTensorType kType = node.inputType(1);
    if (kType.getRank() == 5) {
      if (!staticPacked(kType, 2) || node.hasInput(2))
        return node.error("packed KV must be [B, L, num_heads, 2, H] with no "
                          "separate value");
      k = unpack(node.input(1), 0, 2);
      v = unpack(node.input(1), 1, 2);
    } else if (kType.getRank() == 3 && node.hasInput(2) &&
               node.inputType(2).getRank() == 3) {
      k = node.input(1);
      v = node.input(2);
    } else if (kType.getRank() == 4 && node.hasInput(2) &&
               node.inputType(2).getRank() == 4) {
      kvSplit = true;
      if (kType.getDimSize(1) != heads ||
          node.inputType(2).getDimSize(1) != heads)
        return node.error("[B, N, L, H] key and value need N = num_heads");
      k = mergeHeads(node, node.input(1));
      v = mergeHeads(node, node.input(2));
    } else {
      return node.error("key and value must be 3-D, 4-D [B, N, L, H] or a "
                        "packed KV");
    }
  } else {
    return node.error("query must be 3-D or a 5-D packed QKV");
  }
  auto width = [](Value t) {
    return cast<RankedTensorType>(t.getType()).getDimSize(2);
  };
  for (Value t : {q, k, v})
    if (ShapedType::isDynamic(width(t)) || width(t) % heads)
      return node.error("hidden sizes must be static multiples of num_heads");
  if (width(q) != width(k))
    return node.error("Q and K hidden sizes differ");
  if (failed(requireSameExtent(node, q, 0, k, 0, "Q and K batch sizes differ")) ||
      failed(requireSameExtent(node, k, 0, v, 0, "K and V batch sizes differ")) ||
      failed(requireSameExtent(node, k, 1, v, 1,
                               "K and V sequence lengths differ")))
    return failure();
  if (node.hasInput(3)) {
    if (kvSplit)
      return node.error("a bias with [B, N, L, H] key and value is not "
                        "supported");
    RankedTensorType biasType = node.inputType(3);
    int64_t total = width(q) + width(k) + width(v);
    if (biasType.getRank() != 1 || biasType.getDimSize(0) != total)
      return node.error("bias must be [" + Twine(total) + "]");
    Value bias = node.input(3);
    q = add(node, q, sliceColumns(node, bias, 0, width(q)));
    k = add(node, k, sliceColumns(node, bias, width(q), width(k)));
    v = add(node, v, sliceColumns(node, bias, width(q) + width(k), width(v)));
    if (!q || !k || !v)
      return failure();
  }
  if (node.hasInput(6) != node.hasInput(7))
    return node.error("past_key and past_value must be given together");
  if (node.hasInput(6)) {
    if (kvSplit)
      return node.error("past state with [B, N, L, H] key and value is not "
                        "supported");
    if (node.inputType(6).getRank() != 4 || node.inputType(7).getRank() != 4)
      return node.error("past_key and past_value must be [B, N, P, H]");
    Value pk = mergeHeads(node, node.input(6));
    Value pv = mergeHeads(node, node.input(7));
    if (width(pk) != width(k) || width(pv) != width(v))
      return node.error("past_key/past_value head layout differs from K/V");
    if (failed(requireSameExtent(node, pk, 0, k, 0,
                                 "past_key and key batch sizes differ")) ||
        failed(requireSameExtent(node, pv, 0, v, 0,
                                 "past_value and value batch sizes differ")) ||
        failed(requireSameExtent(node, pk, 1, pv, 1,
                                 "past_key and past_value lengths differ")))
      return failure();
    k = tensor::ConcatOp::create(node.builder(), loc, 1, ValueRange{pk, k});
    v = tensor::ConcatOp::create(node.builder(), loc, 1, ValueRange{pv, v});
  }
  if (node.hasOutput(1))
    node.setOutput(1, splitHeads(node, k, heads));
  if (node.hasOutput(2))
    node.setOutput(2, splitHeads(node, v, heads));
  float filter = node.floatAttr("mask_filter_value", -10000.0f);
  FailureOr<Value> mask = ortAttentionMask(
      node, node.hasInput(4) ? node.input(4) : Value(), q, k, filter);
  if (failed(mask))
    return failure();
  Value combined = *mask;
  if (node.hasInput(5)) {
    Value attentionBias = node.input(5);
    combined = combined ? add(node, attentionBias, combined) : attentionBias;
    if (!combined)
      return failure();
  }
  node.setOutput(0, attend(node, q, k, v, combined, heads, heads,
                           node.floatAttr("scale", 0.0f),
                           node.intAttr("unidirectional", 0) != 0));
  return success();
}

/// The cos or sin rows for positions `positions` ([B, S] or [1, S] integer)
/// of a [max_position, R/2] cache, as [B or 1, S, 1, R/2].
Value rotaryRows(NodeContext &node, Value cache, Value positions) {
  auto cacheType = cast<RankedTensorType>(cache.getType());
  auto posType = cast<RankedTensorType>(positions.getType());
  Value rows = mlir::slm::GatherOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get({posType.getDimSize(0), posType.getDimSize(1),
                             cacheType.getDimSize(1)},
                            cacheType.getElementType()),
      cache, positions, node.builder().getI64IntegerAttr(0));
  return node.importer().reshape(
      node.loc(), rows,
      {DimExpr::dimOf(rows, 0), DimExpr::dimOf(rows, 1), DimExpr::constant(1),
       DimExpr::dimOf(rows, 2)});
}

/// Positions `start[b or 0] + s` for s in [0, S) as an i64 [B', S] tensor,
/// `start` a 1-D integer tensor of B' entries.
Value positionsFrom(NodeContext &node, Value start, Value like) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto startType = cast<RankedTensorType>(start.getType());
  auto type = RankedTensorType::get(
      {startType.getDimSize(0),
       cast<RankedTensorType>(like.getType()).getDimSize(1)},
      b.getI64Type());
  SmallVector<Value> dynamic;
  if (type.isDynamicDim(0))
    dynamic.push_back(dimValue(node, start, 0));
  if (type.isDynamicDim(1))
    dynamic.push_back(dimValue(node, like, 1));
  return tensor::GenerateOp::create(
             b, loc, type, dynamic,
             [&](OpBuilder &nb, Location l, ValueRange iv) {
               Value first = tensor::ExtractOp::create(nb, l, start, iv[0]);
               if (first.getType() != nb.getI64Type())
                 first = arith::ExtSIOp::create(nb, l, nb.getI64Type(), first);
               Value s = arith::IndexCastOp::create(nb, l, nb.getI64Type(),
                                                    iv[1]);
               tensor::YieldOp::create(
                   nb, l, arith::AddIOp::create(nb, l, first, s).getResult());
             })
      .getResult();
}

/// com.microsoft RotaryEmbedding: input [B, S, N*H] or [B, N, S, H],
/// position_ids [B, S] (or [1]: an offset), cos/sin caches
/// [max_position, R/2].
LogicalResult importRotaryEmbedding(NodeContext &node) {
  if (failed(requireInputs(node, 4)) || failed(requireSameFloat(node, 2)) ||
      failed(requireSameFloat(node, 3)))
    return failure();
  if (node.intAttr("is_packed_batching", 0))
    return node.error("is_packed_batching is not supported");
  GraphImporter &g = node.importer();
  Location loc = node.loc();
  Value x = node.input(0);
  RankedTensorType xType = node.inputType(0);
  RankedTensorType cosType = node.inputType(2);
  if (cosType.getRank() != 2 || cosType != node.inputType(3) ||
      cosType.isDynamicDim(1))
    return node.error("cos_cache and sin_cache must be [max_position, R/2]");
  int64_t half = cosType.getDimSize(1);
  int64_t rotaryDim = node.intAttr("rotary_embedding_dim", 0);
  int64_t heads = node.intAttr("num_heads", 0);
  Value bsnh;
  if (xType.getRank() == 4) {
    bsnh = mlir::slm::TransposeOp::create(
        node.builder(), loc,
        RankedTensorType::get({xType.getDimSize(0), xType.getDimSize(2),
                               xType.getDimSize(1), xType.getDimSize(3)},
                              xType.getElementType()),
        x, ArrayRef<int64_t>{0, 2, 1, 3});
  } else if (xType.getRank() == 3) {
    int64_t hidden = xType.getDimSize(2);
    if (ShapedType::isDynamic(hidden))
      return node.error("the hidden size must be static");
    if (heads <= 0) {
      // Without num_heads the head size is the rotary width.
      if (rotaryDim != 0 && rotaryDim != 2 * half)
        return node.error("num_heads is needed when rotary_embedding_dim is "
                          "set");
      heads = hidden / (2 * half);
    }
    if (heads <= 0 || hidden % heads)
      return node.error("num_heads does not divide the hidden size");
    bsnh = g.reshape(loc, x,
                     {DimExpr::dimOf(x, 0), DimExpr::dimOf(x, 1),
                      DimExpr::constant(heads),
                      DimExpr::constant(hidden / heads)});
  } else {
    return node.error("the input must be 3-D or 4-D");
  }
  int64_t headDim = cast<RankedTensorType>(bsnh.getType()).getDimSize(3);
  if (ShapedType::isDynamic(headDim))
    return node.error("the head size must be static");
  if (rotaryDim == 0)
    rotaryDim = 2 * half;
  if (rotaryDim != 2 * half || rotaryDim > headDim)
    return node.error("the caches' width (" + Twine(half) +
                      ") does not match the rotary dimension " +
                      Twine(rotaryDim) + " (head size " + Twine(headDim) +
                      ")");
  RankedTensorType posType = node.inputType(1);
  Value positions = node.input(1);
  if (!isa<IntegerType>(posType.getElementType()))
    return node.error("position_ids must be an integer tensor");
  if (posType.getRank() == 1) {
    if (posType.getDimSize(0) != 1)
      return node.error("1-D position_ids must hold one offset");
    positions = positionsFrom(node, positions, bsnh);
  } else if (posType.getRank() == 2) {
    if (failed(requireSameExtent(node, positions, 0, bsnh, 0,
                                 "position_ids and input batch sizes "
                                 "differ")) ||
        failed(requireSameExtent(node, positions, 1, bsnh, 1,
                                 "position_ids and input sequence lengths "
                                 "differ")))
      return failure();
  } else {
    return node.error("position_ids must be [batch, seq] or [1]");
  }
  Value cos = rotaryRows(node, node.input(2), positions);
  Value sin = rotaryRows(node, node.input(3), positions);
  Value y = applyRotary(node, bsnh, cos, sin, rotaryDim,
                        node.intAttr("interleaved", 0) != 0);
  if (!y)
    return failure();
  if (xType.getRank() == 4) {
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


/// com.microsoft GroupQueryAttention without padding: Q [B, S, N*H] (or
/// packed QKV [B, S, (N + 2 Nkv) H] with key and value absent), K and V
/// [B, S, Nkv*H], past_key/past_value [B, Nkv, P, H] concatenated before
/// the new keys, causal from position P, optional rotary embedding of Q and K
/// (do_rotary, cos/sin caches [max_position, R/2]) at positions P + s. Every
/// row must be full: seqlens_k[b] + 1 == total_sequence_length == P + S is
/// checked at run time (padded batches are not supported).
LogicalResult importGroupQueryAttention(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  for (int i : {1, 2, 3, 4, 7, 8, 10})
    if (failed(requireSameFloat(node, i)))
      return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  GraphImporter &g = node.importer();
  int64_t heads = node.intAttr("num_heads", 0),
          kvHeads = node.intAttr("kv_num_heads", 0);
  if (heads <= 0 || kvHeads <= 0 || heads % kvHeads)
    return node.error("num_heads must be a positive multiple of kv_num_heads");
  if (node.intAttr("local_window_size", -1) >= 0)
    return node.error("local_window_size (sliding window) is not supported");
  if (node.floatAttr("softcap", 0.0f) != 0.0f)
    return node.error("softcap is not supported");
  if (node.intAttr("smooth_softmax", 0))
    return node.error("smooth_softmax is not supported");
  if (node.hasInput(9) || node.hasInput(10) || node.hasInput(11))
    return node.error("position_ids, attention_bias and head_sink are not "
                      "supported");
  if (node.hasOutput(3))
    return node.error("the qk output is not supported");
  if (!node.hasInput(5) || !node.hasInput(6))
    return node.error("seqlens_k and total_sequence_length are required");
  Value q = node.input(0), k, v;
  RankedTensorType qType = node.inputType(0);
  if (qType.getRank() != 3 || qType.isDynamicDim(2))
    return node.error("query must be [batch, seq, hidden] with a static "
                      "hidden size");
  int64_t headDim;
  if (!node.hasInput(1)) {
    if (node.hasInput(2) || qType.getDimSize(2) % (heads + 2 * kvHeads))
      return node.error("packed QKV must be [B, S, (num_heads + 2 * "
                        "kv_num_heads) * head_size]");
    headDim = qType.getDimSize(2) / (heads + 2 * kvHeads);
    Value packed = q;
    q = sliceLastAxis(node, packed, 0, heads * headDim);
    k = sliceLastAxis(node, packed, heads * headDim, kvHeads * headDim);
    v = sliceLastAxis(node, packed, (heads + kvHeads) * headDim,
                      kvHeads * headDim);
  } else {
    if (!node.hasInput(2))
      return node.error("value is required with key");
    k = node.input(1);
    v = node.input(2);
    if (qType.getDimSize(2) % heads)
      return node.error("num_heads does not divide the query width");
    headDim = qType.getDimSize(2) / heads;
    for (Value t : {k, v}) {
      auto tType = cast<RankedTensorType>(t.getType());
      if (tType.getRank() != 3 || tType.getDimSize(2) != kvHeads * headDim)
        return node.error("key and value must be [B, S, kv_num_heads * " +
                          Twine(headDim) + "]");
    }
    if (failed(requireSameExtent(node, q, 0, k, 0,
                                 "query and key batch sizes differ")) ||
        failed(requireSameExtent(node, q, 1, k, 1,
                                 "query and key lengths differ")) ||
        failed(requireSameExtent(node, k, 0, v, 0,
                                 "key and value batch sizes differ")) ||
        failed(requireSameExtent(node, k, 1, v, 1,
                                 "key and value lengths differ")))
      return failure();
  }
  // Past length P and the run-time checks that no row is padded.
  Value past = arith::ConstantIndexOp::create(b, loc, 0);
  Value pk, pv;
  if (node.hasInput(3) != node.hasInput(4))
    return node.error("past_key and past_value must be given together");
  if (node.hasInput(3)) {
    for (int i : {3, 4}) {
      RankedTensorType t = node.inputType(i);
      if (t.getRank() != 4 || t.getDimSize(1) != kvHeads ||
          t.getDimSize(3) != headDim)
        return node.error("past_key and past_value must be [B, kv_num_heads, "
                          "P, " +
                          Twine(headDim) + "]");
    }
    pk = mergeHeads(node, node.input(3));
    pv = mergeHeads(node, node.input(4));
    if (failed(requireSameExtent(node, pk, 0, q, 0,
                                 "past_key and query batch sizes differ")) ||
        failed(requireSameExtent(node, pv, 0, q, 0,
                                 "past_value and query batch sizes differ")) ||
        failed(requireSameExtent(node, pk, 1, pv, 1,
                                 "past_key and past_value lengths differ")))
      return failure();
    past = dimValue(node, pk, 1);
  }
  Value seq = dimValue(node, q, 1);
  Value total = arith::AddIOp::create(b, loc, past, seq);
  {
    Value given = node.input(6);
    if (cast<RankedTensorType>(given.getType()).getNumElements() != 1)
      return node.error("total_sequence_length must hold one value");
    given = g.reshape(loc, given, {});
    Value scalar = tensor::ExtractOp::create(b, loc, given, ValueRange{});
    Value totalInt = arith::IndexCastOp::create(b, loc, scalar.getType(), total);
    runtimeCheck(node,
                 arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       scalar, totalInt),
                 "total_sequence_length must equal the past length plus the "
                 "new sequence length (a shared past/present buffer is not "
                 "supported)");
    // seqlens_k[b] + 1 == total for every b: reduce min and max.
    Value lens = node.input(5);
    RankedTensorType lensType = node.inputType(5);
    if (lensType.getRank() != 1 || !isa<IntegerType>(lensType.getElementType()))
      return node.error("seqlens_k must be a 1-D integer tensor");
    if (failed(requireSameExtent(node, lens, 0, q, 0,
                                 "seqlens_k and query batch sizes differ")))
      return failure();
    Type lensElem = lensType.getElementType();
    auto scalarType = RankedTensorType::get({}, lensElem);
    for (auto kind : {mlir::slm::ReduceKind::min, mlir::slm::ReduceKind::max}) {
      Value r = mlir::slm::ReduceOp::create(b, loc, scalarType, kind, lens,
                                            ArrayRef<int64_t>{0}, false);
      Value e = tensor::ExtractOp::create(b, loc, r, ValueRange{});
      Value last = arith::SubIOp::create(
          b, loc, arith::IndexCastOp::create(b, loc, lensElem, total),
          arith::ConstantOp::create(b, loc, b.getIntegerAttr(lensElem, 1)));
      runtimeCheck(node,
                   arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, e,
                                         last),
                   "every seqlens_k entry must be total_sequence_length - 1 "
                   "(padded batches are not supported)");
    }
  }
  if (node.intAttr("do_rotary", 0)) {
    if (!node.hasInput(7) || !node.hasInput(8))
      return node.error("do_rotary needs cos_cache and sin_cache");
    RankedTensorType cosType = node.inputType(7);
    if (cosType.getRank() != 2 || cosType != node.inputType(8) ||
        cosType.isDynamicDim(1) || 2 * cosType.getDimSize(1) > headDim)
      return node.error("cos_cache and sin_cache must be [max_position, R/2] "
                        "with R <= head size");
    int64_t rotaryDim = 2 * cosType.getDimSize(1);
    // Positions P + s, the same for every batch.
    auto startType = RankedTensorType::get({1}, b.getI64Type());
    Value start = tensor::FromElementsOp::create(
        b, loc, startType,
        ValueRange{arith::IndexCastOp::create(b, loc, b.getI64Type(), past)});
    Value positions = positionsFrom(node, start, q);
    Value cos = rotaryRows(node, node.input(7), positions);
    Value sin = rotaryRows(node, node.input(8), positions);
    bool interleaved = node.intAttr("rotary_interleaved", 0) != 0;
    auto rotate = [&](Value t, int64_t n) {
      Value split = g.reshape(loc, t,
                              {DimExpr::dimOf(t, 0), DimExpr::dimOf(t, 1),
                               DimExpr::constant(n),
                               DimExpr::constant(headDim)});
      Value r = applyRotary(node, split, cos, sin, rotaryDim, interleaved);
      return g.reshape(loc, r, g.shapeOf(t));
    };
    q = rotate(q, heads);
    k = rotate(k, kvHeads);
  }
  if (pk) {
    k = tensor::ConcatOp::create(b, loc, 1, ValueRange{pk, k});
    v = tensor::ConcatOp::create(b, loc, 1, ValueRange{pv, v});
  }
  if (node.hasOutput(1))
    node.setOutput(1, splitHeads(node, k, kvHeads));
  if (node.hasOutput(2))
    node.setOutput(2, splitHeads(node, v, kvHeads));
  Value kr = repeatKVHeads(node, k, kvHeads, heads / kvHeads);
  Value vr = repeatKVHeads(node, v, kvHeads, heads / kvHeads);
  float scale = node.floatAttr("scale", 0.0f);
  node.setOutput(
      0, mlir::slm::AttentionOp::create(
             b, loc, cast<RankedTensorType>(q.getType()), q, kr, vr, Value(),
             b.getI64IntegerAttr(heads),
             scale != 0.0f ? b.getF64FloatAttr(scale) : FloatAttr(),
             b.getUnitAttr())
             .getResult());
  return success();
}

} // namespace

void mlir::slm::onnx_import::registerContribOps(OpTable &table) {
  using mlir::slm::GeluApproximation;
  table.add("com.microsoft::Attention", 1, importAttention);
  table.add("com.microsoft::MultiHeadAttention", 1, importMultiHeadAttention);
  table.add("com.microsoft::GroupQueryAttention", 1,
            importGroupQueryAttention);
  table.add("com.microsoft::RotaryEmbedding", 1, importRotaryEmbedding);
  table.add("com.microsoft::SkipLayerNormalization", 1, importSkipNorm<false>);
  table.add("com.microsoft::SkipSimplifiedLayerNormalization", 1,
            importSkipNorm<true>);
  // ONNX Runtime registers SimplifiedLayerNormalization, and
  // LayerNormalization before opset 17, in the ONNX domain.
  table.add("LayerNormalization", 1, importOrtLayerNorm);
  table.add("SimplifiedLayerNormalization", 1, importSimplifiedLayerNorm);
  table.add("com.microsoft::SimplifiedLayerNormalization", 1,
            importSimplifiedLayerNorm);
  table.add("com.microsoft::EmbedLayerNormalization", 1, importEmbedLayerNorm);
  table.add("com.microsoft::FastGelu", 1,
            importGeluWithBias<GeluApproximation::tanh>);
  table.add("com.microsoft::BiasGelu", 1,
            importGeluWithBias<GeluApproximation::none>);
  table.add("com.microsoft::Gelu", 1,
            importGeluWithBias<GeluApproximation::none>);
  table.add("com.microsoft::QuickGelu", 1, importQuickGelu);
  table.add("com.microsoft::BiasAdd", 1, importBiasAdd);
  table.add("com.microsoft::BiasSplitGelu", 1, importBiasSplitGelu);
}
