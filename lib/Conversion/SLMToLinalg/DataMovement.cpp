//===- DataMovement.cpp - Transpose, reshape, gather to linalg --*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "slm/Support/WeightQuant.h"

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

/// Element (`row`, `col`) of the weight `dq` describes (its codes, scales
/// and zero points are constants), as slm.dequantize_weight defines it:
/// int8 `(c - zp) * s`; int4 codes two per byte, low nibble first, signed
/// without zero points; nf4 `NF4[c] * s` (`levels`).
static Value decodeQuantized(OpBuilder &b, Location l, DequantizeWeightOp dq,
                             Value levels, Value row, Value col) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  const int64_t k = dq.getType().getDimSize(1);
  const int64_t group = dq.getGroupSize() ? *dq.getGroupSize() : k;
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, l, v);
  };
  auto i32c = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, l, i32, v);
  };
  Value g = arith::DivUIOp::create(b, l, col, index(group));
  Value scale =
      tensor::ExtractOp::create(b, l, dq.getScales(), ValueRange{row, g});
  if (!scale.getType().isF32())
    scale = arith::ExtFOp::create(b, l, f32, scale);
  Value code;
  if (dq.getCodeBits() == 8) {
    code = arith::ExtSIOp::create(
        b, l, i32,
        tensor::ExtractOp::create(b, l, dq.getCodes(), ValueRange{row, col}));
  } else {
    Value byte = arith::ExtUIOp::create(
        b, l, i32,
        tensor::ExtractOp::create(
            b, l, dq.getCodes(),
            ValueRange{row, arith::DivUIOp::create(b, l, col, index(2))}));
    Value high = arith::CmpIOp::create(
        b, l, arith::CmpIPredicate::ne,
        arith::RemUIOp::create(b, l, col, index(2)), index(0));
    Value shifted = arith::SelectOp::create(
        b, l, high, arith::ShRUIOp::create(b, l, byte, i32c(4)), byte);
    code = arith::AndIOp::create(b, l, shifted, i32c(0xF));
    if (dq.getKind() == WeightQuantKind::nf4) {
      Value level =
          tensor::ExtractOp::create(b, l, levels,
                                    ValueRange{arith::IndexCastUIOp::create(
                                        b, l, b.getIndexType(), code)});
      return arith::MulFOp::create(b, l, level, scale);
    }
    if (!dq.getZeroPoints()) // signed [-8, 7]
      code = arith::SelectOp::create(
          b, l,
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, code, i32c(8)),
          arith::SubIOp::create(b, l, code, i32c(16)), code);
  }
  if (Value zp = dq.getZeroPoints())
    code = arith::SubIOp::create(
        b, l, code,
        arith::ExtSIOp::create(
            b, l, i32,
            tensor::ExtractOp::create(b, l, zp, ValueRange{row, g})));
  return arith::MulFOp::create(b, l, arith::SIToFPOp::create(b, l, f32, code),
                               scale);
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
          data =
              arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(packed));
        }
    // A table of quantized codes (an embedding tied to a quantized LM head,
    // slm-quantize-weights): each element decoded from its code as read.
    auto dq = data.getDefiningOp<DequantizeWeightOp>();
    if (dq && (axis != 0 || type.getRank() != indexRank + 1 ||
               !matchPattern(dq.getCodes(), m_Constant()) ||
               !matchPattern(dq.getScales(), m_Constant()) ||
               (dq.getZeroPoints() &&
                !matchPattern(dq.getZeroPoints(), m_Constant()))))
      return rewriter.notifyMatchFailure(op, "gather of a quantized table "
                                             "other than rows of constants");
    Value nf4Levels;
    if (dq && dq.getKind() == WeightQuantKind::nf4)
      nf4Levels = arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(
              RankedTensorType::get({16}, rewriter.getF32Type()),
              ArrayRef<float>(kNF4Levels.data(), kNF4Levels.size())));
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
          Value p =
              panel ? arith::ConstantIndexOp::create(b, l, panel) : Value();
          coords.push_back(panel ? arith::DivUIOp::create(b, l, idx, p) : idx);
          for (int64_t i = axis + indexRank; i < rank; ++i)
            coords.push_back(linalg::IndexOp::create(b, l, i));
          if (panel)
            coords.push_back(arith::RemUIOp::create(b, l, idx, p));
          Value element =
              dq ? decodeQuantized(b, l, dq, nf4Levels, coords[0], coords[1])
                 : tensor::ExtractOp::create(b, l, data, coords).getResult();
          linalg::YieldOp::create(b, l, element);
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
