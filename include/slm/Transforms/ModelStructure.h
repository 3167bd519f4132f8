//===- ModelStructure.h - Transformer blocks found in slm IR ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The units structured pruning works on, found in raised slm IR: attention
// (Q/K/V projections, slm.attention, output projection), feed-forward
// (up projection, activation, down projection) and residual blocks (the
// residual stream's value before and after one attention + FFN block).
// Pruning, calibration probes and the compression report all use these, so
// they agree on what a "layer" is.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TRANSFORMS_MODELSTRUCTURE_H
#define SLM_TRANSFORMS_MODELSTRUCTURE_H

#include "slm/IR/SLMOps.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace mlir::slm {

/// An op on the way from a projection to the attention (or from the
/// attention to the output projection) that carries the heads through
/// unchanged: a head split or merge, a transpose, a rotary embedding (an
/// elementwise op against a table that broadcasts over heads, slices and
/// concatenations along another axis), the repeat of grouped key/value
/// heads, a per-head norm, a cast. `dim` is the dimension of its result
/// that holds the path's heads (possibly merged with other factors); -1
/// on a path of one head.
struct HeadCarrier {
  Operation *op;
  int64_t dim;
};

/// The ops between one projection and the attention, in program order, and
/// the number of heads that travel along them: the query heads on the
/// query and output paths, the key/value heads on the key and value paths
/// (fewer under grouped-query attention). Empty when the projection feeds
/// the attention directly.
struct HeadPath {
  SmallVector<HeadCarrier, 0> ops;
  int64_t heads = 0;
  /// Reads of the path's values by ops whose results only reach shape
  /// queries (what raising left of a decomposed attention to give the
  /// mask its extents): pruning gives them an empty tensor of the value's
  /// unpruned type instead.
  SmallVector<OpOperand *, 0> shapeReads;
};

/// Multi-head attention whose heads can be removed: Q, K and V are
/// constant-weight linear layers whose results reach the attention only
/// through head-carrying ops (nothing else reads them), and the attention's
/// result reaches a constant-weight output projection the same way. Query
/// head `h` is rows `[h*Dk, (h+1)*Dk)` of the query projection and columns
/// `[h*Dv, (h+1)*Dv)` of the output projection; it reads key/value head
/// `kvHeadOf(h)`, rows `[j*D, (j+1)*D)` of the key and value projections.
/// Removing a key/value head removes its group of query heads with it.
struct AttentionUnit {
  AttentionOp attention;
  LinearOp query, key, value, output;
  HeadPath queryPath, keyPath, valuePath, outputPath;
  int64_t numHeads() { return attention.getNumHeads(); }
  /// Key/value heads (numHeads() unless grouped-query attention).
  int64_t kvHeads() { return keyPath.heads; }
  int64_t queryHeadDim() { return query.getOutFeatures() / numHeads(); }
  int64_t valueHeadDim() { return value.getOutFeatures() / kvHeads(); }
  /// The key/value head query head `h` reads (HF's repeat_kv order).
  int64_t kvHeadOf(int64_t h) { return h / (numHeads() / kvHeads()); }
};

/// A feed-forward network whose hidden neurons can be removed: a
/// constant-weight down projection back to the up projection's input
/// width, whose result feeds a residual add, reading the hidden values
/// through elementwise ops only (`between`: an slm.gelu, a decomposed
/// SiLU, the product of a gated FFN; none when the activation is fused),
/// from one constant-weight up projection or, in a gated FFN (SwiGLU,
/// GeGLU), two of one input: `gate` and `up`. Hidden neuron j is row j of
/// up (and gate) and column j of down. Every op of the unit is used only
/// inside it.
struct FeedForwardUnit {
  LinearOp up;
  LinearOp gate; ///< the second projection of a gated FFN, or null
  SmallVector<Operation *, 4> between; ///< in program order
  LinearOp down;
  int64_t hidden() { return up.getOutFeatures(); }
};

/// One transformer block on the residual stream: `input` enters the block
/// (after the previous block's post-norm, or the pre-norm's input), and
/// `output` is where the next block starts. `attention` identifies it.
struct ResidualBlock {
  AttentionOp attention;
  Value input, output;
};

/// The units in `root` in program order. `skipped` (when given) gets one
/// line per attention op or linear pair that looks like a unit but cannot
/// be pruned, saying why.
SmallVector<AttentionUnit>
findAttentionUnits(Operation *root,
                   SmallVectorImpl<std::string> *skipped = nullptr);
SmallVector<FeedForwardUnit>
findFeedForwardUnits(Operation *root,
                     SmallVectorImpl<std::string> *skipped = nullptr);
SmallVector<ResidualBlock>
findResidualBlocks(Operation *root,
                   SmallVectorImpl<std::string> *skipped = nullptr);

/// Splits a fused Q/K/V projection (one constant-weight linear whose result
/// the attention reads as three slices of its last dimension, as GPT-2
/// exports it) into three linear layers over the weight's row blocks, so
/// that the attention becomes a prunable unit. Returns how many it split.
int64_t splitFusedProjections(Operation *root);

/// Attribute names shared by calibration, pruning and the compression
/// report.
/// On a linear layer: statistics of its input channels over calibration
/// tokens, `{count = N : i64, mean = array<f32: ...>, variance = ...}`,
/// optionally with `covariance = dense<...> : tensor<CxCxf32>`.
constexpr llvm::StringLiteral kInputStatsAttr = "slm.input_stats";
/// On an attention op: 1 - mean cosine similarity of the residual stream
/// before and after its block, over calibration tokens (f64).
constexpr llvm::StringLiteral kBlockImportanceAttr = "slm.block_importance";
/// On attention ops and FFN up projections: the index of their block in
/// the original model (set before pruning, for the compression report).
constexpr llvm::StringLiteral kLayerIndexAttr = "slm.layer";

/// Per-channel statistics read from kInputStatsAttr.
struct ChannelStats {
  int64_t count = 0;
  std::vector<float> mean, variance;
  /// Row-major channels x channels covariance, when calibration measured
  /// it (for least-squares reconstruction); empty otherwise.
  std::vector<float> covariance;
  /// The range of all values over calibration tokens, and its 0.01% and
  /// 99.99% quantiles (static activation quantization), when measured.
  bool hasRange = false;
  float min = 0, max = 0, lowQuantile = 0, highQuantile = 0;
};
/// The inputs of every slm.linear with a constant or compressed weight, in
/// walk order, each once, without those in `exclude`: what calibration
/// measures beyond the pruning units when all layers need statistics.
SmallVector<Value> otherLinearInputs(Operation *root, ArrayRef<Value> exclude);
/// The statistics on `op`, if any, with `channels` entries each.
std::optional<ChannelStats> getInputStats(Operation *op, int64_t channels);
/// The calibrated value range of `op`'s input {min, max, 0.01% quantile,
/// 99.99% quantile}, if measured (valid whatever pruning did to the
/// channels since).
std::optional<std::array<float, 4>> getInputRange(Operation *op);
/// Sets kInputStatsAttr on `op`.
void setInputStats(Operation *op, const ChannelStats &stats);

} // namespace mlir::slm

#endif // SLM_TRANSFORMS_MODELSTRUCTURE_H
