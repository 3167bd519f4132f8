//===- ContractionKernels.cpp - Register-blocked GEMM kernels ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// f32 contractions on buffers become GEMM micro-kernels written in the
// vector dialect: a tile of C stays in vector registers for the whole
// reduction, B is read as whole column vectors, A one broadcast element per
// row and step. LLVM then only allocates registers and schedules; nothing
// depends on its loop vectorizer.
//
//===----------------------------------------------------------------------===//

#include "LinalgUtils.h"
#include "slm/Conversion/Passes.h"
#include "slm/Support/WeightQuant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMVECTORIZECONTRACTIONS
#include "slm/Conversion/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {

/// Lanes of one f32 vector register (AVX-512).
constexpr int64_t kLanes = 16;

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

/// Whether every result of `map` is a loop dimension or the constant 0.
static bool isDimsOrZeros(AffineMap map) {
  return llvm::all_of(map.getResults(), [](AffineExpr e) {
    if (isa<AffineDimExpr>(e))
      return true;
    auto c = dyn_cast<AffineConstantExpr>(e);
    return c && c.getValue() == 0;
  });
}

static bool usesDim(AffineMap map, unsigned d) {
  return map.isFunctionOfDim(d);
}

/// The rows of a contraction: the innermost output dimension that indexes
/// A and not B (packed weights put their panel index between the rows and
/// the columns).
static std::optional<unsigned> rowDimension(AffineMap aMap, AffineMap bMap,
                                            AffineMap cMap) {
  for (AffineExpr e : llvm::reverse(cMap.getResults().drop_back())) {
    unsigned d = cast<AffineDimExpr>(e).getPosition();
    if (usesDim(aMap, d) && !usesDim(bMap, d))
      return d;
  }
  return std::nullopt;
}

/// The kernel plan of `op`, or failure with the reason.
static FailureOr<KernelPlan> planKernel(linalg::GenericOp op,
                                        std::string &reason) {
  auto fail = [&](const char *why) {
    reason = why;
    return failure();
  };
  if (!op.hasPureBufferSemantics())
    return fail("not on buffers");
  const bool scaledCodes = mlir::slm::isScaledCodesContraction(op);
  if ((op.getNumDpsInputs() != 2 && !scaledCodes) || op.getNumDpsInits() != 1)
    return fail("not two inputs and one output");
  for (auto [i, v] : llvm::enumerate(op->getOperands())) {
    auto t = dyn_cast<MemRefType>(v.getType());
    // B may hold int8 weight codes, converted to f32 in the loop.
    if (!t || !(t.getElementType().isF32() ||
                (i == 1 && t.getElementType().isSignlessInteger(8))))
      return fail("not f32 buffers (or int8 weights)");
  }
  if (!scaledCodes && !linalg::isaContractionOpInterface(op))
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
  if (!copy || !copy.hasPureBufferSemantics() ||
      !mlir::slm::isDataMovement(copy) || copy.getDpsInits()[0] != c ||
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
  void emitTile(OpBuilder &b, int64_t rows, Value m0, Value n0, Value k0,
                Value k1, SmallVector<Value> loops, ArrayRef<Value> masks,
                Value bBuffer = Value(), bool fillBuffer = false);

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
                             bool fillBuffer) {
  const int64_t cols = static_cast<int64_t>(masks.size());
  SmallVector<Value> colStart;
  for (int64_t j = 0; j < cols; ++j)
    colStart.push_back(
        j == 0 ? n0 : arith::AddIOp::create(b, loc, n0, index(b, j * kLanes)));
  SmallVector<Value> rowIndex;
  for (int64_t i = 0; i < rows; ++i)
    rowIndex.push_back(i == 0 ? m0
                              : arith::AddIOp::create(b, loc, m0, index(b, i)));
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
                    auto allRows = [&](OpBuilder &rb, Value buffer) {
                      rowsLoop(rb, mStart, mFull, mr, buffer);
                      if (mr > 1)
                        rowsLoop(rb, mFull, mEnd, 1, buffer);
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
                          if (mr > 1)
                            rowsLoop(tb, mFull, mEnd, 1, bBuffer);
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

//===----------------------------------------------------------------------===//
// uint8 x int8 dot-product kernels (AVX-512 VNNI)
//===----------------------------------------------------------------------===//

/// How an integer dot-product contraction maps onto the VNNI kernel.
struct DotPlan {
  unsigned m, n, kq, kr;
  SmallVector<unsigned> outer;
  int64_t columns = 0;
};

static FailureOr<DotPlan> planDotKernel(linalg::GenericOp op,
                                        std::string &reason) {
  auto fail = [&](const char *why) {
    reason = why;
    return failure();
  };
  if (!op.hasPureBufferSemantics())
    return fail("not on buffers");
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap aMap = maps[0], bMap = maps[1], cMap = maps[2];
  if (!isDimsOrZeros(aMap) || !isDimsOrZeros(bMap) ||
      !cMap.isProjectedPermutation() || cMap.getNumResults() < 2 ||
      aMap.getNumResults() < 2 || bMap.getNumResults() < 3)
    return fail("indexing maps are not dimensions and broadcasts");
  auto dimAt = [](AffineMap map, int64_t fromEnd) -> std::optional<unsigned> {
    if (auto d = dyn_cast<AffineDimExpr>(
            map.getResult(map.getNumResults() - 1 - fromEnd)))
      return d.getPosition();
    return std::nullopt;
  };
  DotPlan plan;
  std::optional<unsigned> kr = dimAt(aMap, 0), kq = dimAt(aMap, 1),
                          n = dimAt(cMap, 0);
  if (!kr || !kq || !n || dimAt(bMap, 0) != kr || dimAt(bMap, 2) != kq ||
      dimAt(bMap, 1) != n)
    return fail("B is not [.., k/4, columns, 4] with A [.., k/4, 4]");
  plan.kr = *kr;
  plan.kq = *kq;
  plan.n = *n;
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  if (sizes[plan.kr] != 4)
    return fail("the innermost reduction is not 4 wide");
  plan.columns = sizes[plan.n];
  if (ShapedType::isDynamic(plan.columns) || plan.columns % kLanes != 0)
    return fail("columns are not a static multiple of 16");
  std::optional<unsigned> rows = rowDimension(aMap, bMap, cMap);
  if (!rows)
    return fail("no output dimension indexes rows of A");
  plan.m = *rows;
  auto aType = cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto bType = cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto cType = cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!aType.isLastDimUnitStride() || !bType.getLayout().isIdentity() ||
      !bType.hasStaticShape() || !cType.isLastDimUnitStride())
    return fail("A, B or C is not contiguous where the kernel reads it");
  for (unsigned d = 0; d < op.getNumLoops(); ++d)
    if (d != plan.m && d != plan.n && d != plan.kq && d != plan.kr)
      plan.outer.push_back(d);
  return plan;
}

/// An elementwise op right after a contraction that reads its whole C
/// (identity maps, nothing else between but allocations and pure ops): the
/// kernel applies its body to the accumulators in registers and writes its
/// output instead of C (W8A8's dequantizing epilogue, with any activation
/// fused into it).
static linalg::GenericOp findEpilogue(linalg::GenericOp op, Value c) {
  auto cType = cast<MemRefType>(c.getType());
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode()) {
    auto ep = dyn_cast<linalg::GenericOp>(next);
    if (!ep) {
      if (isMemoryEffectFree(next) || isa<memref::AllocOp>(next))
        continue;
      return {};
    }
    if (!ep.hasPureBufferSemantics() || ep.getNumDpsInits() != 1 ||
        ep.getNumParallelLoops() != ep.getNumLoops() ||
        ep.getNumLoops() != static_cast<unsigned>(cType.getRank()) ||
        ep.getDpsInputs().empty() || ep.getDpsInputs()[0] != c)
      return {};
    SmallVector<AffineMap> maps = ep.getIndexingMapsArray();
    if (!maps.front().isIdentity() || !maps.back().isIdentity())
      return {};
    Value out = ep.getDpsInits()[0];
    auto outType = cast<MemRefType>(out.getType());
    if (!outType.isLastDimUnitStride() || !outType.getElementType().isF32())
      return {};
    Block &body = ep.getRegion().front();
    if (!body.getArguments().back().use_empty())
      return {};
    for (Operation &bodyOp : body.without_terminator())
      if (!bodyOp.hasTrait<OpTrait::Elementwise>() ||
          bodyOp.getNumResults() != 1 || bodyOp.getNumRegions() != 0)
        return {};
    // The other inputs: along the columns (contiguous) or one per row.
    const unsigned last = ep.getNumLoops() - 1;
    for (auto [i, input] : llvm::enumerate(ep.getDpsInputs())) {
      if (i == 0)
        continue;
      auto type = dyn_cast<MemRefType>(input.getType());
      AffineMap map = maps[i];
      if (!type || !isDimsOrZeros(map))
        return {};
      if (map.isFunctionOfDim(last) &&
          (map.getNumResults() == 0 ||
           map.getResults().back() != getAffineDimExpr(last, op.getContext()) ||
           map.dropResult(map.getNumResults() - 1).isFunctionOfDim(last) ||
           !type.isLastDimUnitStride()))
        return {};
    }
    // C must not be read after the epilogue (writes before the kernel,
    // such as its zero fill, are fine).
    for (Operation *user : c.getUsers())
      if (user != op && user != ep && !isa<memref::DeallocOp>(user) &&
          !(user->getBlock() == op->getBlock() && user->isBeforeInBlock(op)))
        return {};
    return ep;
  }
  return {};
}

/// The epilogue `ep` applied to the accumulator vector `acc` of C at
/// `cIndices` (one index per C dimension): its other inputs loaded as
/// vectors along the columns or broadcast per row, its body cloned on
/// vectors of `lanes`.
static Value applyEpilogue(OpBuilder &b, Location loc, linalg::GenericOp ep,
                           Value acc, ArrayRef<Value> cIndices, int64_t lanes) {
  SmallVector<AffineMap> maps = ep.getIndexingMapsArray();
  Block &body = ep.getRegion().front();
  IRMapping mapping;
  mapping.map(body.getArgument(0), acc);
  const unsigned last = ep.getNumLoops() - 1;
  auto vectorOf = [&](Type t) { return VectorType::get({lanes}, t); };
  for (auto [i, input] : llvm::enumerate(ep.getDpsInputs())) {
    if (i == 0)
      continue;
    SmallVector<Value> at;
    for (AffineExpr e : maps[i].getResults()) {
      if (auto d = dyn_cast<AffineDimExpr>(e))
        at.push_back(cIndices[d.getPosition()]);
      else
        at.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    }
    Type element = cast<MemRefType>(input.getType()).getElementType();
    Value v;
    if (maps[i].isFunctionOfDim(last))
      v = vector::LoadOp::create(b, loc, vectorOf(element), input, at);
    else
      v = vector::BroadcastOp::create(
          b, loc, vectorOf(element), memref::LoadOp::create(b, loc, input, at));
    mapping.map(body.getArgument(i), v);
  }
  for (Operation &bodyOp : body.without_terminator()) {
    SmallVector<Value> operands;
    for (Value operand : bodyOp.getOperands()) {
      if (Value mapped = mapping.lookupOrNull(operand)) {
        operands.push_back(mapped);
        continue;
      }
      // A scalar from outside the body (a constant): splat it.
      operands.push_back(vector::BroadcastOp::create(
          b, loc, vectorOf(operand.getType()), operand));
    }
    OperationState state(loc, bodyOp.getName().getStringRef(), operands,
                         TypeRange{vectorOf(bodyOp.getResult(0).getType())},
                         bodyOp.getAttrs());
    mapping.map(bodyOp.getResult(0), b.create(state)->getResult(0));
  }
  return mapping.lookup(
      cast<linalg::YieldOp>(body.getTerminator()).getValues().front());
}

/// The loop nest of the integer and 4-bit kernels: one parallel task per
/// value of the `outer` dimensions and block of `mBlock` rows (dimension `m`
/// of `op`'s loops), in it whole tiles of `mr` rows then single rows, and
/// per row tile the `columns` in tiles of up to `nr` (multiples of 16; the
/// last one narrower). `tile(builder, rows, vectors, m0, n0, loops)` emits
/// one tile, `loops` holding the outer dimensions' values.
using TileEmitter = function_ref<void(OpBuilder &, int64_t, int64_t, Value,
                                      Value, ArrayRef<Value>)>;
static void emitTiledNest(OpBuilder &b, Location loc, linalg::GenericOp op,
                          ArrayRef<unsigned> outer, unsigned m, int64_t columns,
                          int64_t mr, int64_t nr, int64_t mBlock,
                          TileEmitter tile) {
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, loc, v);
  };
  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  auto extent = [&](unsigned d) {
    return getValueOrCreateConstantIndexOp(b, loc, ranges[d].size);
  };
  Value mExtent = extent(m);
  const int64_t width = std::min<int64_t>(
      std::max<int64_t>(kLanes, nr / kLanes * kLanes), columns);
  const int64_t block = std::max(mr, mBlock / mr * mr);
  SmallVector<Value> lbs, ubs, steps;
  for (unsigned d : outer)
    ubs.push_back(extent(d));
  ubs.push_back(arith::CeilDivSIOp::create(b, loc, mExtent, index(b, block)));
  lbs.assign(ubs.size(), index(b, 0));
  steps.assign(ubs.size(), index(b, 1));
  scf::ParallelOp::create(
      b, loc, lbs, ubs, steps, [&](OpBuilder &pb, Location, ValueRange ivs) {
        SmallVector<Value> loops(op.getNumLoops());
        for (auto [i, d] : llvm::enumerate(outer))
          loops[d] = ivs[i];
        Value mStart =
            arith::MulIOp::create(pb, loc, ivs.back(), index(pb, block));
        Value mEnd = arith::MinSIOp::create(
            pb, loc, arith::AddIOp::create(pb, loc, mStart, index(pb, block)),
            mExtent);
        Value mSpan = arith::SubIOp::create(pb, loc, mEnd, mStart);
        Value mFull = arith::AddIOp::create(
            pb, loc, mStart,
            arith::MulIOp::create(
                pb, loc, arith::DivUIOp::create(pb, loc, mSpan, index(pb, mr)),
                index(pb, mr)));
        auto columnsLoop = [&](OpBuilder &cb, int64_t rows, Value m0) {
          const int64_t whole = columns / width * width;
          if (whole > 0)
            scf::ForOp::create(
                cb, loc, index(cb, 0), index(cb, whole), index(cb, width),
                ValueRange{},
                [&](OpBuilder &nb, Location, Value n0, ValueRange) {
                  tile(nb, rows, width / kLanes, m0, n0, loops);
                  scf::YieldOp::create(nb, loc);
                });
          if (whole < columns)
            tile(cb, rows, (columns - whole) / kLanes, m0, index(cb, whole),
                 loops);
        };
        auto rowsLoop = [&](Value from, Value to, int64_t rows) {
          scf::ForOp::create(
              pb, loc, from, to, index(pb, rows), ValueRange{},
              [&](OpBuilder &rb, Location, Value m0, ValueRange) {
                columnsLoop(rb, rows, m0);
                scf::YieldOp::create(rb, loc);
              });
        };
        rowsLoop(mStart, mFull, mr);
        if (mr > 1)
          rowsLoop(mFull, mEnd, 1);
      });
}

/// Emits the VNNI kernel of an integer dot-product contraction: a tile of
/// `mr` rows x `width` columns of C in int32 vector registers; per quad of
/// k, one 64-byte load of B per 16 columns (four k of each column), four
/// bytes of A broadcast per row, and one `vpdpbusd` per row and 16 columns.
static void emitDotKernel(RewriterBase &rewriter, linalg::GenericOp op,
                          const DotPlan &plan, int64_t mr, int64_t nr,
                          int64_t mBlock) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  OpBuilder &b = rewriter;
  Location loc = op.getLoc();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Value a = op.getDpsInputs()[0], bMat = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, loc, v);
  };
  auto indices = [&](OpBuilder &ib, AffineMap map, ArrayRef<Value> loops,
                     size_t count) {
    SmallVector<Value> result;
    for (AffineExpr e : map.getResults().take_front(count)) {
      if (auto d = dyn_cast<AffineDimExpr>(e))
        result.push_back(loops[d.getPosition()]);
      else
        result.push_back(index(ib, 0));
    }
    return result;
  };
  auto accType = VectorType::get({kLanes}, b.getI32Type());
  auto bytesType = VectorType::get({4 * kLanes}, b.getI8Type());
  auto quadType = VectorType::get({4}, b.getI8Type());
  auto wordType = VectorType::get({1}, b.getI32Type());
  StringAttr vpdpbusd = b.getStringAttr("llvm.x86.avx512.vpdpbusd.512");

  // B as [.., k/4, columns * 4]: 16 columns' four k are 64 contiguous bytes.
  auto bType = cast<MemRefType>(bMat.getType());
  SmallVector<ReassociationIndices> collapse;
  for (int64_t i = 0; i + 2 < bType.getRank(); ++i)
    collapse.push_back({i});
  collapse.push_back({bType.getRank() - 2, bType.getRank() - 1});
  Value bFlat = memref::CollapseShapeOp::create(b, loc, bMat, collapse);

  // What C starts from: a fill of C before it, with only ops that touch no
  // memory in between (folded away), else C itself.
  Value fillValue;
  Operation *fill = nullptr;
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto f = dyn_cast<linalg::FillOp>(prev)) {
      if (f.hasPureBufferSemantics() && f.getDpsInits()[0] == c &&
          f.getDpsInputs()[0].getType().isInteger(32)) {
        fill = f;
        fillValue = f.getDpsInputs()[0];
      }
      break;
    }
    if (!isMemoryEffectFree(prev) && !isa<ViewLikeOpInterface>(prev) &&
        !isa<memref::AllocOp>(prev))
      break;
  }

  // A dequantizing epilogue is applied in registers; the kernel then runs
  // where it was (after its output's allocation) and writes its output.
  linalg::GenericOp epilogue = findEpilogue(op, c);
  if (epilogue)
    b.setInsertionPoint(epilogue);
  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  Value quads = getValueOrCreateConstantIndexOp(b, loc, ranges[plan.kq].size);
  auto tile = [&](OpBuilder &tb, int64_t rows, int64_t cols, Value m0, Value n0,
                  ArrayRef<Value> outerLoops) {
    SmallVector<Value> loops(outerLoops);
    loops[plan.kr] = index(tb, 0);
    SmallVector<Value> at = loops;
    SmallVector<Value> rowIndex, colIndex;
    for (int64_t i = 0; i < rows; ++i)
      rowIndex.push_back(
          i ? arith::AddIOp::create(tb, loc, m0, index(tb, i)).getResult()
            : m0);
    for (int64_t j = 0; j < cols; ++j)
      colIndex.push_back(
          j ? arith::AddIOp::create(tb, loc, n0, index(tb, j * kLanes))
                  .getResult()
            : n0);
    auto cAt = [&](OpBuilder &ib, int64_t i, int64_t j) {
      at[plan.m] = rowIndex[i];
      at[plan.n] = colIndex[j];
      return indices(ib, maps[2], at, maps[2].getNumResults());
    };
    SmallVector<Value> acc;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        acc.push_back(
            fillValue
                ? vector::BroadcastOp::create(tb, loc, accType, fillValue)
                      .getResult()
                : vector::LoadOp::create(tb, loc, accType, c, cAt(tb, i, j))
                      .getResult());
    auto loop = scf::ForOp::create(
        tb, loc, index(tb, 0), quads, index(tb, 1), acc,
        [&](OpBuilder &lb, Location, Value kq, ValueRange iter) {
          SmallVector<Value> in = loops;
          in[plan.kq] = kq;
          SmallVector<Value> bVec;
          AffineMap bMap = maps[1];
          for (int64_t j = 0; j < cols; ++j) {
            in[plan.n] = colIndex[j];
            SmallVector<Value> bIdx =
                indices(lb, bMap, in, bMap.getNumResults() - 2);
            bIdx.push_back(
                arith::MulIOp::create(lb, loc, colIndex[j], index(lb, 4)));
            bVec.push_back(
                vector::LoadOp::create(lb, loc, bytesType, bFlat, bIdx));
          }
          SmallVector<Value> next;
          AffineMap aMap = maps[0];
          for (int64_t i = 0; i < rows; ++i) {
            in[plan.m] = rowIndex[i];
            Value quad = vector::LoadOp::create(
                lb, loc, quadType, a,
                indices(lb, aMap, in, aMap.getNumResults()));
            Value word = vector::ExtractOp::create(
                lb, loc, vector::BitCastOp::create(lb, loc, wordType, quad),
                ArrayRef<int64_t>{0});
            Value splat = vector::BitCastOp::create(
                lb, loc, bytesType,
                vector::BroadcastOp::create(lb, loc, accType, word));
            for (int64_t j = 0; j < cols; ++j)
              next.push_back(LLVM::CallIntrinsicOp::create(
                                 lb, loc, accType, vpdpbusd,
                                 ValueRange{iter[i * cols + j], splat, bVec[j]})
                                 .getResult(0));
          }
          scf::YieldOp::create(lb, loc, next);
        });
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        SmallVector<Value> where = cAt(tb, i, j);
        Value result = loop.getResult(i * cols + j);
        if (!epilogue) {
          vector::StoreOp::create(tb, loc, result, c, where);
          continue;
        }
        vector::StoreOp::create(
            tb, loc, applyEpilogue(tb, loc, epilogue, result, where, kLanes),
            epilogue.getDpsInits()[0], where);
      }
  };
  emitTiledNest(b, loc, op, plan.outer, plan.m, plan.columns, mr, nr, mBlock,
                tile);
  rewriter.eraseOp(op);
  if (fill)
    rewriter.eraseOp(fill);
  if (epilogue)
    rewriter.eraseOp(epilogue);
}

//===----------------------------------------------------------------------===//
// 4-bit weight kernels (int4 / NF4, decoded in registers)
//===----------------------------------------------------------------------===//

/// How a 4-bit weight contraction maps onto its kernel.
struct NibblePlan {
  unsigned m, n, kg, kb, kl;
  SmallVector<unsigned> outer;
  int64_t columns = 0;
  bool nf4 = false;
};

static FailureOr<NibblePlan> planNibbleKernel(linalg::GenericOp op,
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
  plan.nf4 =
      op->getAttrOfType<StringAttr>(mlir::slm::kNibbleDecodeAttr).getValue() ==
      "nf4";
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
                             int64_t mBlock) {
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
  Value table = arith::ConstantOp::create(
      b, loc, f32Vec, DenseElementsAttr::get(f32Vec, ArrayRef<float>(levels)));
  StringAttr permute = b.getStringAttr("llvm.x86.avx512.permvar.sf.512");

  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  Value groups = getValueOrCreateConstantIndexOp(b, loc, ranges[plan.kg].size),
        half = getValueOrCreateConstantIndexOp(b, loc, ranges[plan.kb].size);
  auto tile = [&](OpBuilder &tb, int64_t rows, int64_t cols, Value m0, Value n0,
                  ArrayRef<Value> outerLoops) {
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
                        Value level = LLVM::CallIntrinsicOp::create(
                                          lb, loc, f32Vec, permute,
                                          ValueRange{table, nibble[h]})
                                          .getResult(0);
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
                    Value level = LLVM::CallIntrinsicOp::create(
                                      lb, loc, f32Vec, permute,
                                      ValueRange{table, nibble[h]})
                                      .getResult(0);
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

struct SLMVectorizeContractionsPass
    : mlir::slm::impl::SLMVectorizeContractionsBase<
          SLMVectorizeContractionsPass> {
  using SLMVectorizeContractionsBase::SLMVectorizeContractionsBase;

  void runOnOperation() override {
    if (mr < 1 || nr < kLanes || nr % kLanes != 0 || mBlock < mr ||
        nBlock < 1) {
      getOperation()->emitError()
          << "slm-vectorize-contractions: need mr >= 1, nr a multiple of "
          << kLanes << ", m-block >= mr, n-block >= 1";
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> candidates;
    getOperation()->walk(
        [&](linalg::GenericOp op) { candidates.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : candidates) {
      std::string reason;
      if (mlir::slm::isNibbleContraction(op)) {
        FailureOr<NibblePlan> plan = planNibbleKernel(op, reason);
        if (succeeded(plan))
          emitNibbleKernel(rewriter, op, *plan, mr, nr, mBlock);
        else if (report)
          op->emitRemark() << "4-bit weight contraction left as loops: "
                           << reason;
        continue;
      }
      if (mlir::slm::isInt8DotContraction(op)) {
        FailureOr<DotPlan> plan =
            vnni ? planDotKernel(op, reason)
                 : FailureOr<DotPlan>(
                       (reason = "the target has no AVX-512 VNNI", failure()));
        if (succeeded(plan)) {
          // 64-column panels (what the W8A8 lowering packs when N allows)
          // get a 6 x 64 tile: 24 int32 accumulators + 4 B vectors + A fit
          // the 32 registers, and each A broadcast feeds 4 vpdpbusd.
          const bool wide = plan->columns >= 64;
          emitDotKernel(rewriter, op, *plan, wide ? 6 : mr, wide ? 64 : nr,
                        mBlock);
        } else if (report) {
          op->emitRemark() << "integer contraction left as loops: " << reason;
        }
        continue;
      }
      FailureOr<KernelPlan> plan = planKernel(op, reason);
      if (failed(plan)) {
        // Say why a matrix product stays plain loops (other ops are not
        // candidates at all).
        if (report && mlir::slm::isKernelContraction(op))
          op->emitRemark() << "contraction left as loops: " << reason;
        continue;
      }
      KernelEmitter(op, *plan, mr, nr, mBlock, nBlock, kBlock, prefetchDistance)
          .emit(rewriter);
    }
  }
};

} // namespace
