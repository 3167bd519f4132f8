//===- MergeLinears.cpp - Sibling linear layers as one GEMM -----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMOps.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMMERGELINEARS
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {
/// A linear layer that may be merged: constant weight, constant or no bias.
struct Candidate {
  LinearOp op;
  Attribute weight, bias;
};

std::optional<Candidate> asCandidate(LinearOp op) {
  Candidate c{op, {}, {}};
  RankedTensorType type = op.getWeight().getType();
  if (!type.hasStaticShape() || op.getInputQuant() != InputQuant::none ||
      !matchPattern(op.getWeight(), m_Constant(&c.weight)))
    return std::nullopt;
  if (Value bias = op.getBias())
    if (!matchPattern(bias, m_Constant(&c.bias)))
      return std::nullopt;
  return c;
}

/// Merges `group` (same input, width, activation, element type) into one
/// linear layer placed at the first of them.
LogicalResult merge(MutableArrayRef<Candidate> group, RewriterBase &rewriter) {
  LinearOp first = group.front().op;
  RankedTensorType weightType = first.getWeight().getType();
  Type element = weightType.getElementType();
  const int64_t k = weightType.getDimSize(1);
  int64_t rows = 0;
  SmallVector<Attribute> weights, biases;
  bool anyBias = false;
  for (Candidate &c : group) {
    rows += c.op.getOutFeatures();
    weights.push_back(c.weight);
    anyBias |= static_cast<bool>(c.bias);
  }
  for (Candidate &c : group)
    biases.push_back(
        c.bias ? c.bias
               : SplatElementsAttr::get(
                     RankedTensorType::get({c.op.getOutFeatures()}, element),
                     rewriter.getZeroAttr(element)));
  auto mergedWeightType = RankedTensorType::get({rows, k}, element);
  Attribute mergedWeight = concatConstantRows(weights, mergedWeightType);
  if (!mergedWeight)
    return failure();
  Attribute mergedBias;
  if (anyBias) {
    mergedBias =
        concatConstantRows(biases, RankedTensorType::get({rows}, element));
    if (!mergedBias)
      return failure();
  }
  rewriter.setInsertionPoint(first);
  Location loc = first.getLoc();
  Value w =
      arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(mergedWeight));
  Value b = mergedBias ? arith::ConstantOp::create(rewriter, loc,
                                                   cast<TypedAttr>(mergedBias))
                             .getResult()
                       : Value();
  RankedTensorType resultType = first.getType();
  SmallVector<int64_t> shape(resultType.getShape());
  shape.back() = rows;
  auto merged = LinearOp::create(
      rewriter, loc, RankedTensorType::get(shape, resultType.getElementType()),
      first.getInput(), w, b, first.getActivation());
  merged.setPrecision(first.getPrecision());
  const int64_t rank = resultType.getRank();
  int64_t offset = 0;
  for (Candidate &c : group) {
    SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0)),
        strides(rank, rewriter.getIndexAttr(1)), sizes;
    for (int64_t d = 0; d + 1 < rank; ++d)
      sizes.push_back(tensor::getMixedSize(rewriter, loc, merged, d));
    offsets.back() = rewriter.getIndexAttr(offset);
    sizes.push_back(rewriter.getIndexAttr(c.op.getOutFeatures()));
    offset += c.op.getOutFeatures();
    Value slice = tensor::ExtractSliceOp::create(
        rewriter, loc, c.op.getType(), merged, offsets, sizes, strides);
    rewriter.replaceOp(c.op, slice);
  }
  return success();
}

struct SLMMergeLinearsPass
    : mlir::slm::impl::SLMMergeLinearsBase<SLMMergeLinearsPass> {
  void runOnOperation() override {
    // Groups by input, in the order the layers appear.
    llvm::MapVector<Value, SmallVector<Candidate>> byInput;
    getOperation()->walk([&](LinearOp op) {
      if (std::optional<Candidate> c = asCandidate(op))
        byInput[op.getInput()].push_back(*c);
    });
    IRRewriter rewriter(&getContext());
    for (auto &[input, candidates] : byInput) {
      // Within an input, layers of the same width, activation and types.
      SmallVector<SmallVector<Candidate>> groups;
      for (Candidate &c : candidates) {
        auto fits = [&](const SmallVector<Candidate> &g) {
          LinearOp o = g.front().op;
          return o.getInFeatures() == c.op.getInFeatures() &&
                 o.getActivation() == c.op.getActivation() &&
                 o.getPrecision() == c.op.getPrecision() &&
                 o.getWeight().getType().getElementType() ==
                     c.op.getWeight().getType().getElementType() &&
                 o.getType().getElementType() ==
                     c.op.getType().getElementType();
        };
        auto it = llvm::find_if(groups, fits);
        if (it == groups.end())
          groups.push_back({c});
        else
          it->push_back(c);
      }
      for (SmallVector<Candidate> &group : groups) {
        if (group.size() < 2)
          continue;
        // The merged layer goes where the first one was: every member's
        // users come after it, and the input dominates it.
        llvm::sort(group, [](Candidate a, Candidate b) {
          return a.op->isBeforeInBlock(b.op);
        });
        if (!llvm::all_of(group, [&](Candidate &c) {
              return c.op->getBlock() == group.front().op->getBlock();
            }))
          continue;
        (void)merge(group, rewriter);
      }
    }
  }
};
} // namespace
