//===- PruneHeads.cpp - Remove the least important attention heads --------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-prune-heads: score each attention head, choose the least important
// ones per layer or under one global budget, and rewrite the Q, K, V and
// output projections without them, so that every GEMM around the attention
// gets smaller. Scores come from the weights (magnitude) or from calibration
// statistics that slmc attaches to the output projection (Wanda: |W| times
// the input's RMS; FLAP: input variance times the squared column norm, with
// the removed channels' mean folded into the bias).
//
//===----------------------------------------------------------------------===//

#include "PruningUtils.h"

#include "slm/Transforms/ModelStructure.h"
#include "slm/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMPRUNEHEADS
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::pruning;

namespace {
struct PruneHeadsPass : public slm::impl::SLMPruneHeadsBase<PruneHeadsPass> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    Method method;
    Allocation alloc;
    if (failed(parseOptions(root, ratio, method_, allocation, method, alloc)))
      return signalPassFailure();
    if (ratio == 0.0)
      return;
    splitFusedProjections(root);
    SmallVector<std::string> skipped;
    SmallVector<AttentionUnit> units = findAttentionUnits(root, &skipped);
    if (units.empty()) {
      // Asked for and impossible: say so rather than compile the model
      // unchanged without a word.
      InFlightDiagnostic warning = root->emitWarning()
                                   << "head pruning found no attention whose "
                                      "heads can be removed; nothing pruned";
      for (const std::string &why : skipped)
        warning.attachNote() << why;
      return;
    }
    std::vector<std::vector<double>> scores;
    std::vector<LinearParams> q, k, v, o;
    std::vector<std::optional<ChannelStats>> stats;
    for (AttentionUnit &unit : units) {
      FailureOr<LinearParams> pq = readParams(unit.query),
                              pk = readParams(unit.key),
                              pv = readParams(unit.value),
                              po = readParams(unit.output);
      if (failed(pq) || failed(pk) || failed(pv) || failed(po))
        return signalPassFailure();
      FailureOr<std::optional<ChannelStats>> s =
          statsFor(method, unit.output, /*compensate=*/true);
      if (failed(s))
        return signalPassFailure();
      const int64_t heads = unit.numHeads(), dk = unit.queryHeadDim(),
                    dv = unit.valueHeadDim();
      std::vector<double> headScores(heads, 0.0);
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t c = h * dv; c < (h + 1) * dv; ++c)
          headScores[h] +=
              channelScore(method, *po, c, s->has_value() ? &**s : nullptr);
        if (method == Method::Magnitude) {
          for (int64_t c = h * dk; c < (h + 1) * dk; ++c)
            headScores[h] += rowSquares(*pq, c) + rowSquares(*pk, c);
          for (int64_t c = h * dv; c < (h + 1) * dv; ++c)
            headScores[h] += rowSquares(*pv, c);
        }
      }
      scores.push_back(std::move(headScores));
      q.push_back(std::move(*pq));
      k.push_back(std::move(*pk));
      v.push_back(std::move(*pv));
      o.push_back(std::move(*po));
      stats.push_back(biasCompensation ? std::move(*s) : std::nullopt);
    }
    std::vector<std::vector<bool>> removed =
        chooseRemoved(scores, ratio, alloc, minHeads, /*keepMultiple=*/1);
    for (size_t u = 0; u < units.size(); ++u)
      prune(units[u], removed[u], q[u], k[u], v[u], o[u],
            stats[u] ? &*stats[u] : nullptr);
    eraseDeadConstants(root);
  }

  void prune(AttentionUnit &unit, const std::vector<bool> &removed,
             const LinearParams &q, const LinearParams &k,
             const LinearParams &v, const LinearParams &o,
             const ChannelStats *stats) {
    const int64_t heads = unit.numHeads(), dk = unit.queryHeadDim(),
                  dv = unit.valueHeadDim();
    SmallVector<int64_t> keptQK, keptV, removedV;
    int64_t kept = 0;
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t c = h * dv; c < (h + 1) * dv; ++c)
        (removed[h] ? removedV : keptV).push_back(c);
      if (removed[h])
        continue;
      ++kept;
      for (int64_t c = h * dk; c < (h + 1) * dk; ++c)
        keptQK.push_back(c);
    }
    if (kept == heads)
      return;
    AttentionOp attention = unit.attention;
    double scale = attention.getEffectiveScale();
    LinearOp nq = rebuildLinear(unit.query, q, keptQK, {},
                                gatherBias(q, keptQK), unit.query.getInput());
    LinearOp nk = rebuildLinear(unit.key, k, keptQK, {}, gatherBias(k, keptQK),
                                unit.key.getInput());
    LinearOp nv = rebuildLinear(unit.value, v, keptV, {}, gatherBias(v, keptV),
                                unit.value.getInput());
    OpBuilder b(attention);
    auto na = cast<AttentionOp>(b.clone(*attention));
    na.getQueryMutable().assign(nq.getResult());
    na.getKeyMutable().assign(nk.getResult());
    na.getValueMutable().assign(nv.getResult());
    na.setNumHeads(kept);
    na.setScaleAttr(b.getF64FloatAttr(scale));
    auto type = cast<RankedTensorType>(attention.getResult().getType());
    SmallVector<int64_t> shape(type.getShape());
    shape.back() = kept * dv;
    na.getResult().setType(type.clone(shape));
    LinearOp no = rebuildConsumer(unit.output, o, keptV, removedV, stats,
                                  reconstructWeights, na.getResult());
    unit.output.getResult().replaceAllUsesWith(no.getResult());
    for (Operation *op : {unit.output.getOperation(), attention.getOperation(),
                          unit.query.getOperation(), unit.key.getOperation(),
                          unit.value.getOperation()})
      op->erase();
  }

  static std::vector<float> gatherBias(const LinearParams &p,
                                       ArrayRef<int64_t> rows) {
    std::vector<float> out;
    if (!p.bias.empty())
      for (int64_t r : rows)
        out.push_back(p.bias[r]);
    return out;
  }
};
} // namespace
