//===- IndexingOps.cpp - ONNX indexing, selection and scan ops --*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// GatherElements GatherND ScatterND ScatterElements Scatter CumSum TopK
// ArgMax ArgMin Hardmax OneHot NonZero Compress EyeLike ReverseSequence
// Unique. Emitted as upstream MLIR on tensors: tensor.generate with
// tensor.extract for gathers, scf.for nests carrying the result tensor for
// scatters, scans, selection and data-dependent shapes.
//
// Indices read at run time may be negative (counted from the end) and may be
// out of range: every such node checks all its indices first and stops with
// `cf.assert` ("<node> (<Op>): index out of range"), and the index used for
// the access is clamped as well, so that no access leaves its buffer even
// when the assertion does not stop the program.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::slm::onnx_import;

namespace {

/// Scalar and loop building blocks of the handlers in this file.
class Emitter {
public:
  explicit Emitter(NodeContext &node)
      : node(node), b(node.builder()), loc(node.loc()) {
    node.context()
        ->loadDialect<scf::SCFDialect, cf::ControlFlowDialect,
                      tensor::TensorDialect, arith::ArithDialect>();
  }

  NodeContext &node;
  OpBuilder &b;
  Location loc;

  Value index(OpBuilder &ob, int64_t v) const {
    return arith::ConstantIndexOp::create(ob, loc, v);
  }
  Value index(int64_t v) const { return index(b, v); }

  /// Every extent of `tensor` as an index value (constants where static).
  SmallVector<Value> dims(Value tensor) const {
    auto type = cast<RankedTensorType>(tensor.getType());
    SmallVector<Value> out;
    for (int64_t i = 0; i < type.getRank(); ++i)
      out.push_back(type.isDynamicDim(i)
                        ? tensor::DimOp::create(b, loc, tensor, i).getResult()
                        : index(type.getDimSize(i)));
    return out;
  }

  /// The entries of `sizes` at the dynamic dimensions of `type`.
  static SmallVector<Value> dynamicOf(RankedTensorType type,
                                      ArrayRef<Value> sizes) {
    SmallVector<Value> out;
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (type.isDynamicDim(i))
        out.push_back(sizes[i]);
    return out;
  }

  /// An uninitialized tensor of `type` with extents `sizes` (all of them).
  Value empty(RankedTensorType type, ArrayRef<Value> sizes) const {
    return tensor::EmptyOp::create(b, loc, type, dynamicOf(type, sizes));
  }

  /// `tensor.generate` of `type` with extents `sizes` (all of them).
  Value generate(RankedTensorType type, ArrayRef<Value> sizes,
                 function_ref<Value(OpBuilder &, ValueRange)> body) const {
    return tensor::GenerateOp::create(
        b, loc, type, dynamicOf(type, sizes),
        [&](OpBuilder &ob, Location l, ValueRange ivs) {
          tensor::YieldOp::create(ob, l, body(ob, ivs));
        });
  }

  /// `tensor`, or a copy of it when it is a graph input: bufferization
  /// treats function arguments as writable, and a scatter must not write
  /// into the caller's buffer.
  Value writableCopy(Value tensor) const {
    if (!isa<BlockArgument>(tensor))
      return tensor;
    auto type = cast<RankedTensorType>(tensor.getType());
    return generate(type, dims(tensor), [&](OpBuilder &ob, ValueRange ivs) {
      return extract(ob, tensor, ivs);
    });
  }

  /// A nest of scf.for loops over [0, ubs[i]) carrying `init`; `body`
  /// returns the next values of the carried ones.
  SmallVector<Value>
  loops(ArrayRef<Value> ubs, ValueRange init,
        function_ref<SmallVector<Value>(OpBuilder &, ValueRange, ValueRange)>
            body) const {
    return loops(b, ubs, init, body);
  }
  SmallVector<Value>
  loops(OpBuilder &ob, ArrayRef<Value> ubs, ValueRange init,
        function_ref<SmallVector<Value>(OpBuilder &, ValueRange, ValueRange)>
            body) const {
    SmallVector<Value> lbs(ubs.size(), index(ob, 0)),
        steps(ubs.size(), index(ob, 1));
    scf::LoopNest nest = scf::buildLoopNest(
        ob, loc, lbs, ubs, steps, init,
        [&](OpBuilder &ob, Location, ValueRange ivs, ValueRange args) {
          SmallVector<Value> next = body(ob, ivs, args);
          return scf::ValueVector(next.begin(), next.end());
        });
    return SmallVector<Value>(nest.results.begin(), nest.results.end());
  }

  /// One scf.for over [lb, ub) carrying `init`.
  SmallVector<Value>
  loop(OpBuilder &ob, Value lb, Value ub, ValueRange init,
       function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)> body)
      const {
    auto forOp = scf::ForOp::create(
        ob, loc, lb, ub, index(ob, 1), init,
        [&](OpBuilder &ib, Location l, Value iv, ValueRange args) {
          scf::YieldOp::create(ib, l, body(ib, iv, args));
        });
    return SmallVector<Value>(forOp.getResults().begin(),
                              forOp.getResults().end());
  }

  /// scf.if yielding values from both branches.
  SmallVector<Value>
  ifElse(OpBuilder &ob, Value cond,
         function_ref<SmallVector<Value>(OpBuilder &)> then,
         function_ref<SmallVector<Value>(OpBuilder &)> els) const {
    auto ifOp = scf::IfOp::create(
        ob, loc, cond,
        [&](OpBuilder &ib, Location l) {
          scf::YieldOp::create(ib, l, then(ib));
        },
        [&](OpBuilder &ib, Location l) {
          scf::YieldOp::create(ib, l, els(ib));
        });
    return SmallVector<Value>(ifOp.getResults().begin(),
                              ifOp.getResults().end());
  }

  Value extract(OpBuilder &ob, Value tensor, ValueRange at) const {
    return tensor::ExtractOp::create(ob, loc, tensor, at);
  }
  Value insert(OpBuilder &ob, Value scalar, Value tensor, ValueRange at) const {
    return tensor::InsertOp::create(ob, loc, scalar, tensor, at);
  }

  Value cmp(OpBuilder &ob, arith::CmpIPredicate p, Value l, Value r) const {
    return arith::CmpIOp::create(ob, loc, p, l, r);
  }
  Value select(OpBuilder &ob, Value c, Value t, Value f) const {
    return arith::SelectOp::create(ob, loc, c, t, f);
  }
  Value add(OpBuilder &ob, Value l, Value r) const {
    return arith::AddIOp::create(ob, loc, l, r);
  }
  Value sub(OpBuilder &ob, Value l, Value r) const {
    return arith::SubIOp::create(ob, loc, l, r);
  }
  Value andI(OpBuilder &ob, Value l, Value r) const {
    return arith::AndIOp::create(ob, loc, l, r);
  }
  Value minS(OpBuilder &ob, Value l, Value r) const {
    return arith::MinSIOp::create(ob, loc, l, r);
  }
  Value maxS(OpBuilder &ob, Value l, Value r) const {
    return arith::MaxSIOp::create(ob, loc, l, r);
  }

  /// An integer scalar (any width; `isUnsigned` for zero extension) or a
  /// float (truncated toward zero) as an index.
  Value toIndex(OpBuilder &ob, Value v, bool isUnsigned = false) const {
    Type t = v.getType();
    if (t.isIndex())
      return v;
    if (isa<FloatType>(t))
      v = arith::FPToSIOp::create(ob, loc, ob.getI64Type(), v);
    else if (t.getIntOrFloatBitWidth() < 64)
      v = isUnsigned || t.isInteger(1)
              ? arith::ExtUIOp::create(ob, loc, ob.getI64Type(), v).getResult()
              : arith::ExtSIOp::create(ob, loc, ob.getI64Type(), v).getResult();
    return arith::IndexCastOp::create(ob, loc, ob.getIndexType(), v);
  }
  Value toI64(OpBuilder &ob, Value indexValue) const {
    return arith::IndexCastOp::create(ob, loc, ob.getI64Type(), indexValue);
  }

  /// `raw` as an index into an extent `dim`, negative values counted from
  /// the end: (the index clamped into [0, dim), whether it was in range).
  std::pair<Value, Value> wrap(OpBuilder &ob, Value raw, Value dim,
                               bool isUnsigned = false) const {
    Value i = toIndex(ob, raw, isUnsigned);
    Value zero = index(ob, 0);
    Value negative = cmp(ob, arith::CmpIPredicate::slt, i, zero);
    Value wrapped = select(ob, negative, add(ob, i, dim), i);
    Value ok = andI(ob, cmp(ob, arith::CmpIPredicate::sge, wrapped, zero),
                    cmp(ob, arith::CmpIPredicate::slt, wrapped, dim));
    return {clamp(ob, wrapped, dim), ok};
  }

  /// `i` clamped into [0, dim) (0 when dim is 0).
  Value clamp(OpBuilder &ob, Value i, Value dim) const {
    Value last = sub(ob, dim, index(ob, 1));
    return maxS(ob, minS(ob, i, last), index(ob, 0));
  }

  /// The message of this node's run-time checks.
  std::string message(StringRef what) const {
    std::string name = node.node().name();
    if (auto named = dyn_cast<NameLoc>(loc))
      name = named.getName().str();
    return (name + " (" + node.node().op_type() + "): " + what).str();
  }

  /// cf.assert `ok`.
  void check(Value ok, StringRef what) const {
    cf::AssertOp::create(b, loc, ok, message(what));
  }

  /// Asserts that `ok(ivs)` holds at every point of [0, ubs).
  void checkAll(ArrayRef<Value> ubs, StringRef what,
                function_ref<Value(OpBuilder &, ValueRange)> ok) const {
    Value all = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
    SmallVector<Value> result =
        loops(ubs, {all}, [&](OpBuilder &ob, ValueRange ivs, ValueRange args) {
          return SmallVector<Value>{andI(ob, args[0], ok(ob, ivs))};
        });
    check(result[0], what);
  }

  /// Asserts `a == b` for two extents, unless both are the same constant
  /// (then nothing is emitted); returns failure when both are constants
  /// that differ.
  LogicalResult checkSameExtent(Value a, Value bValue, StringRef what) const {
    std::optional<int64_t> ca = getConstantIntValue(a),
                           cb = getConstantIntValue(bValue);
    if (ca && cb)
      return success(*ca == *cb);
    check(cmp(b, arith::CmpIPredicate::eq, a, bValue), what);
    return success();
  }

  /// `coordinates` with `value` inserted at position `at`.
  static SmallVector<Value> with(ValueRange coordinates, int64_t at,
                                 Value value) {
    SmallVector<Value> out(coordinates.begin(), coordinates.end());
    out[at] = value;
    return out;
  }

  /// The zero or one of an element type.
  Value scalar(OpBuilder &ob, Type type, int64_t v) const {
    if (auto f = dyn_cast<FloatType>(type))
      return arith::ConstantOp::create(ob, loc, ob.getFloatAttr(f, v));
    return arith::ConstantOp::create(ob, loc, ob.getIntegerAttr(type, v));
  }

  /// a > b (greater) or a < b (!greater); `orEqual` adds equality. NaN
  /// compares false.
  Value compare(OpBuilder &ob, Value a, Value bValue, bool greater,
                bool orEqual, bool isUnsigned) const {
    if (isa<FloatType>(a.getType())) {
      arith::CmpFPredicate p = greater ? (orEqual ? arith::CmpFPredicate::OGE
                                                  : arith::CmpFPredicate::OGT)
                                       : (orEqual ? arith::CmpFPredicate::OLE
                                                  : arith::CmpFPredicate::OLT);
      return arith::CmpFOp::create(ob, loc, p, a, bValue);
    }
    using P = arith::CmpIPredicate;
    P p = isUnsigned ? (greater ? (orEqual ? P::uge : P::ugt)
                                : (orEqual ? P::ule : P::ult))
                     : (greater ? (orEqual ? P::sge : P::sgt)
                                : (orEqual ? P::sle : P::slt));
    return cmp(ob, p, a, bValue);
  }
};

/// How a scatter combines an existing element with an update.
enum class Reduction { None, Add, Mul, Max, Min };

} // namespace

/// `old` combined with `update` by `reduction` (bool: add is or, mul is and).
static Value combine(const Emitter &e, OpBuilder &b, Reduction reduction,
                     Value old, Value update, bool isUnsigned) {
  Location loc = e.loc;
  bool isFloat = isa<FloatType>(old.getType());
  bool isBool = old.getType().isInteger(1);
  switch (reduction) {
  case Reduction::None:
    return update;
  case Reduction::Add:
    if (isFloat)
      return arith::AddFOp::create(b, loc, old, update);
    if (isBool)
      return arith::OrIOp::create(b, loc, old, update);
    return arith::AddIOp::create(b, loc, old, update);
  case Reduction::Mul:
    if (isFloat)
      return arith::MulFOp::create(b, loc, old, update);
    if (isBool)
      return arith::AndIOp::create(b, loc, old, update);
    return arith::MulIOp::create(b, loc, old, update);
  case Reduction::Max:
    if (isFloat)
      return arith::MaximumFOp::create(b, loc, old, update);
    if (isUnsigned || isBool)
      return arith::MaxUIOp::create(b, loc, old, update);
    return arith::MaxSIOp::create(b, loc, old, update);
  case Reduction::Min:
    if (isFloat)
      return arith::MinimumFOp::create(b, loc, old, update);
    if (isUnsigned || isBool)
      return arith::MinUIOp::create(b, loc, old, update);
    return arith::MinSIOp::create(b, loc, old, update);
  }
  llvm_unreachable("unknown reduction");
}

/// The `reduction` attribute of a scatter node, checked against its opset.
static FailureOr<Reduction> scatterReduction(NodeContext &node) {
  std::string name = node.stringAttr("reduction", "none");
  if (name == "none")
    return Reduction::None;
  if (node.opset() >= 16 && name == "add")
    return Reduction::Add;
  if (node.opset() >= 16 && name == "mul")
    return Reduction::Mul;
  if (node.opset() >= 18 && name == "max")
    return Reduction::Max;
  if (node.opset() >= 18 && name == "min")
    return Reduction::Min;
  return node.error("reduction '" + name + "' is not defined at opset " +
                    Twine(node.opset()));
}

/// The node's axis attribute normalized for `rank`, or an error.
static FailureOr<int64_t> axisAttr(NodeContext &node, int64_t defaultAxis,
                                   int64_t rank) {
  int64_t axis = node.intAttr("axis", defaultAxis);
  std::optional<int64_t> normalized = normalizeAxis(axis, rank);
  if (!normalized)
    return node.error("axis " + Twine(axis) + " is out of range for rank " +
                      Twine(rank));
  return *normalized;
}

/// True for integer or bool element types (the index inputs of ONNX).
static bool isIntegerTensor(RankedTensorType type) {
  return isa<IntegerType>(type.getElementType());
}

//===----------------------------------------------------------------------===//
// Gathers
//===----------------------------------------------------------------------===//

static LogicalResult importGatherElements(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Emitter e(node);
  ImportedValue *dataInfo = node.inputInfo(0);
  Value data = node.input(0), indices = node.input(1);
  RankedTensorType dataType = dataInfo->type, indexType = node.inputType(1);
  int64_t rank = dataType.getRank();
  if (rank == 0 || indexType.getRank() != rank || !isIntegerTensor(indexType))
    return node.error("needs data of rank >= 1 and integer indices of the "
                      "same rank");
  FailureOr<int64_t> axis = axisAttr(node, 0, rank);
  if (failed(axis))
    return failure();
  SmallVector<Value> dataDims = e.dims(data), indexDims = e.dims(indices);
  // Outside the axis, indices may be no larger than data.
  for (int64_t d = 0; d < rank; ++d) {
    if (d == *axis)
      continue;
    if (!dataType.isDynamicDim(d) && !indexType.isDynamicDim(d)) {
      if (indexType.getDimSize(d) > dataType.getDimSize(d))
        return node.error("indices extent " + Twine(indexType.getDimSize(d)) +
                          " exceeds the data extent " +
                          Twine(dataType.getDimSize(d)) + " on dimension " +
                          Twine(d));
      continue;
    }
    e.check(e.cmp(e.b, arith::CmpIPredicate::sle, indexDims[d], dataDims[d]),
            "indices shape exceeds the data shape");
  }
  Value axisDim = dataDims[*axis];
  e.checkAll(indexDims, "index out of range",
             [&](OpBuilder &b, ValueRange ivs) {
               return e.wrap(b, e.extract(b, indices, ivs), axisDim).second;
             });
  Value result = e.generate(
      indexType.clone(dataType.getElementType()), indexDims,
      [&](OpBuilder &b, ValueRange ivs) {
        SmallVector<Value> at(ivs.begin(), ivs.end());
        for (int64_t d = 0; d < rank; ++d)
          if (d != *axis &&
              (dataType.isDynamicDim(d) || indexType.isDynamicDim(d)))
            at[d] = e.clamp(b, at[d], dataDims[d]);
        at[*axis] = e.wrap(b, e.extract(b, indices, ivs), axisDim).first;
        return e.extract(b, data, at);
      });
  node.setOutput(0, result, dataInfo->isUnsigned);
  return success();
}

static LogicalResult importGatherND(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Emitter e(node);
  ImportedValue *dataInfo = node.inputInfo(0);
  Value data = node.input(0), indices = node.input(1);
  RankedTensorType dataType = dataInfo->type, indexType = node.inputType(1);
  int64_t r = dataType.getRank(), q = indexType.getRank();
  int64_t batch = node.opset() >= 12 ? node.intAttr("batch_dims", 0) : 0;
  if (q < 1 || r < 1 || !isIntegerTensor(indexType))
    return node.error("needs data and integer indices of rank >= 1");
  if (indexType.isDynamicDim(q - 1))
    return node.error("the last extent of the indices must be known at "
                      "import time");
  int64_t k = indexType.getDimSize(q - 1);
  if (batch < 0 || batch >= std::min(q, r) || k > r - batch)
    return node.error("batch_dims " + Twine(batch) + " with indices of rank " +
                      Twine(q) + " (last extent " + Twine(k) +
                      ") does not fit data of rank " + Twine(r));
  SmallVector<Value> dataDims = e.dims(data), indexDims = e.dims(indices);
  for (int64_t d = 0; d < batch; ++d)
    if (failed(e.checkSameExtent(indexDims[d], dataDims[d],
                                 "batch extents of data and indices differ")))
      return node.error("batch extent " + Twine(d) +
                        " differs between data and indices");
  ArrayRef<Value> prefix = ArrayRef<Value>(indexDims).drop_back();
  e.checkAll(prefix, "index out of range", [&](OpBuilder &b, ValueRange ivs) {
    Value ok = arith::ConstantIntOp::create(b, e.loc, b.getI1Type(), 1);
    for (int64_t j = 0; j < k; ++j) {
      SmallVector<Value> at(ivs.begin(), ivs.end());
      at.push_back(e.index(b, j));
      ok = e.andI(
          b, ok,
          e.wrap(b, e.extract(b, indices, at), dataDims[batch + j]).second);
    }
    return ok;
  });
  SmallVector<int64_t> shape(indexType.getShape().drop_back());
  llvm::append_range(shape, dataType.getShape().drop_front(batch + k));
  SmallVector<Value> sizes(prefix);
  llvm::append_range(sizes, ArrayRef<Value>(dataDims).drop_front(batch + k));
  Value result = e.generate(
      RankedTensorType::get(shape, dataType.getElementType()), sizes,
      [&](OpBuilder &b, ValueRange ivs) {
        SmallVector<Value> at(ivs.begin(), ivs.begin() + batch);
        for (int64_t j = 0; j < k; ++j) {
          SmallVector<Value> where(ivs.begin(), ivs.begin() + (q - 1));
          where.push_back(e.index(b, j));
          at.push_back(
              e.wrap(b, e.extract(b, indices, where), dataDims[batch + j])
                  .first);
        }
        for (Value v : ivs.drop_front(q - 1))
          at.push_back(v);
        // Batch coordinates come from the indices' extents.
        for (int64_t d = 0; d < batch; ++d)
          at[d] = e.clamp(b, at[d], dataDims[d]);
        return e.extract(b, data, at);
      });
  node.setOutput(0, result, dataInfo->isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// Scatters
//===----------------------------------------------------------------------===//

static LogicalResult importScatterND(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  FailureOr<Reduction> reduction = scatterReduction(node);
  if (failed(reduction))
    return failure();
  Emitter e(node);
  ImportedValue *dataInfo = node.inputInfo(0);
  Value data = node.input(0), indices = node.input(1), updates = node.input(2);
  RankedTensorType dataType = dataInfo->type, indexType = node.inputType(1),
                   updateType = node.inputType(2);
  int64_t r = dataType.getRank(), q = indexType.getRank();
  if (q < 1 || r < 1 || !isIntegerTensor(indexType))
    return node.error("needs data and integer indices of rank >= 1");
  if (indexType.isDynamicDim(q - 1))
    return node.error("the last extent of the indices must be known at "
                      "import time");
  int64_t k = indexType.getDimSize(q - 1);
  if (k > r || updateType.getRank() != q - 1 + r - k ||
      updateType.getElementType() != dataType.getElementType())
    return node.error("indices of last extent " + Twine(k) +
                      " and updates of rank " + Twine(updateType.getRank()) +
                      " do not fit data of rank " + Twine(r));
  SmallVector<Value> dataDims = e.dims(data), indexDims = e.dims(indices),
                     updateDims = e.dims(updates);
  ArrayRef<Value> prefix = ArrayRef<Value>(indexDims).drop_back();
  ArrayRef<Value> rest = ArrayRef<Value>(dataDims).drop_front(k);
  for (int64_t d = 0; d < updateType.getRank(); ++d) {
    Value expected = d < q - 1 ? prefix[d] : rest[d - (q - 1)];
    if (failed(e.checkSameExtent(updateDims[d], expected,
                                 "updates shape does not match")))
      return node.error("updates extent " + Twine(d) +
                        " does not match the indices and data");
  }
  e.checkAll(prefix, "index out of range", [&](OpBuilder &b, ValueRange ivs) {
    Value ok = arith::ConstantIntOp::create(b, e.loc, b.getI1Type(), 1);
    for (int64_t j = 0; j < k; ++j) {
      SmallVector<Value> at(ivs.begin(), ivs.end());
      at.push_back(e.index(b, j));
      ok = e.andI(b, ok,
                  e.wrap(b, e.extract(b, indices, at), dataDims[j]).second);
    }
    return ok;
  });
  bool isUnsigned = dataInfo->isUnsigned;
  SmallVector<Value> result = e.loops(
      prefix, {e.writableCopy(data)},
      [&](OpBuilder &b, ValueRange ivs, ValueRange args) {
        SmallVector<Value> base;
        for (int64_t j = 0; j < k; ++j) {
          SmallVector<Value> at(ivs.begin(), ivs.end());
          at.push_back(e.index(b, j));
          base.push_back(
              e.wrap(b, e.extract(b, indices, at), dataDims[j]).first);
        }
        // The slice data[base..., :] takes updates[ivs..., :].
        SmallVector<Value> lbs(rest.size(), e.index(b, 0)),
            steps(rest.size(), e.index(b, 1));
        scf::LoopNest inner = scf::buildLoopNest(
            b, e.loc, lbs, rest, steps, ValueRange{args[0]},
            [&](OpBuilder &ib, Location, ValueRange jvs, ValueRange acc) {
              SmallVector<Value> to(base), from(ivs.begin(), ivs.end());
              llvm::append_range(to, jvs);
              llvm::append_range(from, jvs);
              Value update = e.extract(ib, updates, from);
              Value value =
                  combine(e, ib, *reduction, e.extract(ib, acc[0], to), update,
                          isUnsigned);
              return scf::ValueVector{e.insert(ib, value, acc[0], to)};
            });
        return SmallVector<Value>(inner.results.begin(), inner.results.end());
      });
  node.setOutput(0, result[0], isUnsigned);
  return success();
}

static LogicalResult importScatterElements(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  FailureOr<Reduction> reduction = node.node().op_type() == "Scatter"
                                       ? FailureOr<Reduction>(Reduction::None)
                                       : scatterReduction(node);
  if (failed(reduction))
    return failure();
  Emitter e(node);
  ImportedValue *dataInfo = node.inputInfo(0);
  Value data = node.input(0), indices = node.input(1), updates = node.input(2);
  RankedTensorType dataType = dataInfo->type, indexType = node.inputType(1),
                   updateType = node.inputType(2);
  int64_t rank = dataType.getRank();
  if (rank == 0 || indexType.getRank() != rank ||
      updateType.getRank() != rank || !isIntegerTensor(indexType) ||
      updateType.getElementType() != dataType.getElementType())
    return node.error("needs data of rank >= 1 with integer indices and "
                      "updates of the same rank");
  FailureOr<int64_t> axis = axisAttr(node, 0, rank);
  if (failed(axis))
    return failure();
  SmallVector<Value> dataDims = e.dims(data), indexDims = e.dims(indices),
                     updateDims = e.dims(updates);
  for (int64_t d = 0; d < rank; ++d) {
    if (failed(e.checkSameExtent(updateDims[d], indexDims[d],
                                 "updates and indices shapes differ")))
      return node.error("updates and indices differ on dimension " + Twine(d));
    if (d == *axis)
      continue;
    if (!dataType.isDynamicDim(d) && !indexType.isDynamicDim(d)) {
      if (indexType.getDimSize(d) > dataType.getDimSize(d))
        return node.error("indices extent " + Twine(indexType.getDimSize(d)) +
                          " exceeds the data extent " +
                          Twine(dataType.getDimSize(d)) + " on dimension " +
                          Twine(d));
      continue;
    }
    e.check(e.cmp(e.b, arith::CmpIPredicate::sle, indexDims[d], dataDims[d]),
            "indices shape exceeds the data shape");
  }
  Value axisDim = dataDims[*axis];
  e.checkAll(indexDims, "index out of range",
             [&](OpBuilder &b, ValueRange ivs) {
               return e.wrap(b, e.extract(b, indices, ivs), axisDim).second;
             });
  bool isUnsigned = dataInfo->isUnsigned;
  SmallVector<Value> result = e.loops(
      indexDims, {e.writableCopy(data)},
      [&](OpBuilder &b, ValueRange ivs, ValueRange args) {
        SmallVector<Value> at(ivs.begin(), ivs.end());
        for (int64_t d = 0; d < rank; ++d)
          if (d != *axis &&
              (dataType.isDynamicDim(d) || indexType.isDynamicDim(d)))
            at[d] = e.clamp(b, at[d], dataDims[d]);
        at[*axis] = e.wrap(b, e.extract(b, indices, ivs), axisDim).first;
        Value value = combine(e, b, *reduction, e.extract(b, args[0], at),
                              e.extract(b, updates, ivs), isUnsigned);
        return SmallVector<Value>{e.insert(b, value, args[0], at)};
      });
  node.setOutput(0, result[0], isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// CumSum
//===----------------------------------------------------------------------===//

/// The running sums of `x` along the static `axis`.
static Value cumulativeSum(const Emitter &e, OpBuilder &b, Value x,
                           int64_t axis, bool exclusive, bool reverse) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<Value> sizes = e.dims(x);
  Value n = sizes[axis];
  SmallVector<Value> outer(sizes);
  outer[axis] = e.index(b, 1);
  Value init = e.empty(type, sizes);
  Type element = type.getElementType();
  bool isFloat = isa<FloatType>(element);
  SmallVector<Value> result = e.loops(
      outer, {init}, [&](OpBuilder &ob, ValueRange ivs, ValueRange args) {
        Value zero = e.scalar(ob, element, 0);
        SmallVector<Value> inner = e.loop(
            ob, e.index(ob, 0), n, {zero, args[0]},
            [&](OpBuilder &ib, Value t, ValueRange acc) {
              Value position =
                  reverse ? e.sub(ib, e.sub(ib, n, e.index(ib, 1)), t) : t;
              SmallVector<Value> at = Emitter::with(ivs, axis, position);
              Value v = e.extract(ib, x, at);
              Value sum =
                  isFloat
                      ? arith::AddFOp::create(ib, e.loc, acc[0], v).getResult()
                      : arith::AddIOp::create(ib, e.loc, acc[0], v).getResult();
              Value out = e.insert(ib, exclusive ? acc[0] : sum, acc[1], at);
              return SmallVector<Value>{sum, out};
            });
        return SmallVector<Value>{inner[1]};
      });
  return result[0];
}

static LogicalResult importCumSum(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Emitter e(node);
  ImportedValue *xInfo = node.inputInfo(0);
  Value x = node.input(0);
  RankedTensorType type = xInfo->type;
  int64_t rank = type.getRank();
  Type element = type.getElementType();
  if (rank == 0 || element.isInteger(1))
    return node.error("needs a numeric input of rank >= 1");
  RankedTensorType axisType = node.inputType(1);
  if (!isIntegerTensor(axisType) || axisType.getRank() > 1 ||
      (axisType.getRank() == 1 && axisType.getDimSize(0) != 1))
    return node.error("axis must be an integer scalar or 1-element tensor");
  bool exclusive = node.intAttr("exclusive", 0) != 0;
  bool reverse = node.intAttr("reverse", 0) != 0;
  if (auto axes = node.constantInts(1)) {
    std::optional<int64_t> axis = normalizeAxis((*axes)[0], rank);
    if (!axis)
      return node.error("axis " + Twine((*axes)[0]) +
                        " is out of range for rank " + Twine(rank));
    node.setOutput(0, cumulativeSum(e, e.b, x, *axis, exclusive, reverse),
                   xInfo->isUnsigned);
    return success();
  }
  // An axis known at run time: one case per axis.
  Value axisTensor = node.input(1);
  SmallVector<Value> at;
  if (axisType.getRank() == 1)
    at.push_back(e.index(0));
  auto [axis, ok] = e.wrap(e.b, e.extract(e.b, axisTensor, at), e.index(rank));
  e.check(ok, "axis out of range");
  SmallVector<int64_t> cases;
  for (int64_t i = 0; i + 1 < rank; ++i)
    cases.push_back(i);
  auto switchOp = scf::IndexSwitchOp::create(e.b, e.loc, TypeRange{type}, axis,
                                             cases, cases.size());
  for (int64_t i = 0; i < rank; ++i) {
    Region &region = i + 1 < rank ? switchOp.getCaseRegions()[i]
                                  : switchOp.getDefaultRegion();
    OpBuilder::InsertionGuard guard(e.b);
    e.b.createBlock(&region);
    Value sum = cumulativeSum(e, e.b, x, i, exclusive, reverse);
    scf::YieldOp::create(e.b, e.loc, sum);
  }
  node.setOutput(0, switchOp.getResult(0), xInfo->isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// ArgMax, ArgMin, Hardmax, TopK
//===----------------------------------------------------------------------===//

/// The index (i64) of the largest (`greater`) or smallest element of `x`
/// along `axis`, the first of equal ones unless `last`; the axis is kept
/// with extent 1 when `keepDims`. With `nanWins`, the first NaN is chosen
/// over any number.
static Value argExtreme(const Emitter &e, Value x, int64_t axis, bool greater,
                        bool last, bool keepDims, bool isUnsigned,
                        bool nanWins) {
  OpBuilder &b = e.b;
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<Value> sizes = e.dims(x);
  Value n = sizes[axis];
  SmallVector<int64_t> shape(type.getShape());
  SmallVector<Value> outSizes(sizes);
  if (keepDims) {
    shape[axis] = 1;
    outSizes[axis] = e.index(1);
  } else {
    shape.erase(shape.begin() + axis);
    outSizes.erase(outSizes.begin() + axis);
  }
  bool maybeEmpty = type.isDynamicDim(axis);
  return e.generate(
      RankedTensorType::get(shape, b.getI64Type()), outSizes,
      [&](OpBuilder &ob, ValueRange ivs) {
        SmallVector<Value> base(ivs.begin(), ivs.end());
        if (!keepDims)
          base.insert(base.begin() + axis, e.index(ob, 0));
        base[axis] = e.index(ob, 0);
        Value first;
        if (maybeEmpty) {
          // Not read when the axis is empty (the caller asserts it is not).
          Value nonEmpty =
              e.cmp(ob, arith::CmpIPredicate::sgt, n, e.index(ob, 0));
          first = e.ifElse(
              ob, nonEmpty,
              [&](OpBuilder &ib) {
                return SmallVector<Value>{e.extract(ib, x, base)};
              },
              [&](OpBuilder &ib) {
                return SmallVector<Value>{
                    e.scalar(ib, type.getElementType(), 0)};
              })[0];
        } else {
          first = e.extract(ob, x, base);
        }
        SmallVector<Value> best = e.loop(
            ob, e.index(ob, 1), n, {first, e.index(ob, 0)},
            [&](OpBuilder &ib, Value t, ValueRange acc) {
              Value v = e.extract(ib, x, Emitter::with(base, axis, t));
              Value better =
                  e.compare(ib, v, acc[0], greater, last, isUnsigned);
              if (nanWins && isa<FloatType>(v.getType())) {
                // The first NaN, as ONNX Runtime (Eigen) chooses it.
                Value vIsNaN = arith::CmpFOp::create(
                    ib, e.loc, arith::CmpFPredicate::UNO, v, v);
                Value bestIsNumber = arith::CmpFOp::create(
                    ib, e.loc, arith::CmpFPredicate::ORD, acc[0], acc[0]);
                better = arith::OrIOp::create(ib, e.loc, better,
                                              e.andI(ib, vIsNaN, bestIsNumber));
              }
              return SmallVector<Value>{e.select(ib, better, v, acc[0]),
                                        e.select(ib, better, t, acc[1])};
            });
        return e.toI64(ob, best[1]);
      });
}

/// Asserts (or fails at import time) that the extent of `x` on `axis` is
/// not 0.
static LogicalResult checkNonEmptyAxis(const Emitter &e, Value x,
                                       int64_t axis) {
  auto type = cast<RankedTensorType>(x.getType());
  if (!type.isDynamicDim(axis))
    return success(type.getDimSize(axis) > 0);
  Value n = tensor::DimOp::create(e.b, e.loc, x, axis);
  e.check(e.cmp(e.b, arith::CmpIPredicate::sgt, n, e.index(0)),
          "the reduced axis is empty");
  return success();
}

static LogicalResult importArgMaxMin(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Emitter e(node);
  ImportedValue *xInfo = node.inputInfo(0);
  Value x = node.input(0);
  RankedTensorType type = xInfo->type;
  if (type.getRank() == 0 || type.getElementType().isInteger(1))
    return node.error("needs a numeric input of rank >= 1");
  FailureOr<int64_t> axis = axisAttr(node, 0, type.getRank());
  if (failed(axis))
    return failure();
  if (failed(checkNonEmptyAxis(e, x, *axis)))
    return node.error("the reduced axis is empty");
  bool keepDims = node.intAttr("keepdims", 1) != 0;
  bool last = node.opset() >= 12 && node.intAttr("select_last_index", 0) != 0;
  bool greater = node.node().op_type() == "ArgMax";
  // As ONNX Runtime: the first NaN wins unless select_last_index is set,
  // which compares numbers only.
  node.setOutput(0,
                 argExtreme(e, x, *axis, greater, last, keepDims,
                            xInfo->isUnsigned, /*nanWins=*/!last),
                 /*isUnsigned=*/false);
  return success();
}

/// One-hot of the first largest element of `x` along `axis`.
static Value hardmax(const Emitter &e, Value x, int64_t axis, bool isUnsigned) {
  auto type = cast<RankedTensorType>(x.getType());
  Value arg = argExtreme(e, x, axis, /*greater=*/true, /*last=*/false,
                         /*keepDims=*/true, isUnsigned, /*nanWins=*/false);
  Type element = type.getElementType();
  return e.generate(type, e.dims(x), [&](OpBuilder &b, ValueRange ivs) {
    Value best = e.extract(b, arg, Emitter::with(ivs, axis, e.index(b, 0)));
    Value hit = e.cmp(b, arith::CmpIPredicate::eq, e.toI64(b, ivs[axis]), best);
    return e.select(b, hit, e.scalar(b, element, 1), e.scalar(b, element, 0));
  });
}

static LogicalResult importHardmax(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Emitter e(node);
  ImportedValue *xInfo = node.inputInfo(0);
  Value x = node.input(0);
  RankedTensorType type = xInfo->type;
  int64_t rank = type.getRank();
  if (rank == 0 || type.getElementType().isInteger(1))
    return node.error("needs a numeric input of rank >= 1");
  FailureOr<int64_t> axis = axisAttr(node, node.opset() >= 13 ? -1 : 1, rank);
  if (failed(axis))
    return failure();
  if (node.opset() >= 13) {
    if (failed(checkNonEmptyAxis(e, x, *axis)))
      return node.error("the axis is empty");
    node.setOutput(0, hardmax(e, x, *axis, xInfo->isUnsigned),
                   xInfo->isUnsigned);
    return success();
  }
  // Before opset 13: over the flattened dimensions [axis, rank).
  GraphImporter &g = node.importer();
  SmallVector<DimExpr> dims = g.shapeOf(x);
  DimExpr outer = DimExpr::constant(1), inner = DimExpr::constant(1);
  for (int64_t d = 0; d < rank; ++d) {
    if (d < *axis)
      outer = outer * dims[d];
    else
      inner = inner * dims[d];
  }
  Value flat = g.reshape(e.loc, x, {outer, inner});
  if (failed(checkNonEmptyAxis(e, flat, 1)))
    return node.error("the flattened axis is empty");
  Value y = hardmax(e, flat, 1, xInfo->isUnsigned);
  node.setOutput(0, g.reshape(e.loc, y, dims), xInfo->isUnsigned);
  return success();
}

static LogicalResult importTopK(NodeContext &node) {
  if (failed(requireInputs(node, node.opset() >= 10 ? 2 : 1)))
    return failure();
  Emitter e(node);
  OpBuilder &b = e.b;
  ImportedValue *xInfo = node.inputInfo(0);
  Value x = node.input(0);
  RankedTensorType type = xInfo->type;
  int64_t rank = type.getRank();
  if (rank == 0 || type.getElementType().isInteger(1))
    return node.error("needs a numeric input of rank >= 1");
  FailureOr<int64_t> axisOr = axisAttr(node, -1, rank);
  if (failed(axisOr))
    return failure();
  int64_t axis = *axisOr;
  bool largest = node.opset() < 11 || node.intAttr("largest", 1) != 0;
  bool isUnsigned = xInfo->isUnsigned;
  SmallVector<Value> sizes = e.dims(x);
  Value n = sizes[axis];
  // k: an attribute before opset 10, then a 1-element input.
  std::optional<int64_t> staticK;
  Value k;
  if (node.opset() < 10) {
    staticK = node.intAttr("k", -1);
  } else {
    RankedTensorType kType = node.inputType(1);
    if (!isIntegerTensor(kType) || kType.getRank() > 1 ||
        (kType.getRank() == 1 && kType.getDimSize(0) != 1))
      return node.error("K must be a 1-element integer tensor");
    if (auto given = node.constantInts(1))
      staticK = (*given)[0];
    else {
      SmallVector<Value> at(kType.getRank(), e.index(0));
      k = e.toIndex(b, e.extract(b, node.input(1), at));
    }
  }
  if (staticK) {
    if (*staticK < 0 ||
        (!type.isDynamicDim(axis) && *staticK > type.getDimSize(axis)))
      return node.error("k = " + Twine(*staticK) +
                        " is out of range for the axis extent");
    k = e.index(*staticK);
  }
  // 0 <= k <= n, checked and clamped.
  e.check(e.andI(b, e.cmp(b, arith::CmpIPredicate::sge, k, e.index(0)),
                 e.cmp(b, arith::CmpIPredicate::sle, k, n)),
          "k out of range");
  k = e.maxS(b, e.minS(b, k, n), e.index(0));

  SmallVector<int64_t> shape(type.getShape());
  shape[axis] = staticK ? *staticK : ShapedType::kDynamic;
  SmallVector<Value> outSizes(sizes);
  outSizes[axis] = k;
  auto indexType = RankedTensorType::get(shape, b.getI64Type());
  SmallVector<Value> outer(sizes);
  outer[axis] = e.index(1);
  // Per slice: a best-first list of indices, filled by one pass over the
  // slice; an element goes behind every listed one it does not beat, so
  // equal elements keep their order (lower index first).
  Value scanEnd = e.select(
      b, e.cmp(b, arith::CmpIPredicate::sgt, k, e.index(0)), n, e.index(0));
  SmallVector<Value> indices = e.loops(
      outer, {e.empty(indexType, outSizes)},
      [&](OpBuilder &ob, ValueRange ivs, ValueRange args) {
        auto valueAt = [&](OpBuilder &ib, Value list, Value slot) {
          Value j = e.extract(ib, list, Emitter::with(ivs, axis, slot));
          Value at = e.clamp(ib, e.toIndex(ib, j), n);
          return e.extract(ib, x, Emitter::with(ivs, axis, at));
        };
        SmallVector<Value> scan = e.loop(
            ob, e.index(ob, 0), scanEnd, {args[0], e.index(ob, 0)},
            [&](OpBuilder &ib, Value i, ValueRange acc) {
              Value list = acc[0], count = acc[1];
              Value v = e.extract(ib, x, Emitter::with(ivs, axis, i));
              Value kMinus1 = e.sub(ib, k, e.index(ib, 1));
              Value full = e.cmp(ib, arith::CmpIPredicate::sge, count, k);
              // Full and not better than the last listed one: skip.
              Value enters = e.ifElse(
                  ib, full,
                  [&](OpBuilder &tb) {
                    Value lastValue = valueAt(tb, list, kMinus1);
                    return SmallVector<Value>{e.compare(
                        tb, v, lastValue, largest, false, isUnsigned)};
                  },
                  [&](OpBuilder &tb) {
                    return SmallVector<Value>{arith::ConstantIntOp::create(
                        tb, e.loc, tb.getI1Type(), 1)};
                  })[0];
              SmallVector<Value> next = e.ifElse(
                  ib, enters,
                  [&](OpBuilder &tb) {
                    // Slot: the number of listed elements v does not beat.
                    Value slot = e.loop(
                        tb, e.index(tb, 0), count, {e.index(tb, 0)},
                        [&](OpBuilder &lb, Value p, ValueRange c) {
                          Value w = valueAt(lb, list, p);
                          Value beats =
                              e.compare(lb, v, w, largest, false, isUnsigned);
                          Value one = e.select(lb, beats, e.index(lb, 0),
                                               e.index(lb, 1));
                          return SmallVector<Value>{e.add(lb, c[0], one)};
                        })[0];
                    // Shift list[slot, end) one place back, dropping the
                    // last one when full.
                    Value end = e.minS(tb, count, kMinus1);
                    Value shifted = e.loop(
                        tb, e.index(tb, 0), e.sub(tb, end, slot), {list},
                        [&](OpBuilder &lb, Value t, ValueRange l) {
                          Value q = e.sub(lb, end, t);
                          Value prev = e.extract(
                              lb, l[0],
                              Emitter::with(ivs, axis,
                                            e.sub(lb, q, e.index(lb, 1))));
                          return SmallVector<Value>{e.insert(
                              lb, prev, l[0], Emitter::with(ivs, axis, q))};
                        })[0];
                    Value placed = e.insert(tb, e.toI64(tb, i), shifted,
                                            Emitter::with(ivs, axis, slot));
                    Value grown =
                        e.minS(tb, e.add(tb, count, e.index(tb, 1)), k);
                    return SmallVector<Value>{placed, grown};
                  },
                  [&](OpBuilder &) {
                    return SmallVector<Value>{list, count};
                  });
              return next;
            });
        return SmallVector<Value>{scan[0]};
      });
  Value indexTensor = indices[0];
  Value values =
      e.generate(RankedTensorType::get(shape, type.getElementType()), outSizes,
                 [&](OpBuilder &ob, ValueRange ivs) {
                   Value j = e.extract(ob, indexTensor, ivs);
                   Value at = e.clamp(ob, e.toIndex(ob, j), n);
                   return e.extract(ob, x, Emitter::with(ivs, axis, at));
                 });
  node.setOutput(0, values, isUnsigned);
  if (node.numOutputs() > 1)
    node.setOutput(1, indexTensor, /*isUnsigned=*/false);
  return success();
}

//===----------------------------------------------------------------------===//
// OneHot, EyeLike
//===----------------------------------------------------------------------===//

static LogicalResult importOneHot(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  Emitter e(node);
  OpBuilder &b = e.b;
  ImportedValue *indexInfo = node.inputInfo(0), *valuesInfo = node.inputInfo(2);
  Value indices = node.input(0), values = node.input(2);
  RankedTensorType indexType = indexInfo->type, depthType = node.inputType(1),
                   valuesType = valuesInfo->type;
  int64_t rank = indexType.getRank();
  if (valuesType.getRank() != 1 || valuesType.getDimSize(0) != 2)
    return node.error("values must be a 1-D tensor of two elements");
  if (depthType.getNumElements() != 1)
    return node.error("depth must hold one element");
  std::optional<int64_t> axis =
      normalizeAxis(node.intAttr("axis", -1), rank + 1);
  if (!axis)
    return node.error("axis is out of range for rank " + Twine(rank + 1));
  // depth: known at import time, or read (and truncated toward zero).
  std::optional<int64_t> staticDepth;
  if (ElementsAttr attr = node.constantInput(1)) {
    auto dense = dyn_cast<DenseElementsAttr>(attr);
    Attribute first = dense ? *dense.value_begin<Attribute>() : Attribute();
    if (auto i = dyn_cast_if_present<IntegerAttr>(first))
      staticDepth = node.inputInfo(1)->isUnsigned
                        ? static_cast<int64_t>(i.getValue().getZExtValue())
                        : i.getValue().getSExtValue();
    else if (auto f = dyn_cast_if_present<FloatAttr>(first))
      staticDepth = static_cast<int64_t>(f.getValueAsDouble());
  } else if (auto ints = node.constantInts(1)) {
    staticDepth = (*ints)[0];
  }
  Value depth;
  if (staticDepth) {
    if (*staticDepth < 1)
      return node.error("depth " + Twine(*staticDepth) + " is not positive");
    depth = e.index(*staticDepth);
  } else {
    SmallVector<Value> at(depthType.getRank(), e.index(0));
    depth = e.toIndex(b, e.extract(b, node.input(1), at),
                      node.inputInfo(1)->isUnsigned);
    e.check(e.cmp(b, arith::CmpIPredicate::sgt, depth, e.index(0)),
            "depth is not positive");
    depth = e.maxS(b, depth, e.index(0));
  }
  SmallVector<int64_t> shape(indexType.getShape());
  shape.insert(shape.begin() + *axis,
               staticDepth ? *staticDepth : ShapedType::kDynamic);
  SmallVector<Value> sizes = e.dims(indices);
  sizes.insert(sizes.begin() + *axis, depth);
  Value off = e.extract(b, values, {e.index(0)});
  Value on = e.extract(b, values, {e.index(1)});
  bool indexUnsigned = indexInfo->isUnsigned;
  // Indices outside [-depth, depth) give a row of off values.
  Value result = e.generate(
      RankedTensorType::get(shape, valuesType.getElementType()), sizes,
      [&](OpBuilder &ob, ValueRange ivs) {
        SmallVector<Value> at(ivs.begin(), ivs.end());
        at.erase(at.begin() + *axis);
        Value i = e.toIndex(ob, e.extract(ob, indices, at), indexUnsigned);
        Value negative =
            e.cmp(ob, arith::CmpIPredicate::slt, i, e.index(ob, 0));
        Value wrapped = e.select(ob, negative, e.add(ob, i, depth), i);
        Value hit = e.cmp(ob, arith::CmpIPredicate::eq, wrapped, ivs[*axis]);
        return e.select(ob, hit, on, off);
      });
  node.setOutput(0, result, valuesInfo->isUnsigned);
  return success();
}

static bool isUnsignedONNXType(int64_t dataType) {
  return dataType == onnx::TensorProto::UINT8 ||
         dataType == onnx::TensorProto::UINT16 ||
         dataType == onnx::TensorProto::UINT32 ||
         dataType == onnx::TensorProto::UINT64;
}

static LogicalResult importEyeLike(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Emitter e(node);
  ImportedValue *xInfo = node.inputInfo(0);
  Value x = node.input(0);
  RankedTensorType type = xInfo->type;
  if (type.getRank() != 2)
    return node.error("needs a 2-D input");
  Type element = type.getElementType();
  bool isUnsigned = xInfo->isUnsigned;
  if (node.attribute("dtype")) {
    int64_t dtype = node.intAttr("dtype", 0);
    element = node.importer().convertElementType(static_cast<int32_t>(dtype));
    if (!element)
      return node.error("dtype " + Twine(dtype) + " is not supported");
    isUnsigned = isUnsignedONNXType(dtype);
  }
  int64_t k = node.intAttr("k", 0);
  Value result = e.generate(
      type.clone(element), e.dims(x), [&](OpBuilder &b, ValueRange ivs) {
        Value diagonal = e.cmp(b, arith::CmpIPredicate::eq,
                               e.sub(b, ivs[1], ivs[0]), e.index(b, k));
        if (element.isInteger(1))
          return diagonal;
        return e.select(b, diagonal, e.scalar(b, element, 1),
                        e.scalar(b, element, 0));
      });
  node.setOutput(0, result, isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// NonZero, Compress
//===----------------------------------------------------------------------===//

/// `v != 0` for a scalar of any element type.
static Value isNonZero(const Emitter &e, OpBuilder &b, Value v) {
  Type t = v.getType();
  if (isa<FloatType>(t))
    return arith::CmpFOp::create(b, e.loc, arith::CmpFPredicate::UNE, v,
                                 e.scalar(b, t, 0));
  return e.cmp(b, arith::CmpIPredicate::ne, v, e.scalar(b, t, 0));
}

static LogicalResult importNonZero(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Emitter e(node);
  OpBuilder &b = e.b;
  Value x = node.input(0);
  // A 0-D input counts as one element of a 1-D one (as ONNX Runtime).
  if (node.inputType(0).getRank() == 0)
    x = node.importer().reshape(e.loc, x, {DimExpr::constant(1)});
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  SmallVector<Value> sizes = e.dims(x);
  Value count = e.loops(
      sizes, {e.index(0)}, [&](OpBuilder &ob, ValueRange ivs, ValueRange args) {
        Value nz = isNonZero(e, ob, e.extract(ob, x, ivs));
        Value one = e.select(ob, nz, e.index(ob, 1), e.index(ob, 0));
        return SmallVector<Value>{e.add(ob, args[0], one)};
      })[0];
  auto resultType =
      RankedTensorType::get({rank, ShapedType::kDynamic}, b.getI64Type());
  Value init = e.empty(resultType, {e.index(rank), count});
  // The coordinates of each nonzero element, in row-major order.
  SmallVector<Value> result =
      e.loops(sizes, {init, e.index(0)},
              [&](OpBuilder &ob, ValueRange ivs, ValueRange args) {
                Value nz = isNonZero(e, ob, e.extract(ob, x, ivs));
                return e.ifElse(
                    ob, nz,
                    [&](OpBuilder &tb) {
                      Value out = args[0];
                      for (int64_t d = 0; d < rank; ++d)
                        out = e.insert(tb, e.toI64(tb, ivs[d]), out,
                                       {e.index(tb, d), args[1]});
                      return SmallVector<Value>{
                          out, e.add(tb, args[1], e.index(tb, 1))};
                    },
                    [&](OpBuilder &) {
                      return SmallVector<Value>{args[0], args[1]};
                    });
              });
  node.setOutput(0, result[0], /*isUnsigned=*/false);
  return success();
}

static LogicalResult importCompress(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Emitter e(node);
  OpBuilder &b = e.b;
  ImportedValue *xInfo = node.inputInfo(0);
  Value x = node.input(0), condition = node.input(1);
  RankedTensorType conditionType = node.inputType(1);
  if (conditionType.getRank() != 1)
    return node.error("the condition must be 1-D");
  int64_t axis = 0;
  if (node.attribute("axis")) {
    FailureOr<int64_t> given = axisAttr(node, 0, xInfo->type.getRank());
    if (failed(given))
      return failure();
    axis = *given;
  } else {
    // Without an axis: over the flattened input.
    GraphImporter &g = node.importer();
    DimExpr total = DimExpr::constant(1);
    for (const DimExpr &d : g.shapeOf(x))
      total = total * d;
    x = g.reshape(e.loc, x, {total});
  }
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() == 0)
    return node.error("needs an input of rank >= 1");
  SmallVector<Value> sizes = e.dims(x);
  // As ONNX Runtime: a condition longer than the axis is cut to it.
  Value length =
      e.minS(b, tensor::DimOp::create(b, e.loc, condition, 0), sizes[axis]);
  auto selected = [&](OpBuilder &ob, Value i) {
    return isNonZero(e, ob, e.extract(ob, condition, {i}));
  };
  Value count = e.loop(b, e.index(0), length, {e.index(0)},
                       [&](OpBuilder &ob, Value i, ValueRange acc) {
                         Value one = e.select(ob, selected(ob, i),
                                              e.index(ob, 1), e.index(ob, 0));
                         return SmallVector<Value>{e.add(ob, acc[0], one)};
                       })[0];
  SmallVector<int64_t> shape(type.getShape());
  shape[axis] = ShapedType::kDynamic;
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  SmallVector<Value> outSizes(sizes);
  outSizes[axis] = count;
  int64_t rank = type.getRank();
  SmallVector<int64_t> sliceShape(type.getShape());
  sliceShape[axis] = 1;
  auto sliceType = RankedTensorType::get(sliceShape, type.getElementType());
  Value result = e.loop(
      b, e.index(0), length, {e.empty(resultType, outSizes), e.index(0)},
      [&](OpBuilder &ob, Value i, ValueRange acc) {
        return e.ifElse(
            ob, selected(ob, i),
            [&](OpBuilder &tb) {
              SmallVector<OpFoldResult> from(rank, tb.getIndexAttr(0)),
                  to(rank, tb.getIndexAttr(0)), size,
                  strides(rank, tb.getIndexAttr(1));
              for (int64_t d = 0; d < rank; ++d)
                size.push_back(
                    d == axis ? OpFoldResult(tb.getIndexAttr(1))
                    : type.isDynamicDim(d)
                        ? OpFoldResult(sizes[d])
                        : OpFoldResult(tb.getIndexAttr(type.getDimSize(d))));
              from[axis] = i;
              to[axis] = acc[1];
              Value slice = tensor::ExtractSliceOp::create(
                  tb, e.loc, sliceType, x, from, size, strides);
              Value out = tensor::InsertSliceOp::create(
                  tb, e.loc, slice, acc[0], to, size, strides);
              return SmallVector<Value>{out, e.add(tb, acc[1], e.index(tb, 1))};
            },
            [&](OpBuilder &) {
              return SmallVector<Value>{acc[0], acc[1]};
            });
      })[0];
  node.setOutput(0, result, xInfo->isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// ReverseSequence
//===----------------------------------------------------------------------===//

static LogicalResult importReverseSequence(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  Emitter e(node);
  ImportedValue *xInfo = node.inputInfo(0);
  Value x = node.input(0), lengths = node.input(1);
  RankedTensorType type = xInfo->type, lengthType = node.inputType(1);
  if (type.getRank() < 2 || lengthType.getRank() != 1 ||
      !isIntegerTensor(lengthType))
    return node.error("needs an input of rank >= 2 and 1-D integer "
                      "sequence_lens");
  int64_t batchAxis = node.intAttr("batch_axis", 1);
  int64_t timeAxis = node.intAttr("time_axis", 0);
  if (!((batchAxis == 0 && timeAxis == 1) || (batchAxis == 1 && timeAxis == 0)))
    return node.error("batch_axis and time_axis must be 0 and 1");
  SmallVector<Value> sizes = e.dims(x);
  Value time = sizes[timeAxis];
  Value batch = sizes[batchAxis];
  Value lengthCount = tensor::DimOp::create(e.b, e.loc, lengths, 0);
  if (failed(e.checkSameExtent(lengthCount, batch,
                               "sequence_lens does not match the batch")))
    return node.error("sequence_lens does not match the batch extent");
  e.checkAll({lengthCount}, "sequence length out of range",
             [&](OpBuilder &b, ValueRange ivs) {
               Value n = e.toIndex(b, e.extract(b, lengths, ivs));
               return e.andI(
                   b, e.cmp(b, arith::CmpIPredicate::sge, n, e.index(b, 0)),
                   e.cmp(b, arith::CmpIPredicate::sle, n, time));
             });
  Value result = e.generate(type, sizes, [&](OpBuilder &b, ValueRange ivs) {
    Value row = e.clamp(b, ivs[batchAxis], lengthCount);
    Value n = e.toIndex(b, e.extract(b, lengths, {row}));
    n = e.maxS(b, e.minS(b, n, time), e.index(b, 0));
    Value t = ivs[timeAxis];
    Value inside = e.cmp(b, arith::CmpIPredicate::slt, t, n);
    Value mirrored = e.sub(b, e.sub(b, n, e.index(b, 1)), t);
    return e.extract(
        b, x, Emitter::with(ivs, timeAxis, e.select(b, inside, mirrored, t)));
  });
  node.setOutput(0, result, xInfo->isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// Unique
//===----------------------------------------------------------------------===//

/// `a == b` (`equal`) or `a < b` for scalars of the element type of Unique's
/// input.
static Value compareElements(const Emitter &e, OpBuilder &b, Value a,
                             Value other, bool equal, bool isUnsigned) {
  if (isa<FloatType>(a.getType()))
    return arith::CmpFOp::create(
        b, e.loc, equal ? arith::CmpFPredicate::OEQ : arith::CmpFPredicate::OLT,
        a, other);
  if (equal)
    return e.cmp(b, arith::CmpIPredicate::eq, a, other);
  return e.cmp(b,
               isUnsigned || a.getType().isInteger(1)
                   ? arith::CmpIPredicate::ult
                   : arith::CmpIPredicate::slt,
               a, other);
}

static LogicalResult importUnique(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Emitter e(node);
  OpBuilder &b = e.b;
  ImportedValue *xInfo = node.inputInfo(0);
  Value x = node.input(0);
  bool isUnsigned = xInfo->isUnsigned;
  int64_t axis = 0;
  if (node.attribute("axis")) {
    FailureOr<int64_t> given = axisAttr(node, 0, xInfo->type.getRank());
    if (failed(given))
      return failure();
    axis = *given;
  } else {
    GraphImporter &g = node.importer();
    DimExpr total = DimExpr::constant(1);
    for (const DimExpr &d : g.shapeOf(x))
      total = total * d;
    x = g.reshape(e.loc, x, {total});
  }
  bool sorted = node.intAttr("sorted", 1) != 0;
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<Value> sizes = e.dims(x);
  Value n = sizes[axis];
  SmallVector<Value> inner(sizes);
  inner[axis] = e.index(1);
  auto i64Vector =
      RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type());
  Value trueValue = arith::ConstantIntOp::create(b, e.loc, b.getI1Type(), 1);
  // Slices i and j along the axis: equal, or i before j lexicographically.
  auto sameSlice = [&](OpBuilder &ob, Value i, Value j) {
    return e.loops(
        ob, inner, {trueValue},
        [&](OpBuilder &lb, ValueRange ivs, ValueRange acc) {
          Value a = e.extract(lb, x, Emitter::with(ivs, axis, i));
          Value c = e.extract(lb, x, Emitter::with(ivs, axis, j));
          return SmallVector<Value>{e.andI(
              lb, acc[0], compareElements(e, lb, a, c, true, isUnsigned))};
        })[0];
  };
  auto sliceBefore = [&](OpBuilder &ob, Value i, Value j) {
    Value falseValue =
        arith::ConstantIntOp::create(ob, e.loc, ob.getI1Type(), 0);
    return e.loops(
        ob, inner, {falseValue, falseValue},
        [&](OpBuilder &lb, ValueRange ivs, ValueRange acc) {
          Value a = e.extract(lb, x, Emitter::with(ivs, axis, i));
          Value c = e.extract(lb, x, Emitter::with(ivs, axis, j));
          Value differs = arith::XOrIOp::create(
              lb, e.loc, compareElements(e, lb, a, c, true, isUnsigned),
              trueValue);
          Value less = compareElements(e, lb, a, c, false, isUnsigned);
          // The first differing element decides.
          Value decided = arith::OrIOp::create(lb, e.loc, acc[0], differs);
          Value before = e.select(lb, acc[0], acc[1], less);
          return SmallVector<Value>{decided, before};
        })[1];
  };
  // First occurrences in order, and each slice's position among them.
  Value zeros = e.generate(i64Vector, {n}, [&](OpBuilder &ob, ValueRange) {
    return e.scalar(ob, ob.getI64Type(), 0);
  });
  SmallVector<Value> firsts = e.loop(
      b, e.index(0), n, {e.empty(i64Vector, {n}), e.index(0), zeros},
      [&](OpBuilder &ob, Value i, ValueRange acc) {
        Value list = acc[0], count = acc[1];
        Value found = e.loop(
            ob, e.index(ob, 0), count, {count},
            [&](OpBuilder &lb, Value p, ValueRange f) {
              Value notYet = e.cmp(lb, arith::CmpIPredicate::eq, f[0], count);
              Value match = e.ifElse(
                  lb, notYet,
                  [&](OpBuilder &tb) {
                    Value j = e.toIndex(tb, e.extract(tb, list, {p}));
                    return SmallVector<Value>{sameSlice(tb, j, i)};
                  },
                  [&](OpBuilder &tb) {
                    return SmallVector<Value>{arith::ConstantIntOp::create(
                        tb, e.loc, tb.getI1Type(), 0)};
                  })[0];
              return SmallVector<Value>{e.select(lb, match, p, f[0])};
            })[0];
        Value isNew = e.cmp(ob, arith::CmpIPredicate::eq, found, count);
        SmallVector<Value> grown = e.ifElse(
            ob, isNew,
            [&](OpBuilder &tb) {
              return SmallVector<Value>{
                  e.insert(tb, e.toI64(tb, i), list, {count}),
                  e.add(tb, count, e.index(tb, 1))};
            },
            [&](OpBuilder &) {
              return SmallVector<Value>{list, count};
            });
        Value inverse = e.insert(ob, e.toI64(ob, found), acc[2], {i});
        return SmallVector<Value>{grown[0], grown[1], inverse};
      });
  Value count = firsts[1];
  Value list = tensor::ExtractSliceOp::create(
      b, e.loc, i64Vector, firsts[0], ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{count}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  Value inverse = firsts[2];
  if (sorted) {
    // rank[p]: how many unique slices come before slice p.
    Value rank =
        e.generate(i64Vector, {count}, [&](OpBuilder &ob, ValueRange ivs) {
          Value self = e.toIndex(ob, e.extract(ob, list, ivs));
          Value before =
              e.loop(ob, e.index(ob, 0), count, {e.index(ob, 0)},
                     [&](OpBuilder &lb, Value q, ValueRange acc) {
                       Value other = e.toIndex(lb, e.extract(lb, list, {q}));
                       Value one = e.select(lb, sliceBefore(lb, other, self),
                                            e.index(lb, 1), e.index(lb, 0));
                       return SmallVector<Value>{e.add(lb, acc[0], one)};
                     })[0];
          return e.toI64(ob, before);
        });
    Value ordered =
        e.loop(b, e.index(0), count, {e.empty(i64Vector, {count})},
               [&](OpBuilder &ob, Value p, ValueRange acc) {
                 Value to = e.clamp(ob, e.toIndex(ob, e.extract(ob, rank, {p})),
                                    count);
                 return SmallVector<Value>{
                     e.insert(ob, e.extract(ob, list, {p}), acc[0], {to})};
               })[0];
    inverse = e.generate(i64Vector, {n}, [&](OpBuilder &ob, ValueRange ivs) {
      Value p = e.toIndex(ob, e.extract(ob, inverse, ivs));
      return e.extract(ob, rank, {e.clamp(ob, p, count)});
    });
    list = ordered;
  }
  Value counts =
      e.loop(b, e.index(0), n,
             {e.generate(i64Vector, {count},
                         [&](OpBuilder &ob, ValueRange) {
                           return e.scalar(ob, ob.getI64Type(), 0);
                         })},
             [&](OpBuilder &ob, Value i, ValueRange acc) {
               Value p = e.clamp(ob, e.toIndex(ob, e.extract(ob, inverse, {i})),
                                 count);
               Value c = e.extract(ob, acc[0], {p});
               Value next = e.add(ob, c, e.scalar(ob, ob.getI64Type(), 1));
               return SmallVector<Value>{e.insert(ob, next, acc[0], {p})};
             })[0];
  SmallVector<int64_t> shape(type.getShape());
  shape[axis] = ShapedType::kDynamic;
  SmallVector<Value> outSizes(sizes);
  outSizes[axis] = count;
  Value y = e.generate(
      RankedTensorType::get(shape, type.getElementType()), outSizes,
      [&](OpBuilder &ob, ValueRange ivs) {
        Value j = e.toIndex(ob, e.extract(ob, list, {ivs[axis]}));
        return e.extract(ob, x, Emitter::with(ivs, axis, e.clamp(ob, j, n)));
      });
  node.setOutput(0, y, isUnsigned);
  if (node.hasOutput(1))
    node.setOutput(1, list, /*isUnsigned=*/false);
  if (node.hasOutput(2))
    node.setOutput(2, inverse, /*isUnsigned=*/false);
  if (node.hasOutput(3))
    node.setOutput(3, counts, /*isUnsigned=*/false);
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void mlir::slm::onnx_import::registerIndexingOps(OpTable &table) {
  table.add("GatherElements", 11, importGatherElements);
  table.add("GatherND", 11, importGatherND);
  table.add("ScatterND", 11, importScatterND);
  table.add("ScatterElements", 11, importScatterElements);
  table.add("Scatter", 9, importScatterElements);
  table.add("CumSum", 11, importCumSum);
  table.add("TopK", 1, importTopK);
  table.add("ArgMax", 1, importArgMaxMin);
  table.add("ArgMin", 1, importArgMaxMin);
  table.add("Hardmax", 1, importHardmax);
  table.add("OneHot", 9, importOneHot);
  table.add("EyeLike", 9, importEyeLike);
  table.add("NonZero", 9, importNonZero);
  table.add("Compress", 9, importCompress);
  table.add("ReverseSequence", 10, importReverseSequence);
  table.add("Unique", 11, importUnique);
}
