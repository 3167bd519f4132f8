//===- RaiseAttention.cpp - Attention subgraphs to slm.attention ----------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Finds softmax(scale * Q K^T + mask) V wherever the exporter put the head
// split and merge: batch-first ([B, S, E] -> [B, H, S, D], HF style) or
// sequence-first with merged batch and heads ([S, B, E] -> [B*H, S, D],
// nn.MultiheadAttention), scale on Q, K or the scores (Mul or Div), and an
// additive mask, a Where/select mask, or none.
//
// The analysis labels every dimension with the "atoms" it is made of: the
// two outer dimensions of a projection output [O0, O1, H*D] and its heads H
// and head width D. Labels are pushed through transposes (permutations) and
// reshapes (regrouping atoms by extent, where dynamic extents are compared
// as products of tensor dimensions). A match needs Q and K to meet as
// [batch.., Sq, D] x [batch.., D, Skv] with batch = {B, H}, and the
// context to reach a value laid out as {B, Sq} x [H, Dv].
//
//===----------------------------------------------------------------------===//

#include "slm/Analysis/SymbolicExtent.h"
#include "slm/IR/SLMOps.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Passes.h"
#include "slm/Transforms/Raise.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMRAISEATTENTION
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

//===----------------------------------------------------------------------===//
// Extents: constant * product of (resolved) tensor dimensions
//===----------------------------------------------------------------------===//

using Extent = SymbolicExtent;
using DimRef = SymbolicExtent::DimRef;

/// A dimension of a function argument that carries ONNX dimension names
/// (`slm.dim_names`): the first argument dimension with the same name, so
/// that inputs sharing "batch" share one extent.
DimRef canonicalArgumentDim(BlockArgument arg, int64_t index) {
  auto func = dyn_cast<FunctionOpInterface>(arg.getOwner()->getParentOp());
  if (!func)
    return {arg, index};
  auto namesOf = [&](unsigned i) {
    return func.getArgAttrOfType<ArrayAttr>(i, "slm.dim_names");
  };
  ArrayAttr names = namesOf(arg.getArgNumber());
  if (!names || index >= static_cast<int64_t>(names.size()))
    return {arg, index};
  auto name = dyn_cast<StringAttr>(names[index]);
  if (!name || name.getValue().empty())
    return {arg, index};
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    if (ArrayAttr other = namesOf(i))
      for (auto [j, n] : llvm::enumerate(other))
        if (n == name)
          return {func.getArgument(i), static_cast<int64_t>(j)};
  return {arg, index};
}

/// Follows dimension `index` of `value` up through ops that keep it (linear
/// layers, elementwise ops, full slices, transposes, normalizations), so
/// that the same extent gets the same name wherever it is read.
DimRef resolveDim(Value value, int64_t index) {
  // One producer per step, so a chain is walked once; the bound only stops
  // a pathological graph. (It was 64, which a 30-layer decoder's residual
  // stream outgrows: its last layers' attention was not raised.)
  for (int steps = 0; steps < (1 << 16); ++steps) {
    Operation *op = value.getDefiningOp();
    if (!op) {
      if (auto arg = dyn_cast<BlockArgument>(value))
        return canonicalArgumentDim(arg, index);
      break;
    }
    auto type = cast<RankedTensorType>(value.getType());
    Value next;
    int64_t nextIndex = index;
    if (auto linear = dyn_cast<LinearOp>(op)) {
      if (index < type.getRank() - 1)
        next = linear.getInput();
    } else if (auto transpose = dyn_cast<TransposeOp>(op)) {
      next = transpose.getInput();
      nextIndex = transpose.getPermutation()[index];
    } else if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
      OpFoldResult size = slice.getMixedSizes()[index];
      auto dim = dyn_cast_if_present<Value>(size)
                     ? cast<Value>(size).getDefiningOp<tensor::DimOp>()
                     : tensor::DimOp();
      std::optional<int64_t> dimIndex =
          dim ? dim.getConstantIndex() : std::nullopt;
      if (dim && dim.getSource() == slice.getSource() && dimIndex == index &&
          slice.getSourceType().getRank() == type.getRank())
        next = slice.getSource();
    } else if (auto gather = dyn_cast<GatherOp>(op)) {
      int64_t axis = gather.getAxis();
      int64_t indexRank =
          cast<RankedTensorType>(gather.getIndices().getType()).getRank();
      if (index >= axis && index < axis + indexRank) {
        next = gather.getIndices();
        nextIndex = index - axis;
      } else {
        next = gather.getData();
        nextIndex = index < axis ? index : index - indexRank + 1;
      }
    } else if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
      if (index < embedding.getIds().getType().getRank())
        next = embedding.getIds();
    } else if (auto matmul = dyn_cast<MatMulOp>(op)) {
      // Batch dimensions and rows from the lhs (when it has them), columns
      // from the rhs.
      int64_t rank = type.getRank();
      auto lhsType = matmul.getLhs().getType();
      if (index == rank - 1) {
        next = matmul.getRhs();
        nextIndex = matmul.getRhs().getType().getRank() - 1;
      } else if (lhsType.getRank() == rank && lhsType.isDynamicDim(index)) {
        next = matmul.getLhs();
      }
    } else if (auto reshape = dyn_cast<ReshapeOp>(op)) {
      // An extent the shape operand reads off another tensor.
      if (auto elements =
              reshape.getShape()
                  ? reshape.getShape().getDefiningOp<tensor::FromElementsOp>()
                  : tensor::FromElementsOp())
        if (auto dim =
                elements.getElements()[index].getDefiningOp<tensor::DimOp>())
          if (std::optional<int64_t> i = dim.getConstantIndex()) {
            next = dim.getSource();
            nextIndex = *i;
          }
    } else if (isa<LayerNormOp, RMSNormOp, GeluOp, SoftmaxOp>(op) ||
               (op->getNumOperands() == 1 && op->getNumResults() == 1 &&
                op->getOperand(0).getType() == value.getType())) {
      next = op->getOperand(0);
    } else if (isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, PowOp, SelectOp>(
                   op)) {
      // Prefer an operand of the result's own type (not a broadcast mask).
      for (Value operand : op->getOperands())
        if (operand.getType() == value.getType()) {
          next = operand;
          break;
        }
      if (!next)
        for (Value operand : op->getOperands())
          if (auto t = dyn_cast<RankedTensorType>(operand.getType());
              t && t.getRank() == type.getRank() && t.isDynamicDim(index)) {
            next = operand;
            break;
          }
    }
    if (!next)
      break;
    value = next;
    index = nextIndex;
  }
  return {value, index};
}

std::optional<Extent> extentOfIndex(Value value);
std::optional<SmallVector<Extent>> reshapeExtents(ReshapeOp reshape);

/// The extent of dimension `index` of `value`: a constant, or a product of
/// resolved dimensions (a reshape's shape operand may multiply several).
Extent extentOfDim(Value value, int64_t index) {
  auto type = cast<RankedTensorType>(value.getType());
  if (!type.isDynamicDim(index))
    return Extent{type.getDimSize(index), {}};
  DimRef root = resolveDim(value, index);
  if (auto reshape = root.first.getDefiningOp<ReshapeOp>()) {
    auto elements =
        reshape.getShape()
            ? reshape.getShape().getDefiningOp<tensor::FromElementsOp>()
            : tensor::FromElementsOp();
    if (elements) {
      if (std::optional<Extent> e =
              extentOfIndex(elements.getElements()[root.second]))
        return *e;
    } else if (std::optional<SmallVector<Extent>> all =
                   reshapeExtents(reshape)) {
      // The single dynamic extent slm.reshape infers.
      return (*all)[root.second];
    }
  }
  return Extent{1, {root}};
}

/// True for a shape query: a tensor.dim, or a reshape or transpose whose
/// results only shape queries read (canonicalization leaves such a reshape
/// when it folds reshape(reshape(x)) into one).
bool isShapeQuery(Operation *op, int depth = 0) {
  if (isa<tensor::DimOp>(op))
    return true;
  if (depth > 4 || !isa<ReshapeOp, TransposeOp>(op))
    return false;
  return llvm::all_of(op->getUsers(), [&](Operation *user) {
    return isShapeQuery(user, depth + 1);
  });
}

/// An index value read as an extent: constants, tensor.dim, products.
std::optional<Extent> extentOfIndex(Value value) {
  APInt constant;
  if (matchPattern(value, m_ConstantInt(&constant)))
    return Extent{constant.getSExtValue(), {}};
  if (auto dim = value.getDefiningOp<tensor::DimOp>()) {
    if (std::optional<int64_t> i = dim.getConstantIndex())
      return extentOfDim(dim.getSource(), *i);
    return std::nullopt;
  }
  if (auto mul = value.getDefiningOp<arith::MulIOp>()) {
    auto a = extentOfIndex(mul.getLhs()), b = extentOfIndex(mul.getRhs());
    if (a && b)
      return *a * *b;
  }
  // max(e, 1): the importer's guard of an inferred extent's divisor (an
  // empty tensor has every extent it likes; a non-empty one has e >= 1).
  if (auto max = value.getDefiningOp<arith::MaxSIOp>()) {
    if (matchPattern(max.getRhs(), m_One()))
      return extentOfIndex(max.getLhs());
  }
  // An inferred (-1) reshape extent: the element count divided by the other
  // extents, when the division is exact symbolically.
  if (auto div = value.getDefiningOp<arith::DivUIOp>()) {
    auto a = extentOfIndex(div.getLhs()), b = extentOfIndex(div.getRhs());
    if (a && b)
      return a->dividedBy(*b);
  }
  return std::nullopt;
}

/// `extent` as an index value: its factor times tensor.dim of each of its
/// dimensions (values defined before the attention's operands are).
Value materializeExtent(OpBuilder &b, Location loc, const Extent &extent) {
  Value result = arith::ConstantIndexOp::create(b, loc, extent.factor);
  for (const auto &[tensor, index] : extent.dims)
    result = b.createOrFold<arith::MulIOp>(
        loc, result, b.createOrFold<tensor::DimOp>(loc, tensor, index));
  return result;
}

//===----------------------------------------------------------------------===//
// Layouts: each dimension is a list of atoms, major to minor
//===----------------------------------------------------------------------===//

/// The atoms of one projection output [O0, O1, H*D].
enum class Atom { Outer0, Outer1, Heads, HeadDim };
using Layout = SmallVector<SmallVector<Atom, 2>>;

/// Extents of the atoms of one side.
struct AtomSizes {
  Extent outer0, outer1;
  int64_t heads = 0, headDim = 0;
  Extent of(Atom a) const {
    switch (a) {
    case Atom::Outer0:
      return outer0;
    case Atom::Outer1:
      return outer1;
    case Atom::Heads:
      return Extent{heads, {}};
    case Atom::HeadDim:
      return Extent{headDim, {}};
    }
    return {};
  }
};

/// The extents of the result dimensions of a reshape.
std::optional<SmallVector<Extent>> reshapeExtents(ReshapeOp reshape) {
  RankedTensorType type = reshape.getType();
  SmallVector<Extent> extents(type.getRank());
  auto elements =
      reshape.getShape()
          ? reshape.getShape().getDefiningOp<tensor::FromElementsOp>()
          : tensor::FromElementsOp();
  int unknown = -1;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (!type.isDynamicDim(i)) {
      extents[i] = Extent{type.getDimSize(i), {}};
      continue;
    }
    std::optional<Extent> e =
        elements ? extentOfIndex(elements.getElements()[i]) : std::nullopt;
    if (e) {
      extents[i] = *e;
    } else {
      if (unknown >= 0)
        return std::nullopt;
      unknown = static_cast<int>(i);
    }
  }
  if (unknown >= 0) {
    // The one inferred extent: input elements / the other extents.
    Extent total;
    for (int64_t i = 0; i < reshape.getInput().getType().getRank(); ++i)
      total = total * extentOfDim(reshape.getInput(), i);
    Extent others;
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (i != unknown)
        others = others * extents[i];
    std::optional<Extent> rest = total.dividedBy(others);
    if (!rest)
      return std::nullopt;
    extents[unknown] = *rest;
  }
  return extents;
}

/// Pushes `layout` through a transpose or reshape; std::nullopt when the
/// reshape does not regroup whole atoms.
std::optional<Layout> propagate(Operation *op, const Layout &layout,
                                const AtomSizes &sizes) {
  if (auto transpose = dyn_cast<TransposeOp>(op)) {
    Layout out;
    for (int64_t p : transpose.getPermutation())
      out.push_back(layout[p]);
    return out;
  }
  auto reshape = dyn_cast<ReshapeOp>(op);
  if (!reshape)
    return layout; // scaling ops keep the layout
  std::optional<SmallVector<Extent>> extents = reshapeExtents(reshape);
  if (!extents)
    return std::nullopt;
  SmallVector<Atom> atoms;
  for (const auto &dim : layout)
    atoms.append(dim.begin(), dim.end());
  Layout out;
  size_t next = 0;
  for (const Extent &target : *extents) {
    SmallVector<Atom, 2> group;
    Extent acc;
    while (!(acc == target)) {
      if (next >= atoms.size())
        return std::nullopt;
      acc = acc * sizes.of(atoms[next]);
      group.push_back(atoms[next++]);
    }
    out.push_back(group);
  }
  if (next != atoms.size())
    return std::nullopt;
  return out;
}

/// One of Q, K, V traced back to its projection output.
struct Side {
  Value source; // [O0, O1, H*D]; null until materialized when `anchor` is set
  AtomSizes sizes;
  Layout layout; // at the use
  double scale = 1.0;
  /// A value computed on the split heads (rotary embedding, repeated
  /// key/value heads) that the attention takes as it is: one atom per
  /// dimension, reshaped to [O0, O1, H*D] by materializeSource.
  Value anchor;
  Layout anchorLayout;
};

/// The operand through which `op`'s result keeps its dimension labelling:
/// an operand of the result's type of an elementwise op (rotary embedding:
/// q * cos + rotate_half(q) * sin), the source of a slice along the last
/// axis only, or the first operand of a concatenation along the last axis
/// (partial rotary: concat(rotated, passed-through)). Null when none.
Value labelPreservingOperand(Operation *op) {
  if (!op || op->getNumResults() != 1)
    return Value();
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!type || type.getRank() < 2)
    return Value();
  int64_t last = type.getRank() - 1;
  auto sameButLast = [&](Value v) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    return t && t.getRank() == type.getRank() &&
           t.getShape().drop_back() == type.getShape().drop_back() &&
           !t.isDynamicDim(last);
  };
  if (isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp>(op) ||
      (op->getNumOperands() == 1 &&
       op->getDialect() != op->getContext()->getLoadedDialect("slm") &&
       op->getOperand(0).getType() == type)) {
    for (Value operand : op->getOperands())
      if (operand.getType() == type)
        return operand;
    return Value();
  }
  if (isa<LayerNormOp, RMSNormOp, GeluOp>(op))
    return op->getOperand(0).getType() == type ? op->getOperand(0) : Value();
  if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
    if (static_cast<int64_t>(concat.getDim()) == last &&
        sameButLast(concat.getInputs().front()))
      return concat.getInputs().front();
    return Value();
  }
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
    if (slice.getSourceType().getRank() != type.getRank() ||
        !slice.hasUnitStride() || !sameButLast(slice.getSource()))
      return Value();
    for (int64_t i = 0; i < last; ++i)
      if (!isConstantIntValue(slice.getMixedOffsets()[i], 0))
        return Value();
    return slice.getSource();
  }
  return Value();
}

/// True when `layout` has one atom per dimension, each atom once, the head
/// width last: a value materializeSource can reshape to [O0, O1, H*D].
bool isAnchorLayout(const Layout &layout) {
  if (layout.size() != 4 || layout.back() != SmallVector<Atom, 2>{Atom::HeadDim})
    return false;
  SmallVector<Atom> atoms;
  for (const auto &dim : layout) {
    if (dim.size() != 1)
      return false;
    atoms.push_back(dim.front());
  }
  llvm::sort(atoms);
  return atoms == SmallVector<Atom>{Atom::Outer0, Atom::Outer1, Atom::Heads,
                                    Atom::HeadDim};
}

/// Walks back from `use` through transposes, reshapes and (when
/// `allowScale`) multiplications by constants to a rank-3 value whose last
/// dimension is heads * `headDim`, then labels the layout at `use`.
FailureOr<Side> traceSide(Value use, int64_t headDim, bool allowScale,
                          std::string &why, int depth = 0) {
  SmallVector<Operation *> chain;
  Side side;
  Value v = use;
  while (Operation *op = v.getDefiningOp()) {
    if (isa<TransposeOp, ReshapeOp>(op)) {
      chain.push_back(op);
      v = op->getOperand(0);
      continue;
    }
    if (allowScale && isa<MulOp, DivOp>(op)) {
      Value lhs = op->getOperand(0), rhs = op->getOperand(1);
      std::optional<double> c = getSplatConstant(rhs);
      Value data = lhs;
      if (!c && isa<MulOp>(op)) {
        c = getSplatConstant(lhs);
        data = rhs;
      }
      if (c && data.getType() == op->getResult(0).getType()) {
        side.scale *= isa<DivOp>(op) ? 1.0 / *c : *c;
        chain.push_back(op);
        v = data;
        continue;
      }
    }
    break;
  }
  auto type = cast<RankedTensorType>(v.getType());
  Layout layout;
  if (type.getRank() == 3 && !type.isDynamicDim(2) && headDim > 0 &&
      type.getDimSize(2) % headDim == 0) {
    side.source = v;
    side.sizes = {extentOfDim(v, 0), extentOfDim(v, 1),
                  type.getDimSize(2) / headDim, headDim};
    layout = {{Atom::Outer0}, {Atom::Outer1}, {Atom::Heads, Atom::HeadDim}};
  } else {
    // A value computed on the split heads: its dimensions are labelled like
    // the operand it is computed from, and the attention takes it as it is.
    Value from = labelPreservingOperand(v.getDefiningOp());
    auto fromType = from ? cast<RankedTensorType>(from.getType())
                         : RankedTensorType();
    std::string inner;
    FailureOr<Side> base = failure();
    if (from && depth < 16 && !fromType.isDynamicDim(fromType.getRank() - 1))
      base = traceSide(from, fromType.getShape().back(), false, inner,
                       depth + 1);
    if (failed(base) || type.isDynamicDim(type.getRank() - 1) ||
        type.getShape().back() != headDim || !isAnchorLayout(base->layout)) {
      why = from && failed(base) ? inner
                                 : "a projection is not [*, *, heads * head_dim]";
      return failure();
    }
    side.sizes = base->sizes;
    side.sizes.headDim = headDim;
    side.anchor = v;
    side.anchorLayout = base->layout;
    layout = base->layout;
  }
  for (Operation *op : llvm::reverse(chain)) {
    std::optional<Layout> next = propagate(op, layout, side.sizes);
    if (!next) {
      why = "a reshape does not split or merge whole heads";
      return failure();
    }
    layout = *next;
  }
  side.layout = layout;
  return side;
}

/// Roles an atom plays: batch, heads, sequence, head width.
enum class Role { Batch, Heads, Seq, Width };

/// The role of an atom of a side whose sequence atom is `seq`.
Role roleOf(Atom a, Atom seq) {
  if (a == Atom::Heads)
    return Role::Heads;
  if (a == Atom::HeadDim)
    return Role::Width;
  return a == seq ? Role::Seq : Role::Batch;
}

using RoleLayout = SmallVector<SmallVector<Role, 2>>;

RoleLayout roles(const Layout &layout, Atom seq) {
  RoleLayout out;
  for (const auto &dim : layout) {
    SmallVector<Role, 2> r;
    for (Atom a : dim)
      r.push_back(roleOf(a, seq));
    out.push_back(r);
  }
  return out;
}

/// The single atom of a one-atom dimension.
std::optional<Atom> single(const SmallVector<Atom, 2> &dim) {
  if (dim.size() != 1)
    return std::nullopt;
  return dim.front();
}

/// Labels K or V at its use from Q's batch layout, positionally: the
/// matmuls pair Q's batch dimensions with theirs one to one, so the value at
/// the use, transposed and reshaped to [B, S, H*D], is what the attention
/// takes (repeated key/value heads of grouped-query attention, keys
/// processed after the head split). `isKey`: [b0, b1, D, Skv], else
/// [b0, b1, Skv, Dv]. Needs rank-4 scores with single-atom batch dims whose
/// extents the value shares (no broadcasting).
FailureOr<Side> partnerSide(Value use, const Layout &qLayout,
                            const AtomSizes &qSizes,
                            RankedTensorType scoresType, bool isKey,
                            std::string &why) {
  auto type = cast<RankedTensorType>(use.getType());
  auto qBatchOk = qLayout.size() == 4 && qLayout[0].size() == 1 &&
                  qLayout[1].size() == 1 &&
                  (qLayout[0].front() == Atom::Heads) !=
                      (qLayout[1].front() == Atom::Heads) &&
                  qLayout[0].front() != Atom::HeadDim &&
                  qLayout[1].front() != Atom::HeadDim;
  if (!qBatchOk || type.getRank() != 4) {
    why = "K or V is not a projection, and Q's batch layout cannot label it";
    return failure();
  }
  Side side;
  side.sizes = qSizes;
  int64_t width = type.getDimSize(isKey ? 2 : 3);
  if (ShapedType::isDynamic(width)) {
    why = "dynamic head width";
    return failure();
  }
  side.sizes.headDim = width;
  Layout layout;
  for (int64_t i = 0; i < 2; ++i) {
    bool heads = qLayout[i].front() == Atom::Heads;
    int64_t extent = type.getDimSize(i);
    if (heads ? extent != qSizes.heads
              : extent == 1 && scoresType.getDimSize(i) != 1) {
      why = "K or V broadcasts against Q's batch dimensions";
      return failure();
    }
    layout.push_back({heads ? Atom::Heads : Atom::Outer0});
    if (!heads)
      side.sizes.outer0 = extentOfDim(use, i);
  }
  int64_t seqIndex = isKey ? 3 : 2;
  side.sizes.outer1 = extentOfDim(use, seqIndex);
  if (isKey)
    layout.append({{Atom::HeadDim}, {Atom::Outer1}});
  else
    layout.append({{Atom::Outer1}, {Atom::HeadDim}});
  side.layout = layout;
  side.anchor = use;
  side.anchorLayout = layout;
  return side;
}

/// Creates `side.source` [O0, O1, H*D] from its anchor: a transpose putting
/// the atoms in that order and a reshape merging heads and width.
void materializeSource(PatternRewriter &rewriter, Location loc, Side &side) {
  if (side.source)
    return;
  Value v = side.anchor;
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> perm;
  for (Atom a : {Atom::Outer0, Atom::Outer1, Atom::Heads, Atom::HeadDim})
    for (auto [i, dim] : llvm::enumerate(side.anchorLayout))
      if (dim.front() == a)
        perm.push_back(i);
  SmallVector<int64_t> permuted;
  for (int64_t p : perm)
    permuted.push_back(type.getDimSize(p));
  Value t = v;
  if (!llvm::equal(perm, llvm::seq<int64_t>(0, 4)))
    t = TransposeOp::create(
        rewriter, loc, RankedTensorType::get(permuted, type.getElementType()),
        v, perm);
  int64_t merged = side.sizes.heads * side.sizes.headDim;
  Value shape = tensor::FromElementsOp::create(
      rewriter, loc, RankedTensorType::get({3}, rewriter.getIndexType()),
      ValueRange{tensor::DimOp::create(rewriter, loc, t, 0),
                 tensor::DimOp::create(rewriter, loc, t, 1),
                 arith::ConstantIndexOp::create(rewriter, loc, merged)});
  side.source = ReshapeOp::create(
      rewriter, loc,
      RankedTensorType::get({permuted[0], permuted[1], merged},
                            type.getElementType()),
      t, shape);
}

/// Q, K or V as slm.attention wants it: [B, S, H*D].
Value batchFirst(PatternRewriter &rewriter, Location loc, Side &side,
                 Atom seq) {
  materializeSource(rewriter, loc, side);
  if (seq == Atom::Outer1)
    return side.source;
  auto type = cast<RankedTensorType>(side.source.getType());
  return TransposeOp::create(
      rewriter, loc,
      RankedTensorType::get(
          {type.getDimSize(1), type.getDimSize(0), type.getDimSize(2)},
          type.getElementType()),
      side.source, ArrayRef<int64_t>{1, 0, 2});
}

/// True when `keep` is a slice at offset 0 of a constant lower-triangular
/// boolean buffer: a causal mask.
bool isCausalMask(Value keep) {
  while (auto slice = keep.getDefiningOp<tensor::ExtractSliceOp>()) {
    if (!llvm::all_of(slice.getMixedOffsets(), [](OpFoldResult ofr) {
          return isConstantIntValue(ofr, 0);
        }))
      return false;
    keep = slice.getSource();
  }
  DenseIntElementsAttr attr;
  if (!matchPattern(keep, m_Constant(&attr)) ||
      !attr.getElementType().isInteger(1))
    return false;
  auto type = cast<RankedTensorType>(attr.getType());
  int64_t r = type.getRank();
  if (r < 2 || type.getDimSize(r - 1) != type.getDimSize(r - 2) ||
      type.getNumElements() != type.getDimSize(r - 1) * type.getDimSize(r - 2))
    return false;
  int64_t n = type.getDimSize(r - 1);
  auto values = attr.getValues<bool>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (values[i * n + j] != (j <= i))
        return false;
  return true;
}

/// True when `v` is a matmul, possibly behind constant scalings and a
/// select: the scores side of a mask addition.
bool leadsToMatMul(Value v) {
  for (int steps = 0; steps < 4; ++steps) {
    Operation *op = v.getDefiningOp();
    if (isa_and_present<MatMulOp>(op))
      return true;
    if (isa_and_present<MulOp, DivOp>(op))
      v = getSplatConstant(op->getOperand(1)) ? op->getOperand(0)
                                              : op->getOperand(1);
    else if (auto select = dyn_cast_if_present<SelectOp>(op))
      v = getSplatConstant(select.getFalseValue()) ? select.getTrueValue()
                                                   : select.getFalseValue();
    else if (isa_and_present<ReshapeOp>(op))
      v = op->getOperand(0);
    else
      return false;
  }
  return false;
}

/// The type two tensors broadcast to (numpy rules, static 1s only); none
/// when they do not.
std::optional<RankedTensorType> broadcastType(RankedTensorType a,
                                              RankedTensorType b) {
  int64_t rank = std::max(a.getRank(), b.getRank());
  SmallVector<int64_t> shape(rank);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t ia = i - (rank - a.getRank()), ib = i - (rank - b.getRank());
    int64_t da = ia >= 0 ? a.getDimSize(ia) : 1;
    int64_t db = ib >= 0 ? b.getDimSize(ib) : 1;
    if (da == 1)
      shape[i] = db;
    else if (db == 1 || da == db)
      shape[i] = da;
    else if (ShapedType::isDynamic(da) && ShapedType::isDynamic(db))
      return std::nullopt; // equal at run time is not known here
    else
      shape[i] = ShapedType::isDynamic(da) ? db : da;
  }
  return RankedTensorType::get(shape, b.getElementType());
}

/// Whether maskToBHSS can rewrite a mask of `type` for scores whose batch
/// dimensions play the roles `batch`.
LogicalResult checkMaskLayout(RankedTensorType type, const RoleLayout &batch,
                              std::string &why) {
  int64_t batchDims = batch.size();
  if (type.getRank() > batchDims + 2) {
    why = "the mask has a higher rank than the scores";
    return failure();
  }
  SmallVector<int64_t> shape(batchDims + 2 - type.getRank(), 1);
  shape.append(type.getShape().begin(), type.getShape().end());
  bool allOnes = llvm::all_of(ArrayRef<int64_t>(shape).take_front(batchDims),
                              [](int64_t d) { return d == 1; });
  if (allOnes ||
      (batchDims == 1 &&
       batch[0] == SmallVector<Role, 2>{Role::Batch, Role::Heads}) ||
      (batchDims == 2 && batch[0] == SmallVector<Role, 2>{Role::Batch}))
    return success();
  why = "the mask's batch layout is not supported";
  return failure();
}

struct RaiseAttention : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SoftmaxOp softmax,
                                PatternRewriter &rewriter) const override {
    std::string why;
    if (failed(match(softmax, &rewriter, why)))
      return rewriter.notifyMatchFailure(softmax, why);
    return success();
  }

  /// Matches the attention block around `softmax`; with a rewriter, also
  /// replaces it (only once everything matched).
  static LogicalResult match(SoftmaxOp softmax, PatternRewriter *rewriterOrNull,
                             std::string &why) {
    RankedTensorType scoresType = softmax.getType();
    int64_t rank = scoresType.getRank();
    if (rank < 3 || static_cast<int64_t>(softmax.getAxis()) != rank - 1) {
      why = "softmax is not over the last axis of a batched score matrix";
      return failure();
    }
    // Scores: matmul(Q, K^T), then scalings and at most one mask.
    double scale = 1.0;
    bool scaledAfterwards = false; // a scaling seen between mask and softmax
    bool scaledBetween = false;    // a scaling seen between two masks
    Value additiveMask, keepMask;
    bool invertKeep = false;
    bool keepAfterAdd = false; // select(keep, s + A, F) rather than
                               // select(keep, s, F) + A
    double fill = 0.0;         // F: the score a keep mask puts in
    // OPT's form: merged [batch*heads, Sq, Skv] scores reshaped to a
    // [batch, heads, Sq, Skv] view for the mask (and a clamp), then back.
    // The masks found in that view are already [batch, heads, Sq, Skv].
    enum class View { Merged, Split, Left } view = View::Merged;
    int64_t splitHeads = 0; // the view's second extent
    Value s = softmax.getInput();
    MatMulOp scores;
    while (!scores) {
      Operation *op = s.getDefiningOp();
      if (auto mm = dyn_cast_if_present<MatMulOp>(op)) {
        if (view == View::Split) {
          why = "the scores' split-heads view is not reshaped back";
          return failure();
        }
        scores = mm;
        break;
      }
      if (auto reshape = dyn_cast_if_present<ReshapeOp>(op)) {
        auto from = reshape.getInput().getType();
        auto to = reshape.getResult().getType();
        // merged <- split: [B*H, Sq, Skv] from [B, H, Sq, Skv] (heads
        // static), and back at the matmul.
        bool splits = [&](RankedTensorType merged, RankedTensorType split) {
          return merged.getRank() == 3 && split.getRank() == 4 &&
                 !split.isDynamicDim(1) &&
                 merged.getShape().take_back(2) == split.getShape().take_back(2);
        }(view == View::Merged ? to : from, view == View::Merged ? from : to);
        if (splits && view != View::Left && rank == 3) {
          splitHeads = (view == View::Merged ? from : to).getDimSize(1);
          view = view == View::Merged ? View::Split : View::Left;
          s = reshape.getInput();
          continue;
        }
      }
      // max(s, c) with a very negative c (OPT clamps masked scores to the
      // lowest float): exp() of either side is 0 next to any real score.
      if (auto max = dyn_cast_if_present<MaxOp>(op)) {
        std::optional<double> c = getSplatConstant(max.getRhs());
        if (c && *c <= -1e4 && max.getLhs().getType() == max.getType()) {
          s = max.getLhs();
          continue;
        }
      }
      if (auto add = dyn_cast_if_present<AddOp>(op)) {
        if (additiveMask) {
          why = "more than one additive mask";
          return failure();
        }
        keepAfterAdd = static_cast<bool>(keepMask);
        if (scaledAfterwards) {
          why = "the scale applies to an additive mask";
          return failure();
        }
        bool lhsScores = leadsToMatMul(add.getLhs());
        s = lhsScores ? add.getLhs() : add.getRhs();
        additiveMask = lhsScores ? add.getRhs() : add.getLhs();
        if (s.getType() != add.getType()) {
          why = "the mask broadcasts the scores";
          return failure();
        }
        continue;
      }
      if (auto select = dyn_cast_if_present<SelectOp>(op)) {
        if (keepMask) {
          why = "more than one keep mask";
          return failure();
        }
        auto isMasked = [](Value v) {
          std::optional<double> c = getSplatConstant(v);
          return c && *c <= -1e4;
        };
        if (isMasked(select.getFalseValue())) {
          s = select.getTrueValue();
          fill = *getSplatConstant(select.getFalseValue());
        } else if (isMasked(select.getTrueValue())) {
          s = select.getFalseValue();
          fill = *getSplatConstant(select.getTrueValue());
          invertKeep = true;
        } else {
          why = "a select that is not a mask (no large negative fill)";
          return failure();
        }
        keepMask = select.getCondition();
        if (s.getType() != select.getType()) {
          why = "the mask broadcasts the scores";
          return failure();
        }
        continue;
      }
      if (isa_and_present<MulOp, DivOp>(op)) {
        std::optional<double> c = getSplatConstant(op->getOperand(1));
        Value data = op->getOperand(0);
        if (!c && isa<MulOp>(op)) {
          c = getSplatConstant(op->getOperand(0));
          data = op->getOperand(1);
        }
        if (!c || data.getType() != op->getResult(0).getType()) {
          why = "scores are scaled by a non-constant";
          return failure();
        }
        scaledAfterwards = !additiveMask && !keepMask;
        scaledBetween |= static_cast<bool>(additiveMask) != static_cast<bool>(keepMask);
        scale *= isa<DivOp>(op) ? 1.0 / *c : *c;
        s = data;
        continue;
      }
      why = isa_and_present<ReshapeOp>(op)
                ? "the scores are reshaped before the softmax, other than to "
                  "a [batch, heads, Sq, Skv] view and back"
                : "scores do not come from a matmul";
      return failure();
    }
    if (!scores.getType().hasRank() || scores.getType().getRank() != rank) {
      why = "scores and softmax ranks differ";
      return failure();
    }
    // Two masks become one additive mask (see combinedMask).
    RankedTensorType maskType;
    if (Value m = keepMask ? keepMask : additiveMask)
      maskType = cast<RankedTensorType>(m.getType());
    if (keepMask && additiveMask) {
      if (scaledBetween) {
        why = "the scores are scaled between two masks";
        return failure();
      }
      if (fill > -1e30) {
        why = "two masks, and the keep mask's fill is not large enough to "
              "absorb the scores";
        return failure();
      }
      auto addType = cast<RankedTensorType>(additiveMask.getType());
      std::optional<RankedTensorType> both =
          broadcastType(cast<RankedTensorType>(keepMask.getType()), addType);
      if (!isa<FloatType>(addType.getElementType()) || !both) {
        why = "two masks that do not broadcast together";
        return failure();
      }
      maskType = RankedTensorType::get(both->getShape(),
                                       addType.getElementType());
    }
    // Context: matmul(P, V) with P used once.
    if (!softmax->hasOneUse()) {
      why = "the probabilities have several uses";
      return failure();
    }
    auto context = dyn_cast<MatMulOp>(*softmax->getUsers().begin());
    if (!context || context.getLhs() != softmax.getResult()) {
      why = "the probabilities do not multiply V";
      return failure();
    }
    int64_t headDim = scores.getLhs().getType().getShape().back();
    int64_t valueDim = context.getRhs().getType().getShape().back();
    if (ShapedType::isDynamic(headDim) || ShapedType::isDynamic(valueDim)) {
      why = "dynamic head width";
      return failure();
    }
    FailureOr<Side> q = traceSide(scores.getLhs(), headDim, true, why);
    if (failed(q))
      return failure();
    FailureOr<Side> k = traceSide(scores.getRhs(), headDim, true, why);
    if (failed(k)) {
      k = partnerSide(scores.getRhs(), q->layout, q->sizes, scoresType,
                      true, why);
      if (failed(k))
        return failure();
    }
    FailureOr<Side> v = traceSide(context.getRhs(), valueDim, false, why);
    if (failed(v)) {
      v = partnerSide(context.getRhs(), q->layout, q->sizes, scoresType,
                      false, why);
      if (failed(v))
        return failure();
    }
    scale *= q->scale * k->scale;

    // Q: [batch.., Sq, D]; K: [batch.., D, Skv]; V: [batch.., Skv, Dv].
    auto tail = [](const Layout &l, int fromEnd) {
      return l[l.size() - fromEnd];
    };
    std::optional<Atom> qSeq = single(tail(q->layout, 2)),
                        kSeq = single(tail(k->layout, 1)),
                        vSeq = single(tail(v->layout, 2));
    if (single(tail(q->layout, 1)) != Atom::HeadDim ||
        single(tail(k->layout, 2)) != Atom::HeadDim ||
        single(tail(v->layout, 1)) != Atom::HeadDim || !qSeq || !kSeq ||
        !vSeq || *qSeq == Atom::Heads || *qSeq == Atom::HeadDim ||
        *kSeq == Atom::Heads || *kSeq == Atom::HeadDim ||
        *vSeq == Atom::Heads || *vSeq == Atom::HeadDim) {
      why = "Q, K and V are not laid out as [batch.., seq, head_dim]";
      return failure();
    }
    if (q->layout.size() != static_cast<size_t>(rank) ||
        k->layout.size() != static_cast<size_t>(rank) ||
        v->layout.size() != static_cast<size_t>(rank)) {
      why = "Q, K, V and the scores differ in rank";
      return failure();
    }
    RoleLayout qBatch = roles(q->layout, *qSeq),
               kBatch = roles(k->layout, *kSeq),
               vBatch = roles(v->layout, *vSeq);
    qBatch.resize(rank - 2);
    kBatch.resize(rank - 2);
    vBatch.resize(rank - 2);
    SmallVector<Role> flat;
    for (const auto &d : qBatch)
      flat.append(d.begin(), d.end());
    llvm::sort(flat);
    if (flat != SmallVector<Role>{Role::Batch, Role::Heads} ||
        qBatch != kBatch || qBatch != vBatch) {
      why =
          "the batch dimensions of Q, K and V are not the same {batch, heads}";
      return failure();
    }
    int64_t heads = q->sizes.heads;
    if (k->sizes.heads != heads || v->sizes.heads != heads) {
      why = "Q, K and V have different head counts";
      return failure();
    }

    // The output: follow the context through layout ops until it is
    // {batch, seq} x [heads, value_dim].
    Layout layout = q->layout;
    layout.back() = {Atom::HeadDim};
    AtomSizes outSizes = q->sizes;
    outSizes.headDim = valueDim;
    Value root = context.getResult();
    auto isMerged = [&](const Layout &l) {
      if (l.back() != SmallVector<Atom, 2>{Atom::Heads, Atom::HeadDim})
        return false;
      SmallVector<Atom> rest;
      for (size_t i = 0; i + 1 < l.size(); ++i)
        rest.append(l[i].begin(), l[i].end());
      llvm::sort(rest);
      return rest == SmallVector<Atom>{Atom::Outer0, Atom::Outer1};
    };
    // The values between the context and the root with their layouts, and
    // the reshapes only shape queries read: their shape queries are
    // rewritten from the atoms' extents once the attention is built, so that
    // nothing keeps the decomposed computation alive.
    SmallVector<std::pair<Value, Layout>> walked;
    while (!isMerged(layout)) {
      walked.push_back({root, layout});
      // Shape queries (tensor.dim) do not count as uses: they feed the
      // reshapes that disappear with the match.
      Operation *user = nullptr;
      for (Operation *u : root.getUsers()) {
        if (isShapeQuery(u)) {
          if (isa<TransposeOp, ReshapeOp>(u))
            if (std::optional<Layout> l = propagate(u, layout, outSizes))
              walked.push_back({u->getResult(0), *l});
          continue;
        }
        if (user) {
          why = "the context is used before its heads are merged";
          return failure();
        }
        user = u;
      }
      if (!user) {
        why = "the context is unused";
        return failure();
      }
      if (!isa<TransposeOp, ReshapeOp>(user)) {
        why = "the heads of the context are never merged";
        return failure();
      }
      std::optional<Layout> next = propagate(user, layout, outSizes);
      if (!next) {
        why = "a reshape of the context does not merge whole heads";
        return failure();
      }
      layout = *next;
      root = user->getResult(0);
    }

    const bool splitMask = view == View::Left;
    if (splitMask && maskType && maskType.getRank() > 4) {
      why = "the mask has a higher rank than the scores' split view";
      return failure();
    }
    // The view must split the merged batch*heads as [batch, heads].
    if (splitMask &&
        (qBatch.size() != 1 ||
         qBatch[0] != SmallVector<Role, 2>{Role::Batch, Role::Heads} ||
         splitHeads != heads)) {
      why = "the scores' split view is not [batch, heads, Sq, Skv]";
      return failure();
    }
    if (!splitMask && maskType &&
        failed(checkMaskLayout(maskType, qBatch, why)))
      return failure();

    // Build the attention op: nothing below fails.
    if (!rewriterOrNull)
      return success();
    PatternRewriter &rewriter = *rewriterOrNull;
    Location loc = softmax.getLoc();
    rewriter.setInsertionPointAfterValue(root);
    Value query = batchFirst(rewriter, loc, *q, *qSeq);
    Value key = batchFirst(rewriter, loc, *k, *kSeq);
    Value value = batchFirst(rewriter, loc, *v, *vSeq);
    Value mask;
    bool causal = false;
    auto toBHSS = [&](Value m) {
      return splitMask ? m : maskToBHSS(rewriter, loc, m, qBatch, heads);
    };
    if (keepMask && additiveMask) {
      mask = toBHSS(combinedMask(rewriter, loc, keepMask, invertKeep,
                                 additiveMask, fill, keepAfterAdd, maskType));
    } else if (keepMask && !invertKeep && !splitMask &&
               isCausalMask(keepMask) &&
        scoresType.getShape().take_back(2) ==
            ArrayRef<int64_t>{ShapedType::kDynamic, ShapedType::kDynamic}) {
      causal = true;
    } else if (keepMask || additiveMask) {
      Value m = keepMask ? keepMask : additiveMask;
      if (invertKeep)
        m = CompareOp::create(
            rewriter, loc, cast<RankedTensorType>(m.getType()),
            ComparePredicate::eq, m,
            arith::ConstantOp::create(
                rewriter, loc,
                DenseElementsAttr::get(
                    RankedTensorType::get({}, rewriter.getI1Type()), false)));
      mask = toBHSS(m);
    }
    auto qType = cast<RankedTensorType>(query.getType());
    auto vType = cast<RankedTensorType>(value.getType());
    auto outType = RankedTensorType::get(
        {qType.getDimSize(0), qType.getDimSize(1), vType.getDimSize(2)},
        qType.getElementType());
    double defaultScale = 1.0 / std::sqrt(static_cast<double>(headDim));
    FloatAttr scaleAttr;
    if (std::fabs(scale - defaultScale) > 1e-6 * defaultScale)
      scaleAttr = rewriter.getF64FloatAttr(scale);
    Value attention =
        AttentionOp::create(rewriter, loc, outType, query, key, value, mask,
                            rewriter.getI64IntegerAttr(heads), scaleAttr,
                            causal ? rewriter.getUnitAttr() : UnitAttr());

    // Back to the layout of the root.
    bool seqFirst = false;
    SmallVector<Atom> order;
    for (size_t i = 0; i + 1 < layout.size(); ++i)
      order.append(layout[i].begin(), layout[i].end());
    seqFirst = order.front() == *qSeq;
    Value result = attention;
    if (seqFirst)
      result = TransposeOp::create(
          rewriter, loc,
          RankedTensorType::get({outType.getDimSize(1), outType.getDimSize(0),
                                 outType.getDimSize(2)},
                                outType.getElementType()),
          result, ArrayRef<int64_t>{1, 0, 2});
    auto rootType = cast<RankedTensorType>(root.getType());
    if (rootType.getRank() == 2) {
      result = ReshapeOp::create(
          rewriter, loc,
          RankedTensorType::get({ShapedType::kDynamic, outType.getDimSize(2)},
                                outType.getElementType()),
          result, Value());
    }
    if (result.getType() != rootType)
      result = tensor::CastOp::create(rewriter, loc, rootType, result);
    rewriter.replaceAllUsesWith(root, result);
    for (auto &[value, valueLayout] : walked) {
      auto type = cast<RankedTensorType>(value.getType());
      for (Operation *user : llvm::make_early_inc_range(value.getUsers())) {
        auto dim = dyn_cast<tensor::DimOp>(user);
        std::optional<int64_t> i = dim ? dim.getConstantIndex() : std::nullopt;
        if (!i || *i < 0 || *i >= type.getRank() || !type.isDynamicDim(*i))
          continue;
        Extent extent;
        for (Atom atom : valueLayout[*i])
          extent = extent * outSizes.of(atom);
        rewriter.setInsertionPoint(dim);
        rewriter.replaceOp(dim, materializeExtent(rewriter, dim.getLoc(),
                                                  extent));
      }
    }
    return success();
  }

  /// One additive mask equal to a keep mask (fill F) and an additive mask A:
  /// `select(keep, s, F) + A` is `s + select(keep, A, F + A)` and
  /// `select(keep, s + A, F)` is `s + select(keep, A, F)`, exactly, because
  /// s + F rounds to F for |F| >= 1e30 (checked by the match).
  static Value combinedMask(PatternRewriter &rewriter, Location loc,
                            Value keep, bool invert, Value additive,
                            double fill, bool keepAfterAdd,
                            RankedTensorType type) {
    auto addType = cast<RankedTensorType>(additive.getType());
    Value fillValue = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(
            RankedTensorType::get({}, addType.getElementType()),
            rewriter.getFloatAttr(addType.getElementType(), fill)));
    Value masked = keepAfterAdd ? fillValue
                                : AddOp::create(rewriter, loc, addType,
                                                additive, fillValue)
                                      .getResult();
    Value kept = additive;
    if (invert)
      std::swap(kept, masked);
    return SelectOp::create(rewriter, loc, type, keep, kept, masked);
  }

  /// Reshapes a mask that broadcasts against the scores [batch.., Sq, Skv]
  /// into one that broadcasts against [B, H, Sq, Skv].
  /// The layout must have passed checkMaskLayout.
  static Value maskToBHSS(PatternRewriter &rewriter, Location loc, Value mask,
                          const RoleLayout &batch, int64_t heads) {
    auto type = cast<RankedTensorType>(mask.getType());
    int64_t batchDims = batch.size();
    int64_t rank = type.getRank();
    // Pad the mask to the scores' rank with leading 1s.
    SmallVector<int64_t> shape(batchDims + 2 - rank, 1);
    shape.append(type.getShape().begin(), type.getShape().end());
    ArrayRef<int64_t> maskBatch =
        ArrayRef<int64_t>(shape).take_front(batchDims);
    SmallVector<int64_t> target;
    SmallVector<Value> targetValues; // only when several extents are dynamic
    bool allOnes = llvm::all_of(maskBatch, [](int64_t d) { return d == 1; });
    if (allOnes) {
      target = {1, 1};
    } else if (batchDims == 1 &&
               batch[0] == SmallVector<Role, 2>{Role::Batch, Role::Heads}) {
      target = {ShapedType::kDynamic, heads};
    } else {
      target = {maskBatch[0], maskBatch[1]};
    }
    target.push_back(shape[batchDims]);
    target.push_back(shape[batchDims + 1]);
    auto targetType = RankedTensorType::get(target, type.getElementType());
    if (targetType == type)
      return mask;
    Value shapeOperand;
    if (targetType.getNumDynamicDims() > 1) {
      // Extents from the mask itself: the merged batch dimension divided by
      // the heads, the others as they are.
      SmallVector<Value> extents;
      int64_t offset = rank - (batchDims + 2);
      auto dimOf = [&](int64_t paddedIndex) -> Value {
        int64_t i = paddedIndex + offset;
        if (i < 0)
          return arith::ConstantIndexOp::create(rewriter, loc, 1);
        return tensor::DimOp::create(rewriter, loc, mask, i);
      };
      if (allOnes) {
        extents.push_back(arith::ConstantIndexOp::create(rewriter, loc, 1));
        extents.push_back(arith::ConstantIndexOp::create(rewriter, loc, 1));
      } else if (batchDims == 1) {
        extents.push_back(arith::DivUIOp::create(
            rewriter, loc, dimOf(0),
            arith::ConstantIndexOp::create(rewriter, loc, heads)));
        extents.push_back(arith::ConstantIndexOp::create(rewriter, loc, heads));
      } else {
        extents.push_back(dimOf(0));
        extents.push_back(dimOf(1));
      }
      extents.push_back(dimOf(batchDims));
      extents.push_back(dimOf(batchDims + 1));
      shapeOperand = tensor::FromElementsOp::create(
          rewriter, loc, RankedTensorType::get({4}, rewriter.getIndexType()),
          extents);
    }
    return ReshapeOp::create(rewriter, loc, targetType, mask, shapeOperand);
  }
};

} // namespace

std::string mlir::slm::explainAttentionMismatch(Operation *op) {
  auto softmax = dyn_cast<SoftmaxOp>(op);
  if (!softmax)
    return "not a softmax";
  std::string why;
  return succeeded(RaiseAttention::match(softmax, nullptr, why)) ? std::string()
                                                                 : why;
}

namespace {
struct SLMRaiseAttentionPass
    : mlir::slm::impl::SLMRaiseAttentionBase<SLMRaiseAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRaiseAttentionPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::slm::populateRaiseAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<RaiseAttention>(patterns.getContext());
}
