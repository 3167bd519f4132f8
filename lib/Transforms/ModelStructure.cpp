//===- ModelStructure.cpp - Transformer blocks found in slm IR --*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Transforms/ModelStructure.h"
#include "slm/IR/SLMConstants.h"
#include "slm/Transforms/MatchUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::slm;

/// A weight known at compile time: a constant, or a compressed weight
/// (quantized, sparse) of constants.
static bool isConstantWeight(Value weight) {
  if (matchPattern(weight, m_Constant()))
    return true;
  Operation *def = weight.getDefiningOp<CompressedWeightOpInterface>();
  return def && llvm::all_of(def->getOperands(), [](Value v) {
           return matchPattern(v, m_Constant());
         });
}

/// A linear layer with a static constant (or constant compressed) weight
/// and a constant or no bias. Pruning itself needs plain f32 weights and
/// says so; the report also describes quantized models.
static bool hasConstantParameters(LinearOp op) {
  if (!op || !op.getWeight().getType().hasStaticShape() ||
      !isConstantWeight(op.getWeight()))
    return false;
  Value bias = op.getBias();
  return !bias || matchPattern(bias, m_Constant());
}

static std::string describe(Operation *op, const llvm::Twine &why) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << op->getName() << " at " << op->getLoc() << ": " << why;
  return text;
}

namespace {
/// Where a value holds a path's heads: dimension `dim`, whose extent is
/// outer * heads * inner with the heads factor `inner` elements apart
/// (a merged [.., H*D] dimension: inner = D; a split [.., H, D]: 1).
struct HeadAxis {
  int64_t dim;
  int64_t inner;
  bool operator==(const HeadAxis &o) const {
    return dim == o.dim && inner == o.inner;
  }
};
} // namespace

static constexpr const char *kExportedCache =
    "a key/value cache the model takes or returns holds every head (compile "
    "the model exported without a cache, with --kv-cache)";

/// The kinds of op a head path may pass through (HeadCarrier).
static bool isCarrierKind(Operation *op) {
  if (op->getNumResults() != 1 || op->getNumRegions() ||
      !isMemoryEffectFree(op))
    return false;
  return isa<TransposeOp, ReshapeOp, BroadcastToOp, tensor::ExtractSliceOp,
             tensor::ConcatOp, tensor::CastOp, RMSNormOp, LayerNormOp, AddOp,
             SubOp, MulOp, DivOp, MaxOp, MinOp, PowOp>(op) ||
         op->hasTrait<OpTrait::Elementwise>();
}

/// The axis of `op`'s result, given the axes of its operands on the path
/// (`onPath`), for a path of `heads` heads; or failure, with `why`.
static FailureOr<HeadAxis>
carryHeads(Operation *op, const llvm::DenseMap<Value, HeadAxis> &onPath,
           int64_t heads, std::string &why) {
  auto fail = [&](const Twine &reason) {
    why = (op->getName().getStringRef() + " " + reason).str();
    return failure();
  };
  auto resultType = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  std::optional<HeadAxis> in;
  Value from;
  for (Value v : op->getOperands()) {
    auto it = onPath.find(v);
    if (it == onPath.end())
      continue;
    if (in && !(*in == it->second))
      return fail("combines values that hold the heads differently");
    in = it->second;
    from = v;
  }
  auto srcType = dyn_cast<RankedTensorType>(from.getType());
  if (!in || !resultType || !srcType)
    return fail("is not on ranked tensors");
  ArrayRef<int64_t> src = srcType.getShape(), dst = resultType.getShape();
  const int64_t d = in->dim, inner = in->inner;
  if (auto transpose = dyn_cast<TransposeOp>(op)) {
    for (auto [j, p] : llvm::enumerate(transpose.getPermutation()))
      if (p == d)
        return HeadAxis{static_cast<int64_t>(j), inner};
    return fail("has no image of the heads' dimension");
  }
  if (isa<ReshapeOp>(op)) {
    if (ShapedType::isDynamic(src[d]))
      return fail("reshapes a dynamic dimension holding the heads");
    if (src == dst)
      return *in;
    if (dst.size() > src.size()) {
      std::optional<SmallVector<ReassociationIndices>> groups =
          getReassociationIndicesForCollapse(dst, src);
      if (!groups)
        return fail("does not split dimensions");
      // The target dimension of the group that spans the heads factor
      // (`below`: the extent of the group's dimensions after it).
      const ReassociationIndices &group = (*groups)[d];
      SmallVector<int64_t> below(group.size(), 1);
      for (int64_t i = static_cast<int64_t>(group.size()) - 1; i >= 0; --i) {
        if (ShapedType::isDynamic(dst[group[i]]))
          return fail("splits the heads' dimension into a dynamic one");
        if (i > 0)
          below[i - 1] = below[i] * dst[group[i]];
      }
      for (auto [i, t] : llvm::enumerate(group))
        if (inner % below[i] == 0 && (below[i] * dst[t]) % (inner * heads) == 0)
          return HeadAxis{t, inner / below[i]};
      return fail("splits the heads apart");
    }
    std::optional<SmallVector<ReassociationIndices>> groups =
        getReassociationIndicesForCollapse(src, dst);
    if (!groups)
      return fail("does not merge dimensions");
    for (auto [j, group] : llvm::enumerate(*groups)) {
      if (!llvm::is_contained(group, d))
        continue;
      int64_t merged = inner;
      for (int64_t k : group)
        if (k > d) {
          if (ShapedType::isDynamic(src[k]))
            return fail("merges the heads with a dynamic dimension");
          merged *= src[k];
        }
      return HeadAxis{static_cast<int64_t>(j), merged};
    }
    return fail("does not merge dimensions");
  }
  if (isa<BroadcastToOp>(op)) {
    if (src.size() != dst.size() || src[d] != dst[d])
      return fail("broadcasts the heads' dimension");
    return *in;
  }
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
    if (src.size() != dst.size() ||
        !isConstantIntValue(slice.getMixedOffsets()[d], 0) ||
        !isConstantIntValue(slice.getMixedSizes()[d], src[d]) ||
        !isConstantIntValue(slice.getMixedStrides()[d], 1))
      return fail("slices the heads' dimension");
    return *in;
  }
  if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
    if (static_cast<int64_t>(concat.getDim()) == d)
      return fail("concatenates along the heads");
    for (Value v : concat.getInputs())
      if (!onPath.count(v))
        return fail(isa<BlockArgument>(v)
                        ? Twine("appends to a model input: ") + kExportedCache
                        : Twine("appends values from elsewhere"));
    return *in;
  }
  if (isa<tensor::CastOp>(op))
    return *in;
  if (isa<RMSNormOp, LayerNormOp>(op)) {
    if (op->getOperand(0) != from || d == srcType.getRank() - 1)
      return fail("normalizes across heads");
    return *in;
  }
  // Elementwise: every other operand must be the same for all heads (a
  // rotary table, a scalar).
  if (srcType.getRank() != resultType.getRank())
    return fail("broadcasts the path's value");
  for (Value v : op->getOperands()) {
    if (onPath.count(v))
      continue;
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type)
      return fail("has an operand that is not a ranked tensor");
    int64_t k = d - (resultType.getRank() - type.getRank());
    if (k >= 0 && type.getDimSize(k) != 1)
      return fail("has an operand that differs per head");
  }
  return *in;
}

/// Follows the heads from `start` (its last dimension: `heads` x `width`)
/// to `end`, which `sink` reads, through the head-carrying ops `end` is
/// computed from. Nothing else may read a value on the way (but its
/// extents). Returns the path and the heads' axis at `end`.
static FailureOr<std::pair<HeadPath, HeadAxis>>
followHeads(Value start, int64_t heads, int64_t width, Value end,
            Operation *sink, std::string &why) {
  Block *block = sink->getBlock();
  // What `end` is computed from, through carrier-kind ops.
  llvm::SmallPtrSet<Operation *, 32> from;
  SmallVector<Value> work = {end};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (v == start || !def || def->getBlock() != block || !isCarrierKind(def) ||
        !from.insert(def).second)
      continue;
    if (from.size() > 256) {
      why = "the way to the attention is longer than 256 ops";
      return failure();
    }
    llvm::append_range(work, def->getOperands());
  }
  // The ops reached from `start` among them.
  llvm::SetVector<Operation *> path;
  HeadPath result;
  result.heads = heads;
  SmallVector<Value> reached = {start};
  while (!reached.empty()) {
    Value v = reached.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (user == sink || isa<tensor::DimOp>(user))
        continue;
      if (!from.contains(user) && onlyReachesShapeQueries(user)) {
        result.shapeReads.push_back(&use);
        continue;
      }
      if (!from.contains(user)) {
        why = user->hasTrait<OpTrait::ReturnLike>()
                  ? std::string("the model returns a value on the way: ") +
                        kExportedCache
                  : (user->getName().getStringRef() +
                     " reads a value on the way to the attention")
                        .str();
        return failure();
      }
      if (path.insert(user))
        reached.push_back(user->getResult(0));
    }
  }
  SmallVector<Operation *> ordered(path.begin(), path.end());
  llvm::sort(ordered,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  llvm::DenseMap<Value, HeadAxis> axes;
  auto startType = cast<RankedTensorType>(start.getType());
  axes[start] = HeadAxis{startType.getRank() - 1, width};
  for (Operation *op : ordered) {
    if (heads == 1) {
      // One head: nothing to narrow, and nowhere it could be misplaced.
      result.ops.push_back({op, -1});
      continue;
    }
    FailureOr<HeadAxis> axis = carryHeads(op, axes, heads, why);
    if (failed(axis))
      return failure();
    axes[op->getResult(0)] = *axis;
    result.ops.push_back({op, axis->dim});
  }
  // A shape read must see the extents it saw before: the heads may only
  // change a static extent of what it reads.
  for (OpOperand *read : result.shapeReads) {
    auto it = axes.find(read->get());
    if (heads != 1 &&
        (it == axes.end() || cast<RankedTensorType>(read->get().getType())
                                 .isDynamicDim(it->second.dim))) {
      why = "a shape query reads a dynamic extent holding the heads";
      return failure();
    }
  }
  if (heads == 1 && (end == start || path.contains(end.getDefiningOp())))
    return std::make_pair(
        std::move(result),
        HeadAxis{cast<RankedTensorType>(end.getType()).getRank() - 1, width});
  auto it = axes.find(end);
  if (it == axes.end()) {
    why = "the attention does not read the projection";
    return failure();
  }
  return std::make_pair(std::move(result), it->second);
}

/// The one constant-weight linear layer that `v` is computed from through
/// carrier-kind ops, or null.
static LinearOp projectionOf(Value v, Block *block) {
  LinearOp found;
  llvm::SmallPtrSet<Operation *, 32> seen;
  SmallVector<Value> work = {v};
  while (!work.empty()) {
    Operation *def = work.pop_back_val().getDefiningOp();
    if (!def || def->getBlock() != block || !seen.insert(def).second ||
        seen.size() > 256)
      continue;
    if (auto linear = dyn_cast<LinearOp>(def)) {
      if (found && found != linear)
        return LinearOp();
      found = linear;
      continue;
    }
    if (isCarrierKind(def))
      llvm::append_range(work, def->getOperands());
  }
  return found;
}

SmallVector<AttentionUnit>
mlir::slm::findAttentionUnits(Operation *root,
                              SmallVectorImpl<std::string> *skipped) {
  SmallVector<AttentionUnit> units;
  root->walk([&](AttentionOp attention) {
    auto skip = [&](const Twine &why) {
      if (skipped)
        skipped->push_back(describe(attention, why));
    };
    Block *block = attention->getBlock();
    AttentionUnit unit;
    unit.attention = attention;
    unit.query = projectionOf(attention.getQuery(), block);
    unit.key = projectionOf(attention.getKey(), block);
    unit.value = projectionOf(attention.getValue(), block);
    for (LinearOp projection : {unit.query, unit.key, unit.value})
      if (!hasConstantParameters(projection) ||
          projection.getActivation() != Activation::none)
        return skip("query, key and value are not constant-weight linear "
                    "layers used only by the attention");
    if (unit.query == unit.key || unit.key == unit.value ||
        unit.query == unit.value)
      return skip("query, key and value share a projection");
    // The output projection: the first linear layer down the attention's
    // single-use chain.
    Value down = attention.getResult();
    while (down.hasOneUse() && !isa<LinearOp>(*down.getUsers().begin()) &&
           isCarrierKind(*down.getUsers().begin()))
      down = down.getUsers().begin()->getResult(0);
    if (!down.hasOneUse())
      return skip("the attention result has more than one user");
    unit.output = dyn_cast<LinearOp>(*down.getUsers().begin());
    if (!hasConstantParameters(unit.output) || unit.output.getInput() != down)
      return skip("the attention result does not feed a constant-weight "
                  "output projection");
    const int64_t heads = attention.getNumHeads();
    auto widthOf = [&](Value v) {
      return cast<RankedTensorType>(v.getType()).getShape().back();
    };
    const int64_t qWidth = widthOf(attention.getQuery()),
                  vWidth = widthOf(attention.getValue());
    if (ShapedType::isDynamic(qWidth) || ShapedType::isDynamic(vWidth) ||
        qWidth % heads || vWidth % heads)
      return skip("projection widths do not split into the heads");
    const int64_t dk = qWidth / heads, dv = vWidth / heads;
    if (unit.query.getOutFeatures() != heads * dk ||
        unit.key.getOutFeatures() % dk || unit.value.getOutFeatures() % dv ||
        unit.key.getOutFeatures() / dk != unit.value.getOutFeatures() / dv ||
        unit.output.getInFeatures() != heads * dv)
      return skip("projection widths do not split into the heads");
    const int64_t kvHeads = unit.key.getOutFeatures() / dk;
    if (kvHeads == 0 || heads % kvHeads)
      return skip("the query heads do not split into key/value groups");
    if (Value mask = attention.getMask()) {
      // A mask with a heads dimension (a per-head position bias) loses the
      // pruned heads' slices; it must say how many it has.
      auto type = cast<RankedTensorType>(mask.getType());
      int64_t k = type.getRank() - 3;
      if (k >= 0 && !type.isDynamicDim(k) && type.getDimSize(k) != 1 &&
          type.getDimSize(k) != heads)
        return skip("the mask's heads dimension is not known to be the "
                    "attention's heads");
    }
    // Each path, and the heads' axis where it ends.
    std::string why;
    struct Side {
      Value start, end;
      Operation *sink;
      int64_t heads, width;
      HeadPath *path;
    };
    Side sides[] = {{unit.query.getResult(), attention.getQuery(), attention,
                     heads, dk, &unit.queryPath},
                    {unit.key.getResult(), attention.getKey(), attention,
                     kvHeads, dk, &unit.keyPath},
                    {unit.value.getResult(), attention.getValue(), attention,
                     kvHeads, dv, &unit.valuePath},
                    {attention.getResult(), unit.output.getInput(), unit.output,
                     heads, dv, &unit.outputPath}};
    for (Side &side : sides) {
      FailureOr<std::pair<HeadPath, HeadAxis>> followed = followHeads(
          side.start, side.heads, side.width, side.end, side.sink, why);
      if (failed(followed))
        return skip("the heads cannot be followed: " + why);
      *side.path = std::move(followed->first);
      HeadAxis axis = followed->second;
      auto type = cast<RankedTensorType>(side.end.getType());
      // Merged heads at the end; each query head inside one of the path's.
      bool merged = axis.dim == type.getRank() - 1;
      if (side.heads == heads ? !merged || axis.inner != side.width
                              : !merged || axis.inner % side.width)
        return skip("the heads do not arrive merged in the last dimension");
      if (side.heads != heads)
        for (int64_t h = 0; h < heads; ++h)
          if ((h * side.width / axis.inner) % side.heads !=
              h / (heads / kvHeads))
            return skip("key/value heads are not repeated in groups of "
                        "consecutive query heads");
    }
    units.push_back(unit);
  });
  return units;
}

/// Whether `op` computes each element of its result from the same element
/// of its operands alone (an element of a size-1 operand broadcasts).
static bool isNeuronWise(Operation *op) {
  if (op->getNumResults() != 1 || op->getNumRegions() ||
      !isMemoryEffectFree(op))
    return false;
  return isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, GeluOp>(op) ||
         op->hasTrait<OpTrait::Elementwise>();
}

/// A constant of one element (broadcast against the hidden values).
static bool isScalarConstant(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.hasStaticShape() && type.getNumElements() == 1 &&
         matchPattern(v, m_Constant());
}

SmallVector<FeedForwardUnit>
mlir::slm::findFeedForwardUnits(Operation *root,
                                SmallVectorImpl<std::string> *skipped) {
  SmallVector<FeedForwardUnit> units;
  root->walk([&](LinearOp down) {
    if (!hasConstantParameters(down))
      return;
    // The hidden values back from down's input: elementwise ops on values
    // of the hidden type (and scalar constants), ending at linear layers.
    Value hidden = down.getInput();
    SmallVector<LinearOp, 2> projections;
    FeedForwardUnit unit;
    llvm::SmallPtrSet<Operation *, 8> inside;
    SmallVector<Value> work = {hidden};
    while (!work.empty()) {
      Value v = work.pop_back_val();
      Operation *def = v.getDefiningOp();
      if (!def || v.getType() != hidden.getType() ||
          def->getBlock() != down->getBlock())
        return;
      if (!inside.insert(def).second)
        continue;
      if (auto linear = dyn_cast<LinearOp>(def)) {
        projections.push_back(linear);
        continue;
      }
      if (!isNeuronWise(def) || unit.between.size() >= 16)
        return;
      unit.between.push_back(def);
      for (Value operand : def->getOperands())
        if (!isScalarConstant(operand))
          work.push_back(operand);
    }
    if (projections.empty() || projections.size() > 2)
      return;
    llvm::sort(projections,
               [](LinearOp a, LinearOp b) { return a->isBeforeInBlock(b); });
    unit.up = projections.back();
    unit.gate = projections.size() == 2 ? projections.front() : LinearOp();
    unit.down = down;
    if (unit.between.empty() && unit.up.getActivation() == Activation::none)
      return; // two linear layers in a row: not an FFN
    for (LinearOp projection : projections)
      if (!hasConstantParameters(projection) ||
          projection.getInput() != unit.up.getInput())
        return;
    if (down.getOutFeatures() != unit.up.getInFeatures())
      return;
    // Nothing outside the unit reads its hidden values.
    inside.insert(down);
    for (Operation *op : inside)
      if (op != down)
        for (Operation *user : op->getUsers())
          if (!inside.contains(user))
            return;
    llvm::sort(unit.between, [](Operation *a, Operation *b) {
      return a->isBeforeInBlock(b);
    });
    // The down projection writes back to the residual stream.
    if (!llvm::any_of(down.getResult().getUsers(),
                      [](Operation *op) { return isa<AddOp>(op); })) {
      if (skipped)
        skipped->push_back(describe(
            unit.up, "looks like an FFN but its output does not feed a "
                     "residual add"));
      return;
    }
    units.push_back(unit);
  });
  return units;
}

/// The residual add that consumes `stream`, if there is exactly one.
static AddOp residualAdd(Value stream) {
  AddOp found;
  for (Operation *user : stream.getUsers()) {
    auto add = dyn_cast<AddOp>(user);
    if (!add || add.getResult().getType() != stream.getType())
      continue;
    if (found && found != add)
      return {};
    found = add;
  }
  return found;
}

/// Follows the residual stream through one sub-layer: the residual add,
/// then, in a post-norm block, the layer norm that the add alone feeds.
static Value throughSublayer(Value stream, bool postNorm) {
  AddOp add = residualAdd(stream);
  if (!add)
    return {};
  Value next = add.getResult();
  if (postNorm && next.hasOneUse())
    if (auto norm = dyn_cast<LayerNormOp>(*next.getUsers().begin()))
      return norm.getResult();
  return next;
}

SmallVector<ResidualBlock>
mlir::slm::findResidualBlocks(Operation *root,
                              SmallVectorImpl<std::string> *skipped) {
  SmallVector<ResidualBlock> blocks;
  root->walk([&](AttentionOp attention) {
    auto skip = [&](const char *why) {
      if (skipped)
        skipped->push_back(describe(attention, why));
    };
    // The block starts at the value that Q's input is, or that the
    // pre-norm normalizes, when that value also feeds a residual add.
    // (A pre-norm block's last add may feed only the final norm: that norm
    // is not part of the block.)
    Value input = attention.getQuery();
    if (auto q = input.getDefiningOp<LinearOp>())
      input = q.getInput();
    bool postNorm = true;
    if (auto norm = input.getDefiningOp<LayerNormOp>())
      if (residualAdd(norm.getInput())) {
        input = norm.getInput();
        postNorm = false;
      }
    if (!residualAdd(input))
      return skip("no residual connection around the attention");
    Value mid = throughSublayer(input, postNorm);
    Value output = mid ? throughSublayer(mid, postNorm) : Value();
    if (!output || output.getType() != input.getType())
      return skip("the residual stream does not pass one attention and one "
                  "feed-forward sub-layer");
    blocks.push_back({attention, input, output});
  });
  // In the encoders and decoders that raising produces, these blocks chain
  // without overlapping: a block's output is at most the next one's input.
  // Nothing here checks it.
  return blocks;
}

std::optional<ChannelStats> mlir::slm::getInputStats(Operation *op,
                                                     int64_t channels) {
  auto dict = op->getAttrOfType<DictionaryAttr>(kInputStatsAttr);
  if (!dict)
    return std::nullopt;
  auto count = dict.getAs<IntegerAttr>("count");
  auto mean = dict.getAs<DenseF32ArrayAttr>("mean");
  auto variance = dict.getAs<DenseF32ArrayAttr>("variance");
  if (!count || !mean || !variance || mean.size() != channels ||
      variance.size() != channels)
    return std::nullopt;
  ChannelStats stats;
  stats.count = count.getInt();
  stats.mean.assign(mean.asArrayRef().begin(), mean.asArrayRef().end());
  stats.variance.assign(variance.asArrayRef().begin(),
                        variance.asArrayRef().end());
  auto range = dict.getAs<DenseF32ArrayAttr>("range");
  if (range && range.size() == 4) {
    stats.hasRange = true;
    stats.min = range[0];
    stats.max = range[1];
    stats.lowQuantile = range[2];
    stats.highQuantile = range[3];
  }
  if (auto cov = dict.getAs<DenseFPElementsAttr>("covariance"))
    if (cov.getNumElements() == channels * channels &&
        cov.getElementType().isF32())
      stats.covariance.assign(cov.getValues<float>().begin(),
                              cov.getValues<float>().end());
  return stats;
}

void mlir::slm::setInputStats(Operation *op, const ChannelStats &stats) {
  Builder b(op->getContext());
  SmallVector<NamedAttribute> fields = {
      b.getNamedAttr("count", b.getI64IntegerAttr(stats.count)),
      b.getNamedAttr("mean", b.getDenseF32ArrayAttr(stats.mean)),
      b.getNamedAttr("variance", b.getDenseF32ArrayAttr(stats.variance))};
  if (stats.hasRange)
    fields.push_back(b.getNamedAttr(
        "range",
        b.getDenseF32ArrayAttr(
            {stats.min, stats.max, stats.lowQuantile, stats.highQuantile})));
  if (!stats.covariance.empty()) {
    int64_t c = stats.mean.size();
    fields.push_back(b.getNamedAttr(
        "covariance",
        DenseElementsAttr::get(RankedTensorType::get({c, c}, b.getF32Type()),
                               ArrayRef<float>(stats.covariance))));
  }
  op->setAttr(kInputStatsAttr, b.getDictionaryAttr(fields));
}

/// The rows [offset, offset + size) of the projection `slice` reads, if it
/// is a slice of the last dimension only.
static std::optional<std::pair<int64_t, int64_t>>
lastDimSlice(tensor::ExtractSliceOp slice) {
  auto source = slice.getSourceType();
  auto result = slice.getResultType();
  int64_t rank = source.getRank();
  if (result.getRank() != rank || !slice.hasUnitStride())
    return std::nullopt;
  ArrayRef<int64_t> offsets = slice.getStaticOffsets();
  ArrayRef<int64_t> sizes = slice.getStaticSizes();
  for (int64_t i = 0; i + 1 < rank; ++i) {
    if (offsets[i] != 0)
      return std::nullopt;
    if (!ShapedType::isDynamic(sizes[i])) {
      if (sizes[i] != source.getDimSize(i))
        return std::nullopt;
      continue;
    }
    // A dynamic size must be the source's own extent.
    Value size = slice.getDynamicSize(i);
    auto dim = size.getDefiningOp<tensor::DimOp>();
    std::optional<int64_t> index = dim ? dim.getConstantIndex() : std::nullopt;
    if (!dim || dim.getSource() != slice.getSource() || index != i)
      return std::nullopt;
  }
  if (ShapedType::isDynamic(offsets.back()) ||
      ShapedType::isDynamic(sizes.back()))
    return std::nullopt;
  return std::make_pair(offsets.back(), sizes.back());
}

int64_t mlir::slm::splitFusedProjections(Operation *root) {
  SmallVector<AttentionOp> attentions;
  root->walk([&](AttentionOp op) { attentions.push_back(op); });
  int64_t split = 0;
  for (AttentionOp attention : attentions) {
    SmallVector<tensor::ExtractSliceOp> slices;
    for (Value v :
         {attention.getQuery(), attention.getKey(), attention.getValue()})
      if (auto slice = v.getDefiningOp<tensor::ExtractSliceOp>())
        slices.push_back(slice);
    if (slices.size() != 3)
      continue;
    auto fused = slices[0].getSource().getDefiningOp<LinearOp>();
    if (!fused || !hasConstantParameters(fused) ||
        fused.getActivation() != Activation::none)
      continue;
    bool ok = llvm::all_of(slices, [&](tensor::ExtractSliceOp s) {
      return s.getSource() == fused.getResult() && s.getResult().hasOneUse() &&
             lastDimSlice(s);
    });
    // Besides the slices, only leading-extent queries (the slices' own
    // sizes) may use the fused result: they move to the first part.
    const int64_t rank = fused.getResult().getType().getRank();
    if (!ok || llvm::any_of(fused.getResult().getUsers(), [&](Operation *user) {
          if (llvm::is_contained(slices, user))
            return false;
          auto dim = dyn_cast<tensor::DimOp>(user);
          std::optional<int64_t> index =
              dim ? dim.getConstantIndex() : std::nullopt;
          return !index || *index >= rank - 1;
        }))
      continue;
    Attribute weight, bias;
    matchPattern(fused.getWeight(), m_Constant(&weight));
    if (Value b = fused.getBias())
      matchPattern(b, m_Constant(&bias));
    const int64_t in = fused.getInFeatures();
    Type element = fused.getWeight().getType().getElementType();
    SmallVector<Attribute> weights, biases;
    for (tensor::ExtractSliceOp s : slices) {
      auto [offset, size] = *lastDimSlice(s);
      weights.push_back(
          sliceConstant(weight, RankedTensorType::get({size, in}, element),
                        {offset, 0}, {1, 1}));
      if (bias)
        biases.push_back(sliceConstant(
            bias, RankedTensorType::get({size}, element), {offset}, {1}));
    }
    if (llvm::any_of(weights, [](Attribute a) { return !a; }) ||
        llvm::any_of(biases, [](Attribute a) { return !a; }))
      continue;
    SmallVector<Value> parts;
    for (auto [i, s] : llvm::enumerate(slices)) {
      OpBuilder b(fused);
      Value partWeight = arith::ConstantOp::create(b, fused.getLoc(),
                                                   cast<TypedAttr>(weights[i]));
      Value partBias = bias ? arith::ConstantOp::create(
                                  b, fused.getLoc(), cast<TypedAttr>(biases[i]))
                            : Value();
      auto part = cast<LinearOp>(b.clone(*fused));
      part.getWeightMutable().assign(partWeight);
      if (partBias)
        part.getBiasMutable().assign(partBias);
      part.getResult().setType(s.getResultType());
      parts.push_back(part.getResult());
    }
    for (auto [i, s] : llvm::enumerate(slices)) {
      s.getResult().replaceAllUsesWith(parts[i]);
      s->erase();
    }
    fused.getResult().replaceAllUsesWith(parts.front());
    fused->erase();
    // Extents that only the slices used are dead now.
    for (Operation *user : llvm::make_early_inc_range(parts.front().getUsers()))
      if (isa<tensor::DimOp>(user) && user->use_empty())
        user->erase();
    ++split;
  }
  return split;
}

SmallVector<Value> mlir::slm::otherLinearInputs(Operation *root,
                                                ArrayRef<Value> exclude) {
  llvm::SetVector<Value> inputs;
  llvm::SmallPtrSet<Value, 8> skip;
  for (Value v : exclude)
    skip.insert(v);
  root->walk([&](LinearOp op) {
    Value w = op.getWeight();
    if (!matchPattern(w, m_Constant()) &&
        !w.getDefiningOp<CompressedWeightOpInterface>())
      return;
    if (!skip.contains(op.getInput()))
      inputs.insert(op.getInput());
  });
  return SmallVector<Value>(inputs.begin(), inputs.end());
}

std::optional<std::array<float, 4>> mlir::slm::getInputRange(Operation *op) {
  auto dict = op->getAttrOfType<DictionaryAttr>(kInputStatsAttr);
  auto range = dict ? dict.getAs<DenseF32ArrayAttr>("range") : nullptr;
  if (!range || range.size() != 4)
    return std::nullopt;
  return std::array<float, 4>{range[0], range[1], range[2], range[3]};
}
