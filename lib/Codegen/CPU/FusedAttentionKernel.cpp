//===- FusedAttentionKernel.cpp - slm.fused_attention on buffers -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The CPU kernel of slm.fused_attention: flash-style attention in the vector
// dialect. A task is one batch item, one key/value head and a tile of 32
// query rows (16 when a key/value head has at most 16: a decode step): the
// query positions of the heads sharing that key/value head, interleaved, so
// grouped-query decoding fills the lanes with the group's heads. Rows are
// the lanes of one or two vectors, so the whole online softmax is lane-wise:
//
//   Qt[d]   = Q[row(lane), d]                          once per task
//   per block of 16 / R keys j (R row vectors):
//     s_j   = sum_d Qt[d] * K[j, d]   (one broadcast of K per d and key)
//     s_j   = scale * s_j + mask[.., row(lane), j];  causal: lowest value
//     m'    = max(m, max_j s_j);  c = exp(m - m');  p_j = exp(s_j - m')
//     l     = l * c + sum_j p_j
//     Ot[e] = Ot[e] * c + sum_j p_j * V[j, e]   (one broadcast of V per e)
//   result[row, e] = Ot[e][lane] / l[lane]
//
// With importance sums (SpAtten's token importance), a second pass over
// the keys recomputes each block's scores with the rows' final m and l and
// adds sum over rows of exp(s_j - m) / l to key j's partial sum; a task is
// then a group of tiles with a row of partial sums of its own, added up
// per batch item after the tasks (deterministic: no atomics).
//
// Both products are register-blocked like the GEMM kernels (16
// accumulators, a broadcast operand feeding R vector FMAs), no [Sq, Skv]
// buffer exists, and K and V are read in place in any layout with a
// contiguous head width: operands are addressed through their strides.
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Passes.h"
#include "slm/IR/SLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMLOWERFUSEDATTENTION
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

/// Lanes of one f32 vector.
constexpr int64_t kLanes = 16;
/// Score accumulators per block of keys (keys x row vectors).
constexpr int64_t kKeyVectors = 16;
/// Tasks per batch item and key/value head when importance sums are
/// asked for (each sums into a row of keys of its own).
constexpr int64_t kImportanceGroups = 4;
/// Output accumulators of P V at a time (columns x row vectors):
/// independent FMA chains.
constexpr int64_t kValueVectors = 8;

/// An operand seen as flat memory: element (i0, .., in) is at
/// sum(i_k * strides[k]) of `flat`.
struct FlatView {
  Value flat;
  SmallVector<Value> strides;
};

/// Starts `loop`'s body: the builder inserts there (before the yield of a
/// loop without results).
static void enterLoop(OpBuilder &b, scf::ForOp loop) {
  b.setInsertionPointToStart(loop.getBody());
}

class FusedAttentionEmitter {
public:
  FusedAttentionEmitter(RewriterBase &rewriter, FusedAttentionOp op)
      : b(rewriter), op(op), loc(op.getLoc()) {}

  void emit();

private:
  /// The parallel loop over tiles of `vectors` x 16 rows.
  void emitTiles(int64_t vectors);
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value minIndex(Value x, Value y) {
    return arith::MinSIOp::create(b, loc, x, y);
  }
  Value splatIndex(Value x) {
    return vector::BroadcastOp::create(b, loc, indexVecType, x);
  }
  Value splatF32(Value x) {
    return vector::BroadcastOp::create(b, loc, vecType, x);
  }
  Value f32Vector(float v) {
    return arith::ConstantOp::create(b, loc, vecType,
                                     DenseElementsAttr::get(vecType, v));
  }
  /// `memref` as one flat buffer, addressed through its strides.
  FlatView flatten(Value memref);
  /// importance[b, j] = the sum of `partial`'s rows of batch item (packed:
  /// sequence) b at key j.
  void emitImportanceSums(Value partial, Value groups);

  OpBuilder &b;
  FusedAttentionOp op;
  Location loc;
  /// What both tilings share, computed once before them.
  struct Shared {
    int64_t group, headDim, valueDim;
    FlatView q, k, v, out, m;
    Value batch, querySeq, keySeq, rows, offset, lastKey;
    /// A packed batch: the sequences' bounds along the sequence dimension.
    Value offsets;
  } s;
  VectorType vecType =
      VectorType::get({kLanes}, Float32Type::get(op.getContext()));
  VectorType indexVecType =
      VectorType::get({kLanes}, IndexType::get(op.getContext()));
};

FlatView FusedAttentionEmitter::flatten(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  FlatView view;
  // The extent of the flat view: one past the last element.
  Value span = index(1);
  for (int64_t i = 0; i < type.getRank(); ++i) {
    Value size = meta.getSizes()[i], stride = meta.getStrides()[i];
    view.strides.push_back(stride);
    Value last = arith::SubIOp::create(b, loc, size, index(1));
    span = add(span, mul(last, stride));
  }
  auto flatType = MemRefType::get(
      {ShapedType::kDynamic}, type.getElementType(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {1}));
  view.flat = memref::ReinterpretCastOp::create(
      b, loc, flatType, meta.getBaseBuffer(), meta.getOffset(),
      ArrayRef<OpFoldResult>{span}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  return view;
}

void FusedAttentionEmitter::emitImportanceSums(Value partial, Value groups) {
  FlatView imp = flatten(op.getImportance());
  const int64_t kvHeads = op.getNumKVHeads();
  auto loop = scf::ParallelOp::create(b, loc, ValueRange{index(0)},
                                      ValueRange{s.batch},
                                      ValueRange{index(1)});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value bIdx = loop.getInductionVars()[0];
  Value keys = s.keySeq, base = mul(bIdx, imp.strides[0]);
  if (s.offsets) {
    Value start = memref::LoadOp::create(b, loc, s.offsets, ValueRange{bIdx});
    Value end = memref::LoadOp::create(b, loc, s.offsets,
                                       ValueRange{add(bIdx, index(1))});
    keys = arith::SubIOp::create(b, loc, end, start);
    base = mul(start, imp.strides[1]);
  }
  // Rows (kvHead, group) of batch item b are `rowCount` rows of s.keySeq.
  Value rowCount = mul(index(kvHeads), groups);
  Value first = mul(mul(bIdx, rowCount), s.keySeq);
  auto perKey = scf::ForOp::create(b, loc, index(0), keys, index(1));
  enterLoop(b, perKey);
  Value j = perKey.getInductionVar();
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  auto sum = scf::ForOp::create(b, loc, index(0), rowCount, index(1),
                                ValueRange{zero});
  {
    OpBuilder::InsertionGuard g(b);
    enterLoop(b, sum);
    Value at = add(add(first, mul(sum.getInductionVar(), s.keySeq)), j);
    Value x = memref::LoadOp::create(b, loc, partial, ValueRange{at});
    scf::YieldOp::create(
        b, loc,
        ValueRange{arith::AddFOp::create(b, loc, sum.getRegionIterArgs()[0], x)});
  }
  memref::StoreOp::create(b, loc, sum.getResult(0), imp.flat,
                          ValueRange{add(base, mul(j, imp.strides[1]))});
}

void FusedAttentionEmitter::emit() {
  auto qType = cast<MemRefType>(op.getQuery().getType());
  auto vType = cast<MemRefType>(op.getValue().getType());
  ArrayRef<int64_t> seqDims = op.getSeqDims();
  s.group = op.getNumHeads() / op.getNumKVHeads();
  s.headDim = qType.getDimSize(3);
  s.valueDim = vType.getDimSize(3);
  s.q = flatten(op.getQuery());
  s.k = flatten(op.getKey());
  s.v = flatten(op.getValue());
  s.out = flatten(op.getInit());
  if (Value mask = op.getMask())
    s.m = flatten(mask);
  s.batch = memref::DimOp::create(b, loc, op.getQuery(), 0);
  s.querySeq = memref::DimOp::create(b, loc, op.getQuery(), seqDims[0]);
  s.keySeq = memref::DimOp::create(b, loc, op.getKey(), seqDims[1]);
  s.offsets = op.getOffsets();
  if (s.offsets) {
    // A packed batch: one task row of tiles per sequence, as many tiles as
    // the longest sequence needs (a shorter one's extra tiles do nothing).
    s.batch = arith::SubIOp::create(
        b, loc, memref::DimOp::create(b, loc, s.offsets, 0), index(1));
    auto longest = scf::ForOp::create(b, loc, index(0), s.batch, index(1),
                                      ValueRange{index(0)});
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(longest.getBody());
      Value i = longest.getInductionVar();
      Value start = memref::LoadOp::create(b, loc, s.offsets, ValueRange{i});
      Value end = memref::LoadOp::create(b, loc, s.offsets,
                                         ValueRange{add(i, index(1))});
      Value length = arith::SubIOp::create(b, loc, end, start);
      scf::YieldOp::create(
          b, loc,
          ValueRange{arith::MaxSIOp::create(
              b, loc, longest.getRegionIterArgs()[0], length)});
    }
    s.querySeq = s.keySeq = longest.getResult(0);
  }
  // Query rows of one key/value head: its group's heads at every position,
  // row r being position r / group of head kvHead * group + r % group.
  s.rows = mul(s.querySeq, index(s.group));
  // The causal limit: key j is visible from query i when j <= i + offset.
  s.offset = arith::SubIOp::create(b, loc, s.keySeq, s.querySeq);
  s.lastKey = arith::SubIOp::create(b, loc, s.keySeq, index(1));
  // Tiles of 32 rows read K and V half as often per row; a decode step
  // (a few rows per key/value head) takes tiles of 16.
  Value many = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, s.rows,
                                     index(kLanes));
  auto choice = scf::IfOp::create(b, loc, many, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(choice.thenBlock());
  emitTiles(2);
  b.setInsertionPointToStart(choice.elseBlock());
  emitTiles(1);
}

void FusedAttentionEmitter::emitTiles(int64_t vectors) {
  const int64_t rowsPerTile = kLanes * vectors;
  const int64_t keys = kKeyVectors / vectors;
  const int64_t valueUnroll = kValueVectors / vectors;
  const int64_t group = s.group, headDim = s.headDim, valueDim = s.valueDim;
  const int64_t kvHeads = op.getNumKVHeads();
  ArrayRef<int64_t> seqDims = op.getSeqDims();
  Value mask = op.getMask();
  auto maskType = mask ? cast<MemRefType>(mask.getType()) : MemRefType();
  const float lowest = -std::numeric_limits<float>::max();
  const float inf = std::numeric_limits<float>::infinity();
  const FlatView &q = s.q, &k = s.k, &v = s.v, &out = s.out, &m = s.m;

  auto indexVector = [&](function_ref<int64_t(int64_t)> f) {
    SmallVector<int64_t> values;
    for (int64_t i = 0; i < kLanes; ++i)
      values.push_back(f(i));
    return arith::ConstantOp::create(
               b, loc, indexVecType,
               DenseElementsAttr::get(indexVecType, ArrayRef<int64_t>(values)))
        .getResult();
  };
  Value lanes = indexVector([](int64_t i) { return i; });

  Value tiles =
      arith::CeilDivUIOp::create(b, loc, s.rows, index(rowsPerTile));
  // With importance sums, a task is a group of tiles (tiles g, g + groups,
  // ...) adding its keys' probabilities into a row of its own of
  // `partial` ([batch, kvHeads, groups, keys]), summed after the tasks: no
  // two tasks write the same element, the order of the sums is fixed, and
  // the scratch grows with the keys, not with keys x tiles.
  Value importance = op.getImportance();
  Value groups = tiles, partial;
  if (importance) {
    groups = minIndex(tiles, index(kImportanceGroups));
    Value size =
        mul(mul(mul(s.batch, index(kvHeads)), groups), s.keySeq);
    partial = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, b.getF32Type()),
        ValueRange{size});
    linalg::FillOp::create(
        b, loc, ValueRange{arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0))},
        ValueRange{partial});
  }
  auto parallel =
      scf::ParallelOp::create(b, loc, ValueRange{index(0), index(0), index(0)},
                              ValueRange{s.batch, index(kvHeads), groups},
                              ValueRange{index(1), index(1), index(1)});
  OpBuilder::InsertionGuard guard(b);
  if (importance) {
    b.setInsertionPointAfter(parallel);
    emitImportanceSums(partial, groups);
    memref::DeallocOp::create(b, loc, partial);
  }
  b.setInsertionPointToStart(parallel.getBody());
  Value bIdx = parallel.getInductionVars()[0];
  Value kvHead = parallel.getInductionVars()[1];
  Value tile = parallel.getInductionVars()[2];
  if (importance) {
    auto loop = scf::ForOp::create(b, loc, tile, tiles, groups);
    enterLoop(b, loop);
    tile = loop.getInductionVar();
  }
  // The task's scratch lives on its thread's stack, released per tile.
  auto scope = memref::AllocaScopeOp::create(b, loc, TypeRange{});
  b.createBlock(&scope.getBodyRegion());
  memref::AllocaScopeReturnOp::create(b, loc, ValueRange{});
  b.setInsertionPointToStart(&scope.getBodyRegion().front());

  Value r0 = mul(tile, index(rowsPerTile));
  // The task's sequence: its rows and keys, the causal offset, and where
  // its first position is in each operand.
  Value rows = s.rows, keySeq = s.keySeq, lastKey = s.lastKey,
        causalOffset = s.offset;
  Value qBase = mul(bIdx, q.strides[0]), kBatch = mul(bIdx, k.strides[0]),
        vBatch = mul(bIdx, v.strides[0]), outBatch = mul(bIdx, out.strides[0]);
  if (s.offsets) {
    Value start = memref::LoadOp::create(b, loc, s.offsets, ValueRange{bIdx});
    Value end = memref::LoadOp::create(b, loc, s.offsets,
                                       ValueRange{add(bIdx, index(1))});
    keySeq = arith::SubIOp::create(b, loc, end, start);
    rows = mul(keySeq, index(group));
    lastKey = arith::SubIOp::create(b, loc, keySeq, index(1));
    causalOffset = index(0);
    qBase = mul(start, q.strides[seqDims[0]]);
    kBatch = mul(start, k.strides[seqDims[1]]);
    vBatch = mul(start, v.strides[seqDims[2]]);
    outBatch = mul(start, out.strides[1]);
    // Tiles past this sequence's rows have nothing to do.
    Value busy =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, r0, rows);
    auto ifBusy = scf::IfOp::create(b, loc, busy, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifBusy.thenBlock());
  }
  // Per lane of each row vector: its row, query position and head; lanes
  // past the last row compute on zeros and are never stored.
  SmallVector<Value> valid, laneQuery, laneHead;
  Value groupVec = splatIndex(index(group));
  for (int64_t r = 0; r < vectors; ++r) {
    Value laneRow = arith::AddIOp::create(
        b, loc, splatIndex(add(r0, index(r * kLanes))), lanes);
    valid.push_back(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          laneRow, splatIndex(rows)));
    laneQuery.push_back(arith::DivUIOp::create(b, loc, laneRow, groupVec));
    laneHead.push_back(arith::AddIOp::create(
        b, loc, splatIndex(mul(kvHead, index(group))),
        arith::RemUIOp::create(b, loc, laneRow, groupVec)));
  }
  auto laneOffsets = [&](int64_t r, Value seqStride, Value headStride,
                         Value base) {
    Value o =
        arith::MulIOp::create(b, loc, laneQuery[r], splatIndex(seqStride));
    o = arith::AddIOp::create(
        b, loc, o,
        arith::MulIOp::create(b, loc, laneHead[r], splatIndex(headStride)));
    return arith::AddIOp::create(b, loc, o, splatIndex(base)).getResult();
  };

  // Qt[d][row] = Q[row, d] (zero past the last row); Ot = 0. Element
  // [x][row] of either is at x * rowsPerTile + row.
  Value qt = memref::AllocaOp::create(
      b, loc, MemRefType::get({headDim * rowsPerTile}, b.getF32Type()));
  Value ot = memref::AllocaOp::create(
      b, loc, MemRefType::get({valueDim * rowsPerTile}, b.getF32Type()));
  Value zeros = f32Vector(0.0f);
  auto slot = [&](Value x, int64_t r) {
    return add(mul(x, index(rowsPerTile)), index(r * kLanes));
  };
  {
    SmallVector<Value> qLanes;
    for (int64_t r = 0; r < vectors; ++r)
      qLanes.push_back(laneOffsets(r, q.strides[seqDims[0]],
                                   q.strides[op.getHeadsDim(0)], qBase));
    auto loop = scf::ForOp::create(b, loc, index(0), index(headDim), index(1));
    OpBuilder::InsertionGuard g(b);
    enterLoop(b, loop);
    Value d = loop.getInductionVar();
    for (int64_t r = 0; r < vectors; ++r) {
      Value col = vector::GatherOp::create(
          b, loc, vecType, q.flat, ValueRange{d}, qLanes[r], valid[r], zeros);
      vector::StoreOp::create(b, loc, col, qt, ValueRange{slot(d, r)});
    }
  }
  {
    auto loop = scf::ForOp::create(b, loc, index(0), index(valueDim), index(1));
    OpBuilder::InsertionGuard g(b);
    enterLoop(b, loop);
    for (int64_t r = 0; r < vectors; ++r)
      vector::StoreOp::create(b, loc, zeros, ot,
                              ValueRange{slot(loop.getInductionVar(), r)});
  }

  // Keys to visit. Without a mask (so every row sees key 0, a finite
  // score), keys past the tile's causal limit would add exp(lowest - m) = 0
  // to every row: they are skipped.
  Value keyEnd = keySeq;
  if (op.getCausal() && !mask) {
    Value lastRow = minIndex(add(r0, index(rowsPerTile - 1)),
                             arith::SubIOp::create(b, loc, rows, index(1)));
    Value lastQuery = arith::DivUIOp::create(b, loc, lastRow, index(group));
    Value limit =
        minIndex(keySeq, add(add(lastQuery, causalOffset), index(1)));
    Value nonNegative = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                              causalOffset, index(0));
    keyEnd = arith::SelectOp::create(b, loc, nonNegative, limit, keySeq);
  }
  Value kBase = add(kBatch, mul(kvHead, k.strides[op.getHeadsDim(1)]));
  Value vBase = add(vBatch, mul(kvHead, v.strides[op.getHeadsDim(2)]));
  Value kSeqStride = k.strides[seqDims[1]], vSeqStride = v.strides[seqDims[2]];
  // The mask's offsets per lane (extents of 1 broadcast: static ones, and
  // dynamic ones found to be 1).
  SmallVector<Value> maskLanes;
  Value maskKeyStride;
  bool maskVariesByLane = false;
  if (mask) {
    auto strideOrZero = [&](int64_t dim) -> Value {
      if (maskType.getDimSize(dim) == 1)
        return index(0);
      if (!maskType.isDynamicDim(dim))
        return m.strides[dim];
      Value isOne = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq,
          memref::DimOp::create(b, loc, mask, dim), index(1));
      return arith::SelectOp::create(b, loc, isOne, index(0), m.strides[dim]);
    };
    maskVariesByLane =
        maskType.getDimSize(1) != 1 || maskType.getDimSize(2) != 1;
    Value seqStride = strideOrZero(2), headStride = strideOrZero(1),
          base = mul(bIdx, strideOrZero(0));
    for (int64_t r = 0; r < vectors; ++r)
      maskLanes.push_back(laneOffsets(r, seqStride, headStride, base));
    maskKeyStride = strideOrZero(3);
  }
  SmallVector<Value> laneLimit;
  for (int64_t r = 0; r < vectors; ++r)
    laneLimit.push_back(
        arith::AddIOp::create(b, loc, laneQuery[r], splatIndex(causalOffset)));
  Value scale = f32Vector(static_cast<float>(op.getScale().convertToDouble()));

  // The scores of one block of keys from j0 (keys x vectors, [j * vectors
  // + r]), with the keys' positions, V rows and (tail) whether each is one.
  struct Block {
    SmallVector<Value> scores, key, vRow, inBlock;
  };
  auto blockScores = [&](Value j0, bool tail) -> Block {
    Value keysHere = arith::SubIOp::create(b, loc, keyEnd, j0);
    SmallVector<Value> key, kRow, vRow, inBlock;
    for (int64_t j = 0; j < keys; ++j) {
      Value jj = add(j0, index(j));
      Value row = tail ? minIndex(jj, lastKey) : jj;
      key.push_back(jj);
      kRow.push_back(add(kBase, mul(row, kSeqStride)));
      vRow.push_back(add(vBase, mul(row, vSeqStride)));
      if (tail)
        inBlock.push_back(arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::slt, index(j), keysHere));
    }
    // s[j][r] = sum_d Qt[d][r] * K[j, d]: keys x vectors accumulators.
    SmallVector<Value> init(keys * vectors, zeros);
    auto dot =
        scf::ForOp::create(b, loc, index(0), index(headDim), index(1), init);
    {
      OpBuilder::InsertionGuard gd(b);
      enterLoop(b, dot);
      Value d = dot.getInductionVar();
      SmallVector<Value> col;
      for (int64_t r = 0; r < vectors; ++r)
        col.push_back(vector::LoadOp::create(b, loc, vecType, qt,
                                             ValueRange{slot(d, r)}));
      SmallVector<Value> next;
      for (int64_t j = 0; j < keys; ++j) {
        Value x = splatF32(memref::LoadOp::create(b, loc, k.flat,
                                                  ValueRange{add(kRow[j], d)}));
        for (int64_t r = 0; r < vectors; ++r)
          next.push_back(vector::FMAOp::create(
              b, loc, col[r], x, dot.getRegionIterArgs()[j * vectors + r]));
      }
      scf::YieldOp::create(b, loc, next);
    }
    SmallVector<Value> scores(keys * vectors);
    for (int64_t j = 0; j < keys; ++j) {
      Value keyOffset;
      if (mask)
        keyOffset =
            mul(tail ? minIndex(key[j], lastKey) : key[j], maskKeyStride);
      Value sharedBias;
      if (mask && !maskVariesByLane) {
        Value at =
            add(keyOffset, vector::ExtractOp::create(b, loc, maskLanes[0],
                                                     ArrayRef<int64_t>{0}));
        sharedBias = splatF32(memref::LoadOp::create(b, loc, m.flat, at));
      }
      for (int64_t r = 0; r < vectors; ++r) {
        Value sj = arith::MulFOp::create(b, loc, dot.getResult(j * vectors + r),
                                         scale);
        if (mask) {
          Value bias = sharedBias;
          if (!bias)
            bias = vector::GatherOp::create(b, loc, vecType, m.flat,
                                            ValueRange{keyOffset}, maskLanes[r],
                                            valid[r], zeros);
          sj = arith::AddFOp::create(b, loc, sj, bias);
        }
        if (op.getCausal()) {
          Value visible =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                    splatIndex(key[j]), laneLimit[r]);
          sj = arith::SelectOp::create(b, loc, visible, sj, f32Vector(lowest));
        }
        if (tail)
          sj = arith::SelectOp::create(b, loc, inBlock[j], sj, f32Vector(-inf));
        scores[j * vectors + r] = sj;
      }
    }
    return Block{scores, key, vRow, inBlock};
  };

  // One block of `keys` keys from j0: updates Ot, returns the new maxima
  // and sums (one vector per row vector). A tail block (fewer keys left)
  // clamps its key rows to the last one and gives the missing keys the
  // score -inf; whole blocks address K and V at constant offsets from the
  // block's first row.
  auto keyBlock = [&](Value j0, ValueRange mOld, ValueRange lOld,
                      bool tail) -> SmallVector<Value> {
    Block block = blockScores(j0, tail);
    ArrayRef<Value> scores = block.scores, vRow = block.vRow;
    SmallVector<Value> blockMax(vectors, f32Vector(-inf));
    for (int64_t j = 0; j < keys; ++j)
      for (int64_t r = 0; r < vectors; ++r)
        blockMax[r] =
            arith::MaximumFOp::create(b, loc, blockMax[r], scores[j * vectors + r]);
    SmallVector<Value> mNew, lNew, correction;
    SmallVector<Value> p(keys * vectors);
    for (int64_t r = 0; r < vectors; ++r) {
      mNew.push_back(arith::MaximumFOp::create(b, loc, mOld[r], blockMax[r]));
      // A row without a finite score yet subtracts 0: exp(-inf - 0) = 0
      // where exp(-inf - -inf) would be NaN.
      Value isEmpty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                            mNew[r], f32Vector(-inf));
      Value base = arith::SelectOp::create(b, loc, isEmpty, zeros, mNew[r]);
      correction.push_back(math::ExpOp::create(
          b, loc, arith::SubFOp::create(b, loc, mOld[r], base)));
      Value sum = zeros;
      for (int64_t j = 0; j < keys; ++j) {
        Value pj = math::ExpOp::create(
            b, loc,
            arith::SubFOp::create(b, loc, scores[j * vectors + r], base));
        p[j * vectors + r] = pj;
        sum = arith::AddFOp::create(b, loc, sum, pj);
      }
      lNew.push_back(arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, lOld[r], correction[r]), sum));
    }
    // Ot[e] = Ot[e] * c + sum_j p_j * V[j, e], `count` columns e at a time:
    // as many independent FMA chains as the FMA units keep in flight (one
    // chain of dependent FMAs would wait on each).
    auto accumulate = [&](Value e0, int64_t count) {
      SmallVector<Value> acc, at;
      for (int64_t u = 0; u < count; ++u)
        for (int64_t r = 0; r < vectors; ++r) {
          at.push_back(slot(add(e0, index(u)), r));
          acc.push_back(arith::MulFOp::create(
              b, loc,
              vector::LoadOp::create(b, loc, vecType, ot,
                                     ValueRange{at.back()}),
              correction[r]));
        }
      for (int64_t j = 0; j < keys; ++j)
        for (int64_t u = 0; u < count; ++u) {
          Value x = splatF32(memref::LoadOp::create(
              b, loc, v.flat, ValueRange{add(vRow[j], add(e0, index(u)))}));
          for (int64_t r = 0; r < vectors; ++r)
            acc[u * vectors + r] = vector::FMAOp::create(
                b, loc, p[j * vectors + r], x, acc[u * vectors + r]);
        }
      for (auto [value, where] : llvm::zip(acc, at))
        vector::StoreOp::create(b, loc, value, ot, ValueRange{where});
    };
    const int64_t unrolled = valueDim / valueUnroll * valueUnroll;
    if (unrolled > 0) {
      auto pv = scf::ForOp::create(b, loc, index(0), index(unrolled),
                                   index(valueUnroll));
      OpBuilder::InsertionGuard gp(b);
      enterLoop(b, pv);
      accumulate(pv.getInductionVar(), valueUnroll);
    }
    if (unrolled < valueDim)
      accumulate(index(unrolled), valueDim - unrolled);
    SmallVector<Value> next(mNew);
    next.append(lNew);
    return next;
  };
  // Whole blocks, then the tail.
  Value wholeEnd = arith::SubIOp::create(
      b, loc, keyEnd, arith::RemUIOp::create(b, loc, keyEnd, index(keys)));
  SmallVector<Value> state(vectors, f32Vector(-inf));
  state.append(vectors, zeros);
  auto keyLoop =
      scf::ForOp::create(b, loc, index(0), wholeEnd, index(keys), state);
  {
    OpBuilder::InsertionGuard g(b);
    enterLoop(b, keyLoop);
    ValueRange iter = keyLoop.getRegionIterArgs();
    scf::YieldOp::create(b, loc,
                         keyBlock(keyLoop.getInductionVar(),
                                  iter.take_front(vectors),
                                  iter.drop_front(vectors), /*tail=*/false));
  }
  Value hasTail = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                        wholeEnd, keyEnd);
  auto tailIf = scf::IfOp::create(b, loc, TypeRange(ValueRange(state)), hasTail,
                                  /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(tailIf.thenBlock());
    ValueRange done = keyLoop.getResults();
    scf::YieldOp::create(b, loc,
                         keyBlock(wholeEnd, done.take_front(vectors),
                                  done.drop_front(vectors), /*tail=*/true));
    b.setInsertionPointToStart(tailIf.elseBlock());
    scf::YieldOp::create(b, loc, keyLoop.getResults());
  }

  // result[b, position, head * Dv + e] = Ot[e][row] / l[row], row by row.
  Value inverses = memref::AllocaOp::create(
      b, loc, MemRefType::get({rowsPerTile}, b.getF32Type()));
  SmallVector<Value> inverse;
  for (int64_t r = 0; r < vectors; ++r) {
    inverse.push_back(arith::DivFOp::create(b, loc, f32Vector(1.0f),
                                            tailIf.getResult(vectors + r)));
    vector::StoreOp::create(b, loc, inverse.back(), inverses,
                            ValueRange{index(r * kLanes)});
  }
  if (importance) {
    // A second pass over the keys with the rows' final maxima and sums:
    // partial[key] += sum over the tile's valid rows of exp(s - m) / l.
    SmallVector<Value> base;
    for (int64_t r = 0; r < vectors; ++r) {
      Value rowMax = tailIf.getResult(r);
      Value isEmpty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                            rowMax, f32Vector(-inf));
      base.push_back(
          arith::SelectOp::create(b, loc, isEmpty, zeros, rowMax));
    }
    Value partialRow =
        mul(add(mul(add(mul(bIdx, index(kvHeads)), kvHead), groups),
                parallel.getInductionVars()[2]),
            s.keySeq);
    auto addBlock = [&](Value j0, bool tail) {
      Block block = blockScores(j0, tail);
      for (int64_t j = 0; j < keys; ++j) {
        Value sum = zeros;
        for (int64_t r = 0; r < vectors; ++r) {
          Value p = math::ExpOp::create(
              b, loc,
              arith::SubFOp::create(b, loc, block.scores[j * vectors + r],
                                    base[r]));
          p = arith::MulFOp::create(b, loc, p, inverse[r]);
          p = arith::SelectOp::create(b, loc, valid[r], p, zeros);
          sum = arith::AddFOp::create(b, loc, sum, p);
        }
        Value total = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, sum);
        OpBuilder::InsertionGuard gi(b);
        if (tail) {
          auto inside = scf::IfOp::create(b, loc, block.inBlock[j],
                                          /*withElseRegion=*/false);
          b.setInsertionPointToStart(inside.thenBlock());
        }
        Value at = add(partialRow, block.key[j]);
        Value old = memref::LoadOp::create(b, loc, partial, ValueRange{at});
        memref::StoreOp::create(b, loc,
                                arith::AddFOp::create(b, loc, old, total),
                                partial, ValueRange{at});
      }
    };
    {
      auto loop =
          scf::ForOp::create(b, loc, index(0), wholeEnd, index(keys));
      OpBuilder::InsertionGuard g(b);
      enterLoop(b, loop);
      addBlock(loop.getInductionVar(), /*tail=*/false);
    }
    auto ifTail = scf::IfOp::create(b, loc, hasTail, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(ifTail.thenBlock());
    addBlock(wholeEnd, /*tail=*/true);
  }
  Value rowsHere =
      minIndex(index(rowsPerTile), arith::SubIOp::create(b, loc, rows, r0));
  Value chunkOffsets = indexVector([&](int64_t i) { return i * rowsPerTile; });
  auto store = scf::ForOp::create(b, loc, index(0), rowsHere, index(1));
  {
    OpBuilder::InsertionGuard g(b);
    enterLoop(b, store);
    Value lane = store.getInductionVar();
    Value row = add(r0, lane);
    Value position = arith::DivUIOp::create(b, loc, row, index(group));
    Value head = add(mul(kvHead, index(group)),
                     arith::RemUIOp::create(b, loc, row, index(group)));
    Value outBase = add(add(outBatch, mul(position, out.strides[1])),
                        mul(head, index(valueDim)));
    Value factor =
        splatF32(memref::LoadOp::create(b, loc, inverses, ValueRange{lane}));
    auto maskType = VectorType::get({kLanes}, b.getI1Type());
    for (int64_t e0 = 0; e0 < valueDim; e0 += kLanes) {
      const int64_t width = std::min(kLanes, valueDim - e0);
      Value chunk = width == kLanes
                        ? vector::ConstantMaskOp::create(
                              b, loc, maskType, ArrayRef<int64_t>{kLanes})
                              .getResult()
                        : vector::CreateMaskOp::create(b, loc, maskType,
                                                       ValueRange{index(width)})
                              .getResult();
      // Ot[e0 + i][row] for the lanes i of this chunk.
      Value col = vector::GatherOp::create(
          b, loc, vecType, ot, ValueRange{add(index(e0 * rowsPerTile), lane)},
          chunkOffsets, chunk, zeros);
      col = arith::MulFOp::create(b, loc, col, factor);
      Value at = add(outBase, index(e0));
      if (width == kLanes)
        vector::StoreOp::create(b, loc, col, out.flat, ValueRange{at});
      else
        vector::MaskedStoreOp::create(b, loc, out.flat, ValueRange{at}, chunk,
                                      col);
    }
  }
}

/// Operands whose head width is not contiguous are copied to buffers that
/// are (a strided slice of a fused projection along the width); results
/// are written through such buffers and copied out.
static void makeWidthContiguous(RewriterBase &rewriter, FusedAttentionOp op) {
  Location loc = op.getLoc();
  SmallVector<Value> buffers;
  SmallVector<std::pair<Value, Value>> copyOuts;
  rewriter.setInsertionPoint(op);
  for (OpOperand &operand : op->getOpOperands()) {
    Value value = operand.get();
    auto type = cast<MemRefType>(value.getType());
    if (type.isLastDimUnitStride())
      continue;
    SmallVector<Value> dynamic;
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (type.isDynamicDim(i))
        dynamic.push_back(memref::DimOp::create(rewriter, loc, value, i));
    Value buffer = memref::AllocOp::create(
        rewriter, loc, MemRefType::get(type.getShape(), type.getElementType()),
        dynamic);
    if (op.isDpsInit(&operand)) {
      copyOuts.emplace_back(buffer, value);
    } else {
      linalg::CopyOp::create(rewriter, loc, value, buffer);
    }
    rewriter.modifyOpInPlace(op, [&] { operand.set(buffer); });
    buffers.push_back(buffer);
  }
  rewriter.setInsertionPointAfter(op);
  for (auto [buffer, target] : copyOuts)
    linalg::CopyOp::create(rewriter, loc, buffer, target);
  for (Value buffer : buffers)
    memref::DeallocOp::create(rewriter, loc, buffer);
}

struct SLMLowerFusedAttentionPass
    : mlir::slm::impl::SLMLowerFusedAttentionBase<SLMLowerFusedAttentionPass> {
  void runOnOperation() override {
    SmallVector<FusedAttentionOp> ops;
    bool onTensors = false;
    getOperation()->walk([&](FusedAttentionOp op) {
      if (op.getResult()) {
        op.emitError("slm-lower-fused-attention: still on tensors "
                     "(bufferize first)");
        onTensors = true;
      }
      ops.push_back(op);
    });
    if (onTensors)
      return signalPassFailure();
    IRRewriter rewriter(&getContext());
    for (FusedAttentionOp op : ops) {
      makeWidthContiguous(rewriter, op);
      rewriter.setInsertionPoint(op);
      FusedAttentionEmitter(rewriter, op).emit();
      rewriter.eraseOp(op);
    }
  }
};

} // namespace
