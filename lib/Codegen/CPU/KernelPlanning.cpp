//===- KernelPlanning.cpp - What the GEMM kernels share ---------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "slm/Codegen/Contraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::cpu_kernels;

bool cpu_kernels::isDimsOrZeros(AffineMap map) {
  return llvm::all_of(map.getResults(), [](AffineExpr e) {
    if (isa<AffineDimExpr>(e))
      return true;
    auto c = dyn_cast<AffineConstantExpr>(e);
    return c && c.getValue() == 0;
  });
}

std::optional<unsigned>
cpu_kernels::rowDimension(AffineMap aMap, AffineMap bMap, AffineMap cMap) {
  for (AffineExpr e : llvm::reverse(cMap.getResults().drop_back())) {
    unsigned d = cast<AffineDimExpr>(e).getPosition();
    if (aMap.isFunctionOfDim(d) && !bMap.isFunctionOfDim(d))
      return d;
  }
  return std::nullopt;
}

bool cpu_kernels::isDataMovement(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 0)
    return false;
  Block &body = op.getRegion().front();
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  return body.getOperations().size() == 1 && yield &&
         yield.getValues().front() == body.getArgument(0);
}

bool cpu_kernels::isKernelContraction(linalg::LinalgOp op) {
  return getContractionDeclaration(op) || linalg::isaContractionOpInterface(op);
}

LogicalResult cpu_kernels::checkDeclaration(linalg::GenericOp op,
                                            ContractionAttr declaration,
                                            unsigned n, std::string &reason) {
  if (!hasDeclaredBody(op, declaration, reason))
    return failure();
  const int64_t panel = declaration.getPanel();
  const int64_t columns = op.getStaticLoopRanges()[n];
  if (panel > 0 && columns != panel) {
    reason = "it declares panels of " + std::to_string(panel) +
             " columns, its columns loop spans " +
             (ShapedType::isDynamic(columns) ? std::string("a dynamic extent")
                                             : std::to_string(columns));
    return failure();
  }
  return success();
}

void cpu_kernels::emitTiledNest(OpBuilder &b, Location loc,
                                linalg::GenericOp op, ArrayRef<unsigned> outer,
                                unsigned m, int64_t columns, int64_t mr,
                                int64_t nr, int64_t mBlock, TileEmitter tile,
                                bool repeatLastRows) {
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
        auto columnsLoop = [&](OpBuilder &cb, int64_t rows, Value m0,
                               Value rowLimit) {
          const int64_t whole = columns / width * width;
          if (whole > 0)
            scf::ForOp::create(
                cb, loc, index(cb, 0), index(cb, whole), index(cb, width),
                ValueRange{},
                [&](OpBuilder &nb, Location, Value n0, ValueRange) {
                  tile(nb, rows, width / kLanes, m0, n0, loops, rowLimit);
                  scf::YieldOp::create(nb, loc);
                });
          if (whole < columns)
            tile(cb, rows, (columns - whole) / kLanes, m0, index(cb, whole),
                 loops, rowLimit);
        };
        auto rowsLoop = [&](OpBuilder &lb, Value from, Value to, int64_t rows) {
          scf::ForOp::create(
              lb, loc, from, to, index(lb, rows), ValueRange{},
              [&](OpBuilder &rb, Location, Value m0, ValueRange) {
                columnsLoop(rb, rows, m0, Value());
                scf::YieldOp::create(rb, loc);
              });
        };
        rowsLoop(pb, mStart, mFull, mr);
        if (mr <= 1)
          return;
        if (!repeatLastRows || mr < 4) {
          rowsLoop(pb, mFull, mEnd, 1);
          return;
        }
        // 3 or more rows left: one whole tile repeating the last row.
        Value left = arith::SubIOp::create(pb, loc, mEnd, mFull);
        Value several = arith::CmpIOp::create(
            pb, loc, arith::CmpIPredicate::sge, left, index(pb, 3));
        scf::IfOp::create(
            pb, loc, several,
            [&](OpBuilder &tb, Location) {
              columnsLoop(tb, mr, mFull, mEnd);
              scf::YieldOp::create(tb, loc);
            },
            [&](OpBuilder &eb, Location) {
              rowsLoop(eb, mFull, mEnd, 1);
              scf::YieldOp::create(eb, loc);
            });
      });
}
