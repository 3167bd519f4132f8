//===- F32GemmKernel.cpp - Register-blocked f32 GEMM kernel -----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// f32 contractions on buffers become GEMM micro-kernels written in the
// vector dialect: a tile of C stays in vector registers for the whole
// reduction, B is read as whole column vectors, A one broadcast element per
// row and step. LLVM then only allocates registers and schedules; nothing
// depends on its loop vectorizer. int8 weight-only contractions
// (`int8_weight`) use the same kernel, their codes widened and scaled as B
// is loaded.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "slm/Codegen/Contraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::cpu_kernels;

namespace {

/// How a contraction's loops map onto the kernel.
struct KernelPlan {
  /// Operand index of C (after A, B and, for int8 codes, the scales).
  unsigned cIndex = 2;
  /// The per-column scale of int8 codes (operand 2), or none.
  bool scaledCodes = false;
  unsigned m, n, k;
  /// Every other (parallel) loop, in loop order.
  SmallVector<unsigned> outer;
};

static bool usesDim(AffineMap map, unsigned d) {
  return map.isFunctionOfDim(d);
}

/// The kernel plan of `op` (declared `declaration`, or undeclared when it is
/// null), or failure with the reason.
static FailureOr<KernelPlan> planKernel(linalg::GenericOp op,
                                        ContractionAttr declaration,
                                        std::string &reason) {
  auto fail = [&](const char *why) {
    reason = why;
    return failure();
  };
  if (!op.hasPureBufferSemantics())
    return fail("not on buffers");
  if (declaration && declaration.getKind() != ContractionKind::f32 &&
      declaration.getKind() != ContractionKind::int8_weight)
    return fail("not an f32 or int8 weight-only contraction");
  // int8 weight codes with their per-column scales (operand 2).
  const bool scaledCodes =
      declaration && declaration.getKind() == ContractionKind::int8_weight;
  if ((op.getNumDpsInputs() != 2 && !scaledCodes) || op.getNumDpsInits() != 1)
    return fail("not two inputs and one output");
  for (auto [i, v] : llvm::enumerate(op->getOperands())) {
    auto t = dyn_cast<MemRefType>(v.getType());
    // B may hold int8 weight codes, converted to f32 in the loop.
    if (!t || !(t.getElementType().isF32() ||
                (i == 1 && t.getElementType().isSignlessInteger(8))))
      return fail("not f32 buffers (or int8 weights)");
  }
  // Undeclared: upstream's interface says whether it is a contraction (the
  // body is checked against the declaration below otherwise).
  if (!declaration && !linalg::isaContractionOpInterface(op))
    return fail("not a multiply-accumulate contraction");
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  if (reductions.size() != 1)
    return fail("not exactly one reduction dimension");
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  const unsigned cIndex = op.getNumDpsInputs();
  AffineMap aMap = maps[0], bMap = maps[1], cMap = maps[cIndex];
  if (scaledCodes) {
    // The scales follow B's columns and not the reduction.
    AffineMap sMap = maps[2];
    auto sType = cast<MemRefType>(op.getDpsInputs()[2].getType());
    if (!isDimsOrZeros(sMap) || sMap.getNumResults() == 0 ||
        sMap.getResults().back() != bMap.getResults().back() ||
        !sType.isLastDimUnitStride())
      return fail("the scales do not run along the columns");
  }
  if (!isDimsOrZeros(aMap) || !isDimsOrZeros(bMap) ||
      !cMap.isProjectedPermutation() || cMap.getNumResults() < 2 ||
      bMap.getNumResults() < 1)
    return fail("indexing maps are not dimensions and broadcasts");
  KernelPlan plan;
  plan.cIndex = cIndex;
  plan.scaledCodes = scaledCodes;
  plan.k = reductions.front();
  plan.n = cast<AffineDimExpr>(cMap.getResults().back()).getPosition();
  std::optional<unsigned> rows = rowDimension(aMap, bMap, cMap);
  if (!rows)
    return fail("no output dimension indexes rows of A");
  plan.m = *rows;
  if (declaration && failed(checkDeclaration(op, declaration, plan.n, reason)))
    return failure();
  auto lastDim = [](AffineMap map) -> std::optional<unsigned> {
    if (auto d = dyn_cast<AffineDimExpr>(map.getResults().back()))
      return d.getPosition();
    return std::nullopt;
  };
  if (lastDim(bMap) != plan.n || usesDim(aMap, plan.n))
    return fail("B is not contiguous along the output columns");
  if (!usesDim(aMap, plan.k) || !usesDim(bMap, plan.k))
    return fail("the reduction is not in both inputs");
  auto bType = cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto cType = cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!bType.isLastDimUnitStride() || !cType.isLastDimUnitStride())
    return fail("B or C is strided along the columns");
  for (unsigned d = 0; d < op.getNumLoops(); ++d)
    if (d != plan.m && d != plan.n && d != plan.k)
      plan.outer.push_back(d);
  return plan;
}

/// What C holds before the contraction when the op that wrote it (a fill,
/// or a broadcast such as a bias) is folded into the kernel: the
/// accumulators then start from it and C is written once.
struct InitSource {
  Operation *op = nullptr;
  /// linalg.fill: the value.
  Value scalar;
  /// Broadcast: the input and its indexing map in the kernel's loops.
  Value input;
  AffineMap map;
  /// Whether the input runs along the columns (else one value per row).
  bool alongColumns = false;
};

/// The fill or broadcast right before `op` that writes all of its C.
static InitSource findInitSource(linalg::GenericOp op, const KernelPlan &plan) {
  Value c = op.getDpsInits()[0];
  Operation *prev = op->getPrevNode();
  InitSource source;
  if (auto fill = dyn_cast_if_present<linalg::FillOp>(prev)) {
    if (fill.hasPureBufferSemantics() && fill.getDpsInits()[0] == c &&
        fill.getDpsInputs()[0].getType().isF32()) {
      source.op = fill;
      source.scalar = fill.getDpsInputs()[0];
    }
    return source;
  }
  auto copy = dyn_cast_if_present<linalg::GenericOp>(prev);
  if (!copy || !copy.hasPureBufferSemantics() || !isDataMovement(copy) ||
      copy.getDpsInits()[0] != c ||
      !copy.getIndexingMapsArray()[1].isIdentity())
    return source;
  Value input = copy.getDpsInputs()[0];
  auto inputType = dyn_cast<MemRefType>(input.getType());
  if (!inputType || !inputType.getElementType().isF32())
    return source;
  AffineMap cMap = op.getIndexingMapsArray()[plan.cIndex];
  AffineMap map = copy.getIndexingMapsArray()[0].compose(cMap);
  if (!isDimsOrZeros(map))
    return source;
  if (map.getNumResults() > 0 &&
      map.getResults().back() == getAffineDimExpr(plan.n, op.getContext())) {
    if (!inputType.isLastDimUnitStride() ||
        map.dropResult(map.getNumResults() - 1).isFunctionOfDim(plan.n))
      return source;
    source.alongColumns = true;
  } else if (map.isFunctionOfDim(plan.n)) {
    return source;
  }
  source.op = copy;
  source.input = input;
  source.map = map;
  return source;
}

/// Emits the kernel of one contraction.
class KernelEmitter {
public:
  KernelEmitter(linalg::GenericOp op, const KernelPlan &plan, int64_t mr,
                int64_t nr, int64_t mBlock, int64_t nBlock, int64_t kBlock,
                int64_t prefetchDistance)
      : op(op), plan(plan), mr(mr), nr(nr), mBlock(mBlock), nBlock(nBlock),
        kBlock(kBlock), prefetchDistance(prefetchDistance),
        init(findInitSource(op, plan)) {}

  void emit(RewriterBase &rewriter);

private:
  Value index(OpBuilder &b, int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  /// Indices into operand `operand` with loop values `loops`.
  SmallVector<Value> indices(OpBuilder &b, unsigned operand,
                             ArrayRef<Value> loops) {
    return indices(b, maps[operand], loops);
  }
  SmallVector<Value> indices(OpBuilder &b, AffineMap map,
                             ArrayRef<Value> loops) {
    SmallVector<Value> result;
    for (AffineExpr e : map.getResults()) {
      if (auto d = dyn_cast<AffineDimExpr>(e))
        result.push_back(loops[d.getPosition()]);
      else
        result.push_back(index(b, 0));
    }
    return result;
  }
  Value loadVector(OpBuilder &b, Value memref, ValueRange at, Value mask) {
    if (!mask)
      return vector::LoadOp::create(b, loc, vecType, memref, at);
    Value zero =
        arith::ConstantOp::create(b, loc, vecType, b.getZeroAttr(vecType));
    return vector::MaskedLoadOp::create(b, loc, vecType, memref, at, mask,
                                        zero);
  }
  /// A vector of B: f32, or int8 codes widened to f32 (sitofp) and
  /// multiplied by their column scales `scale`.
  Value loadB(OpBuilder &b, ValueRange at, Value mask, Value scale = Value()) {
    Type element = cast<MemRefType>(bMat.getType()).getElementType();
    if (element.isF32())
      return loadVector(b, bMat, at, mask);
    auto codeType = VectorType::get({kLanes}, element);
    Value codes;
    if (!mask) {
      codes = vector::LoadOp::create(b, loc, codeType, bMat, at);
    } else {
      Value zero =
          arith::ConstantOp::create(b, loc, codeType, b.getZeroAttr(codeType));
      codes =
          vector::MaskedLoadOp::create(b, loc, codeType, bMat, at, mask, zero);
    }
    Value wide = arith::SIToFPOp::create(b, loc, vecType, codes);
    return scale ? arith::MulFOp::create(b, loc, wide, scale).getResult()
                 : wide;
  }
  void storeVector(OpBuilder &b, Value value, Value memref, ValueRange at,
                   Value mask) {
    if (!mask)
      vector::StoreOp::create(b, loc, value, memref, at);
    else
      vector::MaskedStoreOp::create(b, loc, memref, at, mask, value);
  }
  /// The register tile of `rows` rows at (m0, n0) over the whole reduction.
  /// `bBuffer`, when given, holds B[k0:k1, n0:n0+width] already as f32
  /// (int8 weights widened once per block, shared by the row tiles).
  /// With `rowLimit` (the end of the rows), rows past it repeat its last
  /// row: they compute its values again and store them to it again.
  void emitTile(OpBuilder &b, int64_t rows, Value m0, Value n0, Value k0,
                Value k1, SmallVector<Value> loops, ArrayRef<Value> masks,
                Value bBuffer = Value(), bool fillBuffer = false,
                Value rowLimit = Value());

  linalg::GenericOp op;
  const KernelPlan &plan;
  int64_t mr, nr, mBlock, nBlock, kBlock, prefetchDistance;
  InitSource init;
  Location loc = op.getLoc();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  VectorType vecType =
      VectorType::get({kLanes}, Float32Type::get(op.getContext()));
  Value a = op.getDpsInputs()[0], bMat = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  Value kExtent;
};

void KernelEmitter::emitTile(OpBuilder &b, int64_t rows, Value m0, Value n0,
                             Value k0, Value k1, SmallVector<Value> loops,
                             ArrayRef<Value> masks, Value bBuffer,
                             bool fillBuffer, Value rowLimit) {
  const int64_t cols = static_cast<int64_t>(masks.size());
  SmallVector<Value> colStart;
  for (int64_t j = 0; j < cols; ++j)
    colStart.push_back(
        j == 0 ? n0 : arith::AddIOp::create(b, loc, n0, index(b, j * kLanes)));
  SmallVector<Value> rowIndex;
  Value lastRow =
      rowLimit ? arith::SubIOp::create(b, loc, rowLimit, index(b, 1)).getResult()
               : Value();
  for (int64_t i = 0; i < rows; ++i) {
    Value row =
        i == 0 ? m0 : arith::AddIOp::create(b, loc, m0, index(b, i)).getResult();
    if (i > 0 && lastRow)
      row = arith::MinSIOp::create(b, loc, row, lastRow);
    rowIndex.push_back(row);
  }
  // The accumulators start from C (partial sums, or what the op before
  // wrote), or from that op's source when it is folded in.
  loops[plan.k] = index(b, 0);
  auto fromC = [&](OpBuilder &ib) {
    SmallVector<Value> acc;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        loops[plan.m] = rowIndex[i];
        loops[plan.n] = colStart[j];
        acc.push_back(
            loadVector(ib, c, indices(ib, plan.cIndex, loops), masks[j]));
      }
    return acc;
  };
  auto fromSource = [&](OpBuilder &ib) {
    SmallVector<Value> acc;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        loops[plan.m] = rowIndex[i];
        loops[plan.n] = colStart[j];
        Value v;
        if (init.scalar) {
          v = vector::BroadcastOp::create(ib, loc, vecType, init.scalar);
        } else if (init.alongColumns) {
          v = loadVector(ib, init.input, indices(ib, init.map, loops),
                         masks[j]);
        } else {
          Value x = memref::LoadOp::create(ib, loc, init.input,
                                           indices(ib, init.map, loops));
          v = vector::BroadcastOp::create(ib, loc, vecType, x);
        }
        acc.push_back(v);
      }
    return acc;
  };
  SmallVector<Value> acc;
  if (!init.op) {
    acc = fromC(b);
  } else if (kBlock <= 0) {
    acc = fromSource(b);
  } else {
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, k0,
                                        index(b, 0));
    auto branch = scf::IfOp::create(
        b, loc, first,
        [&](OpBuilder &tb, Location) {
          scf::YieldOp::create(tb, loc, fromSource(tb));
        },
        [&](OpBuilder &eb, Location) {
          scf::YieldOp::create(eb, loc, fromC(eb));
        });
    acc.assign(branch.getResults().begin(), branch.getResults().end());
  }
  SmallVector<Value> scaleOf(cols);
  if (plan.scaledCodes && (!bBuffer || fillBuffer))
    for (int64_t j = 0; j < cols; ++j) {
      loops[plan.n] = colStart[j];
      scaleOf[j] =
          loadVector(b, op.getDpsInputs()[2], indices(b, 2, loops), masks[j]);
    }
  auto loop = scf::ForOp::create(
      b, loc, k0, k1, index(b, 1), acc,
      [&](OpBuilder &lb, Location, Value k, ValueRange iter) {
        SmallVector<Value> at = loops;
        at[plan.k] = k;
        SmallVector<Value> bVec;
        Value row = bBuffer ? arith::SubIOp::create(lb, loc, k, k0) : Value();
        if (bBuffer && !fillBuffer) {
          for (int64_t j = 0; j < cols; ++j)
            bVec.push_back(
                vector::LoadOp::create(lb, loc, vecType, bBuffer,
                                       ValueRange{row, index(lb, j * kLanes)}));
        } else {
          for (int64_t j = 0; j < cols; ++j) {
            at[plan.n] = colStart[j];
            bVec.push_back(loadB(lb, indices(lb, 1, at), masks[j], scaleOf[j]));
            // The first row tile leaves the widened B for the others.
            if (fillBuffer)
              vector::StoreOp::create(lb, loc, bVec.back(), bBuffer,
                                      ValueRange{row, index(lb, j * kLanes)});
          }
        }
        if (prefetchDistance > 0 && (!bBuffer || fillBuffer)) {
          // B streams from memory (weights): ask for it a few rows ahead,
          // one request per cache line of a row of the tile.
          SmallVector<Value> ahead = at;
          ahead[plan.k] =
              arith::AddIOp::create(lb, loc, k, index(lb, prefetchDistance));
          for (int64_t j = 0; j < cols; ++j) {
            ahead[plan.n] = colStart[j];
            memref::PrefetchOp::create(
                lb, loc, bMat, indices(lb, 1, ahead), lb.getBoolAttr(false),
                lb.getI32IntegerAttr(3), lb.getBoolAttr(true));
          }
        }
        SmallVector<Value> next;
        for (int64_t i = 0; i < rows; ++i) {
          at[plan.m] = rowIndex[i];
          Value scalar = memref::LoadOp::create(lb, loc, a, indices(lb, 0, at));
          Value splat = vector::BroadcastOp::create(lb, loc, vecType, scalar);
          for (int64_t j = 0; j < cols; ++j)
            next.push_back(vector::FMAOp::create(lb, loc, splat, bVec[j],
                                                 iter[i * cols + j]));
        }
        scf::YieldOp::create(lb, loc, next);
      });
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      loops[plan.m] = rowIndex[i];
      loops[plan.n] = colStart[j];
      storeVector(b, loop.getResult(i * cols + j), c,
                  indices(b, plan.cIndex, loops), masks[j]);
    }
}

void KernelEmitter::emit(RewriterBase &rewriter) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  SmallVector<int64_t> staticSizes = op.getStaticLoopRanges();
  auto extent = [&](unsigned d) {
    return getValueOrCreateConstantIndexOp(b, loc, ranges[d].size);
  };
  Value mExtent = extent(plan.m), nExtent = extent(plan.n);
  kExtent = extent(plan.k);
  // Register tile width: no wider than the columns there are.
  int64_t width = nr;
  const int64_t nStatic = staticSizes[plan.n];
  if (!ShapedType::isDynamic(nStatic))
    width = std::min<int64_t>(width, llvm::alignTo(nStatic, kLanes));
  const bool masked = ShapedType::isDynamic(nStatic) || nStatic % width != 0;
  const int64_t colBlock = std::max(width, nBlock / width * width);
  const int64_t mBlock = std::max(mr, this->mBlock / mr * mr);

  auto ceilDiv = [&](Value x, int64_t d) -> Value {
    return arith::CeilDivSIOp::create(b, loc, x, index(b, d));
  };
  SmallVector<Value> lbs, ubs, steps;
  for (unsigned d : plan.outer)
    ubs.push_back(extent(d));
  ubs.push_back(ceilDiv(mExtent, mBlock));
  ubs.push_back(ceilDiv(nExtent, colBlock));
  lbs.assign(ubs.size(), index(b, 0));
  steps.assign(ubs.size(), index(b, 1));

  const bool int8B = !cast<MemRefType>(bMat.getType()).getElementType().isF32();
  scf::ParallelOp::create(
      b, loc, lbs, ubs, steps, [&](OpBuilder &outer, Location, ValueRange ivs) {
        // int8 B: a per-task f32 buffer for one widened block of B, on the
        // stack (in an alloca scope, so every task iteration frees it).
        OpBuilder pb = outer;
        Value bBuffer;
        if (int8B) {
          auto scope = memref::AllocaScopeOp::create(outer, loc, TypeRange{});
          Block *scopeBody = new Block();
          scope.getBodyRegion().push_back(scopeBody);
          pb.setInsertionPointToStart(scopeBody);
          Value rowsOfBlock = kBlock > 0 ? index(pb, kBlock) : kExtent;
          bBuffer = memref::AllocaOp::create(
              pb, loc,
              MemRefType::get({ShapedType::kDynamic, width},
                              Float32Type::get(pb.getContext())),
              ValueRange{rowsOfBlock});
        }
        SmallVector<Value> loops(op.getNumLoops());
        for (auto [i, d] : llvm::enumerate(plan.outer))
          loops[d] = ivs[i];
        Value mb = ivs[plan.outer.size()], nb = ivs[plan.outer.size() + 1];
        Value mStart = arith::MulIOp::create(pb, loc, mb, index(pb, mBlock));
        Value mEnd = arith::MinSIOp::create(
            pb, loc, arith::AddIOp::create(pb, loc, mStart, index(pb, mBlock)),
            mExtent);
        Value nStart = arith::MulIOp::create(pb, loc, nb, index(pb, colBlock));
        Value nEnd = arith::MinSIOp::create(
            pb, loc,
            arith::AddIOp::create(pb, loc, nStart, index(pb, colBlock)),
            nExtent);
        // Whole register tiles of rows, then the rest one row at a time.
        Value mSpan = arith::SubIOp::create(pb, loc, mEnd, mStart);
        Value mFull = arith::AddIOp::create(
            pb, loc, mStart,
            arith::MulIOp::create(
                pb, loc, arith::DivUIOp::create(pb, loc, mSpan, index(pb, mr)),
                index(pb, mr)));
        scf::ForOp::create(
            pb, loc, nStart, nEnd, index(pb, width), ValueRange{},
            [&](OpBuilder &nb2, Location, Value n0, ValueRange) {
              SmallVector<Value> masks;
              for (int64_t j = 0; j < width / kLanes; ++j) {
                if (!masked) {
                  masks.push_back(Value());
                  continue;
                }
                Value left = arith::SubIOp::create(
                    nb2, loc, nExtent,
                    arith::AddIOp::create(nb2, loc, n0,
                                          index(nb2, j * kLanes)));
                masks.push_back(vector::CreateMaskOp::create(
                    nb2, loc, VectorType::get({kLanes}, nb2.getI1Type()),
                    ValueRange{left}));
              }
              // Blocks of the reduction: the slice of B they read stays in
              // L1 across the row tiles; C accumulates across blocks.
              Value kStep = kBlock > 0 ? index(nb2, kBlock) : kExtent;
              if (kBlock <= 0) // A loop of one trip over the whole reduction.
                kStep =
                    arith::MaxSIOp::create(nb2, loc, kExtent, index(nb2, 1));
              scf::ForOp::create(
                  nb2, loc, index(nb2, 0), kExtent, kStep, ValueRange{},
                  [&](OpBuilder &kb, Location, Value k0, ValueRange) {
                    Value k1 = arith::MinSIOp::create(
                        kb, loc, arith::AddIOp::create(kb, loc, k0, kStep),
                        kExtent);
                    auto rowsLoop = [&](OpBuilder &rb, Value from, Value to,
                                        int64_t rows, Value buffer) {
                      scf::ForOp::create(
                          rb, loc, from, to, index(rb, rows), ValueRange{},
                          [&](OpBuilder &mbld, Location, Value m0, ValueRange) {
                            emitTile(mbld, rows, m0, n0, k0, k1, loops, masks,
                                     buffer);
                            scf::YieldOp::create(mbld, loc);
                          });
                    };
                    // The rows after the whole tiles: one at a time (a row
                    // tile's FMAs wait on each other's latency), or, from
                    // 3 on, one whole tile whose extra rows repeat the
                    // last (B read once; at 7 rows with 8-row tiles, 1/8
                    // of the FMAs are repeats).
                    auto restRows = [&](OpBuilder &rb, Value buffer) {
                      if (mr <= 1)
                        return;
                      if (mr < 4) {
                        rowsLoop(rb, mFull, mEnd, 1, buffer);
                        return;
                      }
                      Value left = arith::SubIOp::create(rb, loc, mEnd, mFull);
                      Value several = arith::CmpIOp::create(
                          rb, loc, arith::CmpIPredicate::sge, left,
                          index(rb, 3));
                      scf::IfOp::create(
                          rb, loc, several,
                          [&](OpBuilder &tb, Location) {
                            emitTile(tb, mr, mFull, n0, k0, k1, loops, masks,
                                     buffer, /*fillBuffer=*/false, mEnd);
                            scf::YieldOp::create(tb, loc);
                          },
                          [&](OpBuilder &eb, Location) {
                            rowsLoop(eb, mFull, mEnd, 1, buffer);
                            scf::YieldOp::create(eb, loc);
                          });
                    };
                    auto allRows = [&](OpBuilder &rb, Value buffer) {
                      rowsLoop(rb, mStart, mFull, mr, buffer);
                      restRows(rb, buffer);
                    };
                    if (!bBuffer) {
                      allRows(kb, Value());
                      scf::YieldOp::create(kb, loc);
                      return;
                    }
                    // int8 B: with more than one row tile, widen this block
                    // of B to f32 once and let every row tile read that.
                    Value several = arith::CmpIOp::create(
                        kb, loc, arith::CmpIPredicate::sgt, mSpan,
                        index(kb, mr));
                    scf::IfOp::create(
                        kb, loc, several,
                        [&](OpBuilder &tb, Location) {
                          // The first whole row tile widens B as it goes
                          // (its loads overlap its FMAs) into the buffer.
                          emitTile(tb, mr, mStart, n0, k0, k1, loops, masks,
                                   bBuffer, /*fillBuffer=*/true);
                          Value second = arith::AddIOp::create(tb, loc, mStart,
                                                               index(tb, mr));
                          rowsLoop(tb, second, mFull, mr, bBuffer);
                          restRows(tb, bBuffer);
                          scf::YieldOp::create(tb, loc);
                        },
                        [&](OpBuilder &eb, Location) {
                          allRows(eb, Value());
                          scf::YieldOp::create(eb, loc);
                        });
                    scf::YieldOp::create(kb, loc);
                  });
              scf::YieldOp::create(nb2, loc);
            });
        if (int8B)
          memref::AllocaScopeReturnOp::create(pb, loc, ValueRange{});
      });
  rewriter.eraseOp(op);
  if (init.op)
    rewriter.eraseOp(init.op);
}

} // namespace

LogicalResult cpu_kernels::lowerToF32Kernel(RewriterBase &rewriter,
                                            linalg::GenericOp op,
                                            ContractionAttr declaration,
                                            const TileSizes &sizes,
                                            std::string &reason) {
  FailureOr<KernelPlan> plan = planKernel(op, declaration, reason);
  if (failed(plan))
    return failure();
  KernelEmitter(op, *plan, sizes.mr, sizes.nr, sizes.mBlock, sizes.nBlock,
                sizes.kBlock, sizes.prefetchDistance)
      .emit(rewriter);
  return success();
}
