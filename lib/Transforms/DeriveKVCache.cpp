//===- DeriveKVCache.cpp - A KV cache for decoders without one --*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-derive-kv-cache: the entry function of a causal decoder exported
// without a cache becomes one that takes the new tokens and the keys and
// values of the earlier ones, and returns them extended.
//
// The rewritten function computes what the original computes on the whole
// sequence (cached and new positions, T = P + n of them), restricted to the
// last n rows. Every value is one of:
//  * side: does not depend on the tokens (position tables, masks built from
//    the attention mask and the sequence length, weights). It is computed as
//    before, at the full length T: every `tensor.dim` of a token-dependent
//    value along its sequence axis is replaced by T.
//  * row: depends on the tokens, one row per position along a sequence
//    axis, and holds only the last n rows. An op on rows is row-wise (it
//    does not mix positions) and runs as before on the n rows; a side
//    operand that broadcasts along the sequence axis is cut to its last n
//    rows; a shape operand's sequence extent becomes n.
//  * full: the keys or values an attention reads, all T rows: the cache
//    input (P rows) concatenated with the new rows at the "cache point", and
//    the pure data movement between it and the attention (GQA's repeat,
//    head transposes), which runs at the full length as written.
// Anything that mixes positions other than an attention, or that the rules
// do not cover, is an error naming the op: nothing is guessed.
//
// Causality is what makes the cache valid (a position's keys and values do
// not change when later positions are appended). An attention with the
// `causal` attribute has it by construction; for a mask, the rewritten
// function checks at run time, on the new keys' columns of the full mask it
// computes anyway, that no query before a new key sees it (the prompt's
// step covers every column, each later step the keys it adds), and fails
// with a message otherwise. An attention with neither is an error at
// compile time.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMDERIVEKVCACHE
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

/// A token-dependent value: which axis holds the positions, and whether that
/// axis also folds in the dimensions before it ([B * S, ...] after a
/// flattening reshape), so that its extent is a multiple of the rows.
struct RowAxis {
  int64_t axis = 0;
  bool merged = false;
};

/// The key and value an attention reads, and where their cache is kept.
struct CachedOperand {
  /// The value stored in the cache (the new rows, before the rewrite).
  Value point;
  /// The cache input and the extended value that replaces `point`.
  BlockArgument past;
  Value full;
  int64_t axis = -1;
};

struct CachedAttention {
  AttentionOp op;
  CachedOperand key, value;
};

bool isDataMovement(Operation *op) {
  return isa<ReshapeOp, TransposeOp, BroadcastToOp, tensor::CastOp,
             tensor::ExtractSliceOp>(op);
}

/// Static product of `shape[from:to]` (to < 0: the end), or nullopt when a
/// dimension there is dynamic.
std::optional<int64_t> staticProduct(ArrayRef<int64_t> shape, int64_t from,
                                     int64_t to = -1) {
  if (to < 0)
    to = shape.size();
  int64_t p = 1;
  for (int64_t i = from; i < to; ++i) {
    if (ShapedType::isDynamic(shape[i]))
      return std::nullopt;
    p *= shape[i];
  }
  return p;
}

/// The axis of a reshape's result that holds the positions of axis `axis`
/// of its input: the dynamic one after which the static stride is the
/// same, so that each position's elements stay together, in order; -1 when
/// there is none.
int64_t reshapedRowAxis(RankedTensorType inType, int64_t axis,
                        RankedTensorType outType) {
  std::optional<int64_t> stride = staticProduct(inType.getShape(), axis + 1);
  for (int64_t d = outType.getRank() - 1; stride && d >= 0; --d) {
    std::optional<int64_t> s = staticProduct(outType.getShape(), d + 1);
    if (!s || *s > *stride)
      break;
    if (*s == *stride && outType.isDynamicDim(d))
      return d;
  }
  return -1;
}

/// Elements of one position in the cache (all static extents but the batch).
int64_t perPosition(RankedTensorType t) {
  int64_t p = 1;
  for (int64_t d = 1; d < t.getRank(); ++d)
    if (!t.isDynamicDim(d))
      p *= t.getDimSize(d);
  return p;
}

class Deriver {
public:
  Deriver(func::FuncOp func) : func(func), b(func.getContext()) {}

  LogicalResult run();

private:
  func::FuncOp func;
  OpBuilder b;
  /// The new positions, the cached ones, and all: n, P, T = P + n.
  Value n, past, total;
  llvm::DenseMap<Value, RowAxis> rows;
  llvm::DenseMap<Value, int64_t> full;
  SmallVector<CachedAttention> attentions;
  /// Cache points, to their attention and role.
  llvm::DenseMap<Value, CachedOperand *> points;
  /// Full-length masks already checked for causality.
  llvm::SmallPtrSet<Value, 4> checkedMasks;

  InFlightDiagnostic unsupported(Operation *op, const Twine &why) {
    return op->emitOpError() << "--kv-cache: " << why;
  }
  Value index(Location loc, int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  void check(Location loc, Value condition, const Twine &message) {
    cf::AssertOp::create(b, loc, condition, message.str());
  }
  Value dimOf(Location loc, Value v, int64_t d) {
    return tensor::DimOp::create(b, loc, v, d);
  }
  /// The extent axis `r.axis` of a row value had in the original function.
  Value virtualExtent(Location loc, Value v, const RowAxis &r) {
    if (!r.merged)
      return total;
    Value actual = dimOf(loc, v, r.axis);
    Value blocks = arith::DivUIOp::create(b, loc, actual, n);
    return arith::MulIOp::create(b, loc, blocks, total);
  }
  /// `extent` (a full-length extent of a row axis) for the last n rows.
  Value rowExtent(Location loc, Value extent) {
    if (extent == total)
      return n;
    Value rem = arith::RemUIOp::create(b, loc, extent, total);
    Value zero = index(loc, 0);
    check(loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rem, zero),
          "--kv-cache: a sequence extent is not a multiple of the sequence "
          "length");
    Value blocks = arith::DivUIOp::create(b, loc, extent, total);
    return arith::MulIOp::create(b, loc, blocks, n);
  }

  LogicalResult findCachePoints();
  LogicalResult setUpInterface(BlockArgument inputIds,
                               ArrayRef<BlockArgument> rowInputs);
  LogicalResult visit(Operation *op);
  LogicalResult visitRowOp(Operation *op);
  LogicalResult visitFullOp(Operation *op);
  LogicalResult visitAttention(AttentionOp op);
  LogicalResult elementwise(Operation *op, ArrayRef<Value> operands,
                            int64_t resultRank);
  FailureOr<Value> lastRows(Operation *user, Value side, int64_t axis);
  LogicalResult replaceShapeEntry(Operation *op, OpOperand &shape,
                                  int64_t entry, Value newExtent);
  LogicalResult checkCausal(AttentionOp op, Value mask);
  void afterDefinition(Value v);
};

LogicalResult Deriver::findCachePoints() {
  func.walk([&](AttentionOp op) {
    attentions.push_back(CachedAttention{op, {}, {}});
  });
  if (attentions.empty())
    return func.emitError("--kv-cache: the model has no attention raised "
                          "to slm.attention to cache keys and values for "
                          "(slmc --report says why raising left one)");
  for (CachedAttention &a : attentions) {
    for (CachedOperand *operand : {&a.key, &a.value}) {
      Value start = operand == &a.key ? a.op.getKey() : a.op.getValue();
      // Walk back through pure data movement whose input feeds only it
      // (shape queries aside); keep the smallest form, latest on ties,
      // preferring the [batch, heads, positions, head_dim] layout.
      Value best;
      int64_t bestSize = std::numeric_limits<int64_t>::max();
      bool bestHF = false;
      Value v = start;
      while (true) {
        if (std::optional<int64_t> axis = cacheAxis(v.getType())) {
          auto t = cast<RankedTensorType>(v.getType());
          int64_t size = perPosition(t);
          bool hf = t.getRank() == 4 && *axis == 2;
          if (size < bestSize || (size == bestSize && hf && !bestHF)) {
            best = v;
            bestSize = size;
            bestHF = hf;
          }
        }
        Operation *def = v.getDefiningOp();
        if (!def || !isDataMovement(def))
          break;
        Value input = def->getOperand(0);
        bool only = llvm::all_of(input.getUsers(), [&](Operation *user) {
          return user == def || isa<tensor::DimOp>(user);
        });
        if (!only)
          break;
        v = input;
      }
      if (!best)
        return a.op.emitOpError()
               << "--kv-cache: no form of its "
               << (operand == &a.key ? "key" : "value")
               << " has the batch first and the positions as the one other "
                  "dynamic extent, as a cache needs";
      if (points.count(best))
        return a.op.emitOpError() << "--kv-cache: its key and value share "
                                     "one tensor; caching it twice is not "
                                     "supported";
      operand->point = best;
      points[best] = operand;
    }
  }
  return success();
}

LogicalResult Deriver::setUpInterface(BlockArgument inputIds,
                                      ArrayRef<BlockArgument> rowInputs) {
  Location loc = func.getLoc();
  Block &body = func.getBody().front();
  // The cache inputs, at the end of the signature.
  auto idsNames = func.getArgAttrOfType<ArrayAttr>(inputIds.getArgNumber(),
                                                   "slm.dim_names");
  Attribute batchName = idsNames && !idsNames.empty()
                            ? idsNames[0]
                            : StringAttr::get(func.getContext(), "batch");
  unsigned layer = 0;
  for (CachedAttention &a : attentions) {
    for (CachedOperand *operand : {&a.key, &a.value}) {
      auto type = cast<RankedTensorType>(operand->point.getType());
      int64_t axis = *cacheAxis(type);
      operand->axis = axis;
      unsigned number = func.getNumArguments();
      if (failed(func.insertArgument(number, type, {}, loc)))
        return failure();
      operand->past = func.getArgument(number);
      std::string name = "past_key_values." + std::to_string(layer) +
                         (operand == &a.key ? ".key" : ".value");
      func.setArgAttr(number, "slm.name", b.getStringAttr(name));
      SmallVector<Attribute> dims(type.getRank(), b.getStringAttr(""));
      dims[0] = batchName;
      dims[axis] = b.getStringAttr("past_sequence");
      func.setArgAttr(number, "slm.dim_names", b.getArrayAttr(dims));
    }
    ++layer;
  }
  // n, P, T and the checks that the inputs agree on them.
  b.setInsertionPointToStart(&body);
  n = dimOf(loc, inputIds, 1);
  Value one = index(loc, 1);
  check(loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, n, one),
        "--kv-cache: no new tokens (input_ids has 0 positions)");
  CachedOperand &first = attentions.front().key;
  past = dimOf(loc, first.past, first.axis);
  total = arith::AddIOp::create(b, loc, past, n);
  Value batch = dimOf(loc, inputIds, 0);
  for (CachedAttention &a : attentions)
    for (CachedOperand *operand : {&a.key, &a.value}) {
      std::string name =
          cast<StringAttr>(
              func.getArgAttr(operand->past.getArgNumber(), "slm.name"))
              .getValue()
              .str();
      if (operand != &first) {
        Value p = dimOf(loc, operand->past, operand->axis);
        check(loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, p, past),
              "--kv-cache: " + name +
                  " holds a different number of "
                  "positions than past_key_values.0.key");
      }
      if (cast<RankedTensorType>(operand->past.getType()).isDynamicDim(0)) {
        Value rowsIn = dimOf(loc, operand->past, 0);
        check(loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rowsIn,
                                    batch),
              "--kv-cache: " + name + " has a different batch than input_ids");
      }
    }
  // The attention mask covers every position, cached or new.
  for (BlockArgument arg : func.getArguments()) {
    auto name =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "slm.name");
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!name || name.getValue() != "attention_mask" || !type ||
        type.getRank() != 2)
      continue;
    if (!type.isDynamicDim(1))
      return func.emitError("--kv-cache: attention_mask has a fixed length");
    check(loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                dimOf(loc, arg, 1), total),
          "--kv-cache: attention_mask must cover the cached and the new "
          "positions");
    if (auto names = func.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(),
                                                      "slm.dim_names")) {
      SmallVector<Attribute> dims(names.begin(), names.end());
      dims[1] = b.getStringAttr("total_sequence");
      func.setArgAttr(arg.getArgNumber(), "slm.dim_names",
                      b.getArrayAttr(dims));
    }
  }
  for (BlockArgument arg : rowInputs) {
    rows[arg] = RowAxis{1, false};
    afterDefinition(arg);
  }
  return success();
}

/// A new row value: its cache, when it is a cache point.
void Deriver::afterDefinition(Value v) {
  auto it = points.find(v);
  if (it == points.end())
    return;
  CachedOperand &operand = *it->second;
  if (Operation *def = v.getDefiningOp())
    b.setInsertionPointAfter(def);
  else
    b.setInsertionPointToStart(&func.getBody().front());
  Location loc = v.getLoc();
  auto concat = tensor::ConcatOp::create(b, loc, operand.axis,
                                         ValueRange{operand.past, v});
  Value extended = concat.getResult();
  if (extended.getType() != v.getType())
    extended = tensor::CastOp::create(b, loc, v.getType(), extended);
  v.replaceUsesWithIf(extended, [&](OpOperand &use) {
    return use.getOwner() != concat.getOperation();
  });
  operand.full = extended;
  full[extended] = operand.axis;
}

FailureOr<Value> Deriver::lastRows(Operation *user, Value side, int64_t axis) {
  auto type = cast<RankedTensorType>(side.getType());
  if (type.getDimSize(axis) == 1)
    return side;
  if (!type.isDynamicDim(axis)) {
    unsupported(user, "an operand has a fixed extent along the sequence "
                      "axis (")
        << type << ")";
    return failure();
  }
  b.setInsertionPoint(user);
  Location loc = user->getLoc();
  // The last n rows of an extent T, or the one row of an extent 1 (which
  // broadcasts): offset max(d - n, 0), size min(d, n).
  Value d = dimOf(loc, side, axis);
  Value zero = index(loc, 0);
  Value offset =
      arith::MaxSIOp::create(b, loc, arith::SubIOp::create(b, loc, d, n), zero);
  Value size = arith::MinSIOp::create(b, loc, d, n);
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes, strides(type.getRank(), b.getIndexAttr(1));
  for (int64_t i = 0; i < type.getRank(); ++i)
    sizes.push_back(i == axis ? OpFoldResult(size)
                    : type.isDynamicDim(i)
                        ? OpFoldResult(dimOf(loc, side, i))
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
  offsets[axis] = offset;
  return tensor::ExtractSliceOp::create(b, loc, type, side, offsets, sizes,
                                        strides)
      .getResult();
}

LogicalResult Deriver::replaceShapeEntry(Operation *op, OpOperand &shape,
                                         int64_t entry, Value newExtent) {
  b.setInsertionPoint(op);
  Location loc = op->getLoc();
  Value s = shape.get();
  if (auto elements = s.getDefiningOp<tensor::FromElementsOp>()) {
    SmallVector<Value> values(elements.getElements());
    values[entry] = newExtent;
    shape.set(tensor::FromElementsOp::create(b, loc, s.getType(), values));
    return success();
  }
  Value at = index(loc, entry);
  shape.set(tensor::InsertOp::create(b, loc, newExtent, s, ValueRange{at}));
  return success();
}

/// The shape operand's entry `d` (an index value).
static Value shapeEntry(OpBuilder &b, Location loc, Value shape, int64_t d) {
  if (auto elements = shape.getDefiningOp<tensor::FromElementsOp>())
    return elements.getElements()[d];
  Value at = arith::ConstantIndexOp::create(b, loc, d);
  return tensor::ExtractOp::create(b, loc, shape, ValueRange{at});
}

LogicalResult Deriver::elementwise(Operation *op, ArrayRef<Value> operands,
                                   int64_t resultRank) {
  std::optional<RowAxis> common;
  for (Value v : operands) {
    auto it = rows.find(v);
    if (it == rows.end())
      continue;
    int64_t rank = cast<RankedTensorType>(v.getType()).getRank();
    RowAxis r{it->second.axis + (resultRank - rank), it->second.merged};
    if (common && (common->axis != r.axis || common->merged != r.merged))
      return unsupported(op, "its operands hold positions along different "
                             "axes");
    common = r;
  }
  if (!common)
    return unsupported(op, "no operand holds positions");
  for (OpOperand &use : op->getOpOperands()) {
    Value v = use.get();
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || rows.count(v))
      continue;
    int64_t j = common->axis - (resultRank - type.getRank());
    if (j < 0 || type.getDimSize(j) == 1)
      continue;
    if (common->merged)
      return unsupported(op, "an operand broadcasts along a flattened "
                             "sequence axis");
    FailureOr<Value> sliced = lastRows(op, v, j);
    if (failed(sliced))
      return failure();
    use.set(*sliced);
  }
  for (Value result : op->getResults())
    rows[result] = *common;
  return success();
}

LogicalResult Deriver::visit(Operation *op) {
  bool anyRow = false, anyFull = false;
  for (Value v : op->getOperands()) {
    anyRow |= rows.count(v) > 0;
    anyFull |= full.count(v) > 0;
  }
  // Values captured by regions.
  for (Region &region : op->getRegions())
    region.walk([&](Operation *inner) {
      for (Value v : inner->getOperands())
        if (rows.count(v) || full.count(v))
          anyRow = anyFull = true;
    });
  if (!anyRow && !anyFull)
    return success();
  if (op->getNumRegions() > 0)
    return unsupported(op, "an op with regions reads token-dependent "
                           "values");
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    Value source = dim.getSource();
    std::optional<int64_t> d = dim.getConstantIndex();
    auto rowIt = rows.find(source);
    if (rowIt == rows.end())
      return success(); // full: the extents are the original ones
    if (!d)
      return unsupported(op, "a dimension query with a computed index");
    if (*d != rowIt->second.axis)
      return success();
    b.setInsertionPoint(op);
    Value extent = virtualExtent(op->getLoc(), source, rowIt->second);
    dim.getResult().replaceAllUsesWith(extent);
    dim->erase();
    return success();
  }
  if (auto attention = dyn_cast<AttentionOp>(op))
    return visitAttention(attention);
  if (auto ret = dyn_cast<func::ReturnOp>(op)) {
    for (Value v : ret.getOperands())
      if (full.count(v))
        return unsupported(op, "a result is a cached key or value");
    return success();
  }
  if (anyFull)
    return visitFullOp(op);
  return visitRowOp(op);
}

LogicalResult Deriver::visitFullOp(Operation *op) {
  if (!isDataMovement(op) || rows.count(op->getOperand(0)) ||
      !full.count(op->getOperand(0)))
    return unsupported(op, "reads the keys or values of every position "
                           "(the cache) other than by moving them to an "
                           "attention");
  int64_t axis = full[op->getOperand(0)];
  Value result = op->getResult(0);
  auto inType = cast<RankedTensorType>(op->getOperand(0).getType());
  auto outType = cast<RankedTensorType>(result.getType());
  int64_t outAxis = -1;
  if (auto t = dyn_cast<TransposeOp>(op)) {
    outAxis = llvm::find(t.getPermutation(), axis) - t.getPermutation().begin();
  } else if (isa<BroadcastToOp>(op)) {
    outAxis = axis + (outType.getRank() - inType.getRank());
  } else if (isa<tensor::CastOp, tensor::ExtractSliceOp>(op)) {
    if (outType.getRank() != inType.getRank())
      return unsupported(op, "a rank-reducing slice of a cached value");
    outAxis = axis;
  } else {
    outAxis = reshapedRowAxis(inType, axis, outType);
  }
  if (outAxis < 0)
    return unsupported(op, "moves a cached value so that positions no "
                           "longer have an axis of their own");
  full[result] = outAxis;
  return success();
}

LogicalResult Deriver::visitRowOp(Operation *op) {
  Location loc = op->getLoc();
  auto rowOf = [&](Value v) -> std::optional<RowAxis> {
    auto it = rows.find(v);
    if (it == rows.end())
      return std::nullopt;
    return it->second;
  };
  auto define = [&](Value result, RowAxis r) {
    rows[result] = r;
    afterDefinition(result);
    return success();
  };
  auto sideOnly = [&](ValueRange values, StringRef what) -> LogicalResult {
    for (Value v : values)
      if (v && rows.count(v))
        return unsupported(op, "its " + what.str() + " depends on the tokens");
    return success();
  };
  auto resultRank = [&]() {
    return cast<RankedTensorType>(op->getResult(0).getType()).getRank();
  };

  // Broadcasting and elementwise ops.
  if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, CompareOp, SelectOp>(
          op) ||
      (op->hasTrait<OpTrait::Elementwise>() && op->getNumResults() == 1 &&
       isa<RankedTensorType>(op->getResult(0).getType())) ||
      isa<GeluOp>(op)) {
    SmallVector<Value> operands(op->getOperands());
    if (failed(elementwise(op, operands, resultRank())))
      return failure();
    afterDefinition(op->getResult(0));
    return success();
  }
  if (auto gather = dyn_cast<GatherOp>(op)) {
    std::optional<RowAxis> r = rowOf(gather.getIndices());
    if (!r || rows.count(gather.getData()))
      return unsupported(op, "gathers from a token-dependent tensor");
    int64_t axis = static_cast<int64_t>(gather.getAxis());
    if (axis < 0)
      axis += gather.getData().getType().getRank();
    return define(gather.getResult(), RowAxis{axis + r->axis, r->merged});
  }
  if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
    std::optional<RowAxis> r = rowOf(embedding.getIds());
    if (!r || rows.count(embedding.getTable()))
      return unsupported(op, "looks up a token-dependent table");
    return define(embedding.getResult(), *r);
  }
  if (auto linear = dyn_cast<LinearOp>(op)) {
    std::optional<RowAxis> r = rowOf(linear.getInput());
    int64_t rank = linear.getInput().getType().getRank();
    if (!r || r->axis >= rank - 1)
      return unsupported(op, "its weights depend on the tokens, or it "
                             "contracts over positions");
    // One scale for the whole input (ONNX DynamicQuantizeLinear) depends on
    // every position: computed over the new rows only it would differ.
    if (linear.getInputQuant() == InputQuant::per_tensor)
      return unsupported(op, "quantizes its input with one scale for all "
                             "positions (DynamicQuantizeLinear, as ORT's "
                             "quantize_dynamic writes): over the new "
                             "positions alone the scale would differ; "
                             "compile without --kv-cache, or from the float "
                             "model with --quantize=w8a8 (per-token scales)");
    SmallVector<Value> rest(op->getOperands().drop_front());
    if (failed(sideOnly(rest, "weight")))
      return failure();
    return define(linear.getResult(), *r);
  }
  if (auto matmul = dyn_cast<MatMulOp>(op)) {
    std::optional<RowAxis> r = rowOf(matmul.getLhs());
    int64_t rank = matmul.getLhs().getType().getRank();
    if (!r || rows.count(matmul.getRhs()) || r->axis >= rank - 1)
      return unsupported(op, "a matrix product that mixes positions (an "
                             "attention left unraised?)");
    int64_t outRank = resultRank();
    int64_t axis = r->axis + (outRank - rank);
    if (r->axis < rank - 2) {
      auto rhsType = matmul.getRhs().getType();
      int64_t j = axis - (outRank - rhsType.getRank());
      if (j >= 0 && j < rhsType.getRank() - 2 && rhsType.getDimSize(j) != 1)
        return unsupported(op, "the other factor varies along the sequence "
                               "axis");
    }
    return define(matmul.getResult(), RowAxis{axis, r->merged});
  }
  if (isa<RMSNormOp, LayerNormOp>(op)) {
    Value input = op->getOperand(0);
    std::optional<RowAxis> r = rowOf(input);
    int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
    int64_t axis = rank - 1;
    if (auto ln = dyn_cast<LayerNormOp>(op))
      axis = static_cast<int64_t>(ln.getAxis()) < 0
                 ? static_cast<int64_t>(ln.getAxis()) + rank
                 : static_cast<int64_t>(ln.getAxis());
    if (!r || r->axis >= axis)
      return unsupported(op, "normalizes over positions");
    if (failed(sideOnly(op->getOperands().drop_front(), "scale or shift")))
      return failure();
    return define(op->getResult(0), *r);
  }
  if (auto softmax = dyn_cast<SoftmaxOp>(op)) {
    std::optional<RowAxis> r = rowOf(softmax.getInput());
    int64_t rank = softmax.getInput().getType().getRank();
    int64_t axis = static_cast<int64_t>(softmax.getAxis());
    if (axis < 0)
      axis += rank;
    if (axis == r->axis)
      return unsupported(op, "a softmax over positions");
    return define(softmax.getResult(), *r);
  }
  if (auto reduce = dyn_cast<ReduceOp>(op)) {
    std::optional<RowAxis> r = rowOf(reduce.getInput());
    int64_t rank = reduce.getInput().getType().getRank();
    int64_t before = 0;
    for (int64_t a : reduce.getAxes()) {
      int64_t axis = a < 0 ? a + rank : a;
      if (axis == r->axis)
        return unsupported(op, "reduces over positions");
      before += axis < r->axis;
    }
    return define(
        reduce.getResult(),
        RowAxis{r->axis - (reduce.getKeepDims() ? 0 : before), r->merged});
  }
  if (auto transpose = dyn_cast<TransposeOp>(op)) {
    std::optional<RowAxis> r = rowOf(transpose.getInput());
    ArrayRef<int64_t> perm = transpose.getPermutation();
    int64_t axis = llvm::find(perm, r->axis) - perm.begin();
    return define(transpose.getResult(), RowAxis{axis, r->merged});
  }
  if (auto cast = dyn_cast<tensor::CastOp>(op)) {
    std::optional<RowAxis> r = rowOf(cast.getSource());
    return define(cast.getResult(), *r);
  }
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    std::optional<RowAxis> r = rowOf(reshape.getInput());
    if (!r || (reshape.getShape() && rows.count(reshape.getShape())))
      return unsupported(op, "its shape depends on the tokens' values");
    auto inType = reshape.getInput().getType();
    auto outType = reshape.getResult().getType();
    int64_t outAxis = reshapedRowAxis(inType, r->axis, outType);
    if (outAxis < 0)
      return unsupported(op, "a reshape that splits or interleaves the "
                             "positions");
    bool merged = true;
    if (Value shape = reshape.getShape()) {
      b.setInsertionPoint(op);
      Value entry = shapeEntry(b, loc, shape, outAxis);
      merged = entry != total;
      if (failed(replaceShapeEntry(op, op->getOpOperand(1), outAxis,
                                   rowExtent(loc, entry))))
        return failure();
    } else {
      // The dynamic extent is inferred from the element count; the
      // positions stay unmerged when the dimensions before them agree.
      std::optional<int64_t> inBefore =
          staticProduct(inType.getShape(), 0, r->axis);
      std::optional<int64_t> outBefore =
          staticProduct(outType.getShape(), 0, outAxis);
      merged = r->merged || !inBefore || !outBefore || *inBefore != *outBefore;
    }
    return define(reshape.getResult(), RowAxis{outAxis, merged});
  }
  if (auto broadcast = dyn_cast<BroadcastToOp>(op)) {
    std::optional<RowAxis> r = rowOf(broadcast.getInput());
    if (!r || (broadcast.getShape() && rows.count(broadcast.getShape())))
      return unsupported(op, "its shape depends on the tokens' values");
    auto inType = broadcast.getInput().getType();
    auto outType = broadcast.getResult().getType();
    int64_t outAxis = r->axis + (outType.getRank() - inType.getRank());
    if (r->merged)
      return unsupported(op, "broadcasts a flattened sequence axis");
    if (Value shape = broadcast.getShape()) {
      b.setInsertionPoint(op);
      Value entry = shapeEntry(b, loc, shape, outAxis);
      check(
          loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, entry, total),
          "--kv-cache: a broadcast stretches the positions");
      if (failed(replaceShapeEntry(op, op->getOpOperand(1), outAxis,
                                   dimOf(loc, broadcast.getInput(), r->axis))))
        return failure();
    } else if (!outType.isDynamicDim(outAxis)) {
      return unsupported(op, "broadcasts to a fixed sequence length");
    }
    return define(broadcast.getResult(), RowAxis{outAxis, false});
  }
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
    std::optional<RowAxis> r = rowOf(slice.getSource());
    if (!r || llvm::any_of(op->getOperands().drop_front(),
                           [&](Value v) { return rows.count(v) > 0; }))
      return unsupported(op, "slices at token-dependent offsets");
    if (slice.getResultType().getRank() != slice.getSourceType().getRank())
      return unsupported(op, "a rank-reducing slice of token-dependent "
                             "values");
    int64_t a = r->axis;
    SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
    SmallVector<OpFoldResult> strides = slice.getMixedStrides();
    std::optional<int64_t> offset = getConstantIntValue(offsets[a]);
    std::optional<int64_t> stride = getConstantIntValue(strides[a]);
    auto size = dyn_cast<Value>(sizes[a]);
    if (offset != 0 || stride != 1 || !size)
      return unsupported(op, "slices positions (only whole sequences are "
                             "supported)");
    b.setInsertionPoint(op);
    check(loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, size,
                                virtualExtent(loc, slice.getSource(), *r)),
          "--kv-cache: a slice cuts the sequence");
    sizes[a] = dimOf(loc, slice.getSource(), a);
    auto replacement = tensor::ExtractSliceOp::create(
        b, loc, slice.getResultType(), slice.getSource(), offsets, sizes,
        strides);
    slice.getResult().replaceAllUsesWith(replacement.getResult());
    auto point = points.find(slice.getResult());
    if (point != points.end()) {
      CachedOperand *operand = point->second;
      points.erase(point);
      points[replacement.getResult()] = operand;
    }
    slice->erase();
    return define(replacement.getResult(), *r);
  }
  if (auto concat = dyn_cast<tensor::ConcatOp>(op)) {
    int64_t rank = concat.getResultType().getRank();
    for (Value v : concat.getInputs()) {
      std::optional<RowAxis> r = rowOf(v);
      if (!r)
        return unsupported(op, "joins token-dependent and other values");
      if (static_cast<int64_t>(concat.getDim()) == r->axis)
        return unsupported(op, "joins along positions");
    }
    if (failed(elementwise(op, SmallVector<Value>(concat.getInputs()), rank)))
      return failure();
    afterDefinition(concat.getResult());
    return success();
  }
  return unsupported(op, "reads token-dependent values in a way the cache "
                         "derivation does not know to be position-wise");
}

LogicalResult Deriver::checkCausal(AttentionOp op, Value mask) {
  // Every layer's mask is usually a prefix slice of one mask: check that
  // one once.
  while (auto slice = mask.getDefiningOp<tensor::ExtractSliceOp>()) {
    if (slice.getSourceType().getRank() != slice.getResultType().getRank() ||
        !llvm::all_of(
            slice.getMixedOffsets(),
            [](OpFoldResult o) { return isConstantIntValue(o, 0); }) ||
        !llvm::all_of(slice.getMixedStrides(),
                      [](OpFoldResult o) { return isConstantIntValue(o, 1); }))
      break;
    mask = slice.getSource();
  }
  if (!checkedMasks.insert(mask).second)
    return success();
  auto type = cast<RankedTensorType>(mask.getType());
  int64_t rank = type.getRank();
  if (rank < 2 || type.getDimSize(rank - 2) == 1)
    return op.emitOpError()
           << "--kv-cache: its mask is the same for every query position: "
              "the model is not a causal decoder";
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  // Only the new keys' columns (the last n; earlier steps checked the
  // others): no query before a new key may see it. The prompt's step
  // (nothing cached) checks every column.
  if (type.getDimSize(rank - 1) == 1)
    return op.emitOpError()
           << "--kv-cache: its mask is the same for every key position: the "
              "model is not a causal decoder";
  Value keys = dimOf(loc, mask, rank - 1);
  check(loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, keys, total),
        "--kv-cache: an attention mask covers fewer keys than there are "
        "positions");
  Value first = past, count = n;
  {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes, strides(rank, b.getIndexAttr(1));
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(i == rank - 1 ? OpFoldResult(count)
                      : type.isDynamicDim(i)
                          ? OpFoldResult(dimOf(loc, mask, i))
                          : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
    offsets[rank - 1] = first;
    SmallVector<int64_t> shape(type.getShape());
    shape[rank - 1] = ShapedType::kDynamic;
    type = RankedTensorType::get(shape, type.getElementType());
    mask = tensor::ExtractSliceOp::create(b, loc, type, mask, offsets, sizes,
                                          strides);
  }
  // later[i, j] = first + j > i: the new keys after each query's position.
  SmallVector<Value> sizes;
  SmallVector<int64_t> shape;
  for (int64_t d = rank - 2; d < rank; ++d) {
    shape.push_back(type.getDimSize(d));
    if (type.isDynamicDim(d))
      sizes.push_back(dimOf(loc, mask, d));
  }
  auto laterType = RankedTensorType::get(shape, b.getI1Type());
  auto later = tensor::GenerateOp::create(b, loc, laterType, sizes);
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body = b.createBlock(
        &later.getBody(), {}, {b.getIndexType(), b.getIndexType()}, {loc, loc});
    Value key = arith::AddIOp::create(b, loc, body->getArgument(1), first);
    Value gt = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, key,
                                     body->getArgument(0));
    tensor::YieldOp::create(b, loc, gt);
  }
  // Visible later keys score their mask value (float) or 1 (i1); hidden
  // ones the lowest float. The largest must be a masked score.
  auto f32 = b.getF32Type();
  auto scoreType = type.clone(f32);
  Value lowest = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({}, f32),
                             b.getFloatAttr(f32, -INFINITY)));
  Value scores = mask;
  double limit;
  auto predicate = arith::CmpFPredicate::ULE;
  if (type.getElementType().isInteger(1)) {
    scores = arith::UIToFPOp::create(b, loc, scoreType, mask);
    limit = 0.5; // a kept (1) later key is a violation
    predicate = arith::CmpFPredicate::ULT;
  } else {
    if (!type.getElementType().isF32())
      scores = arith::ExtFOp::create(b, loc, scoreType, mask);
    // An additive mask of -1e4 or less gives exp() == 0 in f32 next to
    // any real score: the key is hidden.
    limit = -1.0e4;
  }
  Value visible = SelectOp::create(b, loc, scoreType, later, scores, lowest);
  SmallVector<int64_t> axes;
  for (int64_t d = 0; d < rank; ++d)
    axes.push_back(d);
  auto scalarType = RankedTensorType::get({}, f32);
  Value top = ReduceOp::create(
      b, loc, scalarType, ReduceKindAttr::get(b.getContext(), ReduceKind::max),
      visible, b.getDenseI64ArrayAttr(axes), UnitAttr());
  Value value = tensor::ExtractOp::create(b, loc, top, ValueRange{});
  Value bound = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(limit));
  Value ok = arith::CmpFOp::create(b, loc, predicate, value, bound);
  check(loc, ok,
        "--kv-cache: an attention lets a position see later ones: the model "
        "is not a causal decoder, and a cache of it would be wrong");
  return success();
}

LogicalResult Deriver::visitAttention(AttentionOp op) {
  auto q = rows.find(op.getQuery());
  if (q == rows.end() || q->second.axis != 1 || q->second.merged)
    return unsupported(op, "its queries are not the tokens' positions "
                           "(cross-attention?)");
  for (Value kv : {op.getKey(), op.getValue()}) {
    auto it = full.find(kv);
    if (it == full.end() || it->second != 1)
      return unsupported(op, "its keys or values do not come from the "
                             "cache");
  }
  Value mask = op.getMask();
  if (!mask) {
    if (!op.getCausal())
      return unsupported(op, "attends every position with no mask: the "
                             "model is not a causal decoder");
  } else {
    if (rows.count(mask) || full.count(mask))
      return unsupported(op, "its mask depends on the tokens' values");
    if (!op.getCausal() && failed(checkCausal(op, mask)))
      return failure();
    auto type = cast<RankedTensorType>(mask.getType());
    FailureOr<Value> sliced = lastRows(op, mask, type.getRank() - 2);
    if (failed(sliced))
      return failure();
    op.getMaskMutable().assign(*sliced);
  }
  rows[op.getResult()] = RowAxis{1, false};
  afterDefinition(op.getResult());
  return success();
}

/// The entry function's input_ids: by name, else the only rank-2 integer
/// input (as the runtime's generator finds it).
BlockArgument findInputIds(func::FuncOp func) {
  BlockArgument only;
  int integers = 0;
  for (BlockArgument arg : func.getArguments()) {
    auto name =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "slm.name");
    if (name && name.getValue() == "input_ids")
      return arg;
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (type && type.getRank() == 2 && type.getElementType().isInteger()) {
      ++integers;
      only = arg;
    }
  }
  return integers == 1 ? only : BlockArgument();
}

LogicalResult Deriver::run() {
  if (!func.getBody().hasOneBlock())
    return func.emitError("--kv-cache: the entry function has control flow");
  for (BlockArgument arg : func.getArguments())
    if (auto name =
            func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "slm.name"))
      if (name.getValue().starts_with("past"))
        return func.emitError("--kv-cache: the model already takes a cache "
                              "('")
               << name.getValue()
               << "'); it is used as it is, without "
                  "--kv-cache";
  BlockArgument ids = findInputIds(func);
  auto idsType = ids ? dyn_cast<RankedTensorType>(ids.getType()) : nullptr;
  if (!idsType || idsType.getRank() != 2 || !idsType.isDynamicDim(1))
    return func.emitError("--kv-cache: the model needs an input_ids input "
                          "[batch, sequence] with a dynamic sequence length");
  // Inputs with one row per position besides input_ids (position_ids,
  // token_type_ids): those that share its sequence dimension's name, but
  // not the attention mask, which covers every position.
  SmallVector<BlockArgument> rowInputs{ids};
  auto idsNames =
      func.getArgAttrOfType<ArrayAttr>(ids.getArgNumber(), "slm.dim_names");
  StringAttr sequence = idsNames && idsNames.size() == 2
                            ? dyn_cast<StringAttr>(idsNames[1])
                            : StringAttr();
  for (BlockArgument arg : func.getArguments()) {
    if (arg == ids)
      continue;
    auto name =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "slm.name");
    auto names =
        func.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(), "slm.dim_names");
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    bool shares = sequence && !sequence.getValue().empty() && names && type &&
                  type.getRank() == 2 && names.size() == 2 &&
                  names[1] == sequence;
    if (name && name.getValue() == "attention_mask")
      continue;
    if (shares)
      rowInputs.push_back(arg);
    else if (type && type.getRank() >= 2 && type.isDynamicDim(1) &&
             type.getElementType().isInteger())
      return func.emitError("--kv-cache: input '")
             << (name ? name.getValue() : StringRef("?"))
             << "' has positions that are neither input_ids' nor the "
                "attention mask's";
  }
  if (failed(findCachePoints()))
    return failure();
  // The original ops, before any the rewrite adds.
  SmallVector<Operation *> ops;
  for (Operation &op : func.getBody().front())
    ops.push_back(&op);
  if (failed(setUpInterface(ids, rowInputs)))
    return failure();
  for (Operation *op : ops)
    if (failed(visit(op)))
      return failure();
  for (CachedAttention &a : attentions)
    for (CachedOperand *operand : {&a.key, &a.value})
      if (!operand->full)
        return a.op.emitOpError()
               << "--kv-cache: its " << (operand == &a.key ? "key" : "value")
               << " does not depend on the tokens";
  // The extended caches are new results, named as Hugging Face names them.
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  SmallVector<Value> results(ret.getOperands());
  unsigned firstNew = results.size();
  for (CachedAttention &a : attentions)
    for (CachedOperand *operand : {&a.key, &a.value})
      results.push_back(operand->full);
  b.setInsertionPoint(ret);
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret->erase();
  SmallVector<Type> resultTypes;
  for (Value v : results)
    resultTypes.push_back(v.getType());
  SmallVector<DictionaryAttr> resultAttrs;
  func.getAllResultAttrs(resultAttrs);
  resultAttrs.resize(firstNew);
  for (unsigned i = firstNew; i < results.size(); ++i) {
    std::string name = "present." + std::to_string((i - firstNew) / 2) +
                       ((i - firstNew) % 2 ? ".value" : ".key");
    resultAttrs.push_back(
        b.getDictionaryAttr(b.getNamedAttr("slm.name", b.getStringAttr(name))));
  }
  func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                 resultTypes));
  func.setAllResultAttrs(resultAttrs);
  return success();
}

struct SLMDeriveKVCachePass
    : public slm::impl::SLMDeriveKVCacheBase<SLMDeriveKVCachePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp entry;
    int publicFuncs = 0;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isPrivate() && !func.isExternal()) {
        ++publicFuncs;
        entry = func;
      }
    if (auto main = module.lookupSymbol<func::FuncOp>("main"))
      entry = main;
    else if (publicFuncs != 1) {
      module.emitError("--kv-cache: no entry function (@main, or the only "
                       "public function)");
      return signalPassFailure();
    }
    Deriver deriver(entry);
    if (failed(deriver.run()))
      return signalPassFailure();
  }
};

} // namespace
