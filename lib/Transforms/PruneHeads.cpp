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

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
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
      // A key/value head and its group of query heads go together (one
      // head per group without grouped-query attention).
      const int64_t heads = unit.numHeads(), groups = unit.kvHeads(),
                    dk = unit.queryHeadDim(), dv = unit.valueHeadDim();
      std::vector<double> headScores(groups, 0.0);
      for (int64_t h = 0; h < heads; ++h) {
        double &score = headScores[unit.kvHeadOf(h)];
        for (int64_t c = h * dv; c < (h + 1) * dv; ++c)
          score +=
              channelScore(method, *po, c, s->has_value() ? &**s : nullptr);
        if (method == Method::Magnitude)
          for (int64_t c = h * dk; c < (h + 1) * dk; ++c)
            score += rowSquares(*pq, c);
      }
      if (method == Method::Magnitude)
        for (int64_t g = 0; g < groups; ++g) {
          for (int64_t c = g * dk; c < (g + 1) * dk; ++c)
            headScores[g] += rowSquares(*pk, c);
          for (int64_t c = g * dv; c < (g + 1) * dv; ++c)
            headScores[g] += rowSquares(*pv, c);
        }
      scores.push_back(std::move(headScores));
      q.push_back(std::move(*pq));
      k.push_back(std::move(*pk));
      v.push_back(std::move(*pv));
      o.push_back(std::move(*po));
      stats.push_back(biasCompensation ? std::move(*s) : std::nullopt);
    }
    // At least `min-heads` query heads: whole groups of them.
    int64_t minGroups = 0;
    for (AttentionUnit &unit : units) {
      int64_t size = unit.numHeads() / unit.kvHeads();
      minGroups = std::max<int64_t>(minGroups, (minHeads + size - 1) / size);
    }
    std::vector<std::vector<bool>> removed =
        chooseRemoved(scores, ratio, alloc, minGroups, /*keepMultiple=*/1);
    for (size_t u = 0; u < units.size(); ++u)
      prune(units[u], removed[u], q[u], k[u], v[u], o[u],
            stats[u] ? &*stats[u] : nullptr);
    eraseDeadConstants(root);
  }

  /// Removes the key/value heads `removed` (and their query heads).
  void prune(AttentionUnit &unit, const std::vector<bool> &removed,
             const LinearParams &q, const LinearParams &k,
             const LinearParams &v, const LinearParams &o,
             const ChannelStats *stats) {
    const int64_t heads = unit.numHeads(), groups = unit.kvHeads(),
                  dk = unit.queryHeadDim(), dv = unit.valueHeadDim();
    SmallVector<int64_t> keptQ, keptK, keptV, keptO, removedO;
    int64_t keptHeads = 0, keptGroups = 0;
    for (int64_t h = 0; h < heads; ++h) {
      bool gone = removed[unit.kvHeadOf(h)];
      for (int64_t c = h * dv; c < (h + 1) * dv; ++c)
        (gone ? removedO : keptO).push_back(c);
      if (gone)
        continue;
      ++keptHeads;
      for (int64_t c = h * dk; c < (h + 1) * dk; ++c)
        keptQ.push_back(c);
    }
    for (int64_t g = 0; g < groups; ++g) {
      if (removed[g])
        continue;
      ++keptGroups;
      for (int64_t c = g * dk; c < (g + 1) * dk; ++c)
        keptK.push_back(c);
      for (int64_t c = g * dv; c < (g + 1) * dv; ++c)
        keptV.push_back(c);
    }
    if (keptGroups == groups)
      return;
    for (HeadPath *path :
         {&unit.queryPath, &unit.keyPath, &unit.valuePath, &unit.outputPath})
      detachShapeReads(*path);
    AttentionOp attention = unit.attention;
    double scale = attention.getEffectiveScale();
    LinearOp nq = rebuildLinear(unit.query, q, keptQ, {}, gatherBias(q, keptQ),
                                unit.query.getInput());
    LinearOp nk = rebuildLinear(unit.key, k, keptK, {}, gatherBias(k, keptK),
                                unit.key.getInput());
    LinearOp nv = rebuildLinear(unit.value, v, keptV, {}, gatherBias(v, keptV),
                                unit.value.getInput());
    unit.query.getResult().replaceAllUsesWith(nq.getResult());
    unit.key.getResult().replaceAllUsesWith(nk.getResult());
    unit.value.getResult().replaceAllUsesWith(nv.getResult());
    // The kept heads keep their order along every value on the way, so the
    // ops in between only narrow.
    narrow(unit.queryPath, keptHeads);
    narrow(unit.keyPath, keptGroups);
    narrow(unit.valuePath, keptGroups);
    if (Value mask = attention.getMask())
      attention.getMaskMutable().assign(
          keptHeadsOf(mask, removedHeads(unit, removed), attention));
    attention.setNumHeads(keptHeads);
    attention.setScaleAttr(OpBuilder(attention).getF64FloatAttr(scale));
    auto type = cast<RankedTensorType>(attention.getResult().getType());
    SmallVector<int64_t> shape(type.getShape());
    shape.back() = keptHeads * dv;
    attention.getResult().setType(type.clone(shape));
    narrow(unit.outputPath, keptHeads);
    LinearOp no = rebuildConsumer(unit.output, o, keptO, removedO, stats,
                                  reconstructWeights, unit.output.getInput());
    unit.output.getResult().replaceAllUsesWith(no.getResult());
    for (Operation *op : {unit.output.getOperation(), unit.query.getOperation(),
                          unit.key.getOperation(), unit.value.getOperation()})
      op->erase();
  }

  /// Gives the ops that read a path's value only for its extents an empty
  /// tensor of the value's type before pruning: the extents they give stay
  /// those of the unpruned model (the heads' dimension is static, and only
  /// it changes).
  static void detachShapeReads(const HeadPath &path) {
    for (OpOperand *use : path.shapeReads) {
      Value v = use->get();
      auto type = cast<RankedTensorType>(v.getType());
      OpBuilder b(use->getOwner());
      Location loc = v.getLoc();
      SmallVector<Value> dynamic;
      for (int64_t i = 0; i < type.getRank(); ++i)
        if (type.isDynamicDim(i))
          dynamic.push_back(tensor::DimOp::create(b, loc, v, i));
      use->set(tensor::EmptyOp::create(b, loc, type, dynamic));
    }
  }

  /// Whether each query head goes with its key/value head.
  static std::vector<bool> removedHeads(AttentionUnit &unit,
                                        const std::vector<bool> &removed) {
    std::vector<bool> heads(unit.numHeads());
    for (int64_t h = 0; h < unit.numHeads(); ++h)
      heads[h] = removed[unit.kvHeadOf(h)];
    return heads;
  }

  /// `mask` without the removed heads' slices when it has a heads
  /// dimension (a per-head position bias: T5, Swin; or a mask expanded to
  /// every head), else `mask` itself.
  static Value keptHeadsOf(Value mask, const std::vector<bool> &removed,
                           Operation *before) {
    auto type = cast<RankedTensorType>(mask.getType());
    const int64_t dim = type.getRank() - 3;
    if (dim < 0 || type.getDimSize(dim) == 1)
      return mask;
    OpBuilder b(before);
    Location loc = before->getLoc();
    if (type.isDynamicDim(dim)) {
      // Seen as one mask for every head where the type does not say: the
      // run checks it.
      Value extent = tensor::DimOp::create(b, loc, mask, dim);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      cf::AssertOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, extent, one),
          "an attention whose heads were pruned got a mask that differs per "
          "head");
      return mask;
    }
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, mask);
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0)),
        strides(type.getRank(), b.getIndexAttr(1));
    SmallVector<Value> runs;
    const int64_t heads = static_cast<int64_t>(removed.size());
    for (int64_t h = 0; h < heads;) {
      if (removed[h]) {
        ++h;
        continue;
      }
      int64_t end = h;
      while (end < heads && !removed[end])
        ++end;
      offsets[dim] = b.getIndexAttr(h);
      sizes[dim] = b.getIndexAttr(end - h);
      runs.push_back(tensor::ExtractSliceOp::create(b, loc, mask, offsets,
                                                    sizes, strides));
      h = end;
    }
    if (runs.size() == 1)
      return runs.front();
    return tensor::ConcatOp::create(b, loc, dim, runs);
  }

  /// Retypes the ops of `path` for `kept` of its heads: the dimension holding
  /// the heads shrinks in proportion; shape operands and static slice sizes
  /// follow.
  static void narrow(const HeadPath &path, int64_t kept) {
    if (kept == path.heads)
      return;
    for (const HeadCarrier &carrier : path.ops) {
      Operation *op = carrier.op;
      auto type = cast<RankedTensorType>(op->getResult(0).getType());
      SmallVector<int64_t> shape(type.getShape());
      int64_t &extent = shape[carrier.dim];
      if (!ShapedType::isDynamic(extent))
        extent = extent / path.heads * kept;
      RankedTensorType narrowed = type.clone(shape);
      OpBuilder b(op);
      Location loc = op->getLoc();
      if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
        SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
        if (!ShapedType::isDynamic(extent))
          sizes[carrier.dim] = b.getIndexAttr(extent);
        auto replacement = tensor::ExtractSliceOp::create(
            b, loc, narrowed, slice.getSource(), slice.getMixedOffsets(), sizes,
            slice.getMixedStrides());
        slice.getResult().replaceAllUsesWith(replacement.getResult());
        slice.erase();
        continue;
      }
      Value target;
      if (auto reshape = dyn_cast<ReshapeOp>(op))
        target = reshape.getShape();
      else if (auto broadcast = dyn_cast<BroadcastToOp>(op))
        target = broadcast.getShape();
      if (target) {
        // The new extents: static ones as constants, the others as before.
        auto from = target.getDefiningOp<tensor::FromElementsOp>();
        SmallVector<Value> elements;
        for (auto [i, size] : llvm::enumerate(shape)) {
          if (!ShapedType::isDynamic(size))
            elements.push_back(arith::ConstantIndexOp::create(b, loc, size));
          else if (from)
            elements.push_back(from.getElements()[i]);
          else
            elements.push_back(tensor::ExtractOp::create(
                b, loc, target,
                ValueRange{arith::ConstantIndexOp::create(b, loc, i)}));
        }
        op->setOperand(1, tensor::FromElementsOp::create(b, loc, elements));
      }
      op->getResult(0).setType(narrowed);
    }
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
