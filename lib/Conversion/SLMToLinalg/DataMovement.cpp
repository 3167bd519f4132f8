//===- DataMovement.cpp - Transpose, reshape, gather to linalg --*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/IR/Matchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::linalg_lowering;

namespace {

struct LowerTranspose : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> perm = op.getPermutation();
    Value empty =
        emptyTensor(rewriter, loc, op.getType(), [&](int64_t i) -> Value {
          return tensor::DimOp::create(rewriter, loc, op.getInput(), perm[i]);
        });
    rewriter.replaceOpWithNewOp<linalg::TransposeOp>(op, op.getInput(), empty,
                                                     perm);
    return success();
  }
};

struct LowerReshape : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value shape = op.getShape();
    if (!shape) {
      // Static extents, and at most one dynamic: elements / the others.
      auto inputType = cast<RankedTensorType>(op.getInput().getType());
      Value total = arith::ConstantIndexOp::create(rewriter, loc, 1);
      for (int64_t i = 0; i < inputType.getRank(); ++i)
        total = arith::MulIOp::create(
            rewriter, loc, total,
            tensor::DimOp::create(rewriter, loc, op.getInput(), i));
      int64_t known = 1;
      for (int64_t d : type.getShape())
        if (!ShapedType::isDynamic(d))
          known *= d;
      SmallVector<Value> extents;
      for (int64_t d : type.getShape())
        extents.push_back(
            ShapedType::isDynamic(d)
                ? arith::DivUIOp::create(
                      rewriter, loc, total,
                      arith::ConstantIndexOp::create(rewriter, loc, known))
                      .getResult()
                : arith::ConstantIndexOp::create(rewriter, loc, d).getResult());
      shape = tensor::FromElementsOp::create(
          rewriter, loc,
          RankedTensorType::get({type.getRank()}, rewriter.getIndexType()),
          extents);
    }
    rewriter.replaceOpWithNewOp<tensor::ReshapeOp>(op, type, op.getInput(),
                                                   shape);
    return success();
  }
};

/// The ONNX node name in `loc` (the importer's NameLoc), or "".
static std::string nodeNameOf(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string name = nodeNameOf(inner); !name.empty())
        return name;
  return "";
}

struct LowerGather : OpRewritePattern<GatherOp> {
  LowerGather(MLIRContext *ctx, PanelCache *cache)
      : OpRewritePattern(ctx), cache(cache) {}
  PanelCache *cache;

  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value data = op.getData(), indices = op.getIndices();
    auto indexType = cast<RankedTensorType>(indices.getType());
    int64_t axis = static_cast<int64_t>(op.getAxis());
    int64_t indexRank = indexType.getRank();
    int64_t rank = type.getRank();
    MLIRContext *ctx = getContext();
    // A table tied to a packed linear weight (an LM head sharing the
    // token embedding) is read from that weight's panels [V / P, H, P]:
    // row v, column h at [v / P, h, v % P]. The [V, H] table then has no
    // reader left and is not stored.
    int64_t panel = 0;
    Attribute table;
    if (cache && matchPattern(data, m_Constant(&table)))
      if (Attribute weight = cache->tiedWeight(table))
        if (Attribute packed = cache->pack(weight, cache->panel)) {
          panel = cache->panel;
          data = arith::ConstantOp::create(rewriter, loc,
                                           cast<TypedAttr>(packed));
        }
    RankedTensorType tableType = op.getData().getType();
    Value empty = emptyTensor(rewriter, loc, type, [&](int64_t i) -> Value {
      if (i < axis)
        return tensor::DimOp::create(rewriter, loc, data, i);
      if (i < axis + indexRank)
        return tensor::DimOp::create(rewriter, loc, indices, i - axis);
      if (panel)
        return arith::ConstantIndexOp::create(
            rewriter, loc, tableType.getDimSize(i - indexRank + 1));
      return tensor::DimOp::create(rewriter, loc, data, i - indexRank + 1);
    });
    SmallVector<AffineExpr> indexExprs;
    for (int64_t j = 0; j < indexRank; ++j)
      indexExprs.push_back(getAffineDimExpr(axis + j, ctx));
    SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, indexExprs, ctx),
                                   rewriter.getMultiDimIdentityMap(rank)};
    Value axisExtent =
        panel ? arith::ConstantIndexOp::create(rewriter, loc,
                                               tableType.getDimSize(axis))
                    .getResult()
              : tensor::DimOp::create(rewriter, loc, data, axis).getResult();
    std::string node = nodeNameOf(loc);
    std::string message =
        (node.empty() ? std::string("Gather") : "'" + node + "' (Gather)") +
        ": index out of range";
    auto generic = linalg::GenericOp::create(
        rewriter, loc, type, indices, empty, maps,
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          // Negative indices count from the end. An index outside
          // [-extent, extent) fails the run (ONNX Runtime errors too) and
          // is clamped, so that a bad id never reads outside the table.
          Value idx = args[0];
          if (!idx.getType().isIndex())
            idx = arith::IndexCastOp::create(b, l, b.getIndexType(), idx);
          Value zero = arith::ConstantIndexOp::create(b, l, 0);
          Value inRange = arith::AndIOp::create(
              b, l,
              arith::CmpIOp::create(
                  b, l, arith::CmpIPredicate::sge, idx,
                  arith::SubIOp::create(b, l, zero, axisExtent)),
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, idx,
                                    axisExtent));
          cf::AssertOp::create(b, l, inRange, message);
          Value negative =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, idx, zero);
          idx = arith::SelectOp::create(
              b, l, negative, arith::AddIOp::create(b, l, idx, axisExtent),
              idx);
          Value last = arith::SubIOp::create(
              b, l, axisExtent, arith::ConstantIndexOp::create(b, l, 1));
          idx = arith::MaxSIOp::create(
              b, l, arith::MinSIOp::create(b, l, idx, last), zero);
          SmallVector<Value> coords;
          for (int64_t i = 0; i < axis; ++i)
            coords.push_back(linalg::IndexOp::create(b, l, i));
          Value p = panel ? arith::ConstantIndexOp::create(b, l, panel)
                          : Value();
          coords.push_back(panel ? arith::DivUIOp::create(b, l, idx, p) : idx);
          for (int64_t i = axis + indexRank; i < rank; ++i)
            coords.push_back(linalg::IndexOp::create(b, l, i));
          if (panel)
            coords.push_back(arith::RemUIOp::create(b, l, idx, p));
          linalg::YieldOp::create(
              b, l, tensor::ExtractOp::create(b, l, data, coords).getResult());
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void mlir::slm::linalg_lowering::populateDataMovementPatterns(
    RewritePatternSet &patterns, PanelCache *cache) {
  patterns.add<LowerTranspose, LowerReshape>(patterns.getContext());
  patterns.add<LowerGather>(patterns.getContext(), cache);
}
