//===- PruneLayers.cpp - Drop whole transformer blocks ----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-prune-layers: a block whose output the residual stream barely
// changes (cosine similarity of the stream before and after it close to 1
// on calibration data) is replaced by the identity; its ops become dead and
// are erased.
//
//===----------------------------------------------------------------------===//

#include "slm/Transforms/ModelStructure.h"
#include "slm/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SmallSet.h"

#include <algorithm>
#include <numeric>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMPRUNELAYERS
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {
struct PruneLayersPass : public slm::impl::SLMPruneLayersBase<PruneLayersPass> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    if (count < 0)
      return root->emitError("count must not be negative"), signalPassFailure();
    if (count == 0 && drop.empty())
      return;
    if (count > 0 && !drop.empty())
      return root->emitError("give either count or drop, not both"),
             signalPassFailure();
    SmallVector<ResidualBlock> blocks = findResidualBlocks(root);
    const int64_t n = blocks.size();
    llvm::SmallSet<int64_t, 8> chosen;
    if (!drop.empty()) {
      for (int64_t index : drop) {
        if (index < 0 || index >= n)
          return root->emitError("drop: block ")
                     << index << " does not exist (the model has " << n
                     << " prunable blocks)",
                 signalPassFailure();
        chosen.insert(index);
      }
    } else {
      if (count >= n)
        return root->emitError("cannot drop ")
                   << static_cast<int64_t>(count) << " of " << n
                   << " prunable blocks: at least one must stay",
               signalPassFailure();
      std::vector<double> importance(n);
      for (int64_t i = 0; i < n; ++i) {
        auto attr =
            blocks[i].attention->getAttrOfType<FloatAttr>(kBlockImportanceAttr);
        if (!attr)
          return blocks[i].attention.emitError(
                     "layer pruning needs the block's measured importance "
                     "('slm.block_importance'): give slmc --calibration DIR, "
                     "or name the blocks with drop"),
                 signalPassFailure();
        importance[i] = attr.getValueAsDouble();
      }
      std::vector<int64_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return importance[a] < importance[b];
      });
      for (int64_t i = 0; i < count; ++i)
        chosen.insert(order[i]);
    }
    // Later blocks first: a dropped block's output may be the next dropped
    // block's input.
    for (int64_t i = n - 1; i >= 0; --i)
      if (chosen.contains(i))
        blocks[i].output.replaceAllUsesWith(blocks[i].input);
    // The bypassed blocks are dead now.
    IRRewriter rewriter(root->getContext());
    for (Region &region : root->getRegions())
      (void)runRegionDCE(rewriter, region);
  }
};
} // namespace
