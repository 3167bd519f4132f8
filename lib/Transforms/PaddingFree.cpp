//===- PaddingFree.cpp - Real tokens only: a packed batch -----------------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-padding-free (ByteTransformer's padding-free execution on the CPU).
// A batch of sequences padded to one length S carries B*S token rows, of
// which only those the attention mask keeps are real; every token-wise op
// (linear layers, norms, activations) computes on the pads too. This pass
// packs the real tokens into [T, ...] at the model's entry and keeps the
// token stream packed:
//
//  * The key-padding mask. An attention whose mask is an elementwise
//    function g of a model input m [B, S] laid out as [B, 1, 1, S], with
//    g(1) keeping a key (0, or true) and g(0) removing it (<= -1e4, or
//    false), masks pad keys: this is found by evaluating the mask's
//    computation at m = 0 and m = 1. m must hold only 0 and 1 at run time
//    (checked). Such m is the packing's mask.
//  * The packing. At the entry, loops over m compute the sequences'
//    offsets in the packed stream ([B + 1]), each real token's flat
//    position (and its batch item and position), and for each padded
//    position its packed row plus 1 (0 for a pad).
//  * Token values. Inputs whose first two dimensions are m's (by the
//    importer's dimension names) are token values; so is the result of a
//    token-wise op with a token operand: elementwise ops, gelu, softmax,
//    normalizations and reductions over trailing dimensions, linear layers
//    (not with a per-tensor dynamic input scale, which pads would change),
//    matrix products with a weight, reshapes and transposes that keep the
//    first two dimensions, gathers (embeddings) indexed by tokens. Each gets
//    a packed twin [T, rest]. Other operands of such an op are used as they
//    are (weights, biases: no token dimensions), or packed where they are
//    read (a position table [1, S, H]: one gather by each token's position).
//  * Attention. An attention on token values with the key-padding mask of
//    m becomes a `slm.fused_attention` on the packed stream with `offsets`:
//    each sequence attends within itself, no pad is read. An attention that
//    reads token values as keys with any other mask (or none) would depend
//    on pad tokens: it is an error.
//  * The exits. Where an op that is not token-wise reads a token value (a
//    pooling, the function's results), the value is scattered back to [B,
//    S, rest], with 0 at pad positions.
//
//  * Token pruning (--slm-prune-tokens, SpAtten's cascade). Each packed
//    attention also writes its importance sums (the probability each token
//    receives, over heads and query rows), added up over the attentions;
//    after each attention from `start` on, loops over the sequences rank
//    their tokens by it (the `leading` first at +inf, ties to the earlier
//    position) and keep k = min(n, max(ceil(keep n), min-tokens, leading)),
//    in order: the next packing (its offsets, the kept rows of the
//    previous one, each padded position's row). A token value read after a
//    cut is gathered at the kept rows where it is read ("lifted"), so the
//    rest of the model runs on the kept tokens; exits scatter each value
//    by its own packing (0 at pruned positions too); ops outside the
//    stream after a cut that read the mask read it recomputed with pruned
//    tokens as padding (a masked mean averages the kept tokens). With
//    `skip`, pruned tokens skip the remaining layers instead: each cut
//    keeps the residual stream entering its layer (the older operand of
//    the first residual add after the attention), and where the stream
//    leaves the last layer (two residual adds on, each maybe normalized)
//    every token's last state is gathered back into packing 0, so the
//    rest of the model (poolings, outputs) sees all tokens.
//
// Real positions of the results are what the padded model computes (its
// pads do not reach them: the masks remove pad keys, every other op on the
// stream is token-wise). Pad positions hold 0 instead of what the padded
// model computes for pad tokens; an op after the packed region that mixes
// positions without the mask sees those zeros.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Support/Shape.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/Format.h"

#include <cmath>
#include <limits>
#include <functional>
#include <optional>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMPADDINGFREE
#define GEN_PASS_DEF_SLMPRUNETOKENS
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

Value indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Extent `i` of `v` as an index value (a constant when static).
Value extentOf(OpBuilder &b, Location loc, Value v, int64_t i) {
  auto type = cast<RankedTensorType>(v.getType());
  if (!type.isDynamicDim(i))
    return indexConst(b, loc, type.getDimSize(i));
  return tensor::DimOp::create(b, loc, v, i);
}

/// `extent` with tensor.dim of a reshape or broadcast_to replaced by the
/// entry of its shape operand, repeatedly.
Value resolveExtent(Value extent) {
  for (int depth = 0; depth < 16; ++depth) {
    auto dim = extent.getDefiningOp<tensor::DimOp>();
    std::optional<int64_t> i =
        dim ? getConstantIntValue(dim.getIndex()) : std::nullopt;
    if (!i)
      return extent;
    Value shape;
    if (auto reshape = dim.getSource().getDefiningOp<ReshapeOp>())
      shape = reshape.getShape();
    else if (auto broadcast = dim.getSource().getDefiningOp<BroadcastToOp>())
      shape = broadcast.getShape();
    auto elements =
        shape ? shape.getDefiningOp<tensor::FromElementsOp>() : nullptr;
    if (!elements || *i >= static_cast<int64_t>(elements.getNumOperands()))
      return extent;
    extent = elements.getElements()[*i];
  }
  return extent;
}

/// Whether extent `i` of `v` and the index value `e` are known equal.
bool extentIs(Value v, int64_t i, Value e) {
  auto type = cast<RankedTensorType>(v.getType());
  e = resolveExtent(e);
  std::optional<int64_t> c = getConstantIntValue(e);
  if (!type.isDynamicDim(i))
    return c && *c == type.getDimSize(i);
  if (c)
    return false;
  auto dim = e.getDefiningOp<tensor::DimOp>();
  return dim && dim.getSource() == v && getConstantIntValue(dim.getIndex()) == i;
}

/// `type` with its first two dimensions merged into one dynamic one: the
/// packed tokens.
RankedTensorType packedType(RankedTensorType type) {
  SmallVector<int64_t> shape{ShapedType::kDynamic};
  shape.append(type.getShape().begin() + 2, type.getShape().end());
  return type.clone(shape);
}

/// `x` reshaped to `type` with extents `extents`.
Value reshapeTo(OpBuilder &b, Location loc, Value x, RankedTensorType type,
                ValueRange extents) {
  Value shape;
  if (!type.hasStaticShape())
    shape = tensor::FromElementsOp::create(
        b, loc,
        RankedTensorType::get({static_cast<int64_t>(extents.size())},
                              b.getIndexType()),
        extents);
  return ReshapeOp::create(b, loc, type, x, shape);
}

//===----------------------------------------------------------------------===//
// The key-padding mask
//===----------------------------------------------------------------------===//

/// A value computed elementwise from m: its values where m is 0 and 1, and
/// which of m's dimensions each of its dimensions carries (0: batch, 1:
/// positions, -1: none).
struct Traced {
  double at0 = 0, at1 = 0;
  SmallVector<int64_t> layout;
  bool constant = false;
  /// Extents the layout rests on that the IR does not prove equal (a
  /// reshape's target extent taken from another tensor, and extent `dim`
  /// of `tensor`): checked at run time.
  struct Equality {
    Value extent, tensor;
    int64_t dim;
  };
  SmallVector<Equality> equalities;
};

class MaskTracer {
public:
  explicit MaskTracer(Value m) : m(m) {}

  std::optional<Traced> trace(Value v, int depth = 0);

private:
  std::optional<Traced> traceOp(Operation *op, int depth);
  Value m;
  DenseMap<Value, std::optional<Traced>> memo;
};

std::optional<double> splatValue(Value v) {
  // tensor.splat of a constant scalar.
  if (auto splatOp = v.getDefiningOp<tensor::SplatOp>()) {
    Attribute attr;
    if (!matchPattern(splatOp.getInput(), m_Constant(&attr)))
      return std::nullopt;
    if (auto f = dyn_cast<FloatAttr>(attr))
      return f.getValueAsDouble();
    if (auto i = dyn_cast<IntegerAttr>(attr))
      return i.getType().isInteger(1)
                 ? static_cast<double>(i.getValue().getBoolValue())
                 : static_cast<double>(i.getValue().getSExtValue());
    return std::nullopt;
  }
  SplatElementsAttr splat;
  if (!matchPattern(v, m_Constant(&splat)))
    return std::nullopt;
  Type elt = splat.getElementType();
  if (isa<FloatType>(elt))
    return splat.getSplatValue<APFloat>().convertToDouble();
  if (elt.isInteger(1))
    return splat.getSplatValue<bool>() ? 1.0 : 0.0;
  if (isa<IntegerType>(elt))
    return static_cast<double>(splat.getSplatValue<APInt>().getSExtValue());
  return std::nullopt;
}

/// Right-aligned broadcast of two layouts; none when a dimension would
/// carry two of m's, or one of m's dimensions would appear twice.
std::optional<SmallVector<int64_t>> mergeLayouts(ArrayRef<int64_t> a,
                                                 ArrayRef<int64_t> b) {
  const size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank, -1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i + a.size() >= rank ? a[i + a.size() - rank] : -1;
    int64_t y = i + b.size() >= rank ? b[i + b.size() - rank] : -1;
    if (x != -1 && y != -1 && x != y)
      return std::nullopt;
    out[i] = x != -1 ? x : y;
  }
  if (llvm::count(out, 0) > 1 || llvm::count(out, 1) > 1)
    return std::nullopt;
  return out;
}

std::optional<Traced> MaskTracer::trace(Value v, int depth) {
  if (depth > 64)
    return std::nullopt;
  auto it = memo.find(v);
  if (it != memo.end())
    return it->second;
  std::optional<Traced> result;
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type) {
    // Not a tensor.
  } else if (v == m) {
    result = Traced{0.0, 1.0, {0, 1}, false};
  } else if (std::optional<double> c = splatValue(v)) {
    result = Traced{*c, *c, SmallVector<int64_t>(type.getRank(), -1), true};
  } else if (Operation *op = v.getDefiningOp()) {
    if (op->getNumResults() == 1)
      result = traceOp(op, depth);
  }
  memo[v] = result;
  return result;
}

std::optional<Traced> MaskTracer::traceOp(Operation *op, int depth) {
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  auto operand = [&](unsigned i) { return trace(op->getOperand(i), depth + 1); };
  auto binary = [&](auto f) -> std::optional<Traced> {
    std::optional<Traced> x = operand(0), y = operand(1);
    if (!x || !y)
      return std::nullopt;
    std::optional<SmallVector<int64_t>> layout =
        mergeLayouts(x->layout, y->layout);
    if (!layout)
      return std::nullopt;
    Traced t{f(x->at0, y->at0), f(x->at1, y->at1), *layout,
             x->constant && y->constant, x->equalities};
    t.equalities.append(y->equalities);
    return t;
  };
  if (isa<AddOp>(op))
    return binary([](double x, double y) { return x + y; });
  if (isa<SubOp>(op))
    return binary([](double x, double y) { return x - y; });
  if (isa<MulOp>(op))
    return binary([](double x, double y) { return x * y; });
  if (isa<DivOp>(op))
    return binary([](double x, double y) { return x / y; });
  if (isa<MaxOp>(op))
    return binary([](double x, double y) { return std::max(x, y); });
  if (isa<MinOp>(op))
    return binary([](double x, double y) { return std::min(x, y); });
  if (auto cmp = dyn_cast<CompareOp>(op)) {
    ComparePredicate p = cmp.getPredicate();
    return binary([p](double x, double y) -> double {
      switch (p) {
      case ComparePredicate::eq:
        return x == y;
      case ComparePredicate::ne:
        return x != y;
      case ComparePredicate::lt:
        return x < y;
      case ComparePredicate::le:
        return x <= y;
      case ComparePredicate::gt:
        return x > y;
      case ComparePredicate::ge:
        return x >= y;
      }
      return 0;
    });
  }
  if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
    arith::CmpFPredicate p = cmp.getPredicate();
    return binary([p](double x, double y) -> double {
      return arith::applyCmpPredicate(p, APFloat(x), APFloat(y));
    });
  }
  if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
    arith::CmpIPredicate p = cmp.getPredicate();
    return binary([p](double x, double y) -> double {
      return arith::applyCmpPredicate(
          p, APInt(64, static_cast<int64_t>(x), /*isSigned=*/true),
          APInt(64, static_cast<int64_t>(y), /*isSigned=*/true));
    });
  }
  if (isa<SelectOp, arith::SelectOp>(op)) {
    std::optional<Traced> c = operand(0), t = operand(1), f = operand(2);
    if (!c || !t || !f)
      return std::nullopt;
    std::optional<SmallVector<int64_t>> layout =
        mergeLayouts(c->layout, t->layout);
    if (layout)
      layout = mergeLayouts(*layout, f->layout);
    if (!layout)
      return std::nullopt;
    Traced r{c->at0 != 0 ? t->at0 : f->at0, c->at1 != 0 ? t->at1 : f->at1,
             *layout, c->constant && t->constant && f->constant,
             c->equalities};
    r.equalities.append(t->equalities);
    r.equalities.append(f->equalities);
    return r;
  }
  // Casts between numeric types: 0, 1 and large negative values survive,
  // except a sign extension of i1 (true is -1) and a truncation to i1.
  if (isa<arith::SIToFPOp, arith::UIToFPOp, arith::ExtFOp, arith::TruncFOp,
          arith::FPToSIOp, arith::ExtSIOp, arith::ExtUIOp, arith::TruncIOp>(
          op)) {
    std::optional<Traced> x = operand(0);
    if (!x)
      return std::nullopt;
    Type from = getElementTypeOrSelf(op->getOperand(0).getType());
    Type to = resultType.getElementType();
    auto convert = [&](double v) {
      if (isa<arith::ExtSIOp, arith::SIToFPOp>(op) && from.isInteger(1))
        return v != 0 ? -1.0 : 0.0;
      if (isa<arith::TruncIOp>(op) && to.isInteger(1))
        return static_cast<double>(static_cast<int64_t>(v) & 1);
      if (isa<arith::FPToSIOp>(op))
        return std::trunc(v);
      return v;
    };
    return Traced{convert(x->at0), convert(x->at1), x->layout, x->constant,
                  x->equalities};
  }
  if (auto broadcast = dyn_cast<BroadcastToOp>(op)) {
    std::optional<Traced> x = operand(0);
    if (!x)
      return std::nullopt;
    auto inType = cast<RankedTensorType>(broadcast.getInput().getType());
    const int64_t lead = resultType.getRank() - inType.getRank();
    SmallVector<int64_t> layout(resultType.getRank(), -1);
    for (int64_t i = 0; i < inType.getRank(); ++i)
      layout[lead + i] = inType.getDimSize(i) == 1 ? -1 : x->layout[i];
    return Traced{x->at0, x->at1, layout, x->constant, x->equalities};
  }
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    // Only reshapes that insert or remove unit dimensions: the other
    // dimensions pair up in order, extent for extent.
    std::optional<Traced> x = operand(0);
    if (!x)
      return std::nullopt;
    Value input = reshape.getInput();
    auto inType = cast<RankedTensorType>(input.getType());
    SmallVector<int64_t> kept;
    for (int64_t i = 0; i < inType.getRank(); ++i)
      if (inType.getDimSize(i) != 1)
        kept.push_back(i);
    SmallVector<Value> entries;
    if (Value shape = reshape.getShape()) {
      auto elements = shape.getDefiningOp<tensor::FromElementsOp>();
      if (!elements)
        return std::nullopt;
      entries.assign(elements.getElements().begin(),
                     elements.getElements().end());
    }
    SmallVector<int64_t> layout(resultType.getRank(), -1);
    Traced r{x->at0, x->at1, {}, x->constant, x->equalities};
    size_t next = 0;
    for (int64_t o = 0; o < resultType.getRank(); ++o) {
      if (resultType.getDimSize(o) == 1)
        continue;
      if (next >= kept.size())
        return std::nullopt;
      const int64_t i = kept[next++];
      if (!resultType.isDynamicDim(o)) {
        if (resultType.getDimSize(o) != inType.getDimSize(i))
          return std::nullopt;
      } else if (entries.empty()) {
        return std::nullopt;
      } else if (!extentIs(input, i, entries[o])) {
        // The target extent comes from another tensor (the hidden states'
        // batch): equal at run time, or the model fails.
        r.equalities.push_back({entries[o], input, i});
      }
      layout[o] = x->layout[i];
    }
    if (next != kept.size())
      return std::nullopt;
    r.layout = layout;
    return r;
  }
  return std::nullopt;
}

/// Whether `mask` (an attention's) keeps exactly the keys where m is 1,
/// broadcast over heads and queries; `equalities` receives what that rests
/// on at run time.
bool isKeyPaddingMask(MaskTracer &tracer, Value mask, Value m,
                      SmallVectorImpl<Traced::Equality> *equalities = nullptr) {
  std::optional<Traced> t = tracer.trace(mask);
  if (!t || t->constant || t->layout.size() > 4)
    return false;
  SmallVector<int64_t> layout(4 - t->layout.size(), -1);
  layout.append(t->layout);
  auto mType = cast<RankedTensorType>(m.getType());
  bool batchOk = layout[0] == 0 || (layout[0] == -1 && mType.getDimSize(0) == 1);
  if (!batchOk || layout[1] != -1 || layout[2] != -1 || layout[3] != 1)
    return false;
  if (equalities)
    equalities->append(t->equalities);
  if (getElementTypeOrSelf(mask.getType()).isInteger(1))
    return t->at1 == 1 && t->at0 == 0;
  // Additive: exp(score + g(0) - max) is 0 in f32 for any score within
  // 1e4 - 104 of the row's maximum.
  return t->at1 == 0 && t->at0 <= -1e4;
}

//===----------------------------------------------------------------------===//
// The packing
//===----------------------------------------------------------------------===//

/// Run-time token pruning (--slm-prune-tokens): after each attention from
/// `start` on, every sequence keeps ceil(keep x its tokens) of them (at
/// least `minTokens`, its first `leading` always), ranked by cumulative
/// importance.
struct TokenSchedule {
  /// The keep ratio in millionths (integer arithmetic: exact, and the same
  /// in any reference).
  int64_t keepMillionths = 1000000;
  int64_t start = 0, leading = 1, minTokens = 1;
  /// Pruned tokens skip the remaining layers (their state merged back
  /// after the last layer) instead of being dropped.
  bool skip = false;
};

class Packer {
public:
  Packer(func::FuncOp func, BlockArgument m,
         std::optional<TokenSchedule> schedule = std::nullopt)
      : func(func), m(m), schedule(schedule) {}

  LogicalResult run();

private:
  /// The loops over m at the entry.
  void emitIndices(OpBuilder &b, Location loc);
  bool isToken(Value v) const { return twin.count(v) || seeds.count(v); }
  /// The packed twin of token value `v`, in the current packing.
  Value packed(OpBuilder &b, Location loc, Value v);
  /// A value of the token stream `p` ([T_g, rest] in packing g) in the
  /// current packing: gathered at each later packing's kept rows.
  Value lift(OpBuilder &b, Location loc, Value p);
  /// Token pruning after an attention: cumulative importance `score` ([T]
  /// of the current packing) ranks each sequence's tokens; the kept ones
  /// make the next packing.
  void emitCut(OpBuilder &b, Location loc, Value score);
  /// `v` ([b, s, rest] with b in {1, B} and s in {1, S}) gathered at the
  /// real tokens: [T, rest].
  Value gatherTokens(OpBuilder &b, Location loc, Value v);
  /// An operand of a token-wise op whose result has rank `rank`, as the
  /// packed op reads it; none when it cannot be.
  Value packedOperand(OpBuilder &b, Location loc, Value v, int64_t rank);
  /// Whether the operand could be: the checks of packedOperand.
  bool canPackOperand(Value v, int64_t rank) const;
  /// `y` ([T, rest]) scattered back to `type` ([B, S, rest]), 0 at pads.
  Value unpack(OpBuilder &b, Location loc, Value y, RankedTensorType type);

  bool canPack(Operation *op);
  void pack(Operation *op);
  LogicalResult checkAttention(AttentionOp op);
  void packAttention(OpBuilder &b, AttentionOp op);

  func::FuncOp func;
  BlockArgument m;
  std::optional<TokenSchedule> schedule;
  MaskTracer tracer{m};
  Value batch, seq, count;
  Value offsets, inverse, tokenIndex, tokenPos, tokenBatch;
  /// The packings: the entry's, then one per pruning step. Packing g's
  /// sequences are at offsets [B + 1], padded position p is its row
  /// inverse[p] - 1 (0: not in it), and (g > 0) its rows are packing g -
  /// 1's rows `kept`.
  struct Packing {
    Value offsets, inverse, kept;
    /// Each row's row in packing 0 (null for packing 0 itself).
    Value rows0;
  };
  /// The packing new values are computed in: the last one, or 0 again
  /// after the merge.
  unsigned current = 0;
  /// Per cut: the residual stream's rows at the cut (its packing's), the
  /// state of the tokens it prunes; null where it was not found.
  SmallVector<Value> frozen;
  /// The op whose result is the residual stream after the last layer:
  /// there, the pruned tokens' states are merged back in (packing 0).
  Operation *mergeAt = nullptr;
  bool merged = false;
  /// A value of a pruned packing read after the merge (an error).
  Operation *mixedAt = nullptr;
  /// The residual stream entering `op`'s layer: the older token value the
  /// first residual add after it adds to what the attention computed.
  Value residualInput(AttentionOp op);
  /// The residual stream after the layer whose input is `stream`.
  Value layerOutput(Value stream);
  void emitMerge(OpBuilder &b, Location loc, Value last);
  SmallVector<Packing> packings;
  /// The packing of each value of the token stream.
  DenseMap<Value, unsigned> packingOf;
  DenseMap<std::pair<Value, unsigned>, Value> lifted;
  /// Cumulative importance ([T] of its packing) and the attentions.
  Value importanceSum;
  int64_t totalAttentions = 0;
  int64_t cuts = 0;
  /// The attention each cut follows (packing g + 1 starts after cut g's).
  SmallVector<Operation *> cutAnchors;
  /// After the cuts, ops outside the token stream that read the mask see
  /// pruned tokens as padding: the mask of packing g and what is computed
  /// from it.
  void maskPrunedTokens(ArrayRef<Operation *> ops,
                        function_ref<bool(Value)> cheap);
  Value maskOf(OpBuilder &b, Location loc, unsigned g);
  llvm::DenseSet<Value> seeds;
  DenseMap<Value, Value> twin;
  DenseMap<Value, Value> gathered;
  llvm::SetVector<Operation *> packedOps;
  int64_t attentions = 0;
};

void Packer::emitIndices(OpBuilder &b, Location loc) {
  Type indexType = b.getIndexType();
  auto vec = RankedTensorType::get({ShapedType::kDynamic}, indexType);
  Value c0 = indexConst(b, loc, 0), c1 = indexConst(b, loc, 1);
  batch = extentOf(b, loc, m, 0);
  seq = extentOf(b, loc, m, 1);
  Value flat = arith::MulIOp::create(b, loc, batch, seq);
  Value offsets0 = tensor::EmptyOp::create(
      b, loc, vec.getShape(), indexType,
      ValueRange{arith::AddIOp::create(b, loc, batch, c1)});
  Value inverse0 = tensor::EmptyOp::create(b, loc, vec.getShape(), indexType,
                                           ValueRange{flat});
  Value yes = arith::ConstantIntOp::create(b, loc, 1, 1);
  Type elt = getElementTypeOrSelf(m.getType());

  // Pass 1: offsets, inverse (packed row + 1, 0 at pads), the count, and
  // whether m held only 0 and 1.
  auto outer = scf::ForOp::create(b, loc, c0, batch, c1,
                                  ValueRange{offsets0, inverse0, c0, yes});
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(outer.getBody());
    Value bi = outer.getInductionVar();
    ValueRange it = outer.getRegionIterArgs();
    Value off = tensor::InsertOp::create(b, loc, it[2], it[0], ValueRange{bi});
    auto inner = scf::ForOp::create(b, loc, c0, seq, c1,
                                    ValueRange{it[1], it[2], it[3]});
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(inner.getBody());
      Value si = inner.getInductionVar();
      ValueRange in = inner.getRegionIterArgs();
      Value x = tensor::ExtractOp::create(b, loc, m, ValueRange{bi, si});
      Value keep, valid = yes;
      if (elt.isInteger(1)) {
        keep = x;
      } else if (isa<IntegerType>(elt)) {
        Value zero = arith::ConstantIntOp::create(b, loc, elt, 0);
        Value one = arith::ConstantIntOp::create(b, loc, elt, 1);
        keep = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, zero);
        Value isOne =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, one);
        valid = arith::OrIOp::create(
            b, loc, arith::XOrIOp::create(b, loc, keep, yes), isOne);
      } else {
        auto fType = cast<FloatType>(elt);
        Value zero = arith::ConstantFloatOp::create(b, loc, fType,
                                                    APFloat(fType.getFloatSemantics(), 0));
        Value one = arith::ConstantFloatOp::create(b, loc, fType,
                                                   APFloat(fType.getFloatSemantics(), 1));
        keep = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x, zero);
        Value isOne =
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, one);
        valid = arith::OrIOp::create(
            b, loc, arith::XOrIOp::create(b, loc, keep, yes), isOne);
      }
      Value at = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, bi, seq), si);
      Value next = arith::AddIOp::create(b, loc, in[1], c1);
      Value row = arith::SelectOp::create(b, loc, keep, next, c0);
      Value inv = tensor::InsertOp::create(b, loc, row, in[0], ValueRange{at});
      Value t = arith::SelectOp::create(b, loc, keep, next, in[1]);
      Value ok = arith::AndIOp::create(b, loc, in[2], valid);
      scf::YieldOp::create(b, loc, ValueRange{inv, t, ok});
    }
    scf::YieldOp::create(b, loc,
                         ValueRange{off, inner.getResult(0), inner.getResult(1),
                                    inner.getResult(2)});
  }
  count = outer.getResult(2);
  offsets = tensor::InsertOp::create(b, loc, count, outer.getResult(0),
                                     ValueRange{batch});
  inverse = outer.getResult(1);
  packings.push_back({offsets, inverse, Value()});
  cf::AssertOp::create(b, loc, outer.getResult(3),
                       "padding-free: the attention mask must hold only 0 "
                       "and 1");

  // Pass 2: each real token's flat position, position and batch item.
  Value empty = tensor::EmptyOp::create(b, loc, vec.getShape(), indexType,
                                        ValueRange{count});
  auto loop = scf::ForOp::create(b, loc, c0, flat, c1,
                                 ValueRange{empty, empty, empty});
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    ValueRange it = loop.getRegionIterArgs();
    Value row = tensor::ExtractOp::create(b, loc, inverse, ValueRange{i});
    Value keep = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, row, c0);
    auto ifKeep = scf::IfOp::create(b, loc, TypeRange{vec, vec, vec}, keep,
                                    /*withElseRegion=*/true);
    b.setInsertionPointToStart(ifKeep.thenBlock());
    Value t = arith::SubIOp::create(b, loc, row, c1);
    Value pos = arith::RemUIOp::create(b, loc, i, seq);
    Value item = arith::DivUIOp::create(b, loc, i, seq);
    scf::YieldOp::create(
        b, loc,
        ValueRange{tensor::InsertOp::create(b, loc, i, it[0], ValueRange{t}),
                   tensor::InsertOp::create(b, loc, pos, it[1], ValueRange{t}),
                   tensor::InsertOp::create(b, loc, item, it[2], ValueRange{t})});
    b.setInsertionPointToStart(ifKeep.elseBlock());
    scf::YieldOp::create(b, loc, it);
    b.setInsertionPointAfter(ifKeep);
    scf::YieldOp::create(b, loc, ifKeep.getResults());
  }
  tokenIndex = loop.getResult(0);
  tokenPos = loop.getResult(1);
  tokenBatch = loop.getResult(2);
}

Value Packer::gatherTokens(OpBuilder &b, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  const bool unitBatch = type.getDimSize(0) == 1, unitSeq = type.getDimSize(1) == 1;
  auto key = v;
  auto it = gathered.find(key);
  if (it != gathered.end())
    return it->second;
  // The extents v must have: B and S, unless they are 1.
  auto check = [&](int64_t i, Value expected, StringRef what) {
    if (extentIs(v, i, expected))
      return;
    Value ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                     extentOf(b, loc, v, i), expected);
    cf::AssertOp::create(b, loc, ok,
                         ("padding-free: a token tensor's " + what +
                          " extent differs from the attention mask's")
                             .str());
  };
  if (!unitBatch)
    check(0, batch, "batch");
  if (!unitSeq)
    check(1, seq, "sequence");
  SmallVector<int64_t> shape{ShapedType::kDynamic};
  SmallVector<Value> extents{arith::MulIOp::create(
      b, loc, extentOf(b, loc, v, 0), extentOf(b, loc, v, 1))};
  if (unitBatch && unitSeq) {
    shape[0] = 1;
    extents[0] = indexConst(b, loc, 1);
  }
  for (int64_t i = 2; i < type.getRank(); ++i) {
    shape.push_back(type.getDimSize(i));
    extents.push_back(extentOf(b, loc, v, i));
  }
  Value rows = reshapeTo(b, loc, v, type.clone(shape), extents);
  Value result = rows;
  if (!(unitBatch && unitSeq)) {
    Value index = unitBatch ? tokenPos : unitSeq ? tokenBatch : tokenIndex;
    result = GatherOp::create(b, loc, packedType(type), rows, index,
                              b.getI64IntegerAttr(0));
    packingOf[result] = 0;
  }
  gathered[key] = result;
  return result;
}

Value Packer::packed(OpBuilder &b, Location loc, Value v) {
  auto it = twin.find(v);
  if (it != twin.end())
    return lift(b, loc, it->second);
  Value result;
  {
    // A seed: gathered once, at the entry.
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointAfterValue(tokenBatch);
    result = gatherTokens(b, loc, v);
    twin[v] = result;
  }
  return lift(b, loc, result);
}

Value Packer::lift(OpBuilder &b, Location loc, Value p) {
  auto it = packingOf.find(p);
  if (it == packingOf.end())
    return p;
  unsigned g = it->second;
  if (g > current) {
    // Computed on pruned tokens, read after the merge: no rows for the
    // others. run() reports it.
    mixedAt = p.getDefiningOp();
    return p;
  }
  while (g < current) {
    Value &next = lifted[{p, g + 1}];
    if (!next) {
      next = GatherOp::create(b, loc, p.getType(), p, packings[g + 1].kept,
                              b.getI64IntegerAttr(0));
      packingOf[next] = g + 1;
    }
    p = next;
    ++g;
  }
  return p;
}

void Packer::emitCut(OpBuilder &b, Location loc, Value score) {
  Type indexType = b.getIndexType();
  auto vec = RankedTensorType::get({ShapedType::kDynamic}, indexType);
  Value c0 = indexConst(b, loc, 0), c1 = indexConst(b, loc, 1);
  const Packing from = packings[current];
  Value rows = extentOf(b, loc, score, 0);
  // newRow[t]: packing g row t's row + 1 in the next packing (0: pruned).
  Value newRow0 = tensor::EmptyOp::create(b, loc, vec.getShape(), indexType,
                                          ValueRange{rows});
  Value kept0 = newRow0;
  Value offsets0 = tensor::EmptyOp::create(
      b, loc, vec.getShape(), indexType,
      ValueRange{arith::AddIOp::create(b, loc, batch, c1)});
  auto i64 = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v).getResult();
  };
  auto outer = scf::ForOp::create(
      b, loc, c0, batch, c1, ValueRange{newRow0, kept0, offsets0, c0, kept0});
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(outer.getBody());
    Value bi = outer.getInductionVar();
    ValueRange it = outer.getRegionIterArgs();
    Value off = tensor::InsertOp::create(b, loc, it[3], it[2], ValueRange{bi});
    Value lo = tensor::ExtractOp::create(b, loc, from.offsets, ValueRange{bi});
    Value hi = tensor::ExtractOp::create(
        b, loc, from.offsets, ValueRange{arith::AddIOp::create(b, loc, bi, c1)});
    Value n = arith::SubIOp::create(b, loc, hi, lo);
    // k = min(n, max(ceil(keep n), minTokens, leading)), in integers.
    Value n64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), n);
    Value k64 = arith::DivSIOp::create(
        b, loc,
        arith::AddIOp::create(
            b, loc,
            arith::MulIOp::create(b, loc, n64, i64(schedule->keepMillionths)),
            i64(999999)),
        i64(1000000));
    k64 = arith::MaxSIOp::create(
        b, loc, k64, i64(std::max(schedule->minTokens, schedule->leading)));
    k64 = arith::MinSIOp::create(b, loc, k64, n64);
    Value k = arith::IndexCastOp::create(b, loc, indexType, k64);
    Value leading = indexConst(b, loc, schedule->leading);
    Value inf = arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(std::numeric_limits<float>::infinity()));
    // A token's score: its importance, +inf for the leading ones.
    auto effective = [&](Value t) {
      Value x = tensor::ExtractOp::create(b, loc, score, ValueRange{t});
      Value lead = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         arith::SubIOp::create(b, loc, t, lo),
                                         leading);
      return arith::SelectOp::create(b, loc, lead, inf, x).getResult();
    };
    auto inner = scf::ForOp::create(b, loc, lo, hi, c1,
                                    ValueRange{it[0], it[1], it[3], it[4]});
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(inner.getBody());
      Value t = inner.getInductionVar();
      ValueRange in = inner.getRegionIterArgs();
      Value mine = effective(t);
      // Its rank: the tokens ahead of it (a higher score, or the same at
      // an earlier position).
      auto rank = scf::ForOp::create(b, loc, lo, hi, c1, ValueRange{c0});
      {
        OpBuilder::InsertionGuard g3(b);
        b.setInsertionPointToStart(rank.getBody());
        Value u = rank.getInductionVar();
        Value other = effective(u);
        Value higher = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                             other, mine);
        Value same = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                           other, mine);
        Value earlier =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, u, t);
        Value ahead = arith::OrIOp::create(
            b, loc, higher, arith::AndIOp::create(b, loc, same, earlier));
        Value r = rank.getRegionIterArgs()[0];
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::SelectOp::create(
                b, loc, ahead, arith::AddIOp::create(b, loc, r, c1), r)});
      }
      Value keep = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         rank.getResult(0), k);
      Value next = arith::AddIOp::create(b, loc, in[2], c1);
      Value row = arith::SelectOp::create(b, loc, keep, next, c0);
      Value newRow =
          tensor::InsertOp::create(b, loc, row, in[0], ValueRange{t});
      // Written at the next free row either way; a pruned token's entry is
      // overwritten by the next kept one or cut off.
      Value kept = tensor::InsertOp::create(b, loc, t, in[1], ValueRange{in[2]});
      Value row0 = from.rows0 ? tensor::ExtractOp::create(b, loc, from.rows0,
                                                          ValueRange{t})
                                    .getResult()
                              : t;
      Value rows0 =
          tensor::InsertOp::create(b, loc, row0, in[3], ValueRange{in[2]});
      Value count = arith::SelectOp::create(b, loc, keep, next, in[2]);
      scf::YieldOp::create(b, loc, ValueRange{newRow, kept, count, rows0});
    }
    scf::YieldOp::create(b, loc,
                         ValueRange{inner.getResult(0), inner.getResult(1), off,
                                    inner.getResult(2), inner.getResult(3)});
  }
  Value total = outer.getResult(3);
  Packing to;
  to.offsets = tensor::InsertOp::create(b, loc, total, outer.getResult(2),
                                        ValueRange{batch});
  auto firstRows = [&](Value v) {
    return tensor::ExtractSliceOp::create(
               b, loc, vec, v, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
               ArrayRef<OpFoldResult>{total},
               ArrayRef<OpFoldResult>{b.getIndexAttr(1)})
        .getResult();
  };
  to.kept = firstRows(outer.getResult(1));
  to.rows0 = firstRows(outer.getResult(4));
  // The padded positions' rows in the next packing.
  Value flat = arith::MulIOp::create(b, loc, batch, seq);
  Value newRows = outer.getResult(0);
  auto remap = scf::ForOp::create(b, loc, c0, flat, c1, ValueRange{from.inverse});
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(remap.getBody());
    Value p = remap.getInductionVar();
    Value acc = remap.getRegionIterArgs()[0];
    Value r = tensor::ExtractOp::create(b, loc, acc, ValueRange{p});
    Value real = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, r, c0);
    Value at = arith::SelectOp::create(
        b, loc, real, arith::SubIOp::create(b, loc, r, c1), c0);
    auto ifReal = scf::IfOp::create(b, loc, TypeRange{indexType}, real,
                                    /*withElseRegion=*/true);
    b.setInsertionPointToStart(ifReal.thenBlock());
    scf::YieldOp::create(
        b, loc,
        ValueRange{tensor::ExtractOp::create(b, loc, newRows, ValueRange{at})});
    b.setInsertionPointToStart(ifReal.elseBlock());
    scf::YieldOp::create(b, loc, ValueRange{c0});
    b.setInsertionPointAfter(ifReal);
    scf::YieldOp::create(
        b, loc,
        ValueRange{tensor::InsertOp::create(b, loc, ifReal.getResult(0), acc,
                                            ValueRange{p})});
  }
  to.inverse = remap.getResult(0);
  packings.push_back(to);
  current = packings.size() - 1;
  ++cuts;
}

bool Packer::canPackOperand(Value v, int64_t rank) const {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type)
    return false;
  if (isToken(v))
    return type.getRank() == rank;
  return type.getRank() <= rank;
}

Value Packer::packedOperand(OpBuilder &b, Location loc, Value v,
                            int64_t rank) {
  if (isToken(v))
    return packed(b, loc, v);
  auto type = cast<RankedTensorType>(v.getType());
  const int64_t k = type.getRank();
  // No token dimensions: broadcasts against [T, rest] as it did before.
  if (k <= rank - 2)
    return v;
  if (k == rank - 1) {
    if (type.getDimSize(0) == 1)
      return v;
    // [S, rest]: viewed as [1, S, rest] and gathered by position.
    SmallVector<int64_t> shape{1};
    shape.append(type.getShape().begin(), type.getShape().end());
    SmallVector<Value> extents{indexConst(b, loc, 1)};
    for (int64_t i = 0; i < k; ++i)
      extents.push_back(extentOf(b, loc, v, i));
    return lift(b, loc,
                gatherTokens(b, loc,
                             reshapeTo(b, loc, v, type.clone(shape), extents)));
  }
  if (type.getDimSize(0) == 1 && type.getDimSize(1) == 1) {
    // [1, 1, rest] -> [1, rest].
    SmallVector<int64_t> shape(type.getShape().drop_front());
    SmallVector<Value> extents;
    for (int64_t i = 1; i < k; ++i)
      extents.push_back(extentOf(b, loc, v, i));
    return reshapeTo(b, loc, v, type.clone(shape), extents);
  }
  return lift(b, loc, gatherTokens(b, loc, v));
}

Value Packer::unpack(OpBuilder &b, Location loc, Value y,
                     RankedTensorType type) {
  auto yType = cast<RankedTensorType>(y.getType());
  Type elt = yType.getElementType();
  // [0; y]: row 0 is the pads' zeros, row t + 1 is token t.
  SmallVector<int64_t> shape(yType.getShape());
  shape[0] = ShapedType::kDynamic;
  SmallVector<Value> dynamic{arith::AddIOp::create(
      b, loc, extentOf(b, loc, y, 0), indexConst(b, loc, 1))};
  SmallVector<OpFoldResult> rowSizes{b.getIndexAttr(1)},
      ySizes{getAsOpFoldResult(extentOf(b, loc, y, 0))};
  SmallVector<int64_t> rowShape{1};
  SmallVector<Value> rowExtents{indexConst(b, loc, 1)};
  for (int64_t i = 1; i < yType.getRank(); ++i) {
    Value e = extentOf(b, loc, y, i);
    if (yType.isDynamicDim(i))
      dynamic.push_back(e);
    rowSizes.push_back(getAsOpFoldResult(e));
    ySizes.push_back(getAsOpFoldResult(e));
    rowShape.push_back(yType.getDimSize(i));
    rowExtents.push_back(e);
  }
  Value rows = tensor::EmptyOp::create(b, loc, shape, elt, dynamic);
  auto scalarType = RankedTensorType::get({}, elt);
  TypedAttr zero = isa<FloatType>(elt) ? TypedAttr(b.getFloatAttr(elt, 0.0))
                                       : TypedAttr(b.getIntegerAttr(elt, 0));
  Value scalar = arith::ConstantOp::create(
      b, loc, scalarType, DenseElementsAttr::get(scalarType, zero));
  auto rowType = yType.clone(rowShape);
  Value rowShapeValue;
  if (!rowType.hasStaticShape())
    rowShapeValue = tensor::FromElementsOp::create(
        b, loc,
        RankedTensorType::get({static_cast<int64_t>(rowExtents.size())},
                              b.getIndexType()),
        rowExtents);
  Value zeroRow =
      BroadcastToOp::create(b, loc, rowType, scalar, rowShapeValue);
  const int64_t rank = yType.getRank();
  SmallVector<OpFoldResult> zeros(rank, b.getIndexAttr(0)),
      ones(rank, b.getIndexAttr(1));
  rows = tensor::InsertSliceOp::create(b, loc, zeroRow, rows, zeros, rowSizes,
                                       ones);
  SmallVector<OpFoldResult> at = zeros;
  at[0] = b.getIndexAttr(1);
  rows = tensor::InsertSliceOp::create(b, loc, y, rows, at, ySizes, ones);
  // The padded positions' rows, [B, S].
  auto mType = cast<RankedTensorType>(m.getType());
  auto inverseType = RankedTensorType::get(mType.getShape(), b.getIndexType());
  auto packing = packingOf.find(y);
  Value rowsOf = packing == packingOf.end()
                     ? inverse
                     : packings[packing->second].inverse;
  Value inverse2d = reshapeTo(b, loc, rowsOf, inverseType, {batch, seq});
  SmallVector<int64_t> outShape(mType.getShape());
  outShape.append(yType.getShape().begin() + 1, yType.getShape().end());
  Value result = GatherOp::create(b, loc, yType.clone(outShape), rows,
                                  inverse2d, b.getI64IntegerAttr(0));
  if (result.getType() != type)
    result = tensor::CastOp::create(b, loc, type, result);
  return result;
}

/// Normalized `axis` of a rank-`rank` value, if it is a trailing one (not
/// the batch or sequence dimension).
std::optional<int64_t> trailingAxis(int64_t axis, int64_t rank) {
  std::optional<int64_t> a = slm::normalizeAxis(axis, rank);
  if (!a || *a < 2)
    return std::nullopt;
  return a;
}

bool Packer::canPack(Operation *op) {
  if (op->getNumResults() != 1 || op->getNumRegions() != 0)
    return false;
  auto resultType = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!resultType || resultType.getRank() < 2)
    return false;
  const int64_t rank = resultType.getRank();
  auto allOperands = [&](int64_t r) {
    return llvm::all_of(op->getOperands(),
                        [&](Value v) { return canPackOperand(v, r); });
  };
  auto tokenAt = [&](unsigned i) { return isToken(op->getOperand(i)); };
  if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, CompareOp,
          SelectOp>(op))
    return allOperands(rank);
  if (op->hasTrait<OpTrait::Elementwise>() &&
      op->getDialect()->getNamespace() != "slm") {
    // arith/math on tensors (casts): operands of the result's shape, all
    // of them token values.
    return llvm::all_of(op->getOperands(), [&](Value v) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      return t && t.getRank() == rank && isToken(v);
    });
  }
  if (isa<GeluOp>(op))
    return tokenAt(0);
  if (auto softmax = dyn_cast<SoftmaxOp>(op))
    return tokenAt(0) && trailingAxis(softmax.getAxis(), rank);
  if (auto norm = dyn_cast<LayerNormOp>(op))
    return tokenAt(0) && trailingAxis(norm.getAxis(), rank) &&
           !isToken(norm.getGamma()) &&
           (!norm.getBeta() || !isToken(norm.getBeta()));
  if (auto norm = dyn_cast<RMSNormOp>(op))
    return tokenAt(0) && rank >= 3 && !isToken(norm.getGamma());
  if (auto linear = dyn_cast<LinearOp>(op))
    return tokenAt(0) && rank >= 3 &&
           linear.getInputQuant() != InputQuant::per_tensor &&
           !isToken(linear.getWeight()) &&
           (!linear.getBias() || !isToken(linear.getBias()));
  if (auto matmul = dyn_cast<MatMulOp>(op))
    return tokenAt(0) && rank >= 3 && !tokenAt(1) &&
           cast<RankedTensorType>(matmul.getRhs().getType()).getRank() == 2;
  if (auto reduce = dyn_cast<ReduceOp>(op)) {
    auto inType = cast<RankedTensorType>(reduce.getInput().getType());
    return tokenAt(0) && llvm::all_of(reduce.getAxes(), [&](int64_t a) {
             return trailingAxis(a, inType.getRank()).has_value();
           }) && !reduce.getAxes().empty();
  }
  if (auto transpose = dyn_cast<TransposeOp>(op)) {
    ArrayRef<int64_t> perm = transpose.getPermutation();
    return tokenAt(0) && perm.size() >= 2 && perm[0] == 0 && perm[1] == 1;
  }
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    Value input = reshape.getInput();
    if (!tokenAt(0))
      return false;
    auto inType = cast<RankedTensorType>(input.getType());
    if (inType.getRank() < 2)
      return false;
    // The first two extents stay: by the shape operand, or statically.
    for (int64_t i = 0; i < 2; ++i) {
      if (!resultType.isDynamicDim(i)) {
        if (resultType.getDimSize(i) != inType.getDimSize(i) ||
            inType.isDynamicDim(i))
          return false;
        continue;
      }
      Value shape = reshape.getShape();
      auto elements =
          shape ? shape.getDefiningOp<tensor::FromElementsOp>() : nullptr;
      // An extent computed from others (S * W / W) is checked at run time.
      if (!elements || inType.getDimSize(i) == 1)
        return false;
    }
    return true;
  }
  if (auto gather = dyn_cast<GatherOp>(op))
    return gather.getAxis() == 0 && isToken(gather.getIndices()) &&
           !isToken(gather.getData());
  if (auto embedding = dyn_cast<EmbeddingOp>(op))
    return isToken(embedding.getIds()) && !isToken(embedding.getTable());
  return false;
}

void Packer::pack(Operation *op) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  const int64_t rank = resultType.getRank();
  Value result;
  auto cloneWith = [&](ArrayRef<Value> operands) {
    Operation *clone = b.clone(*op);
    clone->setOperands(operands);
    clone->getResult(0).setType(packedType(resultType));
    return clone;
  };
  auto tokenOr = [&](Value v) { return isToken(v) ? packed(b, loc, v) : v; };
  if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, CompareOp,
          SelectOp>(op) ||
      (op->hasTrait<OpTrait::Elementwise>() &&
       op->getDialect()->getNamespace() != "slm")) {
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(packedOperand(b, loc, v, rank));
    result = cloneWith(operands)->getResult(0);
  } else if (isa<GeluOp, RMSNormOp, LinearOp, MatMulOp, GatherOp,
                 EmbeddingOp>(op)) {
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(tokenOr(v));
    result = cloneWith(operands)->getResult(0);
  } else if (auto softmax = dyn_cast<SoftmaxOp>(op)) {
    auto clone = cast<SoftmaxOp>(cloneWith({packed(b, loc, softmax.getInput())}));
    clone.setAxis(*trailingAxis(softmax.getAxis(), rank) - 1);
    result = clone.getResult();
  } else if (auto norm = dyn_cast<LayerNormOp>(op)) {
    SmallVector<Value> operands{packed(b, loc, norm.getInput()), norm.getGamma()};
    if (norm.getBeta())
      operands.push_back(norm.getBeta());
    auto clone = cast<LayerNormOp>(cloneWith(operands));
    clone.setAxis(*trailingAxis(norm.getAxis(), rank) - 1);
    result = clone.getResult();
  } else if (auto reduce = dyn_cast<ReduceOp>(op)) {
    const int64_t inRank =
        cast<RankedTensorType>(reduce.getInput().getType()).getRank();
    SmallVector<int64_t> axes;
    for (int64_t a : reduce.getAxes())
      axes.push_back(*trailingAxis(a, inRank) - 1);
    auto clone = cast<ReduceOp>(cloneWith({packed(b, loc, reduce.getInput())}));
    clone.setAxes(axes);
    result = clone.getResult();
  } else if (auto transpose = dyn_cast<TransposeOp>(op)) {
    SmallVector<int64_t> perm{0};
    for (int64_t p : transpose.getPermutation().drop_front(2))
      perm.push_back(p - 1);
    auto clone =
        cast<TransposeOp>(cloneWith({packed(b, loc, transpose.getInput())}));
    clone.setPermutation(perm);
    result = clone.getResult();
  } else if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    if (Value shape = reshape.getShape()) {
      auto elements = shape.getDefiningOp<tensor::FromElementsOp>();
      for (int64_t i = 0; i < 2; ++i) {
        Value entry = elements.getElements()[i];
        if (extentIs(reshape.getInput(), i, entry))
          continue;
        Value ok = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::eq, entry,
            extentOf(b, loc, reshape.getInput(), i));
        cf::AssertOp::create(b, loc, ok,
                             "padding-free: a reshape of the token stream "
                             "changes its batch or sequence extent");
      }
    }
    Value input = packed(b, loc, reshape.getInput());
    SmallVector<Value> extents{extentOf(b, loc, input, 0)};
    SmallVector<Value> entries;
    if (Value shape = reshape.getShape())
      entries.assign(shape.getDefiningOp<tensor::FromElementsOp>()
                         .getElements()
                         .begin(),
                     shape.getDefiningOp<tensor::FromElementsOp>()
                         .getElements()
                         .end());
    for (int64_t i = 2; i < rank; ++i)
      extents.push_back(resultType.isDynamicDim(i)
                            ? entries[i]
                            : indexConst(b, loc, resultType.getDimSize(i)));
    result = reshapeTo(b, loc, input, packedType(resultType), extents);
  }
  twin[op->getResult(0)] = result;
  packingOf[result] = current;
  packedOps.insert(op);
  if (op == mergeAt)
    emitMerge(b, loc, result);
}

LogicalResult Packer::checkAttention(AttentionOp op) {
  if (!isToken(op.getKey()) && !isToken(op.getValue()) &&
      !isToken(op.getQuery()))
    return success();
  Value mask = op.getMask();
  SmallVector<Traced::Equality> equalities;
  if (mask && isKeyPaddingMask(tracer, mask, m, &equalities)) {
    OpBuilder b(op);
    for (const Traced::Equality &e : equalities) {
      Value ok = arith::CmpIOp::create(
          b, op.getLoc(), arith::CmpIPredicate::eq, e.extent,
          extentOf(b, op.getLoc(), e.tensor, e.dim));
      cf::AssertOp::create(b, op.getLoc(), ok,
                           "padding-free: the attention mask is reshaped to "
                           "extents that differ from its own");
    }
    return success();
  }
  auto name = func.getArgAttrOfType<StringAttr>(m.getArgNumber(), "slm.name");
  return op.emitError("padding-free: this attention reads the token stream "
                      "but ")
         << (mask ? "its mask is not" : "has no mask, so it does not use")
         << " the key-padding mask made from input '"
         << (name ? name.getValue() : StringRef("?"))
         << "': its results would depend on pad tokens (compile without "
            "--padding-free)";
}

void Packer::packAttention(OpBuilder &b, AttentionOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  const int64_t heads = op.getNumHeads();
  auto widthOf = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getDimSize(2);
  };
  const int64_t dk = widthOf(op.getQuery()) / heads,
                dv = widthOf(op.getValue()) / heads;
  auto split = [&](Value v, int64_t d) {
    Value p = packed(b, loc, v);
    auto type = RankedTensorType::get({1, ShapedType::kDynamic, heads, d},
                                      b.getF32Type());
    return reshapeTo(b, loc, p, type,
                     {indexConst(b, loc, 1), extentOf(b, loc, p, 0),
                      indexConst(b, loc, heads), indexConst(b, loc, d)});
  };
  Value q = split(op.getQuery(), dk), k = split(op.getKey(), dk),
        v = split(op.getValue(), dv);
  Value rows = extentOf(b, loc, q, 1);
  auto outType = RankedTensorType::get({1, ShapedType::kDynamic, heads * dv},
                                       b.getF32Type());
  Value init = tensor::EmptyOp::create(b, loc, outType.getShape(),
                                       b.getF32Type(), ValueRange{rows});
  // Token pruning reads every attention's importance sums up to the last
  // cut (all of them: one follows each attention from `start` on).
  const bool prune = schedule && schedule->start < totalAttentions;
  Value importanceInit;
  SmallVector<Type> types{outType};
  auto importanceType =
      RankedTensorType::get({1, ShapedType::kDynamic}, b.getF32Type());
  if (prune) {
    importanceInit = tensor::EmptyOp::create(
        b, loc, importanceType.getShape(), b.getF32Type(), ValueRange{rows});
    types.push_back(importanceType);
  }
  auto fused = FusedAttentionOp::create(
      b, loc, types, q, k, v, /*mask=*/Value(), packings[current].offsets, init,
      importanceInit, op.getNumHeadsAttr(),
      b.getF64FloatAttr(op.getEffectiveScale()),
      b.getDenseI64ArrayAttr({1, 1, 1}), op.getCausalAttr());
  auto flatType = RankedTensorType::get({ShapedType::kDynamic, heads * dv},
                                        b.getF32Type());
  Value result = reshapeTo(b, loc, fused.getResult(), flatType,
                           {rows, indexConst(b, loc, heads * dv)});
  twin[op.getResult()] = result;
  packingOf[result] = current;
  packedOps.insert(op);
  if (prune) {
    auto scoreType =
        RankedTensorType::get({ShapedType::kDynamic}, b.getF32Type());
    Value score = reshapeTo(b, loc, fused.getImportanceResult(), scoreType,
                            {rows});
    if (importanceSum)
      score = AddOp::create(b, loc, scoreType, lift(b, loc, importanceSum),
                            score);
    packingOf[score] = current;
    importanceSum = score;
    if (attentions >= schedule->start) {
      // With `skip`, the tokens this cut prunes skip the rest of the
      // model: their state is the layer's input (the residual stream),
      // kept for the merge.
      Value stream = mergeAt ? residualInput(op) : Value();
      frozen.push_back(stream && isToken(stream) ? packed(b, loc, stream)
                                                 : Value());
      emitCut(b, loc, score);
      cutAnchors.push_back(op);
    }
  }
  ++attentions;
}

Value Packer::maskOf(OpBuilder &b, Location loc, unsigned g) {
  auto mType = cast<RankedTensorType>(m.getType());
  Type elt = mType.getElementType();
  auto flatType = cast<RankedTensorType>(packings[g].inverse.getType())
                      .clone(b.getI64Type());
  Value rows =
      arith::IndexCastOp::create(b, loc, flatType, packings[g].inverse);
  auto scalarType = RankedTensorType::get({}, b.getI64Type());
  Value zero = arith::ConstantOp::create(
      b, loc, scalarType,
      DenseElementsAttr::get(scalarType, b.getI64IntegerAttr(0)));
  Value kept = CompareOp::create(b, loc, flatType.clone(b.getI1Type()),
                                 ComparePredicate::ne, rows, zero);
  Value mask = reshapeTo(b, loc, kept, mType.clone(b.getI1Type()),
                         {batch, seq});
  if (elt.isInteger(1))
    return mask;
  if (isa<IntegerType>(elt))
    return arith::ExtUIOp::create(b, loc, mType, mask);
  return arith::UIToFPOp::create(b, loc, mType, mask);
}

void Packer::maskPrunedTokens(ArrayRef<Operation *> ops,
                              function_ref<bool(Value)> cheap) {
  DenseMap<std::pair<Value, unsigned>, Value> memo;
  DenseMap<unsigned, Value> masks;
  // `v` recomputed from packing g's mask, if it is computed from m by pure
  // ops outside the token stream (or cheap ones in it); else null.
  std::function<Value(Value, unsigned, Operation *, int)> remat =
      [&](Value v, unsigned g, Operation *before, int depth) -> Value {
    if (depth > 16)
      return Value();
    auto key = std::make_pair(v, g);
    auto it = memo.find(key);
    if (it != memo.end())
      return it->second;
    Value result;
    if (v == m) {
      Value &mg = masks[g];
      if (!mg) {
        OpBuilder b(before);
        mg = maskOf(b, before->getLoc(), g);
      }
      result = mg;
    } else if (Operation *op = v.getDefiningOp()) {
      // A shape query reads the same extents from either mask.
      bool eligible = !isa<tensor::DimOp>(op) && op->getNumRegions() == 0 &&
                      isPure(op) &&
                      op->getNumResults() == 1 &&
                      (!packedOps.contains(op) || cheap(v));
      if (eligible) {
        SmallVector<Value> operands;
        bool changed = false;
        for (Value operand : op->getOperands()) {
          Value r = remat(operand, g, before, depth + 1);
          changed |= static_cast<bool>(r);
          operands.push_back(r ? r : operand);
        }
        if (changed) {
          OpBuilder b(before);
          Operation *clone = b.clone(*op);
          clone->setOperands(operands);
          result = clone->getResult(0);
        }
      }
    }
    memo[key] = result;
    return result;
  };
  for (Operation *op : ops) {
    if (packedOps.contains(op) || op->getBlock() == nullptr)
      continue;
    // The last cut before op.
    std::optional<unsigned> g;
    for (auto [i, anchor] : llvm::enumerate(cutAnchors))
      if (anchor->isBeforeInBlock(op))
        g = i + 1;
    if (!g || (merged && mergeAt->isBeforeInBlock(op)))
      continue;
    for (OpOperand &operand : op->getOpOperands())
      if (Value r = remat(operand.get(), *g, op, 0))
        operand.set(r);
  }
}

Value Packer::residualInput(AttentionOp op) {
  SmallVector<std::pair<Value, int>> work{{op.getResult(), 0}};
  while (!work.empty()) {
    auto [v, depth] = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (user->getBlock() != op->getBlock())
        continue;
      if (auto add = dyn_cast<AddOp>(user)) {
        Value other = add.getLhs() == v ? add.getRhs() : add.getLhs();
        Operation *def = other.getDefiningOp();
        if (other != v && other.getType() == add.getType() &&
            (!def || def->isBeforeInBlock(op)))
          return other;
      }
      if (depth < 4 && user->getNumResults() == 1 &&
          isa<LinearOp, ReshapeOp, TransposeOp, AddOp, MatMulOp>(user))
        work.push_back({user->getResult(0), depth + 1});
    }
  }
  return Value();
}

Value Packer::layerOutput(Value stream) {
  Value v = stream;
  // Two residual adds (attention's, the FFN's), each maybe normalized.
  for (int step = 0; step < 2 && v; ++step) {
    Operation *vDef = v.getDefiningOp();
    AddOp next;
    for (Operation *user : v.getUsers()) {
      auto add = dyn_cast<AddOp>(user);
      if (!add || add->getBlock() != &func.getBody().front())
        continue;
      Value other = add.getLhs() == v ? add.getRhs() : add.getLhs();
      Operation *def = other.getDefiningOp();
      if (other == v || other.getType() != add.getType() || !def ||
          (vDef && !vDef->isBeforeInBlock(def)))
        continue;
      if (!next || add->isBeforeInBlock(next))
        next = add;
    }
    if (!next)
      return Value();
    v = next.getResult();
    if (v.hasOneUse() && isa<LayerNormOp, RMSNormOp>(*v.getUsers().begin()))
      v = v.getUsers().begin()->getResult(0);
  }
  return v;
}

void Packer::emitMerge(OpBuilder &b, Location loc, Value last) {
  // Nothing pruned (no cut), or a cut whose stream was not found.
  if (frozen.empty() || llvm::any_of(frozen, [](Value f) { return !f; }))
    return;
  Type indexType = b.getIndexType();
  auto vec = RankedTensorType::get({ShapedType::kDynamic}, indexType);
  Value c0 = indexConst(b, loc, 0), c1 = indexConst(b, loc, 1);
  // The candidates, one after another: each cut's stream rows (packing g),
  // then the last layer's rows; a token's value is its last candidate.
  SmallVector<std::pair<Value, unsigned>> sources;
  for (auto [g, f] : llvm::enumerate(frozen))
    sources.push_back({f, static_cast<unsigned>(g)});
  sources.push_back({last, current});
  auto type = cast<RankedTensorType>(last.getType());
  const int64_t rank = type.getRank();
  Value total = c0;
  for (auto &source : sources)
    total = arith::AddIOp::create(b, loc, total,
                                  extentOf(b, loc, source.first, 0));
  SmallVector<Value> dynamic{total};
  for (int64_t i = 1; i < rank; ++i)
    if (type.isDynamicDim(i))
      dynamic.push_back(extentOf(b, loc, last, i));
  Value rows = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       type.getElementType(), dynamic);
  Value index = tensor::EmptyOp::create(b, loc, vec.getShape(), indexType,
                                        ValueRange{count});
  Value offset = c0;
  for (auto [value, g] : sources) {
    Value n = extentOf(b, loc, value, 0);
    SmallVector<OpFoldResult> at(rank, b.getIndexAttr(0)),
        sizes{getAsOpFoldResult(n)}, ones(rank, b.getIndexAttr(1));
    at[0] = getAsOpFoldResult(offset);
    for (int64_t i = 1; i < rank; ++i)
      sizes.push_back(getAsOpFoldResult(extentOf(b, loc, value, i)));
    rows = tensor::InsertSliceOp::create(b, loc, value, rows, at, sizes, ones);
    // index[row in packing 0] = offset + row.
    Value rows0 = packings[g].rows0;
    auto loop = scf::ForOp::create(b, loc, c0, n, c1, ValueRange{index});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value r = loop.getInductionVar();
      Value p = rows0 ? tensor::ExtractOp::create(b, loc, rows0, ValueRange{r})
                            .getResult()
                      : r;
      scf::YieldOp::create(
          b, loc,
          ValueRange{tensor::InsertOp::create(
              b, loc, arith::AddIOp::create(b, loc, offset, r),
              loop.getRegionIterArgs()[0], ValueRange{p})});
    }
    index = loop.getResult(0);
    offset = arith::AddIOp::create(b, loc, offset, n);
  }
  Value result = GatherOp::create(b, loc, type, rows, index,
                                  b.getI64IntegerAttr(0));
  current = 0;
  packingOf[result] = 0;
  twin[mergeAt->getResult(0)] = result;
  merged = true;
}

/// Whether attention `op` can run on the packed stream (the checks passed).
bool packableAttention(AttentionOp op) {
  for (Value v : {op.getQuery(), op.getKey(), op.getValue()}) {
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getRank() != 3 || !type.getElementType().isF32() ||
        type.isDynamicDim(2) || type.getDimSize(2) % op.getNumHeads() != 0)
      return false;
  }
  auto q = cast<RankedTensorType>(op.getQuery().getType()),
       k = cast<RankedTensorType>(op.getKey().getType());
  return q.getDimSize(2) == k.getDimSize(2);
}

LogicalResult Packer::run() {
  // Seeds: inputs whose first two dimensions are m's.
  auto names = [&](unsigned arg) {
    return func.getArgAttrOfType<ArrayAttr>(arg, "slm.dim_names");
  };
  auto mType = cast<RankedTensorType>(m.getType());
  ArrayAttr mNames = names(m.getArgNumber());
  for (BlockArgument arg : func.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getRank() < 2)
      continue;
    bool same = true;
    ArrayAttr argNames = names(arg.getArgNumber());
    for (int64_t i = 0; i < 2 && same; ++i) {
      if (!type.isDynamicDim(i) || !mType.isDynamicDim(i)) {
        same = type.getDimSize(i) == mType.getDimSize(i);
        continue;
      }
      auto a = argNames && argNames.size() > static_cast<size_t>(i)
                   ? dyn_cast<StringAttr>(argNames[i])
                   : StringAttr();
      auto b = mNames && mNames.size() > static_cast<size_t>(i)
                   ? dyn_cast<StringAttr>(mNames[i])
                   : StringAttr();
      same = a && b && !a.getValue().empty() && a == b;
    }
    if (same)
      seeds.insert(arg);
  }

  Block &body = func.getBody().front();
  OpBuilder b = OpBuilder::atBlockBegin(&body);
  emitIndices(b, func.getLoc());
  AttentionOp lastAttention;
  func.walk([&](AttentionOp op) {
    ++totalAttentions;
    lastAttention = op;
  });
  if (schedule && schedule->skip && lastAttention)
    if (Value stream = residualInput(lastAttention))
      if (Value out = layerOutput(stream))
        mergeAt = out.getDefiningOp();

  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);
  for (Operation *op : ops) {
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      if (failed(checkAttention(attention)))
        return failure();
      if (isToken(attention.getQuery()) && isToken(attention.getKey()) &&
          isToken(attention.getValue()) && packableAttention(attention)) {
        packAttention(b, attention);
      } else if (schedule && (isToken(attention.getQuery()) ||
                              isToken(attention.getKey()) ||
                              isToken(attention.getValue()))) {
        // It would read pruned positions as zeros its mask keeps.
        return attention.emitError(
            "prune-tokens: this attention reads the token stream but cannot "
            "run on it packed (f32 query, key and value [B, S, heads x "
            "width], all of the token stream), so it would see pruned "
            "tokens");
      }
      continue;
    }
    bool anyToken = llvm::any_of(op->getOperands(),
                                 [&](Value v) { return isToken(v); });
    if (anyToken && canPack(op))
      pack(op);
  }

  if (mixedAt)
    return mixedAt->emitError(
        "prune-tokens: this value is computed on pruned tokens and read "
        "after the residual stream is merged back (all tokens again)");
  if (cuts > 0 && schedule->skip && !merged)
    func.emitWarning("prune-tokens: the residual stream after the last layer "
                     "was not found: token outputs are 0 at pruned positions, "
                     "and what reads the mask after a cut sees pruned tokens "
                     "as padding");

  // A token value computed from inputs alone by data movement and
  // elementwise ops (a mask, position ids) is still computed as before for
  // its other readers: they read the exact padded values.
  DenseMap<Value, bool> cheapMemo;
  std::function<bool(Value)> cheap = [&](Value v) -> bool {
    if (seeds.count(v))
      return true;
    Operation *op = v.getDefiningOp();
    if (!op || !packedOps.contains(op) ||
        isa<AttentionOp, LinearOp, MatMulOp, LayerNormOp, RMSNormOp,
            SoftmaxOp, ReduceOp>(op))
      return false;
    auto it = cheapMemo.find(v);
    if (it != cheapMemo.end())
      return it->second;
    cheapMemo[v] = false;
    bool result = llvm::all_of(op->getOperands(), [&](Value operand) {
      return !isToken(operand) || cheap(operand);
    });
    cheapMemo[v] = result;
    return result;
  };
  // Before the shape queries below erase ops of `ops`.
  if (cuts > 0)
    maskPrunedTokens(ops, cheap);

  // Shape queries of token values: m's extents and the twins'.
  for (Operation *op : packedOps) {
    Value original = op->getResult(0);
    for (Operation *user : llvm::make_early_inc_range(original.getUsers())) {
      auto dim = dyn_cast<tensor::DimOp>(user);
      std::optional<int64_t> i = dim ? dim.getConstantIndex() : std::nullopt;
      if (!i)
        continue;
      OpBuilder db(dim);
      Value extent =
          *i == 0   ? batch
          : *i == 1 ? seq
                    : tensor::DimOp::create(db, dim.getLoc(), twin[original],
                                            *i - 1)
                          .getResult();
      dim.replaceAllUsesWith(extent);
      dim.erase();
    }
  }

  // Exits: uses of token values outside the packed ops read them scattered
  // back, pads 0. Only where that cannot change what real tokens get: the
  // results, a selection of positions, an attention with the key-padding
  // mask (checked), a reduction over positions of values the mask zeroes
  // at pads (masked mean pooling).
  auto zeroAtPads = [&](Value original) {
    auto mul = original.getDefiningOp<MulOp>();
    if (!mul)
      return false;
    const int64_t rank = cast<RankedTensorType>(original.getType()).getRank();
    for (Value v : {mul.getLhs(), mul.getRhs()}) {
      std::optional<Traced> t = tracer.trace(v);
      if (!t || t->constant || t->at0 != 0 ||
          static_cast<int64_t>(t->layout.size()) > rank)
        continue;
      const int64_t lead = rank - t->layout.size();
      if (lead <= 1 && t->layout[1 - lead] == 1)
        return true;
    }
    return false;
  };
  auto exitAllowed = [&](Operation *user, Value original) {
    if (isa<func::ReturnOp, tensor::ExtractSliceOp, AttentionOp>(user) ||
        onlyReachesShapeQueries(user))
      return true;
    if (auto gather = dyn_cast<GatherOp>(user))
      return gather.getData() == original && gather.getAxis() >= 1;
    if (auto reduce = dyn_cast<ReduceOp>(user))
      return zeroAtPads(original);
    return false;
  };
  for (Operation *op : packedOps) {
    Value original = op->getResult(0);
    for (Operation *user : original.getUsers()) {
      if (packedOps.contains(user) || cheap(original) ||
          exitAllowed(user, original))
        continue;
      InFlightDiagnostic diag =
          user->emitError("padding-free: '")
          << user->getName()
          << "' reads the token stream across positions or in a way this "
             "pass does not follow; its results would see 0 at pad positions "
             "where the padded model has pad tokens' values (compile without "
             "--padding-free)";
      diag.attachNote(op->getLoc()) << "the token value it reads";
      return failure();
    }
  }
  DenseMap<Value, Value> unpacked;
  for (Operation *op : packedOps) {
    Value original = op->getResult(0);
    if (cheap(original))
      continue;
    for (OpOperand &use : llvm::make_early_inc_range(original.getUses())) {
      if (packedOps.contains(use.getOwner()))
        continue;
      Value &u = unpacked[original];
      if (!u) {
        Value y = twin[original];
        OpBuilder ub(func.getContext());
        ub.setInsertionPointAfterValue(y);
        u = unpack(ub, op->getLoc(), y,
                   cast<RankedTensorType>(original.getType()));
      }
      use.set(u);
    }
  }
  // The originals nothing reads any more (a kept one keeps its operands).
  for (Operation *op : llvm::reverse(packedOps))
    if (op->use_empty())
      op->erase();
  if (attentions == 0)
    func.emitWarning("padding-free: no attention runs on the packed tokens; "
                     "nothing is gained");
  else if (schedule && cuts == 0)
    func.emitWarning("prune-tokens: start = ")
        << schedule->start << " but the model has " << attentions
        << " attentions on the token stream; nothing is pruned";
  return success();
}

/// Packs each function of `module` by its key-padding mask (and prunes
/// tokens by `schedule`).
LogicalResult packModule(ModuleOp module,
                         std::optional<TokenSchedule> schedule) {
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    // The mask: the first attention's that is a key-padding mask of an
    // input.
    BlockArgument m;
    func.walk([&](AttentionOp op) {
      if (m || !op.getMask())
        return;
      for (BlockArgument arg : func.getArguments()) {
        auto type = dyn_cast<RankedTensorType>(arg.getType());
        if (!type || type.getRank() != 2)
          continue;
        MaskTracer tracer(arg);
        if (isKeyPaddingMask(tracer, op.getMask(), arg)) {
          m = arg;
          return;
        }
      }
    });
    if (!m) {
      if (schedule)
        return func.emitError(
            "prune-tokens: no attention has a key-padding mask made from a "
            "model input (attention_mask); token pruning runs on the "
            "padding-free token stream, which needs one");
      func.emitWarning("padding-free: no attention has a key-padding mask "
                       "made from a model input; the model is unchanged");
      continue;
    }
    Packer packer(func, m, schedule);
    if (failed(packer.run()))
      return failure();
  }
  return success();
}

struct SLMPaddingFreePass
    : mlir::slm::impl::SLMPaddingFreeBase<SLMPaddingFreePass> {
  void runOnOperation() override {
    if (failed(packModule(getOperation(), std::nullopt)))
      signalPassFailure();
  }
};

struct SLMPruneTokensPass
    : mlir::slm::impl::SLMPruneTokensBase<SLMPruneTokensPass> {
  using SLMPruneTokensBase::SLMPruneTokensBase;
  void runOnOperation() override {
    if (!(keep > 0.0 && keep <= 1.0) || start < 0 || leading < 0 ||
        minTokens < 1) {
      std::string got;
      llvm::raw_string_ostream(got) << llvm::format("%g", keep.getValue());
      getOperation().emitError("slm-prune-tokens: keep must be in (0, 1] "
                               "(got ")
          << got << "), start and leading >= 0 (got "
          << start.getValue() << ", " << leading.getValue()
          << "), min-tokens >= 1 (got " << minTokens.getValue() << ")";
      return signalPassFailure();
    }
    TokenSchedule schedule;
    schedule.keepMillionths =
        std::max<int64_t>(1, static_cast<int64_t>(std::llround(keep * 1e6)));
    schedule.start = start;
    schedule.leading = leading;
    schedule.minTokens = minTokens;
    schedule.skip = skip;
    if (failed(packModule(getOperation(), schedule)))
      signalPassFailure();
  }
};

} // namespace
