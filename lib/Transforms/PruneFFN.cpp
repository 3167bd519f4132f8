//===- PruneFFN.cpp - Remove the least important FFN neurons --------------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-prune-ffn: score each hidden neuron of a feed-forward network,
// choose the least important ones per layer or under one global budget, and
// rewrite the up and down projections without them. Scores and statistics
// as in --slm-prune-heads (PruningUtils.h).
//
//===----------------------------------------------------------------------===//

#include "PruningUtils.h"

#include "slm/Transforms/ModelStructure.h"
#include "slm/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMPRUNEFFN
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::pruning;

namespace {
struct PruneFFNPass : public slm::impl::SLMPruneFFNBase<PruneFFNPass> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    Method method;
    Allocation alloc;
    if (failed(parseOptions(root, ratio, method_, allocation, method, alloc)))
      return signalPassFailure();
    if (multiple < 1)
      return root->emitError("multiple must be positive"), signalPassFailure();
    if (ratio == 0.0)
      return;
    SmallVector<std::string> skipped;
    SmallVector<FeedForwardUnit> units = findFeedForwardUnits(root, &skipped);
    if (units.empty()) {
      InFlightDiagnostic warning =
          root->emitWarning() << "FFN pruning found no feed-forward network "
                                 "whose neurons can be removed; nothing pruned";
      for (const std::string &why : skipped)
        warning.attachNote() << why;
      return;
    }
    std::vector<std::vector<double>> scores;
    std::vector<LinearParams> up, gate, down;
    std::vector<std::optional<ChannelStats>> stats;
    for (FeedForwardUnit &unit : units) {
      FailureOr<LinearParams> pu = readParams(unit.up),
                              pd = readParams(unit.down);
      if (failed(pu) || failed(pd))
        return signalPassFailure();
      FailureOr<LinearParams> pg = LinearParams();
      if (unit.gate && failed(pg = readParams(unit.gate)))
        return signalPassFailure();
      FailureOr<std::optional<ChannelStats>> s =
          statsFor(method, unit.down, /*compensate=*/true);
      if (failed(s))
        return signalPassFailure();
      std::vector<double> neuronScores(unit.hidden());
      for (int64_t j = 0; j < unit.hidden(); ++j) {
        neuronScores[j] =
            channelScore(method, *pd, j, s->has_value() ? &**s : nullptr);
        if (method == Method::Magnitude)
          neuronScores[j] +=
              rowSquares(*pu, j) + (unit.gate ? rowSquares(*pg, j) : 0.0);
      }
      scores.push_back(std::move(neuronScores));
      up.push_back(std::move(*pu));
      gate.push_back(std::move(*pg));
      down.push_back(std::move(*pd));
      stats.push_back(biasCompensation ? std::move(*s) : std::nullopt);
    }
    std::vector<std::vector<bool>> removed =
        chooseRemoved(scores, ratio, alloc, /*minKeep=*/1, multiple);
    for (size_t u = 0; u < units.size(); ++u)
      prune(units[u], removed[u], up[u], gate[u], down[u],
            stats[u] ? &*stats[u] : nullptr);
    eraseDeadConstants(root);
  }

  void prune(FeedForwardUnit &unit, const std::vector<bool> &removed,
             const LinearParams &up, const LinearParams &gate,
             const LinearParams &down, const ChannelStats *stats) {
    SmallVector<int64_t> kept, gone;
    for (int64_t j = 0; j < unit.hidden(); ++j)
      (removed[j] ? gone : kept).push_back(j);
    if (gone.empty())
      return;
    // Up (and gate) keep the rows of the kept neurons.
    IRMapping mapping;
    for (auto [op, params] : {std::pair(unit.up, &up), {unit.gate, &gate}}) {
      if (!op)
        continue;
      std::vector<float> bias;
      if (!params->bias.empty())
        for (int64_t j : kept)
          bias.push_back(params->bias[j]);
      LinearOp rebuilt =
          rebuildLinear(op, *params, kept, {}, bias, op.getInput());
      mapping.map(op.getResult(), rebuilt.getResult());
    }
    // The elementwise ops between, narrowed, each where it was.
    auto hiddenType = cast<RankedTensorType>(unit.down.getInput().getType());
    SmallVector<int64_t> shape(hiddenType.getShape());
    shape.back() = kept.size();
    Type narrowed = hiddenType.clone(shape);
    for (Operation *op : unit.between) {
      OpBuilder b(op);
      Operation *clone = b.clone(*op, mapping);
      clone->getResult(0).setType(narrowed);
    }
    LinearOp nd =
        rebuildConsumer(unit.down, down, kept, gone, stats, reconstructWeights,
                        mapping.lookup(unit.down.getInput()));
    unit.down.getResult().replaceAllUsesWith(nd.getResult());
    unit.down->erase();
    for (Operation *op : llvm::reverse(unit.between))
      op->erase();
    unit.up->erase();
    if (unit.gate)
      unit.gate->erase();
  }
};
} // namespace
