//===- NibbleKernel.cpp - 4-bit weight kernel (int4, NF4) -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Linear layers with 4-bit weights (`int4`, `nf4`): two k's codes per byte
// for 16 columns in one 16-byte load, looked up with vpermps (NF4 levels,
// or 0..15 followed by the group's u * s + m; on AVX2 two 8-lane vpermps
// and a blend, int4 converted; elsewhere a tree of selects); one-row tiles
// sum x * level per group and scale once per group.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "slm/Codegen/Contraction.h"
#include "slm/Support/WeightQuant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::cpu_kernels;

namespace {

/// How a 4-bit weight contraction maps onto its kernel.
struct NibblePlan {
  unsigned m, n, kg, kb, kl;
  SmallVector<unsigned> outer;
  int64_t columns = 0;
  bool nf4 = false;
};

static FailureOr<NibblePlan> planNibbleKernel(linalg::GenericOp op,
                                              ContractionAttr declaration,
                                              std::string &reason) {
  auto fail = [&](const char *why) {
    reason = why;
    return failure();
  };
  if (!op.hasPureBufferSemantics())
    return fail("not on buffers");
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  const unsigned cIndex = op.getNumDpsInputs();
  AffineMap aMap = maps[0], bMap = maps[1], sMap = maps[2], cMap = maps[cIndex];
  for (AffineMap map : maps)
    if (!isDimsOrZeros(map))
      return fail("indexing maps are not dimensions and broadcasts");
  if (aMap.getNumResults() < 3 || bMap.getNumResults() != 4 ||
      sMap.getNumResults() != 3 || !cMap.isProjectedPermutation() ||
      cMap.getNumResults() < 2)
    return fail("operands are not A [.., K/g, g/2, 2], codes [panels, K/g, "
                "g/2, P], scales [panels, K/g, P]");
  auto dimAt = [](AffineMap map, int64_t i) -> std::optional<unsigned> {
    if (auto d = dyn_cast<AffineDimExpr>(map.getResult(i)))
      return d.getPosition();
    return std::nullopt;
  };
  const int64_t aRank = aMap.getNumResults();
  NibblePlan plan;
  plan.nf4 = declaration.getKind() == ContractionKind::nf4;
  std::optional<unsigned> kg = dimAt(aMap, aRank - 3),
                          kb = dimAt(aMap, aRank - 2),
                          kl = dimAt(aMap, aRank - 1),
                          n = dimAt(cMap, cMap.getNumResults() - 1);
  if (!kg || !kb || !kl || !n || dimAt(bMap, 1) != kg || dimAt(bMap, 2) != kb ||
      dimAt(bMap, 3) != n || dimAt(sMap, 1) != kg || dimAt(sMap, 2) != n ||
      dimAt(bMap, 0) != dimAt(sMap, 0) || (!plan.nf4 && maps[3] != sMap))
    return fail("codes and scales do not follow A's groups");
  plan.kg = *kg;
  plan.kb = *kb;
  plan.kl = *kl;
  plan.n = *n;
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  if (sizes[plan.kl] != 2)
    return fail("not two codes per byte");
  if (ShapedType::isDynamic(sizes[plan.kb]) || sizes[plan.kb] % 2 != 0)
    return fail("the group size is not a multiple of 4");
  if (sizes[plan.kb] * 2 != declaration.getGroup()) {
    reason = "it declares groups of " + std::to_string(declaration.getGroup()) +
             " codes, the codes hold groups of " +
             (ShapedType::isDynamic(sizes[plan.kb])
                  ? std::string("a dynamic size")
                  : std::to_string(sizes[plan.kb] * 2));
    return failure();
  }
  if (failed(checkDeclaration(op, declaration, plan.n, reason)))
    return failure();
  plan.columns = sizes[plan.n];
  if (ShapedType::isDynamic(plan.columns) || plan.columns % kLanes != 0)
    return fail("columns are not a static multiple of 16");
  std::optional<unsigned> rows = rowDimension(aMap, bMap, cMap);
  if (!rows)
    return fail("no output dimension indexes rows of A");
  plan.m = *rows;
  for (Value v : op->getOperands().take_front(cIndex + 1)) {
    auto t = cast<MemRefType>(v.getType());
    if (v != op.getDpsInputs()[0] && !t.isLastDimUnitStride())
      return fail("codes, scales or C are strided along the columns");
  }
  auto cType = cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!cType.getElementType().isF32())
    return fail("C is not f32");
  for (unsigned d = 0; d < op.getNumLoops(); ++d)
    if (d != plan.m && d != plan.n && d != plan.kg && d != plan.kb &&
        d != plan.kl)
      plan.outer.push_back(d);
  return plan;
}

/// Emits the kernel of a 4-bit weight contraction: a tile of `mr` rows x
/// `width` columns of C in f32 vector registers; per group, the scales
/// (and offsets) of 16 columns in registers; per byte row of the group,
/// one 16-byte load per 16 columns gives two k's codes (low and high
/// nibbles), decoded to f32 weights (u * s + m, or NF4[u] * s by vpermps)
/// and used by every row of the tile.
static void emitNibbleKernel(RewriterBase &rewriter, linalg::GenericOp op,
                             const NibblePlan &plan, int64_t mr, int64_t nr,
                             int64_t mBlock, TableLookup lookup) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Location loc = op.getLoc();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  const unsigned cIndex = op.getNumDpsInputs();
  Value a = op.getDpsInputs()[0], codes = op.getDpsInputs()[1],
        scales = op.getDpsInputs()[2],
        offsets = plan.nf4 ? Value() : op.getDpsInputs()[3],
        c = op.getDpsInits()[0];
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, loc, v);
  };
  auto indices = [&](AffineMap map, ArrayRef<Value> loops, OpBuilder &ib) {
    SmallVector<Value> result;
    for (AffineExpr e : map.getResults()) {
      if (auto d = dyn_cast<AffineDimExpr>(e))
        result.push_back(loops[d.getPosition()]);
      else
        result.push_back(index(ib, 0));
    }
    return result;
  };
  auto f32Vec = VectorType::get({kLanes}, b.getF32Type());
  auto i32Vec = VectorType::get({kLanes}, b.getI32Type());
  auto byteVec = VectorType::get({kLanes}, b.getI8Type());
  // The value of each code: NF4's levels, or 0..15 (int4: the affine map
  // follows). A vpermps looks 16 codes up at once, on a different port
  // than the integer-to-float conversion would use.
  SmallVector<float> levels(kLanes);
  for (int64_t i = 0; i < kLanes; ++i)
    levels[i] = plan.nf4 ? slm::kNF4Levels[i] : static_cast<float>(i);
  // The level of each of 16 codes (i32, 0..15), by the target's means.
  auto lookUp = [&](OpBuilder &lb, Value nibble) -> Value {
    auto splatF32 = [&](VectorType type, float v) -> Value {
      return arith::ConstantOp::create(
          lb, loc, type, DenseElementsAttr::get(type, lb.getF32FloatAttr(v)));
    };
    auto splatI32 = [&](VectorType type, int32_t v) -> Value {
      return arith::ConstantOp::create(
          lb, loc, type, DenseElementsAttr::get(type, lb.getI32IntegerAttr(v)));
    };
    // int4's levels are the codes themselves.
    if (!plan.nf4 && lookup != TableLookup::avx512)
      return arith::UIToFPOp::create(lb, loc, f32Vec, nibble);
    switch (lookup) {
    case TableLookup::avx512: {
      Value table = arith::ConstantOp::create(
          lb, loc, f32Vec,
          DenseElementsAttr::get(f32Vec, ArrayRef<float>(levels)));
      return LLVM::CallIntrinsicOp::create(
                 lb, loc, f32Vec,
                 lb.getStringAttr("llvm.x86.avx512.permvar.sf.512"),
                 ValueRange{table, nibble})
          .getResult(0);
    }
    case TableLookup::avx2: {
      // Per 8 codes: vpermps into levels 0..7 and 8..15 (it reads the low
      // three bits of each index), the code's bit 3 picks one.
      auto f32x8 = VectorType::get({8}, lb.getF32Type());
      auto i32x8 = VectorType::get({8}, lb.getI32Type());
      Value tables[2];
      for (int t = 0; t < 2; ++t)
        tables[t] = arith::ConstantOp::create(
            lb, loc, f32x8,
            DenseElementsAttr::get(
                f32x8, ArrayRef<float>(levels).slice(8 * t, 8)));
      StringAttr permps = lb.getStringAttr("llvm.x86.avx2.permps");
      Value result = splatF32(f32Vec, 0.0f);
      for (int64_t at = 0; at < kLanes; at += 8) {
        Value codes = vector::ExtractStridedSliceOp::create(
            lb, loc, nibble, ArrayRef<int64_t>{at}, ArrayRef<int64_t>{8},
            ArrayRef<int64_t>{1});
        Value picked[2];
        for (int t = 0; t < 2; ++t)
          picked[t] = LLVM::CallIntrinsicOp::create(lb, loc, f32x8, permps,
                                                    ValueRange{tables[t],
                                                               codes})
                          .getResult(0);
        Value high = arith::CmpIOp::create(lb, loc, arith::CmpIPredicate::uge,
                                           codes, splatI32(i32x8, 8));
        Value half =
            arith::SelectOp::create(lb, loc, high, picked[1], picked[0]);
        result = vector::InsertStridedSliceOp::create(
            lb, loc, half, result, ArrayRef<int64_t>{at},
            ArrayRef<int64_t>{1});
      }
      return result;
    }
    case TableLookup::generic: {
      // A tree of selects: bit 0 picks within pairs of levels, bit 1
      // within pairs of pairs, ...
      SmallVector<Value> layer;
      for (float level : levels)
        layer.push_back(splatF32(f32Vec, level));
      for (int32_t bit = 1; layer.size() > 1; bit <<= 1) {
        Value set = arith::CmpIOp::create(
            lb, loc, arith::CmpIPredicate::ne,
            arith::AndIOp::create(lb, loc, nibble, splatI32(i32Vec, bit)),
            splatI32(i32Vec, 0));
        SmallVector<Value> next;
        for (size_t i = 0; i < layer.size(); i += 2)
          next.push_back(arith::SelectOp::create(lb, loc, set, layer[i + 1],
                                                 layer[i]));
        layer = std::move(next);
      }
      return layer.front();
    }
    }
    llvm_unreachable("unknown table lookup");
  };

  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  Value groups = getValueOrCreateConstantIndexOp(b, loc, ranges[plan.kg].size),
        half = getValueOrCreateConstantIndexOp(b, loc, ranges[plan.kb].size);
  auto tile = [&](OpBuilder &tb, int64_t rows, int64_t cols, Value m0, Value n0,
                  ArrayRef<Value> outerLoops, Value /*rowLimit: never set*/) {
    SmallVector<Value> loops(outerLoops);
    loops[plan.kg] = loops[plan.kb] = loops[plan.kl] = index(tb, 0);
    SmallVector<Value> at = loops, rowIndex, colIndex;
    for (int64_t i = 0; i < rows; ++i)
      rowIndex.push_back(
          i ? arith::AddIOp::create(tb, loc, m0, index(tb, i)).getResult()
            : m0);
    for (int64_t j = 0; j < cols; ++j)
      colIndex.push_back(
          j ? arith::AddIOp::create(tb, loc, n0, index(tb, j * kLanes))
                  .getResult()
            : n0);
    auto cAt = [&](int64_t i, int64_t j) {
      at[plan.m] = rowIndex[i];
      at[plan.n] = colIndex[j];
      return indices(maps[cIndex], at, tb);
    };
    SmallVector<Value> acc;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        acc.push_back(vector::LoadOp::create(tb, loc, f32Vec, c, cAt(i, j)));
    auto groupLoop = scf::ForOp::create(
        tb, loc, index(tb, 0), groups, index(tb, 1), acc,
        [&](OpBuilder &gb, Location, Value kg, ValueRange groupAcc) {
          SmallVector<Value> in = loops;
          in[plan.kg] = kg;
          SmallVector<Value> scale, offset;
          for (int64_t j = 0; j < cols; ++j) {
            in[plan.n] = colIndex[j];
            scale.push_back(vector::LoadOp::create(gb, loc, f32Vec, scales,
                                                   indices(maps[2], in, gb)));
            if (offsets)
              offset.push_back(vector::LoadOp::create(
                  gb, loc, f32Vec, offsets, indices(maps[3], in, gb)));
          }
          if (rows == 1) {
            // One row (decoding a token): the group's dot products
            // with the codes' levels first, scaled (and offset by
            // the row's sum over the group) once per group, which
            // takes the per-weight multiply-add out of the loop.
            // Separate sums per nibble and per byte row of a pair
            // keep 4 x cols multiply-add chains independent (the
            // loop is bound by their latency otherwise).
            const int64_t unroll = 2;
            const int64_t sums = unroll * 2 * cols;
            SmallVector<Value> init;
            for (int64_t i = 0; i < sums; ++i)
              init.push_back(arith::ConstantOp::create(gb, loc, f32Vec,
                                                       gb.getZeroAttr(f32Vec)));
            // One running sum of the row per unrolled byte row: the
            // scalar adds stay off one long dependency chain.
            for (int64_t u = 0; u < unroll; ++u)
              init.push_back(
                  arith::ConstantOp::create(gb, loc, gb.getF32FloatAttr(0.0f)));
            auto byteLoop = scf::ForOp::create(
                gb, loc, index(gb, 0), half, index(gb, unroll), init,
                [&](OpBuilder &lb, Location, Value kb0, ValueRange iter) {
                  Value fifteen = arith::ConstantOp::create(
                      lb, loc, i32Vec,
                      DenseElementsAttr::get(i32Vec, lb.getI32IntegerAttr(15)));
                  Value four = arith::ConstantOp::create(
                      lb, loc, i32Vec,
                      DenseElementsAttr::get(i32Vec, lb.getI32IntegerAttr(4)));
                  SmallVector<Value> next(iter.begin(), iter.end());
                  SmallVector<Value> rowSums(iter.take_back(unroll));
                  in[plan.m] = rowIndex[0];
                  // The codes stream from memory: ask for them 8 byte
                  // rows ahead (past the group's end is the next
                  // group's codes: one panel is contiguous).
                  {
                    SmallVector<Value> ahead = in;
                    ahead[plan.kb] =
                        arith::AddIOp::create(lb, loc, kb0, index(lb, 8));
                    ahead[plan.n] = colIndex[0];
                    memref::PrefetchOp::create(
                        lb, loc, codes, indices(maps[1], ahead, lb),
                        lb.getBoolAttr(false), lb.getI32IntegerAttr(3),
                        lb.getBoolAttr(true));
                  }
                  for (int64_t u = 0; u < unroll; ++u) {
                    Value kb =
                        u ? arith::AddIOp::create(lb, loc, kb0, index(lb, u))
                                .getResult()
                          : kb0;
                    in[plan.kb] = kb;
                    Value x[2], splat[2];
                    for (int h = 0; h < 2; ++h) {
                      in[plan.kl] = index(lb, h);
                      x[h] = memref::LoadOp::create(lb, loc, a,
                                                    indices(maps[0], in, lb));
                      splat[h] =
                          vector::BroadcastOp::create(lb, loc, f32Vec, x[h]);
                    }
                    in[plan.kl] = index(lb, 0);
                    rowSums[u] = arith::AddFOp::create(
                        lb, loc, rowSums[u],
                        arith::AddFOp::create(lb, loc, x[0], x[1]));
                    for (int64_t j = 0; j < cols; ++j) {
                      in[plan.n] = colIndex[j];
                      Value bytes = vector::LoadOp::create(
                          lb, loc, byteVec, codes, indices(maps[1], in, lb));
                      Value wide =
                          arith::ExtUIOp::create(lb, loc, i32Vec, bytes);
                      Value nibble[2] = {
                          arith::AndIOp::create(lb, loc, wide, fifteen),
                          arith::ShRUIOp::create(lb, loc, wide, four)};
                      for (int h = 0; h < 2; ++h) {
                        Value level = lookUp(lb, nibble[h]);
                        int64_t slot = (u * 2 + h) * cols + j;
                        next[slot] = vector::FMAOp::create(lb, loc, splat[h],
                                                           level, next[slot]);
                      }
                    }
                  }
                  for (int64_t u = 0; u < unroll; ++u)
                    next[sums + u] = rowSums[u];
                  scf::YieldOp::create(lb, loc, next);
                });
            SmallVector<Value> out;
            Value total = byteLoop.getResult(sums);
            for (int64_t u = 1; u < unroll; ++u)
              total = arith::AddFOp::create(gb, loc, total,
                                            byteLoop.getResult(sums + u));
            Value rowSum = vector::BroadcastOp::create(gb, loc, f32Vec, total);
            for (int64_t j = 0; j < cols; ++j) {
              Value dot = byteLoop.getResult(j);
              for (int64_t r = 1; r < unroll * 2; ++r)
                dot = arith::AddFOp::create(gb, loc, dot,
                                            byteLoop.getResult(r * cols + j));
              Value v =
                  vector::FMAOp::create(gb, loc, dot, scale[j], groupAcc[j]);
              if (offsets)
                v = vector::FMAOp::create(gb, loc, rowSum, offset[j], v);
              out.push_back(v);
            }
            scf::YieldOp::create(gb, loc, out);
            return;
          }
          auto byteLoop = scf::ForOp::create(
              gb, loc, index(gb, 0), half, index(gb, 1), groupAcc,
              [&](OpBuilder &lb, Location, Value kb, ValueRange iter) {
                in[plan.kb] = kb;
                // Two k's weights per 16 columns: low, high nibbles.
                SmallVector<Value> weight[2];
                Value fifteen = arith::ConstantOp::create(
                    lb, loc, i32Vec,
                    DenseElementsAttr::get(i32Vec, lb.getI32IntegerAttr(15)));
                Value four = arith::ConstantOp::create(
                    lb, loc, i32Vec,
                    DenseElementsAttr::get(i32Vec, lb.getI32IntegerAttr(4)));
                for (int64_t j = 0; j < cols; ++j) {
                  in[plan.n] = colIndex[j];
                  Value bytes = vector::LoadOp::create(
                      lb, loc, byteVec, codes, indices(maps[1], in, lb));
                  Value wide = arith::ExtUIOp::create(lb, loc, i32Vec, bytes);
                  Value nibble[2] = {
                      arith::AndIOp::create(lb, loc, wide, fifteen),
                      arith::ShRUIOp::create(lb, loc, wide, four)};
                  for (int h = 0; h < 2; ++h) {
                    Value level = lookUp(lb, nibble[h]);
                    weight[h].push_back(
                        plan.nf4
                            ? arith::MulFOp::create(lb, loc, level, scale[j])
                                  .getResult()
                            : vector::FMAOp::create(lb, loc, level, scale[j],
                                                    offset[j])
                                  .getResult());
                  }
                }
                SmallVector<Value> next(iter.begin(), iter.end());
                for (int64_t i = 0; i < rows; ++i) {
                  in[plan.m] = rowIndex[i];
                  for (int h = 0; h < 2; ++h) {
                    in[plan.kl] = index(lb, h);
                    Value x = memref::LoadOp::create(lb, loc, a,
                                                     indices(maps[0], in, lb));
                    Value splat =
                        vector::BroadcastOp::create(lb, loc, f32Vec, x);
                    for (int64_t j = 0; j < cols; ++j)
                      next[i * cols + j] = vector::FMAOp::create(
                          lb, loc, splat, weight[h][j], next[i * cols + j]);
                  }
                }
                in[plan.kl] = index(lb, 0);
                scf::YieldOp::create(lb, loc, next);
              });
          scf::YieldOp::create(gb, loc, byteLoop.getResults());
        });
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        vector::StoreOp::create(tb, loc, groupLoop.getResult(i * cols + j), c,
                                cAt(i, j));
  };
  emitTiledNest(b, loc, op, plan.outer, plan.m, plan.columns, mr, nr, mBlock,
                tile);
  rewriter.eraseOp(op);
}

} // namespace

LogicalResult cpu_kernels::lowerToNibbleKernel(RewriterBase &rewriter,
                                               linalg::GenericOp op,
                                               ContractionAttr declaration,
                                               const TileSizes &sizes,
                                               std::string &reason) {
  if (!declaration.isFourBit()) {
    reason = "not a 4-bit weight contraction";
    return failure();
  }
  FailureOr<NibblePlan> plan = planNibbleKernel(op, declaration, reason);
  if (failed(plan))
    return failure();
  emitNibbleKernel(rewriter, op, *plan, sizes.mr, sizes.nr, sizes.mBlock,
                   sizes.lookup);
  return success();
}
