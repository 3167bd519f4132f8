//===- LoweringUtils.cpp - Helpers of --convert-slm-to-linalg ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "slm/Codegen/Contraction.h"
#include "slm/IR/SLMConstants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::slm;

namespace mlir::slm::linalg_lowering {

/// An empty tensor of `type`; each dynamic extent `d` comes from `extent(d)`.
Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type,
                  function_ref<Value(int64_t)> extent) {
  SmallVector<Value> dynamic;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynamic.push_back(extent(d));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynamic);
}

/// Result extent `d` of a broadcasting op over the leading `resultRank`
/// dimensions of `operands`, whose last `trailing` dimensions are not
/// broadcast (2 for matmul operands, else 0): a static extent other than 1
/// if an operand has one there, else the extent of an operand that is
/// dynamic there, else 1.
Value broadcastExtent(OpBuilder &b, Location loc, ValueRange operands,
                      int64_t resultRank, int64_t d, int64_t trailing) {
  Value dynamic;
  for (Value operand : operands) {
    auto type = cast<RankedTensorType>(operand.getType());
    int64_t j = d - (resultRank - (type.getRank() - trailing));
    if (j < 0 || j >= type.getRank() - trailing)
      continue;
    if (!type.isDynamicDim(j) && type.getDimSize(j) != 1)
      return arith::ConstantIndexOp::create(b, loc, type.getDimSize(j));
    if (type.isDynamicDim(j) && !dynamic)
      dynamic = tensor::DimOp::create(b, loc, operand, j);
  }
  return dynamic ? dynamic : arith::ConstantIndexOp::create(b, loc, 1);
}

/// The map reading `operand` inside a loop nest over `resultShape`: aligned
/// from the right, a static 1 against a larger extent reads index 0.
AffineMap broadcastMap(MLIRContext *ctx, RankedTensorType operand,
                       ArrayRef<int64_t> resultShape) {
  int64_t rank = resultShape.size();
  SmallVector<AffineExpr> exprs;
  for (int64_t j = 0; j < operand.getRank(); ++j) {
    int64_t d = j + rank - operand.getRank();
    bool stretched = operand.getDimSize(j) == 1 && resultShape[d] != 1;
    exprs.push_back(stretched ? getAffineConstantExpr(0, ctx)
                              : getAffineDimExpr(d, ctx));
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

//===----------------------------------------------------------------------===//
// Numpy broadcasting at run time
//===----------------------------------------------------------------------===//

/// Entry arguments whose dimensions share a symbolic name (`slm.dim_names`:
/// "batch", "seq") share the extent: the runtime checks that before a run.
/// The root of such a dimension is the first argument dimension of that name.
static std::optional<ExtentRoot> namedArgumentRoot(Value value, int64_t d) {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg || !arg.getOwner()->isEntryBlock())
    return std::nullopt;
  auto func = dyn_cast<FunctionOpInterface>(arg.getOwner()->getParentOp());
  if (!func)
    return std::nullopt;
  auto nameOf = [&](unsigned argument, int64_t dim) -> StringAttr {
    auto names = func.getArgAttrOfType<ArrayAttr>(argument, "slm.dim_names");
    if (!names || dim < 0 || dim >= static_cast<int64_t>(names.size()))
      return {};
    auto name = dyn_cast<StringAttr>(names[dim]);
    return name && !name.getValue().empty() ? name : StringAttr();
  };
  StringAttr name = nameOf(arg.getArgNumber(), d);
  if (!name)
    return std::nullopt;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    auto type = dyn_cast<RankedTensorType>(func.getArgument(i).getType());
    if (!type)
      continue;
    for (int64_t j = 0; j < type.getRank(); ++j)
      if (type.isDynamicDim(j) && nameOf(i, j) == name)
        return ExtentRoot{func.getArgument(i), j};
  }
  return std::nullopt;
}

/// How deep extentRoot follows producers.
static constexpr int kMaxExtentDepth = 32;

namespace {
/// Roots found during one query, by value, dimension and depth (a root
/// found deeper may be cut off by the depth limit, so depth is part of
/// the key): a residual stream reaches the same producers along
/// exponentially many paths.
struct ExtentMemo {
  llvm::DenseMap<std::tuple<void *, int64_t, int>, ExtentRoot> roots;
};
} // namespace

static std::optional<ExtentRoot> indexRootImpl(Value index, int depth,
                                               ExtentMemo &memo);
static ExtentRoot extentRootUncached(Value value, int64_t d, int depth,
                                     ExtentMemo &memo);

static ExtentRoot extentRootImpl(Value value, int64_t d, int depth,
                                 ExtentMemo &memo) {
  if (depth > kMaxExtentDepth)
    return ExtentRoot{value, d};
  auto key = std::make_tuple(value.getAsOpaquePointer(), d, depth);
  auto it = memo.roots.find(key);
  if (it != memo.roots.end())
    return it->second;
  ExtentRoot root = extentRootUncached(value, d, depth, memo);
  memo.roots[key] = root;
  return root;
}

ExtentRoot extentRoot(Value value, int64_t d, int depth) {
  ExtentMemo memo;
  return extentRootImpl(value, d, depth, memo);
}

static ExtentRoot extentRootUncached(Value value, int64_t d, int depth,
                                     ExtentMemo &memo) {
  ExtentRoot self{value, d};
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || d < 0 || d >= type.getRank())
    return self;
  Operation *def = value.getDefiningOp();
  if (!def)
    return namedArgumentRoot(value, d).value_or(self);
  auto result = cast<OpResult>(value);
  // Destination-style ops (linalg): the extent of the tied init.
  if (auto dps = dyn_cast<DestinationStyleOpInterface>(def))
    if (result.getResultNumber() < dps.getNumDpsInits())
      return extentRootImpl(
          dps.getDpsInitOperand(result.getResultNumber())->get(), d, depth + 1,
          memo);
  // Ops that take their dynamic extents as operands.
  std::optional<ValueRange> dynamicSizes;
  if (auto empty = dyn_cast<tensor::EmptyOp>(def))
    dynamicSizes = empty.getDynamicSizes();
  else if (auto generate = dyn_cast<tensor::GenerateOp>(def))
    dynamicSizes = generate.getDynamicExtents();
  else if (auto splat = dyn_cast<tensor::SplatOp>(def))
    dynamicSizes = splat.getDynamicSizes();
  if (dynamicSizes) {
    if (!type.isDynamicDim(d))
      return self;
    int64_t position = 0;
    for (int64_t i = 0; i < d; ++i)
      position += type.isDynamicDim(i);
    if (std::optional<ExtentRoot> root =
            indexRootImpl((*dynamicSizes)[position], depth + 1, memo))
      return *root;
    return self;
  }
  if (auto cast = dyn_cast<tensor::CastOp>(def))
    return extentRootImpl(cast.getSource(), d, depth + 1, memo);
  // Ops whose operands and results have one shape.
  if (def->hasTrait<OpTrait::SameOperandsAndResultType>() ||
      def->hasTrait<OpTrait::SameOperandsAndResultShape>() ||
      (def->hasTrait<OpTrait::Elementwise>() && def->getNumOperands() > 0 &&
       def->getOperand(0).getType() ==
           type.clone(getElementTypeOrSelf(def->getOperand(0).getType()))))
    return extentRootImpl(def->getOperand(0), d, depth + 1, memo);
  int64_t rank = type.getRank();
  // Ops that keep all extents of their first operand, or all but the last.
  if (isa<LayerNormOp, RMSNormOp>(def))
    return extentRootImpl(def->getOperand(0), d, depth + 1, memo);
  if (isa<LinearOp, AttentionOp>(def) && d + 1 < rank)
    return extentRootImpl(def->getOperand(0), d, depth + 1, memo);
  if (auto matmul = dyn_cast<MatMulOp>(def)) {
    if (d == rank - 2)
      return extentRootImpl(matmul.getLhs(),
                            matmul.getLhs().getType().getRank() - 2, depth + 1,
                            memo);
    if (d == rank - 1)
      return extentRootImpl(matmul.getRhs(),
                            matmul.getRhs().getType().getRank() - 1, depth + 1,
                            memo);
    return self;
  }
  if (auto transpose = dyn_cast<TransposeOp>(def))
    return extentRootImpl(transpose.getInput(), transpose.getPermutation()[d],
                          depth + 1, memo);
  if (auto reduce = dyn_cast<ReduceOp>(def)) {
    // The kept dimensions, in order.
    int64_t inputRank = reduce.getInput().getType().getRank(), position = 0;
    for (int64_t i = 0; i < inputRank; ++i) {
      bool reduced = llvm::is_contained(reduce.getAxes(), i) ||
                     llvm::is_contained(reduce.getAxes(), i - inputRank);
      if (reduced && !reduce.getKeepDims())
        continue;
      if (position++ == d)
        return reduced ? self
                       : extentRootImpl(reduce.getInput(), i, depth + 1, memo);
    }
    return self;
  }
  // Reshapes to a shape operand: the extent given there.
  Value shape;
  if (auto reshape = dyn_cast<ReshapeOp>(def))
    shape = reshape.getShape();
  else if (auto reshape = dyn_cast<tensor::ReshapeOp>(def))
    shape = reshape.getShape();
  if (shape && type.isDynamicDim(d))
    if (auto elements = shape.getDefiningOp<tensor::FromElementsOp>())
      if (std::optional<ExtentRoot> root =
              indexRootImpl(elements.getElements()[d], depth + 1, memo))
        return *root;
  // A broadcasting op whose stretchable operands all share one extent.
  if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, CompareOp, SelectOp>(
          def)) {
    std::optional<ExtentRoot> common;
    for (Value operand : def->getOperands()) {
      auto t = cast<RankedTensorType>(operand.getType());
      int64_t j = d - (type.getRank() - t.getRank());
      if (j < 0 || t.getDimSize(j) == 1)
        continue;
      ExtentRoot root = extentRootImpl(operand, j, depth + 1, memo);
      if (common && *common != root)
        return self;
      common = root;
    }
    return common ? *common : self;
  }
  return self;
}

std::optional<ExtentRoot> indexRoot(Value index, int depth) {
  ExtentMemo memo;
  return indexRootImpl(index, depth, memo);
}

static std::optional<ExtentRoot> indexRootImpl(Value index, int depth,
                                               ExtentMemo &memo) {
  if (depth > kMaxExtentDepth)
    return std::nullopt;
  if (auto dim = index.getDefiningOp<tensor::DimOp>())
    if (std::optional<int64_t> i = dim.getConstantIndex())
      return extentRootImpl(dim.getSource(), *i, depth + 1, memo);
  if (auto extract = index.getDefiningOp<tensor::ExtractOp>())
    if (auto elements =
            extract.getTensor().getDefiningOp<tensor::FromElementsOp>())
      if (extract.getIndices().size() == 1)
        if (std::optional<int64_t> i =
                getConstantIntValue(extract.getIndices()[0]))
          return indexRootImpl(elements.getElements()[*i], depth + 1, memo);
  return std::nullopt;
}

/// Whether extent `j` of `x` is known to equal the index `extent`.
static bool knownEqual(Value x, int64_t j, Value extent) {
  auto type = cast<RankedTensorType>(x.getType());
  std::optional<int64_t> c = getConstantIntValue(extent);
  if (!type.isDynamicDim(j))
    return c && *c == type.getDimSize(j);
  if (c)
    return false;
  std::optional<ExtentRoot> root = indexRoot(extent);
  return root && *root == extentRoot(x, j);
}

/// "name: " of the ONNX node an op came from, for run-time messages.
static std::string origin(Location loc) {
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (auto name = dyn_cast<NameLoc>(inner))
        return name.getName().str() + ": ";
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str() + ": ";
  return "";
}

/// A run-time check of `cond`, none when it folded to true.
static void check(OpBuilder &b, Location loc, Value cond, const Twine &what) {
  if (matchPattern(cond, m_One()))
    return;
  cf::AssertOp::create(b, loc, cond, origin(loc) + what.str());
}

Value castDimAtRunTime(OpBuilder &b, Location loc, Value operand, int64_t dim,
                       int64_t extent, const Twine &what) {
  auto type = cast<RankedTensorType>(operand.getType());
  Value actual = b.createOrFold<tensor::DimOp>(loc, operand, dim);
  Value expected = arith::ConstantIndexOp::create(b, loc, extent);
  check(b, loc,
        b.createOrFold<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, actual,
                                      expected),
        what);
  SmallVector<int64_t> shape(type.getShape());
  shape[dim] = extent;
  return tensor::CastOp::create(b, loc, type.clone(shape), operand);
}

Value stretchAtRunTime(OpBuilder &b, Location loc, Value operand,
                       ArrayRef<std::pair<int64_t, Value>> targets) {
  if (targets.empty())
    return operand;
  auto type = cast<RankedTensorType>(operand.getType());
  int64_t rank = type.getRank();
  Value needed;
  SmallVector<Value> extents, isOne(rank);
  for (int64_t j = 0; j < rank; ++j)
    extents.push_back(b.createOrFold<tensor::DimOp>(loc, operand, j));
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  for (auto [j, target] : targets) {
    Value differs = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                          extents[j], target);
    needed = needed ? arith::OrIOp::create(b, loc, needed, differs).getResult()
                    : differs;
    isOne[j] = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                     extents[j], one);
    extents[j] = target;
  }
  auto ifOp = scf::IfOp::create(
      b, loc, needed,
      [&](OpBuilder &tb, Location l) {
        SmallVector<Value> dynamic;
        for (int64_t j = 0; j < rank; ++j)
          if (type.isDynamicDim(j))
            dynamic.push_back(extents[j]);
        auto generate = tensor::GenerateOp::create(tb, l, type, dynamic);
        {
          OpBuilder::InsertionGuard guard(tb);
          SmallVector<Type> indexTypes(rank, tb.getIndexType());
          SmallVector<Location> locs(rank, l);
          Block *body =
              tb.createBlock(&generate.getBody(), {}, indexTypes, locs);
          Value zero = arith::ConstantIndexOp::create(tb, l, 0);
          SmallVector<Value> coords(body->getArguments());
          for (int64_t j = 0; j < rank; ++j)
            if (isOne[j])
              coords[j] =
                  arith::SelectOp::create(tb, l, isOne[j], zero, coords[j]);
          tensor::YieldOp::create(
              tb, l, tensor::ExtractOp::create(tb, l, operand, coords));
        }
        scf::YieldOp::create(tb, l, generate.getResult());
      },
      [&](OpBuilder &eb, Location l) { scf::YieldOp::create(eb, l, operand); });
  return ifOp.getResult(0);
}

RuntimeBroadcast broadcastAtRunTime(OpBuilder &b, Location loc,
                                    ValueRange operands,
                                    RankedTensorType resultType) {
  int64_t rank = resultType.getRank();
  RuntimeBroadcast out;
  SmallVector<SmallVector<std::pair<int64_t, Value>>> targets(operands.size());
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t d = 0; d < rank; ++d) {
    // The operands that have dimension d and are not a static 1 there.
    SmallVector<std::pair<unsigned, int64_t>> candidates;
    for (auto [i, operand] : llvm::enumerate(operands)) {
      auto t = cast<RankedTensorType>(operand.getType());
      int64_t j = d - (rank - t.getRank());
      if (j >= 0 && t.getDimSize(j) != 1)
        candidates.push_back({i, j});
    }
    auto dimOf = [&](std::pair<unsigned, int64_t> c) {
      return b.createOrFold<tensor::DimOp>(loc, operands[c.first], c.second);
    };
    Value extent;
    bool dynamicMeet = false;
    if (!resultType.isDynamicDim(d)) {
      extent = arith::ConstantIndexOp::create(b, loc, resultType.getDimSize(d));
      dynamicMeet = true;
    } else if (candidates.empty()) {
      extent = one;
    } else {
      // One extent, or several known to be the same: no run-time choice.
      ExtentRoot first =
          extentRoot(operands[candidates[0].first], candidates[0].second);
      bool same = llvm::all_of(candidates, [&](auto c) {
        return extentRoot(operands[c.first], c.second) == first;
      });
      if (same) {
        extent = dimOf(candidates[0]);
      } else {
        // r = e0; r = (r == 1) ? ei : r for each further extent.
        dynamicMeet = true;
        extent = dimOf(candidates[0]);
        for (auto c : ArrayRef(candidates).drop_front()) {
          Value e = dimOf(c);
          Value isOne = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                              extent, one);
          extent = arith::SelectOp::create(b, loc, isOne, e, extent);
        }
      }
    }
    if (dynamicMeet) {
      Value allFit;
      for (auto c : candidates) {
        auto t = cast<RankedTensorType>(operands[c.first].getType());
        if (!t.isDynamicDim(c.second) ||
            knownEqual(operands[c.first], c.second, extent))
          continue;
        Value e = dimOf(c);
        Value fits = arith::OrIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, e, extent),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, e, one));
        allFit = allFit
                     ? arith::AndIOp::create(b, loc, allFit, fits).getResult()
                     : fits;
        targets[c.first].push_back({c.second, extent});
      }
      if (allFit)
        check(b, loc, allFit, "dynamic extents do not broadcast");
    }
    out.extents.push_back(extent);
  }
  for (auto [i, operand] : llvm::enumerate(operands))
    out.operands.push_back(stretchAtRunTime(b, loc, operand, targets[i]));
  return out;
}

/// A parallel linalg.generic over the result of a broadcasting op.
Value broadcastGeneric(
    OpBuilder &b, Location loc, RankedTensorType resultType,
    ValueRange originalOperands,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = resultType.getRank();
  RuntimeBroadcast broadcast =
      broadcastAtRunTime(b, loc, originalOperands, resultType);
  ValueRange operands = broadcast.operands;
  Value init = emptyTensor(b, loc, resultType,
                           [&](int64_t d) { return broadcast.extents[d]; });
  SmallVector<AffineMap> maps;
  for (Value operand : operands)
    maps.push_back(broadcastMap(b.getContext(),
                                cast<RankedTensorType>(operand.getType()),
                                resultType.getShape()));
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, operands, init, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, body(nb, nl, args.drop_back()));
      });
  return generic.getResult(0);
}

Value zeroFilled(OpBuilder &b, Location loc, Value empty, Type elementType) {
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(elementType));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// acc + x * y. Float contractions may be reassociated and fused into FMAs:
/// that lets LLVM vectorize the reduction (the order of a sum is not part
/// of any ONNX op's contract).
static Value multiplyAdd(OpBuilder &b, Location loc, Value x, Value y,
                         Value acc) {
  if (isFloat(acc.getType())) {
    auto flags = arith::FastMathFlagsAttr::get(
        b.getContext(),
        arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
    Value product = arith::MulFOp::create(b, loc, x, y, flags);
    return arith::AddFOp::create(b, loc, acc, product, flags);
  }
  return arith::AddIOp::create(b, loc, acc,
                               arith::MulIOp::create(b, loc, x, y));
}

/// `source` broadcast into `empty` (of `type`) through `sourceMap`: the
/// starting value of an accumulator (a bias).
Value broadcastInto(OpBuilder &b, Location loc, RankedTensorType type,
                    Value source, Value empty, AffineMap sourceMap) {
  SmallVector<AffineMap> maps = {sourceMap,
                                 b.getMultiDimIdentityMap(type.getRank())};
  return linalg::GenericOp::create(
             b, loc, type, source, empty, maps,
             SmallVector<utils::IteratorType>(type.getRank(),
                                              utils::IteratorType::parallel),
             [](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l, args[0]);
             })
      .getResult(0);
}

/// Iterators of a contraction with `maps`: the last loop is the reduction.
static SmallVector<utils::IteratorType>
contractionIterators(ArrayRef<AffineMap> maps) {
  SmallVector<utils::IteratorType> iterators(maps.front().getNumDims(),
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  return iterators;
}

Value contraction(OpBuilder &b, Location loc, Type type, Value lhs, Value rhs,
                  Value init, ArrayRef<AffineMap> maps, bool declare) {
  auto isF32 = [](Value v) {
    return getElementTypeOrSelf(v.getType()).isF32();
  };
  if (declare && isF32(lhs) && isF32(rhs) && isF32(init))
    return buildDeclaredContraction(
               b, loc,
               ContractionAttr::get(b.getContext(), ContractionKind::f32,
                                    /*panel=*/0, /*group=*/0),
               type, ValueRange{lhs, rhs}, init, maps)
        .getResult(0);
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{lhs, rhs}, init, maps,
             contractionIterators(maps),
             [](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(
                   nb, l, multiplyAdd(nb, l, args[0], args[1], args[2]));
             })
      .getResult(0);
}

/// The scalar activation of a linear epilogue.
Value scalarActivation(OpBuilder &b, Location loc, Activation activation,
                       Value x) {
  Type f = x.getType();
  auto c = [&](double v) {
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(f, v)).getResult();
  };
  switch (activation) {
  case Activation::none:
    return x;
  case Activation::relu:
    return arith::MaximumFOp::create(b, loc, x, c(0));
  case Activation::gelu:
  case Activation::gelu_tanh: {
    Value inner;
    if (activation == Activation::gelu) {
      inner = math::ErfOp::create(
          b, loc, arith::MulFOp::create(b, loc, x, c(1.0 / std::sqrt(2.0))));
    } else {
      Value cube =
          arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
      Value t = arith::AddFOp::create(
          b, loc, x, arith::MulFOp::create(b, loc, cube, c(0.044715)));
      inner = math::TanhOp::create(
          b, loc, arith::MulFOp::create(b, loc, t, c(std::sqrt(2.0 / M_PI))));
    }
    Value half = arith::MulFOp::create(b, loc, x, c(0.5));
    return arith::MulFOp::create(b, loc, half,
                                 arith::AddFOp::create(b, loc, inner, c(1.0)));
  }
  }
  return x;
}

/// Applies the activation of `op` (if any) to `y`.
Value applyActivation(PatternRewriter &rewriter, Location loc, LinearOp op,
                      Value y) {
  Activation activation = op.getActivation();
  if (activation == Activation::none)
    return y;
  return broadcastGeneric(rewriter, loc, cast<RankedTensorType>(y.getType()),
                          {y}, [&](OpBuilder &b, Location l, ValueRange args) {
                            return scalarActivation(b, l, activation, args[0]);
                          });
}

//===----------------------------------------------------------------------===//
// Packed weights, once each
//===----------------------------------------------------------------------===//

Attribute PanelCache::pack(Attribute attr, int64_t panel) {
  Attribute &slot = packed[{attr, panel}];
  if (!slot)
    slot = packConstantPanels(attr, panel);
  return slot;
}

void PanelCache::findTiedTables(Operation *root) {
  if (panel <= 0)
    return;
  auto isF32Matrix = [](Attribute attr) {
    auto type = dyn_cast<RankedTensorType>(cast<TypedAttr>(attr).getType());
    return type && type.getRank() == 2 && type.hasStaticShape() &&
           type.getElementType().isF32();
  };
  // The weights the packed f32 path takes (Linear.cpp: lowerPackedLinear).
  SmallVector<Attribute> weights;
  root->walk([&](LinearOp op) {
    Attribute attr;
    if (op.getInputQuant() == InputQuant::none &&
        op.getType().getElementType().isF32() &&
        matchPattern(op.getWeight(), m_Constant(&attr)) && isF32Matrix(attr))
      weights.push_back(attr);
  });
  if (weights.empty())
    return;
  root->walk([&](GatherOp op) {
    Attribute table;
    if (op.getAxis() != 0 || !matchPattern(op.getData(), m_Constant(&table)) ||
        !isF32Matrix(table) || tiedTables.count(table))
      return;
    for (Attribute weight : weights)
      if (sameConstantElements(table, weight)) {
        tiedTables[table] = weight;
        return;
      }
  });
}

} // namespace mlir::slm::linalg_lowering
