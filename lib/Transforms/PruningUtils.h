//===- PruningUtils.h - Shared logic of the pruning passes ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// What --slm-prune-heads and --slm-prune-ffn share: reading a linear layer's
// constant parameters, scoring its input channels (magnitude, Wanda, FLAP),
// choosing what to remove per layer or under one global budget, and
// rebuilding the layers without it (with FLAP's bias compensation or a
// least-squares refit of the consuming layer).
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_TRANSFORMS_PRUNINGUTILS_H
#define SLM_LIB_TRANSFORMS_PRUNINGUTILS_H

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/ModelStructure.h"

#include <optional>
#include <vector>

namespace mlir::slm::pruning {

/// How a channel's importance is scored.
enum class Method { Magnitude, Wanda, Flap };
/// How the pruning ratio is shared among layers: the same share in every
/// layer, or one budget over the whole model (FLAP's standardized scores).
enum class Allocation { Uniform, Global };

/// A constant-weight linear layer's parameters as floats.
struct LinearParams {
  Attribute weightAttr, biasAttr;
  std::vector<float> weight, bias; ///< bias empty when there is none
  int64_t rows = 0, cols = 0;
  float at(int64_t r, int64_t c) const { return weight[r * cols + c]; }
};

/// The f32 constant weight and bias of `op`, or an error on `op`.
FailureOr<LinearParams> readParams(LinearOp op);

/// Replaces `op` by a copy that keeps weight rows `rows` and columns `cols`
/// (all when empty) and has bias `bias` (rows entries, or none when empty).
/// `refit`, when given, replaces the kept block's values. Calibration
/// statistics of its input follow the kept columns.
LinearOp rebuildLinear(LinearOp op, const LinearParams &p,
                       ArrayRef<int64_t> rows, ArrayRef<int64_t> cols,
                       ArrayRef<float> bias, Value input,
                       const std::vector<float> *refit = nullptr);

/// The layer that consumes pruned channels (output or down projection),
/// rebuilt on its kept input columns `kept`: refit by least squares when
/// `refit` is set and the statistics carry a covariance, else the kept
/// columns with the removed ones' mean folded into the bias (when there are
/// statistics).
LinearOp rebuildConsumer(LinearOp op, const LinearParams &p,
                         ArrayRef<int64_t> kept, ArrayRef<int64_t> removed,
                         const ChannelStats *stats, bool refit, Value input);

/// Importance of input channel `c` of `consumer` under `method`
/// (magnitude: the squared norm of its column). `stats` is needed by the
/// activation-aware methods.
double channelScore(Method method, const LinearParams &consumer, int64_t c,
                    const ChannelStats *stats);

/// The squared norm of weight row `row` of `p`.
double rowSquares(const LinearParams &p, int64_t row);

/// Chooses which groups to remove. `scores[u][g]` is group g of unit u;
/// `keepMultiple` rounds each unit's kept count to a multiple (when the
/// unit has at least twice that many groups); every unit keeps `minKeep`.
std::vector<std::vector<bool>>
chooseRemoved(const std::vector<std::vector<double>> &scores, double ratio,
              Allocation allocation, int64_t minKeep, int64_t keepMultiple);

/// Erases the constants that pruning left without users.
void eraseDeadConstants(Operation *root);

/// Checks the options shared by the head and FFN passes (`ratio` in
/// [0, 1), a known method and allocation) and parses the last two; emits
/// an error on `root` for the first one that is wrong.
LogicalResult parseOptions(Operation *root, double ratio, StringRef methodText,
                           StringRef allocationText, Method &method,
                           Allocation &allocation);

/// The statistics a method needs on `consumer`, or an error naming it;
/// std::nullopt when there are none (magnitude) or `compensate` is false.
FailureOr<std::optional<ChannelStats>>
statsFor(Method method, LinearOp consumer, bool compensate);

} // namespace mlir::slm::pruning

#endif // SLM_LIB_TRANSFORMS_PRUNINGUTILS_H
