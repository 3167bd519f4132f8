//===- TransformerUtils.h - Shared pieces of the attention importers -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// What ContribOps.cpp (com.microsoft Attention, MultiHeadAttention,
// GroupQueryAttention, RotaryEmbedding, the fused norms) and
// TransformerOps.cpp (the ONNX opset-23 Attention, RMSNormalization and
// RotaryEmbedding) both build: broadcasting elementwise ops, trailing-axis
// slices, head layout changes, run-time extent checks, rotary embedding and
// RMS normalization over any trailing axes.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_IMPORT_ONNX_TRANSFORMERUTILS_H
#define SLM_LIB_IMPORT_ONNX_TRANSFORMERUTILS_H

#include "Importer.h"

namespace mlir::slm::onnx_import::transformer {

/// `a op b` with numpy broadcasting (an slm elementwise op); null after an
/// error on the node when the shapes do not broadcast.
template <typename OpT> Value binary(NodeContext &node, Value a, Value b) {
  auto aType = cast<RankedTensorType>(a.getType());
  RankedTensorType type =
      broadcastType(node, aType, cast<RankedTensorType>(b.getType()),
                    aType.getElementType());
  if (!type)
    return {};
  return OpT::create(node.builder(), node.loc(), type, a, b);
}

/// Extent `index` of `v` as an index value.
Value dimValue(NodeContext &node, Value v, int64_t index);

/// Checks that extent `ai` of `a` equals extent `bi` of `b`: an error when
/// both are static and differ, a run-time `cf.assert` when one is dynamic.
/// `what` names the requirement in both messages.
LogicalResult requireSameExtent(NodeContext &node, Value a, int64_t ai,
                                Value b, int64_t bi, const Twine &what);

/// Emits `cf.assert %condition, "<node> (<Op>): message"`.
void runtimeCheck(NodeContext &node, Value condition, const Twine &message);

/// `x[..., start : start + size]` along the last axis (static bounds).
Value sliceLastAxis(NodeContext &node, Value x, int64_t start, int64_t size);

/// Concatenation along the last axis.
Value concatLastAxis(NodeContext &node, ArrayRef<Value> parts);

/// [B, S, N * H] -> [B, N, S, H].
Value splitHeads(NodeContext &node, Value x, int64_t heads);

/// [B, N, S, H] -> [B, S, N * H].
Value mergeHeads(NodeContext &node, Value x);

/// Key or value heads repeated for grouped-query attention:
/// [B, T, Nkv * H] -> [B, T, Nkv * groups * H], query head `h` seeing key
/// head `h / groups`.
Value repeatKVHeads(NodeContext &node, Value x, int64_t kvHeads,
                    int64_t groups);

/// `v` (a scale or bias) shaped exactly like `dims`: leading size-1
/// dimensions dropped, broadcast where it is smaller.
Value fitToShape(NodeContext &node, Value v, ArrayRef<DimExpr> dims);

/// Root-mean-square normalization of `x` over axes [axis, rank) with `scale`
/// (broadcast to those axes): `x / sqrt(mean(x^2) + epsilon) * scale`, as
/// slm.rms_norm (over one flattened axis when `axis` is not the last).
/// When `invStdDev` is given it receives 1 / sqrt(mean(x^2) + epsilon) with
/// the normalized axes kept as size 1.
FailureOr<Value> rmsNorm(NodeContext &node, Value x, Value scale, int64_t axis,
                         double epsilon, Value *invStdDev = nullptr);

/// Rotary position embedding of `x` [B, S, N, H] with cos and sin
/// [B or 1, S, 1, R/2] (R = rotary width <= H, even): the first R channels
/// of each head rotate, in pairs (2i, 2i+1) when `interleaved`, else
/// (i, i + R/2); the rest pass through.
Value applyRotary(NodeContext &node, Value x, Value cos, Value sin,
                  int64_t rotaryDim, bool interleaved);

} // namespace mlir::slm::onnx_import::transformer

#endif // SLM_LIB_IMPORT_ONNX_TRANSFORMERUTILS_H
