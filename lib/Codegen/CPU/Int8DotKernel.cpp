//===- Int8DotKernel.cpp - uint8 x int8 and bf16 dot kernels ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// W8A8's integer contractions (`u8s8_dot`): a tile of int32 sums in vector
// registers accumulates four k at a time with AVX-512 VNNI's vpdpbusd, or
// on AVX2 with vpmaddwd on codes widened to int16 (exact, unlike
// vpmaddubsw's saturating int16 sums); the dequantizing epilogue that reads
// C right after is applied to the accumulators in registers, so C is never
// written.
//
// bf16 contractions (`bf16_dot`, --precision=bf16) use the same kernel two
// k at a time: AVX512-BF16's vdpbf16ps, or on other CPUs two f32 FMAs on
// the pair's halves widened by shifts (exact products, the f32 kernel's
// speed).
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "slm/Codegen/Contraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::cpu_kernels;

namespace {

/// How a dot-product contraction maps onto the kernel.
struct DotPlan {
  unsigned m, n, kq, kr;
  SmallVector<unsigned> outer;
  int64_t columns = 0;
  /// Consecutive k per step: 4 (uint8 x int8) or 2 (bf16).
  int64_t group = 4;
};

/// The instructions a dot kernel is written with.
enum class DotInstructions {
  /// vpdpbusd: four uint8 x int8 products per int32 lane.
  vnni,
  /// vpmaddwd on codes widened to int16 (AVX2).
  avx2,
  /// vdpbf16ps: two bf16 x bf16 products per f32 lane.
  bf16,
  /// bf16 pairs widened to f32 by shifts, two FMAs.
  bf16Emulated,
};

static FailureOr<DotPlan> planDotKernel(linalg::GenericOp op,
                                        ContractionAttr declaration,
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
  plan.group = declaration.getKind() == ContractionKind::bf16_dot ? 2 : 4;
  std::optional<unsigned> kr = dimAt(aMap, 0), kq = dimAt(aMap, 1),
                          n = dimAt(cMap, 0);
  if (!kr || !kq || !n || dimAt(bMap, 0) != kr || dimAt(bMap, 2) != kq ||
      dimAt(bMap, 1) != n)
    return fail(plan.group == 2
                    ? "B is not [.., k/2, columns, 2] with A [.., k/2, 2]"
                    : "B is not [.., k/4, columns, 4] with A [.., k/4, 4]");
  plan.kr = *kr;
  plan.kq = *kq;
  plan.n = *n;
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  if (sizes[plan.kr] != plan.group)
    return fail(plan.group == 2 ? "the innermost reduction is not 2 wide"
                                : "the innermost reduction is not 4 wide");
  if (failed(checkDeclaration(op, declaration, plan.n, reason)))
    return failure();
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

/// Emits the dot kernel of a contraction over groups of `plan.group`
/// consecutive k: a tile of `mr` rows x `nr` columns of C in vector
/// registers; per group of k, one 64-byte load of B per 16 columns (the
/// group's k of each column), the row's group of A broadcast, and one
/// product-sum instruction per row and 16 columns:
/// - `vnni`: vpdpbusd, four uint8 x int8 products into each int32 lane;
/// - `avx2`: each 16 columns' 64 bytes of B widened to int16 (four 16-lane
///   vectors), the row's four bytes of A to int16 repeated, and four
///   `vpmaddwd` add pairs of products into four 8-lane int32 partial sums:
///   lane 2c and 2c + 1 of their concatenation are column c's two k pairs,
///   added once after the reduction loop;
/// - `bf16`: vdpbf16ps, two bf16 x bf16 products into each f32 lane;
/// - `bf16Emulated`: B's pairs as 32-bit lanes, the even k's bf16 shifted
///   into the high half and the odd k's masked there give two f32 vectors,
///   multiplied by the row's two A values in two FMAs (the products are
///   exact either way; only the order of the sums differs).
static void emitDotKernel(RewriterBase &rewriter, linalg::GenericOp op,
                          const DotPlan &plan, int64_t mr, int64_t nr,
                          int64_t mBlock, DotInstructions instructions) {
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
  const bool bf16 = instructions == DotInstructions::bf16 ||
                    instructions == DotInstructions::bf16Emulated;
  const bool avx2 = instructions == DotInstructions::avx2;
  const int64_t group = plan.group;
  Type element = bf16 ? Type(b.getBF16Type()) : Type(b.getI8Type());
  Type accElement = bf16 ? Type(b.getF32Type()) : Type(b.getI32Type());
  auto accType = VectorType::get({kLanes}, accElement);
  auto intsType = VectorType::get({kLanes}, b.getI32Type());
  // 16 columns' group of k: 64 bytes.
  auto bVecType = VectorType::get({group * kLanes}, element);
  auto groupType = VectorType::get({group}, element);
  auto wordType = VectorType::get({1}, b.getI32Type());
  StringAttr vpdpbusd = b.getStringAttr("llvm.x86.avx512.vpdpbusd.512");
  StringAttr vdpbf16ps = b.getStringAttr("llvm.x86.avx512bf16.dpbf16ps.512");
  // AVX2: int16 codes, 8-lane partial sums, 4 per 16 columns.
  auto halfType = VectorType::get({8}, b.getI32Type());
  auto wordsType = VectorType::get({16}, b.getI16Type());
  auto wideBytesType = VectorType::get({4 * kLanes}, b.getI16Type());
  auto quadWordsType = VectorType::get({4}, b.getI16Type());
  auto longType = VectorType::get({1}, b.getI64Type());
  auto longsType = VectorType::get({4}, b.getI64Type());
  StringAttr vpmaddwd = b.getStringAttr("llvm.x86.avx2.pmadd.wd");
  const int64_t parts = avx2 ? 4 : 1;

  // B as [.., k/g, columns * g]: 16 columns' g k are 64 contiguous bytes.
  auto bType = cast<MemRefType>(bMat.getType());
  SmallVector<ReassociationIndices> collapse;
  for (int64_t i = 0; i + 2 < bType.getRank(); ++i)
    collapse.push_back({i});
  collapse.push_back({bType.getRank() - 2, bType.getRank() - 1});
  Value bFlat = memref::CollapseShapeOp::create(b, loc, bMat, collapse);

  // What C starts from: a fill of C before it, or a broadcast into C of a
  // row of values along the columns (a bias), with only ops that touch no
  // memory in between (folded away); else C itself.
  Value fillValue, rowValues;
  AffineMap rowMap;
  Operation *fill = nullptr;
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto f = dyn_cast<linalg::FillOp>(prev)) {
      if (f.hasPureBufferSemantics() && f.getDpsInits()[0] == c &&
          f.getDpsInputs()[0].getType() == accElement) {
        fill = f;
        fillValue = f.getDpsInputs()[0];
      }
      break;
    }
    if (auto copy = dyn_cast<linalg::GenericOp>(prev)) {
      if (copy.hasPureBufferSemantics() && isDataMovement(copy) &&
          copy.getDpsInits()[0] == c &&
          copy.getIndexingMapsArray()[1].isIdentity()) {
        Value input = copy.getDpsInputs()[0];
        auto inputType = dyn_cast<MemRefType>(input.getType());
        AffineMap map = copy.getIndexingMapsArray()[0].compose(maps[2]);
        AffineExpr columns = getAffineDimExpr(plan.n, op.getContext());
        if (inputType && inputType.getElementType() == accElement &&
            inputType.isLastDimUnitStride() && isDimsOrZeros(map) &&
            map.getNumResults() > 0 && map.getResults().back() == columns &&
            !map.dropResult(map.getNumResults() - 1).isFunctionOfDim(plan.n)) {
          fill = copy;
          rowValues = input;
          rowMap = map;
        }
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
  Value steps = getValueOrCreateConstantIndexOp(b, loc, ranges[plan.kq].size);
  auto tile = [&](OpBuilder &tb, int64_t rows, int64_t cols, Value m0, Value n0,
                  ArrayRef<Value> outerLoops, Value rowLimit) {
    SmallVector<Value> loops(outerLoops);
    loops[plan.kr] = index(tb, 0);
    SmallVector<Value> at = loops;
    SmallVector<Value> rowIndex, colIndex;
    // Rows past `rowLimit` repeat the last one (see emitTiledNest).
    Value lastRow =
        rowLimit
            ? arith::SubIOp::create(tb, loc, rowLimit, index(tb, 1)).getResult()
            : Value();
    for (int64_t i = 0; i < rows; ++i) {
      Value row =
          i ? arith::AddIOp::create(tb, loc, m0, index(tb, i)).getResult() : m0;
      if (i > 0 && lastRow)
        row = arith::MinSIOp::create(tb, loc, row, lastRow);
      rowIndex.push_back(row);
    }
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
    // What each accumulator starts from: the fill, the broadcast row or C.
    auto start = [&](OpBuilder &ib, int64_t i, int64_t j) -> Value {
      if (fillValue)
        return vector::BroadcastOp::create(ib, loc, accType, fillValue);
      if (rowValues) {
        at[plan.m] = rowIndex[i];
        at[plan.n] = colIndex[j];
        return vector::LoadOp::create(ib, loc, accType, rowValues,
                                      indices(ib, rowMap, at,
                                              rowMap.getNumResults()));
      }
      return vector::LoadOp::create(ib, loc, accType, c, cAt(ib, i, j));
    };
    SmallVector<Value> acc;
    Value zeros;
    if (avx2)
      zeros = arith::ConstantOp::create(
          tb, loc, halfType,
          DenseElementsAttr::get(halfType, tb.getI32IntegerAttr(0)));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        if (!avx2) {
          acc.push_back(start(tb, i, j));
          continue;
        }
        acc.append(parts, zeros);
      }
    auto loop = scf::ForOp::create(
        tb, loc, index(tb, 0), steps, index(tb, 1), acc,
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
                arith::MulIOp::create(lb, loc, colIndex[j], index(lb, group)));
            bVec.push_back(
                vector::LoadOp::create(lb, loc, bVecType, bFlat, bIdx));
          }
          // AVX2: B's codes as int16, 16 at a time.
          SmallVector<SmallVector<Value, 4>> bWords;
          if (avx2)
            for (int64_t j = 0; j < cols; ++j) {
              Value wide =
                  arith::ExtSIOp::create(lb, loc, wideBytesType, bVec[j]);
              SmallVector<Value, 4> words;
              for (int64_t p = 0; p < parts; ++p)
                words.push_back(vector::ExtractStridedSliceOp::create(
                    lb, loc, wide, ArrayRef<int64_t>{16 * p},
                    ArrayRef<int64_t>{16}, ArrayRef<int64_t>{1}));
              bWords.push_back(words);
            }
          // Emulated bf16: each 16 columns' even and odd k as f32.
          SmallVector<std::pair<Value, Value>> bHalves;
          if (instructions == DotInstructions::bf16Emulated) {
            Value sixteen = arith::ConstantOp::create(
                lb, loc, intsType,
                DenseElementsAttr::get(intsType, lb.getI32IntegerAttr(16)));
            Value highMask = arith::ConstantOp::create(
                lb, loc, intsType,
                DenseElementsAttr::get(
                    intsType,
                    lb.getI32IntegerAttr(static_cast<int32_t>(0xFFFF0000u))));
            for (int64_t j = 0; j < cols; ++j) {
              Value pairs =
                  vector::BitCastOp::create(lb, loc, intsType, bVec[j]);
              Value even = vector::BitCastOp::create(
                  lb, loc, accType,
                  arith::ShLIOp::create(lb, loc, pairs, sixteen));
              Value odd = vector::BitCastOp::create(
                  lb, loc, accType,
                  arith::AndIOp::create(lb, loc, pairs, highMask));
              bHalves.push_back({even, odd});
            }
          }
          SmallVector<Value> next;
          AffineMap aMap = maps[0];
          for (int64_t i = 0; i < rows; ++i) {
            in[plan.m] = rowIndex[i];
            Value groupOfA = vector::LoadOp::create(
                lb, loc, groupType, a,
                indices(lb, aMap, in, aMap.getNumResults()));
            if (avx2) {
              // A's four codes as int16, repeated over 16 lanes.
              Value words =
                  arith::ExtUIOp::create(lb, loc, quadWordsType, groupOfA);
              Value asLong = vector::ExtractOp::create(
                  lb, loc, vector::BitCastOp::create(lb, loc, longType, words),
                  ArrayRef<int64_t>{0});
              Value splat = vector::BitCastOp::create(
                  lb, loc, wordsType,
                  vector::BroadcastOp::create(lb, loc, longsType, asLong));
              for (int64_t j = 0; j < cols; ++j)
                for (int64_t p = 0; p < parts; ++p) {
                  int64_t slot = (i * cols + j) * parts + p;
                  Value pairs = LLVM::CallIntrinsicOp::create(
                                    lb, loc, halfType, vpmaddwd,
                                    ValueRange{splat, bWords[j][p]})
                                    .getResult(0);
                  next.push_back(
                      arith::AddIOp::create(lb, loc, iter[slot], pairs));
                }
              continue;
            }
            if (instructions == DotInstructions::bf16Emulated) {
              // The row's two values as f32, each over 16 lanes.
              Value wide = arith::ExtFOp::create(
                  lb, loc, VectorType::get({2}, b.getF32Type()), groupOfA);
              auto lane = [&](int64_t l) -> Value {
                return vector::BroadcastOp::create(
                    lb, loc, accType,
                    vector::ExtractOp::create(lb, loc, wide,
                                              ArrayRef<int64_t>{l}));
              };
              Value even = lane(0), odd = lane(1);
              for (int64_t j = 0; j < cols; ++j) {
                Value sum = vector::FMAOp::create(
                    lb, loc, even, bHalves[j].first, iter[i * cols + j]);
                next.push_back(vector::FMAOp::create(lb, loc, odd,
                                                     bHalves[j].second, sum));
              }
              continue;
            }
            // The row's group of A (32 bits) repeated over the vector.
            Value word = vector::ExtractOp::create(
                lb, loc, vector::BitCastOp::create(lb, loc, wordType, groupOfA),
                ArrayRef<int64_t>{0});
            Value splat = vector::BitCastOp::create(
                lb, loc, bVecType,
                vector::BroadcastOp::create(lb, loc, intsType, word));
            StringAttr product = bf16 ? vdpbf16ps : vpdpbusd;
            for (int64_t j = 0; j < cols; ++j)
              next.push_back(LLVM::CallIntrinsicOp::create(
                                 lb, loc, accType, product,
                                 ValueRange{iter[i * cols + j], splat, bVec[j]})
                                 .getResult(0));
          }
          scf::YieldOp::create(lb, loc, next);
        });
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        SmallVector<Value> where = cAt(tb, i, j);
        Value result;
        if (!avx2) {
          result = loop.getResult(i * cols + j);
        } else {
          // The four partial sums' lanes 2c and 2c + 1 -> column c.
          SmallVector<Value, 4> part;
          for (int64_t p = 0; p < parts; ++p)
            part.push_back(loop.getResult((i * cols + j) * parts + p));
          SmallVector<int64_t> both, even, odd;
          for (int64_t l = 0; l < kLanes; ++l) {
            both.push_back(l);
            even.push_back(2 * l);
            odd.push_back(2 * l + 1);
          }
          Value low =
              vector::ShuffleOp::create(tb, loc, part[0], part[1], both);
          Value high =
              vector::ShuffleOp::create(tb, loc, part[2], part[3], both);
          Value sum = arith::AddIOp::create(
              tb, loc, vector::ShuffleOp::create(tb, loc, low, high, even),
              vector::ShuffleOp::create(tb, loc, low, high, odd));
          result = arith::AddIOp::create(tb, loc, start(tb, i, j), sum);
        }
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
                tile, /*repeatLastRows=*/true);
  rewriter.eraseOp(op);
  if (fill)
    rewriter.eraseOp(fill);
  if (epilogue)
    rewriter.eraseOp(epilogue);
}

} // namespace

LogicalResult cpu_kernels::lowerToDotKernel(RewriterBase &rewriter,
                                            linalg::GenericOp op,
                                            ContractionAttr declaration,
                                            const TileSizes &sizes,
                                            std::string &reason) {
  const ContractionKind kind = declaration.getKind();
  if (kind != ContractionKind::u8s8_dot && kind != ContractionKind::bf16_dot) {
    reason = "not a uint8 x int8 or bf16 dot-product contraction";
    return failure();
  }
  FailureOr<DotPlan> plan = planDotKernel(op, declaration, reason);
  if (failed(plan))
    return failure();
  const bool wide = plan->columns >= 64;
  if (kind == ContractionKind::bf16_dot) {
    if (!sizes.bf16) {
      // Two FMAs per pair: the f32 kernel's tile shape, but on AVX2's 16
      // registers (16-column tiles) 4 rows, the B halves taking 4 more.
      const int64_t rows =
          sizes.nr == kLanes ? std::min<int64_t>(sizes.mr, 4) : sizes.mr;
      emitDotKernel(rewriter, op, *plan, rows, sizes.nr, sizes.mBlock,
                    DotInstructions::bf16Emulated);
      return success();
    }
    emitDotKernel(rewriter, op, *plan, wide ? 6 : sizes.mr,
                  wide ? 64 : sizes.nr, sizes.mBlock, DotInstructions::bf16);
    return success();
  }
  // 64-column panels (what the W8A8 lowering packs when N allows) get a
  // 6 x 64 tile: 24 int32 accumulators + 4 B vectors + A fit the 32
  // registers, and each A broadcast feeds 4 vpdpbusd.
  if (!sizes.vnni) {
    // AVX2: a row's 16 columns take 4 of the 16 registers as partial sums,
    // their B codes 4 more: 2 x 16 tiles.
    emitDotKernel(rewriter, op, *plan, 2, kLanes, sizes.mBlock,
                  DotInstructions::avx2);
    return success();
  }
  emitDotKernel(rewriter, op, *plan, wide ? 6 : sizes.mr, wide ? 64 : sizes.nr,
                sizes.mBlock, DotInstructions::vnni);
  return success();
}
