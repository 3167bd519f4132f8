//===- ControlFlowOps.cpp - If, Loop, Scan, sequences, optionals -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// ONNX control flow and the values that only exist around it:
// - If: a condition known at import time imports only the taken branch (its
//   outputs keep what the importer knows of them, shape arithmetic included);
//   a run-time condition becomes `scf.if` on tensors (the branches yield
//   tensors of the same rank; differing extents become dynamic).
// - Loop: a trip count and/or a condition, loop-carried tensors and scan
//   outputs stacked along a new leading axis: `scf.for` when no condition is
//   computed at run time, `scf.while` otherwise. A loop that carries
//   sequences is unrolled at import time (its trip count must be known then).
// - Scan (opset 8 and 9+): `scf.for` over the scan axis.
// - Sequences and optionals are lists known at import time
//   (ImportedValue::Kind): positions must be known at import time, except
//   SequenceAt over tensors of one type, which selects at run time.
//
// The body of a loop is imported with the types its carried values have on
// entry; when it yields other extents the loop is built again with those
// extents dynamic (a few attempts at most).
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::slm::onnx_import;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// The one element of a tensor holding a single value, as a scalar.
static Value extractScalar(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<Value> zeros(type.getRank(),
                           arith::ConstantIndexOp::create(b, loc, 0));
  return tensor::ExtractOp::create(b, loc, tensor, zeros);
}

/// True when `type` can hold exactly one element (rank 0, or all extents 1).
static bool holdsOneElement(RankedTensorType type) {
  return llvm::all_of(type.getShape(), [](int64_t d) { return d == 1; });
}

/// The most specific type both `a` and `b` are instances of: same rank and
/// element type, the extents that differ dynamic. Null when ranks or element
/// types differ.
static RankedTensorType joinTypes(RankedTensorType a, RankedTensorType b) {
  if (a.getRank() != b.getRank() || a.getElementType() != b.getElementType())
    return {};
  SmallVector<int64_t> shape;
  for (auto [x, y] : llvm::zip(a.getShape(), b.getShape()))
    shape.push_back(x == y ? x : ShapedType::kDynamic);
  return RankedTensorType::get(shape, a.getElementType());
}

/// `value` as type `type` (a compatible type: tensor.cast when they differ).
static Value castTo(OpBuilder &b, Location loc, Value value,
                    RankedTensorType type) {
  if (value.getType() == type)
    return value;
  return tensor::CastOp::create(b, loc, type, value);
}

/// A 0-D tensor holding `scalar`.
static Value scalarTensor(OpBuilder &b, Location loc, Value scalar) {
  return tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({}, scalar.getType()), scalar);
}

/// An ImportedValue for a tensor `value`.
static ImportedValue tensorValue(Value value, bool isUnsigned = false) {
  ImportedValue info;
  info.value = value;
  info.type = cast<RankedTensorType>(value.getType());
  info.isUnsigned = isUnsigned;
  return info;
}

/// A 0-D int64 value known at import time (shape arithmetic sees it).
static ImportedValue knownInt64(OpBuilder &b, int64_t v) {
  ImportedValue info;
  info.type = RankedTensorType::get({}, b.getI64Type());
  info.elements = SmallVector<DimExpr>{DimExpr::constant(v)};
  return info;
}

/// A 0-D bool value known at import time.
static ImportedValue knownBool(OpBuilder &b, bool v) {
  ImportedValue info;
  info.type = RankedTensorType::get({}, b.getI1Type());
  info.elements = SmallVector<DimExpr>{DimExpr::constant(v ? 1 : 0)};
  return info;
}

/// The integer elements of `info` when known at import time.
static std::optional<SmallVector<int64_t>> knownInts(NodeContext &node,
                                                     ImportedValue &info) {
  if (auto known = info.constantElements())
    return known;
  Value v = node.importer().materialize(info);
  DenseIntElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &x : attr.getValues<APInt>())
    out.push_back(attr.getElementType().isInteger(1) ? x.getZExtValue()
                                                     : x.getSExtValue());
  return out;
}

/// Removes the terminator a builder may have put into `block`.
static void dropTerminator(Block *block) {
  if (!block->empty() && block->back().hasTrait<OpTrait::IsTerminator>())
    block->back().erase();
}

/// "<node name> (<Op>)", the prefix of run-time error messages.
static std::string runtimeLabel(NodeContext &node) {
  std::string name = node.node().name();
  if (auto named = dyn_cast<NameLoc>(node.loc()))
    name = named.getName().str();
  return name + " (" + node.node().op_type() + ")";
}

/// Checks that `items` (of one rank) have the extents of the first in every
/// dimension but `skip`: an error when static extents differ, a run-time
/// assertion where an extent is dynamic (nothing is then written past a
/// buffer sized by the first item).
static LogicalResult checkSameExtents(NodeContext &node, ArrayRef<Value> items,
                                      std::optional<int64_t> skip) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto first = cast<RankedTensorType>(items.front().getType());
  for (Value v : items.drop_front()) {
    auto type = cast<RankedTensorType>(v.getType());
    for (int64_t d = 0; d < first.getRank(); ++d) {
      if (skip && d == *skip)
        continue;
      if (!first.isDynamicDim(d) && !type.isDynamicDim(d)) {
        if (first.getDimSize(d) != type.getDimSize(d))
          return node.error("combines tensors whose extents differ: " +
                            llvm::formatv("{0}", first).str() + " and " +
                            llvm::formatv("{0}", type).str());
        continue;
      }
      Value same =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                tensor::DimOp::create(b, loc, items.front(), d),
                                tensor::DimOp::create(b, loc, v, d));
      cf::AssertOp::create(b, loc, same,
                           runtimeLabel(node) +
                               ": combines tensors whose extents differ");
    }
  }
  return success();
}

/// Stacks tensors of one shape along a new axis `axis` (0 <= axis <= rank).
static FailureOr<Value> stackTensors(NodeContext &node, ArrayRef<Value> items,
                                     int64_t axis) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  RankedTensorType joined = cast<RankedTensorType>(items.front().getType());
  for (Value v : items.drop_front()) {
    joined = joinTypes(joined, cast<RankedTensorType>(v.getType()));
    if (!joined)
      return node.error("stacks tensors of different ranks or element types");
  }
  if (failed(checkSameExtents(node, items, std::nullopt)))
    return failure();
  SmallVector<int64_t> shape(joined.getShape());
  shape.insert(shape.begin() + axis, static_cast<int64_t>(items.size()));
  SmallVector<OpFoldResult> sizes =
      tensor::getMixedSizes(b, loc, castTo(b, loc, items.front(), joined));
  SmallVector<Value> dynamic;
  for (OpFoldResult s : sizes)
    if (auto v = dyn_cast<Value>(s))
      dynamic.push_back(v);
  Value result = tensor::EmptyOp::create(
      b, loc, RankedTensorType::get(shape, joined.getElementType()), dynamic);
  sizes.insert(sizes.begin() + axis, b.getIndexAttr(1));
  SmallVector<OpFoldResult> strides(shape.size(), b.getIndexAttr(1));
  for (auto [i, item] : llvm::enumerate(items)) {
    SmallVector<OpFoldResult> offsets(shape.size(), b.getIndexAttr(0));
    offsets[axis] = b.getIndexAttr(i);
    // Every item must have the extents of the first.
    SmallVector<OpFoldResult> itemSizes = tensor::getMixedSizes(b, loc, item);
    itemSizes.insert(itemSizes.begin() + axis, b.getIndexAttr(1));
    result = tensor::InsertSliceOp::create(b, loc, item, result, offsets,
                                           itemSizes, strides);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// If
//===----------------------------------------------------------------------===//

static LogicalResult importIf(NodeContext &node) {
  const onnx::GraphProto *thenGraph = node.graphAttr("then_branch");
  const onnx::GraphProto *elseGraph = node.graphAttr("else_branch");
  if (!thenGraph || !elseGraph)
    return node.error("needs the then_branch and else_branch graphs");
  if (failed(requireInputs(node, 1)))
    return failure();
  GraphImporter &g = node.importer();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  ImportedValue *condInfo = node.inputInfo(0);
  if (!condInfo->isTensor())
    return node.error("the condition is a " + condInfo->kindName() +
                      ", not a tensor");
  if (!holdsOneElement(condInfo->type))
    return node.error("the condition must hold one element, got " +
                      llvm::formatv("{0}", condInfo->type).str());

  // A condition known at import time: only the taken branch exists.
  if (std::optional<SmallVector<int64_t>> known = knownInts(node, *condInfo)) {
    SmallVector<ImportedValue> outputs;
    if (failed(g.importSubgraph(known->front() ? *thenGraph : *elseGraph, {},
                                outputs, loc)))
      return failure();
    if (static_cast<int>(outputs.size()) < node.numOutputs())
      return node.error("the taken branch yields " + Twine(outputs.size()) +
                        " values, the node declares " +
                        Twine(node.numOutputs()));
    for (int i = 0; i < node.numOutputs(); ++i)
      node.setOutputValue(i, outputs[i]);
    return success();
  }

  Value condTensor = node.input(0);
  if (!condInfo->type.getElementType().isInteger(1))
    return node.error("the condition must be a bool tensor");
  Value cond = extractScalar(b, loc, condTensor);
  auto probe = scf::IfOp::create(b, loc, TypeRange{}, cond,
                                 /*addThenBlock=*/true, /*addElseBlock=*/true);
  SmallVector<SmallVector<Value>> branchValues(2);
  SmallVector<bool> unsignedOut;
  for (int branch = 0; branch < 2; ++branch) {
    Block *block = branch == 0 ? probe.thenBlock() : probe.elseBlock();
    dropTerminator(block);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(block);
    SmallVector<ImportedValue> outputs;
    if (failed(g.importSubgraph(branch == 0 ? *thenGraph : *elseGraph, {},
                                outputs, loc))) {
      probe->erase();
      return failure();
    }
    if (static_cast<int>(outputs.size()) != node.numOutputs()) {
      probe->erase();
      return node.error((branch == 0 ? "then_branch" : "else_branch") +
                        Twine(" yields ") + Twine(outputs.size()) +
                        " values, the node declares " +
                        Twine(node.numOutputs()));
    }
    for (auto [i, out] : llvm::enumerate(outputs)) {
      if (!out.isTensor()) {
        probe->erase();
        return node.error("with a condition computed at run time, output " +
                          Twine(i) + " is a " + out.kindName() +
                          "; slm needs branches that yield tensors");
      }
      branchValues[branch].push_back(g.materialize(out));
      if (branch == 0)
        unsignedOut.push_back(out.isUnsigned);
    }
  }
  SmallVector<Type> resultTypes;
  for (auto [thenValue, elseValue] :
       llvm::zip(branchValues[0], branchValues[1])) {
    RankedTensorType joined =
        joinTypes(cast<RankedTensorType>(thenValue.getType()),
                  cast<RankedTensorType>(elseValue.getType()));
    if (!joined) {
      Type thenType = thenValue.getType(), elseType = elseValue.getType();
      probe->erase();
      return node.error(
          "with a condition computed at run time, the branches yield " +
          llvm::formatv("{0}", thenType).str() + " and " +
          llvm::formatv("{0}", elseType).str() +
          "; slm needs the same rank and element type");
    }
    resultTypes.push_back(joined);
  }
  for (int branch = 0; branch < 2; ++branch) {
    Block *block = branch == 0 ? probe.thenBlock() : probe.elseBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(block);
    SmallVector<Value> yielded;
    for (auto [v, t] : llvm::zip(branchValues[branch], resultTypes))
      yielded.push_back(castTo(b, loc, v, cast<RankedTensorType>(t)));
    scf::YieldOp::create(b, loc, yielded);
  }
  auto ifOp = scf::IfOp::create(b, loc, resultTypes, cond,
                                /*addThenBlock=*/false,
                                /*addElseBlock=*/false);
  ifOp.getThenRegion().takeBody(probe.getThenRegion());
  ifOp.getElseRegion().takeBody(probe.getElseRegion());
  probe->erase();
  for (int i = 0; i < node.numOutputs(); ++i)
    node.setOutput(i, ifOp.getResult(i), unsignedOut[i]);
  return success();
}

//===----------------------------------------------------------------------===//
// Loop
//===----------------------------------------------------------------------===//

namespace {
/// One Loop node being imported as scf.for or scf.while.
struct LoopImport {
  NodeContext &node;
  const onnx::GraphProto &body;
  int numCarried;
  int numScans;
  /// The trip count as an index (clamped at 0), or null when there is none.
  Value tripCount;
  /// The trip count when known at import time.
  std::optional<int64_t> staticTrip;
  /// The condition on entry (i1).
  Value initialCondition;
  /// True when the loop has no condition input or a constant true one.
  bool conditionAlwaysTrue;
  SmallVector<Value> initialCarried;
  SmallVector<bool> carriedUnsigned;

  /// Types the loop is being built with (refined between attempts).
  SmallVector<RankedTensorType> carriedTypes;
  std::optional<SmallVector<RankedTensorType>> scanTypes;
  SmallVector<bool> scanUnsigned;
  bool useFor = false;

  enum class Attempt { Failed, Retry, Done };

  /// Imports the body at the builder's insertion point. `cond` is null in a
  /// loop without a run-time condition. Sets `bodyConditionStatic` when the
  /// body's condition output is constant true or its condition input.
  LogicalResult importBody(Value iv, Value cond, ValueRange carried,
                           SmallVectorImpl<ImportedValue> &outputs,
                           bool &bodyConditionStatic) {
    OpBuilder &b = node.builder();
    Location loc = node.loc();
    SmallVector<ImportedValue> inputs;
    inputs.push_back(tensorValue(scalarTensor(
        b, loc, arith::IndexCastOp::create(b, loc, b.getI64Type(), iv))));
    Value condIn;
    if (cond) {
      condIn = scalarTensor(b, loc, cond);
      inputs.push_back(tensorValue(condIn));
    } else {
      inputs.push_back(knownBool(b, true));
    }
    for (auto [v, isUnsigned] : llvm::zip(carried, carriedUnsigned))
      inputs.push_back(tensorValue(v, isUnsigned));
    if (failed(node.importer().importSubgraph(body, inputs, outputs, loc)))
      return failure();
    if (static_cast<int>(outputs.size()) != 1 + numCarried + numScans)
      return node.error("the body yields " + Twine(outputs.size()) +
                        " values, expected " +
                        Twine(1 + numCarried + numScans));
    for (auto [i, out] : llvm::enumerate(outputs))
      if (!out.isTensor())
        return node.error("body output " + Twine(i) + " is a " +
                          out.kindName() +
                          "; a loop with a trip count or condition known "
                          "only at run time carries tensors only");
    ImportedValue &condOut = outputs[0];
    if (!holdsOneElement(condOut.type) ||
        !condOut.type.getElementType().isInteger(1))
      return node.error("the body's condition output must be one bool");
    std::optional<SmallVector<int64_t>> known = knownInts(node, condOut);
    bodyConditionStatic =
        (known && known->front() != 0) ||
        (condIn && node.importer().materialize(condOut) == condIn) ||
        (!cond && known);
    if (!cond && known && known->front() == 0)
      bodyConditionStatic = false;
    return success();
  }

  /// Compares what the body yields with the types the loop was built with;
  /// refines them. Returns false when the loop must be built again.
  FailureOr<bool> settle(ArrayRef<ImportedValue> outputs) {
    bool settled = true;
    for (int i = 0; i < numCarried; ++i) {
      RankedTensorType yielded = outputs[1 + i].type;
      RankedTensorType joined = joinTypes(carriedTypes[i], yielded);
      if (!joined)
        return node.error("loop-carried value " + Twine(i) + " enters as " +
                          llvm::formatv("{0}", carriedTypes[i]).str() +
                          " and the body yields " +
                          llvm::formatv("{0}", yielded).str());
      if (joined != carriedTypes[i]) {
        carriedTypes[i] = joined;
        settled = false;
      }
    }
    SmallVector<RankedTensorType> scans;
    scanUnsigned.clear();
    for (int i = 0; i < numScans; ++i) {
      scans.push_back(outputs[1 + numCarried + i].type);
      scanUnsigned.push_back(outputs[1 + numCarried + i].isUnsigned);
    }
    if (!scanTypes) {
      scanTypes = scans;
      return numScans == 0 && settled;
    }
    for (int i = 0; i < numScans; ++i) {
      RankedTensorType joined = joinTypes((*scanTypes)[i], scans[i]);
      if (!joined)
        return node.error("scan output " + Twine(i) +
                          " changes rank or element type between iterations");
      if (joined != (*scanTypes)[i]) {
        (*scanTypes)[i] = joined;
        settled = false;
      }
    }
    return settled;
  }

  /// Accumulators for the scan outputs: [trip count, per-iteration shape].
  FailureOr<SmallVector<Value>> scanAccumulators() {
    OpBuilder &b = node.builder();
    Location loc = node.loc();
    SmallVector<Value> accumulators;
    if (!scanTypes)
      return accumulators;
    if (numScans && !tripCount)
      return node.error("scan outputs of a loop without a trip count are not "
                        "supported (the number of iterations must be known "
                        "when the loop starts)");
    if (numScans && staticTrip && *staticTrip > (int64_t(1) << 31))
      return node.error("scan outputs of a loop with trip count " +
                        Twine(*staticTrip) + " are not supported");
    for (auto [i, type] : llvm::enumerate(*scanTypes)) {
      if (!type.hasStaticShape())
        return node.error("scan output " + Twine(i) + " has the shape " +
                          llvm::formatv("{0}", type).str() +
                          " per iteration; slm needs it static");
      SmallVector<int64_t> shape{staticTrip ? std::max<int64_t>(*staticTrip, 0)
                                            : ShapedType::kDynamic};
      llvm::append_range(shape, type.getShape());
      SmallVector<Value> dynamic;
      if (!staticTrip)
        dynamic.push_back(tripCount);
      accumulators.push_back(tensor::EmptyOp::create(
          b, loc, RankedTensorType::get(shape, type.getElementType()),
          dynamic));
    }
    return accumulators;
  }

  /// Writes iteration `iv`'s scan outputs into the accumulators.
  SmallVector<Value> accumulate(Value iv, ValueRange accumulators,
                                ArrayRef<ImportedValue> outputs) {
    OpBuilder &b = node.builder();
    Location loc = node.loc();
    SmallVector<Value> updated;
    for (auto [i, acc] : llvm::enumerate(accumulators)) {
      RankedTensorType type = (*scanTypes)[i];
      Value item =
          castTo(b, loc,
                 node.importer().materialize(
                     const_cast<ImportedValue &>(outputs[1 + numCarried + i])),
                 type);
      SmallVector<OpFoldResult> offsets(type.getRank() + 1, b.getIndexAttr(0));
      offsets[0] = iv;
      SmallVector<OpFoldResult> sizes{b.getIndexAttr(1)};
      for (int64_t d : type.getShape())
        sizes.push_back(b.getIndexAttr(d));
      SmallVector<OpFoldResult> strides(type.getRank() + 1, b.getIndexAttr(1));
      updated.push_back(tensor::InsertSliceOp::create(b, loc, item, acc,
                                                      offsets, sizes, strides));
    }
    return updated;
  }

  /// The carried values the body yields, cast to the loop's types. Fails
  /// (Retry) when an extent differs: the loop is rebuilt first.
  SmallVector<Value> yieldedCarried(ArrayRef<ImportedValue> outputs) {
    OpBuilder &b = node.builder();
    SmallVector<Value> values;
    for (int i = 0; i < numCarried; ++i)
      values.push_back(castTo(b, node.loc(),
                              node.importer().materialize(
                                  const_cast<ImportedValue &>(outputs[1 + i])),
                              carriedTypes[i]));
    return values;
  }

  /// True when a carried value enters with extents its later iterations do
  /// not keep. Such a loop is an scf.while: scf.for's canonicalization moves
  /// the entry's static type into the loop (it assumes extents never change).
  bool carriedExtentsChange() {
    for (auto [v, t] : llvm::zip(initialCarried, carriedTypes))
      if (v.getType() != t)
        return true;
    return false;
  }

  SmallVector<Value> castInitialCarried() {
    SmallVector<Value> values;
    for (auto [v, t] : llvm::zip(initialCarried, carriedTypes))
      values.push_back(castTo(node.builder(), node.loc(), v, t));
    return values;
  }

  /// One attempt at building the loop with the current types.
  Attempt build(SmallVectorImpl<Value> &results) {
    OpBuilder &b = node.builder();
    Location loc = node.loc();
    FailureOr<SmallVector<Value>> accumulators = scanAccumulators();
    if (failed(accumulators))
      return Attempt::Failed;
    const bool accumulating = scanTypes.has_value();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    SmallVector<Value> inits = castInitialCarried();
    llvm::append_range(inits, *accumulators);
    SmallVector<ImportedValue> outputs;
    bool bodyConditionStatic = false;
    Operation *loop;
    if (useFor) {
      auto forOp = scf::ForOp::create(b, loc, zero, tripCount, one, inits);
      loop = forOp;
      Block *block = forOp.getBody();
      dropTerminator(block);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToEnd(block);
      ValueRange args = forOp.getRegionIterArgs();
      if (failed(importBody(forOp.getInductionVar(), Value(),
                            args.take_front(numCarried), outputs,
                            bodyConditionStatic))) {
        loop->erase();
        return Attempt::Failed;
      }
      FailureOr<bool> settled = settle(outputs);
      if (failed(settled) || !*settled || !bodyConditionStatic ||
          carriedExtentsChange()) {
        if (!bodyConditionStatic || carriedExtentsChange())
          useFor = false;
        loop->erase();
        return failed(settled) ? Attempt::Failed : Attempt::Retry;
      }
      SmallVector<Value> yielded = yieldedCarried(outputs);
      llvm::append_range(yielded,
                         accumulate(forOp.getInductionVar(),
                                    args.drop_front(numCarried), outputs));
      scf::YieldOp::create(b, loc, yielded);
      b.setInsertionPointAfter(forOp);
      llvm::append_range(results, forOp.getResults());
      return Attempt::Done;
    }

    // scf.while over (iteration, condition, carried..., accumulators...).
    SmallVector<Value> state{zero, initialCondition};
    llvm::append_range(state, inits);
    SmallVector<Type> stateTypes(ValueRange(state).getTypes());
    SmallVector<Location> locs(state.size(), loc);
    auto whileOp = scf::WhileOp::create(b, loc, stateTypes, state);
    loop = whileOp;
    {
      OpBuilder::InsertionGuard guard(b);
      Block *before = b.createBlock(&whileOp.getBefore(), {}, stateTypes, locs);
      Value go = before->getArgument(1);
      if (tripCount) {
        Value inRange =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                  before->getArgument(0), tripCount);
        go = arith::AndIOp::create(b, loc, go, inRange);
      }
      scf::ConditionOp::create(b, loc, go, before->getArguments());
      Block *after = b.createBlock(&whileOp.getAfter(), {}, stateTypes, locs);
      ValueRange args = after->getArguments();
      Value iv = args[0];
      if (failed(importBody(iv, args[1], args.slice(2, numCarried), outputs,
                            bodyConditionStatic))) {
        loop->erase();
        return Attempt::Failed;
      }
      FailureOr<bool> settled = settle(outputs);
      bool wantFor = tripCount && conditionAlwaysTrue && bodyConditionStatic &&
                     !carriedExtentsChange();
      if (failed(settled) || !*settled || wantFor) {
        useFor = wantFor;
        loop->erase();
        return failed(settled) ? Attempt::Failed : Attempt::Retry;
      }
      SmallVector<Value> yielded{
          arith::AddIOp::create(b, loc, iv, one),
          extractScalar(b, loc, node.importer().materialize(outputs[0]))};
      llvm::append_range(yielded, yieldedCarried(outputs));
      if (accumulating)
        llvm::append_range(
            yielded, accumulate(iv, args.drop_front(2 + numCarried), outputs));
      scf::YieldOp::create(b, loc, yielded);
    }
    b.setInsertionPointAfter(whileOp);
    Value count = whileOp.getResult(0);
    for (int i = 0; i < numCarried; ++i)
      results.push_back(whileOp.getResult(2 + i));
    for (int i = 0; i < numScans; ++i) {
      // Only the iterations that ran.
      Value acc = whileOp.getResult(2 + numCarried + i);
      auto type = cast<RankedTensorType>(acc.getType());
      SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
      SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, acc);
      sizes[0] = count;
      SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
      SmallVector<int64_t> shape(type.getShape());
      shape[0] = ShapedType::kDynamic;
      results.push_back(tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get(shape, type.getElementType()), acc,
          offsets, sizes, strides));
    }
    return Attempt::Done;
  }
};
} // namespace

/// A Loop carrying sequences or optionals: unrolled at import time.
static LogicalResult importUnrolledLoop(NodeContext &node,
                                        const onnx::GraphProto &body,
                                        int numCarried, int numScans) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  constexpr int64_t kMaxUnrolled = 4096;
  std::optional<int64_t> trip;
  if (node.hasInput(0)) {
    std::optional<SmallVector<int64_t>> known = node.constantInts(0);
    if (!known)
      return node.error("a loop that carries sequences needs a trip count "
                        "known at import time");
    trip = known->front();
  }
  bool cond = true;
  if (node.hasInput(1)) {
    std::optional<SmallVector<int64_t>> known = node.constantInts(1);
    if (!known)
      return node.error("a loop that carries sequences needs a condition "
                        "known at import time");
    cond = known->front() != 0;
  }
  SmallVector<ImportedValue> carried;
  for (int i = 0; i < numCarried; ++i)
    carried.push_back(*node.inputInfo(2 + i));
  SmallVector<SmallVector<Value>> scans(numScans);
  for (int64_t i = 0; cond && (!trip || i < *trip); ++i) {
    if (i == kMaxUnrolled)
      return node.error("a loop that carries sequences runs more than " +
                        Twine(kMaxUnrolled) + " iterations");
    SmallVector<ImportedValue> inputs{knownInt64(b, i), knownBool(b, cond)};
    llvm::append_range(inputs, carried);
    SmallVector<ImportedValue> outputs;
    if (failed(node.importer().importSubgraph(body, inputs, outputs, loc)))
      return failure();
    if (static_cast<int>(outputs.size()) != 1 + numCarried + numScans)
      return node.error("the body yields " + Twine(outputs.size()) +
                        " values, expected " +
                        Twine(1 + numCarried + numScans));
    std::optional<SmallVector<int64_t>> known = knownInts(node, outputs[0]);
    if (!known)
      return node.error("a loop that carries sequences needs its condition "
                        "known at import time in every iteration");
    cond = known->front() != 0;
    for (int j = 0; j < numCarried; ++j)
      carried[j] = outputs[1 + j];
    for (int j = 0; j < numScans; ++j) {
      ImportedValue &out = outputs[1 + numCarried + j];
      if (!out.isTensor())
        return node.error("scan output " + Twine(j) + " is a " +
                          out.kindName());
      scans[j].push_back(node.importer().materialize(out));
    }
  }
  for (int i = 0; i < numCarried; ++i)
    node.setOutputValue(i, carried[i]);
  for (int j = 0; j < numScans; ++j) {
    if (scans[j].empty())
      return node.error("scan output " + Twine(j) +
                        " of a loop that runs no iteration");
    FailureOr<Value> stacked = stackTensors(node, scans[j], 0);
    if (failed(stacked))
      return failure();
    node.setOutput(numCarried + j, *stacked);
  }
  return success();
}

static LogicalResult importLoop(NodeContext &node) {
  const onnx::GraphProto *body = node.graphAttr("body");
  if (!body)
    return node.error("needs a body graph");
  if (node.numInputs() < 2)
    return node.error("needs the trip count and condition inputs (possibly "
                      "empty)");
  const int numCarried = node.numInputs() - 2;
  const int numScans = body->output_size() - 1 - numCarried;
  if (numScans < 0 || body->input_size() != 2 + numCarried)
    return node.error("the body's inputs and outputs do not match the "
                      "node's " +
                      Twine(numCarried) + " loop-carried values");
  if (node.numOutputs() > numCarried + numScans)
    return node.error("declares more outputs than the body yields");
  for (int i = 0; i < numCarried; ++i) {
    if (!node.hasInput(2 + i))
      return node.error("loop-carried input " + Twine(i) + " is missing");
    if (!node.inputInfo(2 + i)->isTensor())
      return importUnrolledLoop(node, *body, numCarried, numScans);
  }
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  LoopImport loop{node,         *body,        numCarried, numScans, Value(),
                  std::nullopt, Value(),      true,       {},       {},
                  {},           std::nullopt, {},         false};
  if (node.hasInput(0)) {
    ImportedValue *trip = node.inputInfo(0);
    if (!trip->isTensor() || !holdsOneElement(trip->type) ||
        !isa<IntegerType>(trip->type.getElementType()))
      return node.error("the trip count must be one integer");
    if (std::optional<SmallVector<int64_t>> known = knownInts(node, *trip)) {
      loop.staticTrip = std::max<int64_t>(known->front(), 0);
      loop.tripCount = arith::ConstantIndexOp::create(b, loc, *loop.staticTrip);
    } else {
      Value count = arith::IndexCastOp::create(
          b, loc, b.getIndexType(), extractScalar(b, loc, node.input(0)));
      loop.tripCount = arith::MaxSIOp::create(
          b, loc, count, arith::ConstantIndexOp::create(b, loc, 0));
    }
  }
  if (node.hasInput(1)) {
    ImportedValue *cond = node.inputInfo(1);
    if (!cond->isTensor() || !holdsOneElement(cond->type) ||
        !cond->type.getElementType().isInteger(1))
      return node.error("the condition must be one bool");
    std::optional<SmallVector<int64_t>> known = knownInts(node, *cond);
    loop.conditionAlwaysTrue = known && known->front() != 0;
    loop.initialCondition = extractScalar(b, loc, node.input(1));
  } else {
    loop.initialCondition =
        arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
  }
  for (int i = 0; i < numCarried; ++i) {
    loop.initialCarried.push_back(node.input(2 + i));
    loop.carriedTypes.push_back(node.inputType(2 + i));
    loop.carriedUnsigned.push_back(node.inputInfo(2 + i)->isUnsigned);
  }
  if (numScans == 0)
    loop.scanTypes = SmallVector<RankedTensorType>();
  loop.useFor = loop.tripCount && loop.conditionAlwaysTrue;
  SmallVector<Value> results;
  for (int attempt = 0;; ++attempt) {
    if (attempt == 6)
      return node.error("the types of the loop-carried values do not settle");
    LoopImport::Attempt a = loop.build(results);
    if (a == LoopImport::Attempt::Failed)
      return failure();
    if (a == LoopImport::Attempt::Done)
      break;
  }
  for (int i = 0; i < node.numOutputs(); ++i)
    node.setOutput(i, results[i],
                   i < numCarried ? loop.carriedUnsigned[i]
                                  : loop.scanUnsigned[i - numCarried]);
  return success();
}

//===----------------------------------------------------------------------===//
// Scan
//===----------------------------------------------------------------------===//

namespace {
/// The scan of one batch entry (opset 8) or of the whole inputs (opset 9+).
struct ScanImport {
  NodeContext &node;
  const onnx::GraphProto &body;
  SmallVector<Value> initialStates;
  SmallVector<bool> stateUnsigned;
  SmallVector<Value> scanInputs;
  SmallVector<int64_t> inputAxes, inputReverse, outputAxes, outputReverse;
  int numScanOutputs;

  SmallVector<RankedTensorType> stateTypes;
  std::optional<SmallVector<RankedTensorType>> outputTypes;
  SmallVector<bool> outputUnsigned;

  /// Builds the loop; null result vector after Retry.
  LogicalResult build(SmallVectorImpl<Value> &results) {
    for (Value v : initialStates)
      stateTypes.push_back(cast<RankedTensorType>(v.getType()));
    for (int attempt = 0; attempt < 6; ++attempt) {
      FailureOr<bool> done = attemptBuild(results);
      if (failed(done))
        return failure();
      if (*done)
        return success();
    }
    return node.error("the types of the scan states do not settle");
  }

  FailureOr<bool> attemptBuild(SmallVectorImpl<Value> &results) {
    OpBuilder &b = node.builder();
    Location loc = node.loc();
    GraphImporter &g = node.importer();
    // The number of iterations: the first scan input's extent on its axis.
    Value first = scanInputs.front();
    Value trip = tensor::DimOp::create(b, loc, first, inputAxes.front());
    std::optional<int64_t> staticTrip;
    auto firstType = cast<RankedTensorType>(first.getType());
    if (!firstType.isDynamicDim(inputAxes.front()))
      staticTrip = firstType.getDimSize(inputAxes.front());
    SmallVector<Value> inits;
    for (auto [v, t] : llvm::zip(initialStates, stateTypes))
      inits.push_back(castTo(b, loc, v, t));
    if (outputTypes) {
      for (auto [i, type] : llvm::enumerate(*outputTypes)) {
        if (!type.hasStaticShape())
          return node.error("scan output " + Twine(i) + " has the shape " +
                            llvm::formatv("{0}", type).str() +
                            " per iteration; slm needs it static");
        SmallVector<int64_t> shape(type.getShape());
        shape.insert(shape.begin() + outputAxes[i],
                     staticTrip ? *staticTrip : ShapedType::kDynamic);
        SmallVector<Value> dynamic;
        if (!staticTrip)
          dynamic.push_back(trip);
        inits.push_back(tensor::EmptyOp::create(
            b, loc, RankedTensorType::get(shape, type.getElementType()),
            dynamic));
      }
    }
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto forOp = scf::ForOp::create(b, loc, zero, trip, one, inits);
    Block *block = forOp.getBody();
    dropTerminator(block);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(block);
    Value t = forOp.getInductionVar();
    Value last = arith::SubIOp::create(b, loc, trip, one);
    Value reversedT = arith::SubIOp::create(b, loc, last, t);
    ValueRange args = forOp.getRegionIterArgs();
    const int numStates = initialStates.size();
    SmallVector<ImportedValue> inputs;
    for (int i = 0; i < numStates; ++i)
      inputs.push_back(tensorValue(args[i], stateUnsigned[i]));
    for (auto [j, input] : llvm::enumerate(scanInputs)) {
      auto type = cast<RankedTensorType>(input.getType());
      int64_t axis = inputAxes[j];
      SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
      offsets[axis] = inputReverse[j] ? reversedT : t;
      SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
      sizes[axis] = b.getIndexAttr(1);
      SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
      SmallVector<int64_t> shape(type.getShape());
      shape.erase(shape.begin() + axis);
      inputs.push_back(tensorValue(tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get(shape, type.getElementType()), input,
          offsets, sizes, strides)));
    }
    SmallVector<ImportedValue> outputs;
    auto fail = [&]() -> FailureOr<bool> {
      forOp->erase();
      return failure();
    };
    if (failed(g.importSubgraph(body, inputs, outputs, loc)))
      return fail();
    if (static_cast<int>(outputs.size()) != numStates + numScanOutputs) {
      (void)node.error("the body yields " + Twine(outputs.size()) +
                       " values, expected " +
                       Twine(numStates + numScanOutputs));
      return fail();
    }
    bool settled = true;
    for (auto [i, out] : llvm::enumerate(outputs)) {
      if (!out.isTensor()) {
        (void)node.error("body output " + Twine(i) + " is a " + out.kindName());
        return fail();
      }
    }
    for (int i = 0; i < numStates; ++i) {
      RankedTensorType joined = joinTypes(stateTypes[i], outputs[i].type);
      if (!joined) {
        (void)node.error("scan state " + Twine(i) +
                         " changes rank or element type in the body");
        return fail();
      }
      if (joined != stateTypes[i]) {
        // scf.for's canonicalization assumes the entry's extents are kept.
        (void)node.error("scan state " + Twine(i) + " enters as " +
                         llvm::formatv("{0}", stateTypes[i]).str() +
                         " and the body yields " +
                         llvm::formatv("{0}", outputs[i].type).str() +
                         "; slm needs scan states that keep their extents");
        return fail();
      }
    }
    SmallVector<RankedTensorType> seen;
    outputUnsigned.clear();
    for (int i = 0; i < numScanOutputs; ++i) {
      seen.push_back(outputs[numStates + i].type);
      outputUnsigned.push_back(outputs[numStates + i].isUnsigned);
    }
    if (!outputTypes) {
      outputTypes = seen;
      // Output axes are relative to the stacked rank.
      for (int i = 0; i < numScanOutputs; ++i) {
        std::optional<int64_t> axis =
            normalizeAxis(outputAxes[i], seen[i].getRank() + 1);
        if (!axis) {
          (void)node.error("scan_output_axes entry " + Twine(outputAxes[i]) +
                           " is out of range");
          return fail();
        }
        outputAxes[i] = *axis;
      }
      settled = false;
    } else {
      for (int i = 0; i < numScanOutputs; ++i) {
        if (seen[i] != (*outputTypes)[i]) {
          RankedTensorType joined = joinTypes((*outputTypes)[i], seen[i]);
          if (!joined) {
            (void)node.error("scan output " + Twine(i) +
                             " changes rank or element type");
            return fail();
          }
          if (joined != (*outputTypes)[i]) {
            (*outputTypes)[i] = joined;
            settled = false;
          }
        }
      }
    }
    if (!settled) {
      forOp->erase();
      return false;
    }
    SmallVector<Value> yielded;
    for (int i = 0; i < numStates; ++i)
      yielded.push_back(
          castTo(b, loc, g.materialize(outputs[i]), stateTypes[i]));
    for (int i = 0; i < numScanOutputs; ++i) {
      RankedTensorType type = (*outputTypes)[i];
      Value item = castTo(b, loc, g.materialize(outputs[numStates + i]), type);
      Value acc = args[numStates + i];
      int64_t rank = type.getRank() + 1, axis = outputAxes[i];
      SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
      offsets[axis] = outputReverse[i] ? reversedT : t;
      SmallVector<OpFoldResult> sizes;
      for (int64_t d : type.getShape())
        sizes.push_back(b.getIndexAttr(d));
      sizes.insert(sizes.begin() + axis, b.getIndexAttr(1));
      SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
      yielded.push_back(tensor::InsertSliceOp::create(b, loc, item, acc,
                                                      offsets, sizes, strides));
    }
    scf::YieldOp::create(b, loc, yielded);
    b.setInsertionPointAfter(forOp);
    llvm::append_range(results, forOp.getResults());
    return true;
  }
};
} // namespace

/// Reads a per-input attribute list, `count` entries, defaulting to 0.
static FailureOr<SmallVector<int64_t>>
perInputAttr(NodeContext &node, StringRef name, int64_t count) {
  std::optional<SmallVector<int64_t>> values = node.intsAttr(name);
  if (!values)
    return SmallVector<int64_t>(count, 0);
  if (static_cast<int64_t>(values->size()) != count)
    return node.error(name + Twine(" has ") + Twine(values->size()) +
                      " entries, expected " + Twine(count));
  return *values;
}

static LogicalResult importScan(NodeContext &node) {
  const onnx::GraphProto *body = node.graphAttr("body");
  if (!body)
    return node.error("needs a body graph");
  const bool batched = node.opset() < 9;
  const int firstInput = batched ? 1 : 0;
  if (batched && node.hasInput(0))
    return node.error("sequence_lens of opset-8 Scan is not supported");
  const int64_t numScanInputs = node.intAttr("num_scan_inputs", 0);
  const int numStates = node.numInputs() - firstInput - numScanInputs;
  const int numScanOutputs = body->output_size() - numStates;
  if (numScanInputs < 1 || numStates < 0 || numScanOutputs < 0 ||
      body->input_size() != numStates + numScanInputs)
    return node.error("num_scan_inputs does not match the node's inputs and "
                      "the body");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  ScanImport scan{node, *body,          {}, {},           {}, {}, {}, {},
                  {},   numScanOutputs, {}, std::nullopt, {}};
  FailureOr<SmallVector<int64_t>> inputReverse = perInputAttr(
      node, batched ? "directions" : "scan_input_directions", numScanInputs);
  FailureOr<SmallVector<int64_t>> inputAxes =
      batched ? FailureOr<SmallVector<int64_t>>(
                    SmallVector<int64_t>(numScanInputs, 0))
              : perInputAttr(node, "scan_input_axes", numScanInputs);
  FailureOr<SmallVector<int64_t>> outputAxes =
      batched ? FailureOr<SmallVector<int64_t>>(
                    SmallVector<int64_t>(numScanOutputs, 0))
              : perInputAttr(node, "scan_output_axes", numScanOutputs);
  FailureOr<SmallVector<int64_t>> outputReverse =
      batched ? FailureOr<SmallVector<int64_t>>(
                    SmallVector<int64_t>(numScanOutputs, 0))
              : perInputAttr(node, "scan_output_directions", numScanOutputs);
  if (failed(inputReverse) || failed(inputAxes) || failed(outputAxes) ||
      failed(outputReverse))
    return failure();
  scan.inputReverse = *inputReverse;
  scan.outputReverse = *outputReverse;
  scan.outputAxes = *outputAxes;
  SmallVector<Value> states, scanned;
  for (int i = 0; i < numStates; ++i) {
    Value v = node.input(firstInput + i);
    if (!v)
      return failure();
    states.push_back(v);
    scan.stateUnsigned.push_back(node.inputInfo(firstInput + i)->isUnsigned);
  }
  for (int j = 0; j < numScanInputs; ++j) {
    Value v = node.input(firstInput + numStates + j);
    if (!v)
      return failure();
    auto type = cast<RankedTensorType>(v.getType());
    int64_t rank = type.getRank() - (batched ? 1 : 0);
    std::optional<int64_t> axis = normalizeAxis((*inputAxes)[j], rank);
    if (!axis)
      return node.error("scan axis " + Twine((*inputAxes)[j]) +
                        " is out of range for scan input " + Twine(j));
    scan.inputAxes.push_back(*axis);
    scanned.push_back(v);
  }
  // Every scan input has as many entries as the first along its axis.
  const int64_t batchOffset = batched ? 1 : 0;
  for (int j = 1; j < numScanInputs; ++j) {
    auto a = cast<RankedTensorType>(scanned.front().getType());
    auto c = cast<RankedTensorType>(scanned[j].getType());
    int64_t axisA = scan.inputAxes.front() + batchOffset;
    int64_t axisC = scan.inputAxes[j] + batchOffset;
    if (!a.isDynamicDim(axisA) && !c.isDynamicDim(axisC)) {
      if (a.getDimSize(axisA) != c.getDimSize(axisC))
        return node.error("scan input " + Twine(j) + " has " +
                          Twine(c.getDimSize(axisC)) +
                          " entries along its axis, scan input 0 has " +
                          Twine(a.getDimSize(axisA)));
      continue;
    }
    Value same = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        tensor::DimOp::create(b, loc, scanned.front(), axisA),
        tensor::DimOp::create(b, loc, scanned[j], axisC));
    cf::AssertOp::create(b, loc, same,
                         runtimeLabel(node) +
                             ": scan inputs have different lengths");
  }

  if (!batched) {
    scan.initialStates = states;
    scan.scanInputs = scanned;
    SmallVector<Value> results;
    if (failed(scan.build(results)))
      return failure();
    for (int i = 0; i < node.numOutputs(); ++i)
      node.setOutput(i, results[i],
                     i < numStates ? scan.stateUnsigned[i]
                                   : scan.outputUnsigned[i - numStates]);
    return success();
  }

  // Opset 8: a leading batch axis on every state, input and output; one
  // scan per batch entry, the batch extent known at import time.
  auto batchType = cast<RankedTensorType>(scanned.front().getType());
  if (batchType.isDynamicDim(0) || batchType.getDimSize(0) > 64)
    return node.error("opset-8 Scan needs a batch extent known at import "
                      "time (at most 64)");
  const int64_t batch = batchType.getDimSize(0);
  for (Value v : llvm::concat<Value>(states, scanned)) {
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getRank() == 0 || type.isDynamicDim(0) ||
        type.getDimSize(0) != batch)
      return node.error("opset-8 Scan needs every state and scan input to "
                        "have the batch extent " +
                        Twine(batch) + " first");
  }
  auto entry = [&](Value v, int64_t index) -> Value {
    auto type = cast<RankedTensorType>(v.getType());
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    offsets[0] = b.getIndexAttr(index);
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
    sizes[0] = b.getIndexAttr(1);
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(
        b, loc,
        RankedTensorType::get(type.getShape().drop_front(),
                              type.getElementType()),
        v, offsets, sizes, strides);
  };
  SmallVector<SmallVector<Value>> perOutput(numStates + numScanOutputs);
  for (int64_t n = 0; n < batch; ++n) {
    ScanImport one = scan;
    for (Value v : states)
      one.initialStates.push_back(entry(v, n));
    for (Value v : scanned)
      one.scanInputs.push_back(entry(v, n));
    SmallVector<Value> results;
    if (failed(one.build(results)))
      return failure();
    scan.outputUnsigned = one.outputUnsigned;
    for (auto [i, r] : llvm::enumerate(results))
      perOutput[i].push_back(r);
  }
  for (int i = 0; i < node.numOutputs(); ++i) {
    FailureOr<Value> stacked = stackTensors(node, perOutput[i], 0);
    if (failed(stacked))
      return failure();
    node.setOutput(i, *stacked,
                   i < numStates ? scan.stateUnsigned[i]
                                 : scan.outputUnsigned[i - numStates]);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Sequences
//===----------------------------------------------------------------------===//

/// The sequence input `i`, or null after an error.
static ImportedValue *sequenceInput(NodeContext &node, int i) {
  ImportedValue *info = node.inputInfo(i);
  if (!info) {
    (void)node.error("needs input " + Twine(i));
    return nullptr;
  }
  if (info->kind != ImportedValue::Kind::Sequence) {
    (void)node.error("input " + Twine(i) + " is a " + info->kindName() +
                     ", not a sequence");
    return nullptr;
  }
  return info;
}

/// The tensor input `i` as an ImportedValue, or null after an error.
static ImportedValue *tensorInput(NodeContext &node, int i) {
  ImportedValue *info = node.inputInfo(i);
  if (!info) {
    (void)node.error("needs input " + Twine(i));
    return nullptr;
  }
  if (!info->isTensor()) {
    (void)node.error("input " + Twine(i) + " is a " + info->kindName() +
                     ", not a tensor");
    return nullptr;
  }
  return info;
}

/// A position input known at import time, normalized for a sequence of
/// `length` (`allowEnd`: `length` itself is valid, for insertion).
static FailureOr<int64_t> knownPosition(NodeContext &node, int i,
                                        int64_t length, bool allowEnd) {
  ImportedValue *info = tensorInput(node, i);
  if (!info)
    return failure();
  std::optional<SmallVector<int64_t>> known = knownInts(node, *info);
  if (!known || known->size() != 1)
    return node.error("the position must be one integer known at import "
                      "time");
  int64_t pos = known->front();
  int64_t limit = allowEnd ? length : length - 1;
  if (pos < -length || pos > limit)
    return node.error("position " + Twine(pos) +
                      " is out of range for a sequence of length " +
                      Twine(length));
  return pos < 0 ? pos + length : pos;
}

static ImportedValue makeSequence(std::vector<ImportedValue> items,
                                  Type elementType = {}) {
  ImportedValue seq;
  seq.kind = ImportedValue::Kind::Sequence;
  if (!elementType && !items.empty())
    elementType = items.front().type.getElementType();
  seq.itemElementType = elementType;
  seq.items = std::move(items);
  return seq;
}

static LogicalResult importSequenceEmpty(NodeContext &node) {
  Type elementType =
      node.importer().convertElementType(node.intAttr("dtype", 1));
  node.setOutputValue(0, makeSequence({}, elementType));
  return success();
}

static LogicalResult importSequenceConstruct(NodeContext &node) {
  std::vector<ImportedValue> items;
  for (int i = 0; i < node.numInputs(); ++i) {
    ImportedValue *info = tensorInput(node, i);
    if (!info)
      return failure();
    if (!items.empty() &&
        info->type.getElementType() != items.front().type.getElementType())
      return node.error("the tensors have different element types");
    items.push_back(*info);
  }
  if (items.empty())
    return node.error("needs at least one tensor");
  node.setOutputValue(0, makeSequence(std::move(items)));
  return success();
}

static LogicalResult importSequenceInsert(NodeContext &node) {
  ImportedValue *seq = sequenceInput(node, 0);
  ImportedValue *item = seq ? tensorInput(node, 1) : nullptr;
  if (!item)
    return failure();
  ImportedValue result = *seq;
  int64_t length = result.items.size();
  int64_t pos = length;
  if (node.hasInput(2)) {
    FailureOr<int64_t> known = knownPosition(node, 2, length, true);
    if (failed(known))
      return failure();
    pos = *known;
  }
  if (result.itemElementType &&
      result.itemElementType != item->type.getElementType())
    return node.error("inserts a tensor of another element type");
  result.items.insert(result.items.begin() + pos, *item);
  result.itemElementType = item->type.getElementType();
  node.setOutputValue(0, std::move(result));
  return success();
}

static LogicalResult importSequenceErase(NodeContext &node) {
  ImportedValue *seq = sequenceInput(node, 0);
  if (!seq)
    return failure();
  ImportedValue result = *seq;
  int64_t length = result.items.size();
  if (length == 0)
    return node.error("erases from an empty sequence");
  int64_t pos = length - 1;
  if (node.hasInput(1)) {
    FailureOr<int64_t> known = knownPosition(node, 1, length, false);
    if (failed(known))
      return failure();
    pos = *known;
  }
  result.items.erase(result.items.begin() + pos);
  node.setOutputValue(0, std::move(result));
  return success();
}

static LogicalResult importSequenceLength(NodeContext &node) {
  ImportedValue *seq = sequenceInput(node, 0);
  if (!seq)
    return failure();
  node.setOutputValue(0, knownInt64(node.builder(), seq->items.size()));
  return success();
}

static LogicalResult importSequenceAt(NodeContext &node) {
  ImportedValue *seq = sequenceInput(node, 0);
  ImportedValue *position = seq ? tensorInput(node, 1) : nullptr;
  if (!position)
    return failure();
  int64_t length = seq->items.size();
  if (length == 0)
    return node.error("reads from an empty sequence");
  if (knownInts(node, *position)) {
    FailureOr<int64_t> pos = knownPosition(node, 1, length, false);
    if (failed(pos))
      return failure();
    ImportedValue item = seq->items[*pos];
    node.setOutputValue(0, std::move(item));
    return success();
  }
  // A position computed at run time: a choice among tensors of one type.
  if (!holdsOneElement(position->type) ||
      !isa<IntegerType>(position->type.getElementType()))
    return node.error("the position must be one integer");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  GraphImporter &g = node.importer();
  SmallVector<Value> items;
  for (ImportedValue &item : seq->items)
    items.push_back(g.materialize(item));
  Type type = items.front().getType();
  if (llvm::any_of(items, [&](Value v) { return v.getType() != type; }))
    return node.error("a position computed at run time needs the sequence's "
                      "tensors to have one type");
  Value pos = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                         extractScalar(b, loc, node.input(1)));
  Value len = arith::ConstantIndexOp::create(b, loc, length);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, pos, zero);
  pos = arith::SelectOp::create(b, loc, negative,
                                arith::AddIOp::create(b, loc, pos, len), pos);
  Value inRange = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, pos, zero),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, pos, len));
  cf::AssertOp::create(b, loc, inRange,
                       runtimeLabel(node) + ": position out of range");
  Value result = items.front();
  for (int64_t i = 1; i < length; ++i) {
    Value isI =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, pos,
                              arith::ConstantIndexOp::create(b, loc, i));
    result = arith::SelectOp::create(b, loc, isI, items[i], result);
  }
  node.setOutput(0, result, seq->items.front().isUnsigned);
  return success();
}

static LogicalResult importSplitToSequence(NodeContext &node) {
  ImportedValue *info = tensorInput(node, 0);
  if (!info)
    return failure();
  Value input = node.input(0);
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(input.getType());
  std::optional<int64_t> axis =
      normalizeAxis(node.intAttr("axis", 0), type.getRank());
  if (!axis)
    return node.error("axis is out of range");
  if (type.isDynamicDim(*axis))
    return node.error("splits an axis whose extent is known only at run "
                      "time; slm needs the number of parts at import time");
  int64_t extent = type.getDimSize(*axis);
  SmallVector<int64_t> sizes;
  bool squeeze = false;
  if (node.hasInput(1)) {
    std::optional<SmallVector<int64_t>> split = node.constantInts(1);
    if (!split)
      return node.error("split sizes computed at run time are not supported");
    if (node.inputType(1).getRank() == 0) {
      int64_t chunk = split->front();
      if (chunk <= 0)
        return node.error("the split size must be positive");
      for (int64_t start = 0; start < extent; start += chunk)
        sizes.push_back(std::min(chunk, extent - start));
    } else {
      sizes = *split;
      int64_t total = 0;
      for (int64_t s : sizes) {
        if (s < 0)
          return node.error("split sizes must not be negative");
        total += s;
      }
      if (total != extent)
        return node.error("split sizes add up to " + Twine(total) +
                          ", the axis has " + Twine(extent));
    }
  } else {
    sizes.assign(extent, 1);
    squeeze = node.intAttr("keepdims", 1) == 0;
  }
  std::vector<ImportedValue> items;
  int64_t offset = 0;
  for (int64_t size : sizes) {
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    offsets[*axis] = b.getIndexAttr(offset);
    SmallVector<OpFoldResult> mixed = tensor::getMixedSizes(b, loc, input);
    mixed[*axis] = b.getIndexAttr(size);
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    SmallVector<int64_t> shape(type.getShape());
    shape[*axis] = size;
    if (squeeze)
      shape.erase(shape.begin() + *axis);
    items.push_back(tensorValue(
        tensor::ExtractSliceOp::create(
            b, loc, RankedTensorType::get(shape, type.getElementType()), input,
            offsets, mixed, strides),
        info->isUnsigned));
    offset += size;
  }
  node.setOutputValue(0, makeSequence(std::move(items)));
  return success();
}

static LogicalResult importConcatFromSequence(NodeContext &node) {
  ImportedValue *seq = sequenceInput(node, 0);
  if (!seq)
    return failure();
  if (seq->items.empty())
    return node.error("concatenates an empty sequence");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  GraphImporter &g = node.importer();
  const bool newAxis = node.intAttr("new_axis", 0) != 0;
  SmallVector<Value> items;
  for (ImportedValue &item : seq->items)
    items.push_back(g.materialize(item));
  auto firstType = cast<RankedTensorType>(items.front().getType());
  int64_t outRank = firstType.getRank() + (newAxis ? 1 : 0);
  std::optional<int64_t> axis = normalizeAxis(node.intAttr("axis", 0), outRank);
  if (!axis)
    return node.error("axis is out of range");
  if (newAxis) {
    FailureOr<Value> stacked = stackTensors(node, items, *axis);
    if (failed(stacked))
      return failure();
    node.setOutput(0, *stacked, seq->items.front().isUnsigned);
    return success();
  }
  // Concatenation along an existing axis: the other extents agree.
  RankedTensorType joined = firstType;
  int64_t total = 0;
  bool totalKnown = true;
  for (Value v : items) {
    auto type = cast<RankedTensorType>(v.getType());
    RankedTensorType other = joinTypes(joined, type);
    if (!other)
      return node.error("concatenates tensors of different ranks or element "
                        "types");
    joined = other;
    if (type.isDynamicDim(*axis))
      totalKnown = false;
    else
      total += type.getDimSize(*axis);
  }
  if (failed(checkSameExtents(node, items, *axis)))
    return failure();
  SmallVector<int64_t> shape(joined.getShape());
  shape[*axis] = totalKnown ? total : ShapedType::kDynamic;
  SmallVector<OpFoldResult> firstSizes =
      tensor::getMixedSizes(b, loc, items.front());
  SmallVector<Value> dynamic;
  Value sum = arith::ConstantIndexOp::create(b, loc, 0);
  for (Value v : items)
    sum = arith::AddIOp::create(b, loc, sum,
                                tensor::DimOp::create(b, loc, v, *axis));
  for (int64_t d = 0; d < outRank; ++d) {
    if (!ShapedType::isDynamic(shape[d]))
      continue;
    dynamic.push_back(
        d == *axis
            ? sum
            : tensor::DimOp::create(b, loc, items.front(), d).getResult());
  }
  Value result = tensor::EmptyOp::create(
      b, loc, RankedTensorType::get(shape, joined.getElementType()), dynamic);
  Value offset = arith::ConstantIndexOp::create(b, loc, 0);
  for (Value v : items) {
    auto type = cast<RankedTensorType>(v.getType());
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    offsets[*axis] = offset;
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    result = tensor::InsertSliceOp::create(
        b, loc, v, result, offsets, tensor::getMixedSizes(b, loc, v), strides);
    offset = arith::AddIOp::create(b, loc, offset,
                                   tensor::DimOp::create(b, loc, v, *axis));
  }
  node.setOutput(0, result, seq->items.front().isUnsigned);
  return success();
}

static LogicalResult importSequenceMap(NodeContext &node) {
  const onnx::GraphProto *body = node.graphAttr("body");
  if (!body)
    return node.error("needs a body graph");
  ImportedValue *first = sequenceInput(node, 0);
  if (!first)
    return failure();
  const size_t length = first->items.size();
  SmallVector<ImportedValue> inputs;
  for (int i = 0; i < node.numInputs(); ++i) {
    ImportedValue *info = node.inputInfo(i);
    if (!info)
      return node.error("needs input " + Twine(i));
    if (info->kind == ImportedValue::Kind::Sequence &&
        info->items.size() != length)
      return node.error("the sequences have different lengths");
    if (info->kind == ImportedValue::Kind::Optional)
      return node.error("input " + Twine(i) + " is an optional");
    inputs.push_back(*info);
  }
  std::vector<std::vector<ImportedValue>> outputs(node.numOutputs());
  for (size_t position = 0; position < length; ++position) {
    SmallVector<ImportedValue> bound;
    for (ImportedValue &in : inputs)
      bound.push_back(
          in.kind == ImportedValue::Kind::Sequence ? in.items[position] : in);
    SmallVector<ImportedValue> results;
    if (failed(
            node.importer().importSubgraph(*body, bound, results, node.loc())))
      return failure();
    if (static_cast<int>(results.size()) < node.numOutputs())
      return node.error("the body yields fewer values than the node declares");
    for (int i = 0; i < node.numOutputs(); ++i) {
      if (!results[i].isTensor())
        return node.error("body output " + Twine(i) + " is a " +
                          results[i].kindName());
      outputs[i].push_back(results[i]);
    }
  }
  for (int i = 0; i < node.numOutputs(); ++i) {
    Type elementType;
    if (outputs[i].empty() && i < body->output_size())
      elementType = node.importer().convertElementType(
          body->output(i).type().tensor_type().elem_type());
    node.setOutputValue(i, makeSequence(std::move(outputs[i]), elementType));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Optionals
//===----------------------------------------------------------------------===//

static LogicalResult importOptional(NodeContext &node) {
  ImportedValue result;
  result.kind = ImportedValue::Kind::Optional;
  if (node.hasInput(0)) {
    ImportedValue *info = node.inputInfo(0);
    if (!info)
      return node.error("needs input 0");
    if (info->kind == ImportedValue::Kind::Optional)
      return node.error("wraps an optional in an optional");
    result.items.push_back(*info);
  }
  node.setOutputValue(0, std::move(result));
  return success();
}

static LogicalResult importOptionalHasElement(NodeContext &node) {
  bool has = false;
  if (node.hasInput(0)) {
    ImportedValue *info = node.inputInfo(0);
    if (!info)
      return node.error("needs input 0");
    has = info->kind != ImportedValue::Kind::Optional || !info->items.empty();
  }
  node.setOutputValue(0, knownBool(node.builder(), has));
  return success();
}

static LogicalResult importOptionalGetElement(NodeContext &node) {
  ImportedValue *info = node.inputInfo(0);
  if (!info)
    return node.error("needs input 0");
  if (info->kind != ImportedValue::Kind::Optional) {
    ImportedValue copy = *info;
    node.setOutputValue(0, std::move(copy));
    return success();
  }
  if (info->items.empty())
    return node.error("the optional holds no value");
  ImportedValue item = info->items.front();
  node.setOutputValue(0, std::move(item));
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

bool mlir::slm::onnx_import::acceptsNonTensorInputs(StringRef opType) {
  static const StringRef ops[] = {"If",
                                  "Loop",
                                  "SequenceEmpty",
                                  "SequenceConstruct",
                                  "SequenceInsert",
                                  "SequenceAt",
                                  "SequenceErase",
                                  "SequenceLength",
                                  "SplitToSequence",
                                  "ConcatFromSequence",
                                  "SequenceMap",
                                  "Optional",
                                  "OptionalHasElement",
                                  "OptionalGetElement"};
  return llvm::is_contained(ops, opType);
}

void mlir::slm::onnx_import::registerControlFlowOps(OpTable &table) {
  table.add("If", 1, importIf);
  table.add("Loop", 1, importLoop);
  table.add("Scan", 8, importScan);
  table.add("SequenceEmpty", 11, importSequenceEmpty);
  table.add("SequenceConstruct", 11, importSequenceConstruct);
  table.add("SequenceInsert", 11, importSequenceInsert);
  table.add("SequenceAt", 11, importSequenceAt);
  table.add("SequenceErase", 11, importSequenceErase);
  table.add("SequenceLength", 11, importSequenceLength);
  table.add("SplitToSequence", 11, importSplitToSequence);
  table.add("ConcatFromSequence", 11, importConcatFromSequence);
  table.add("SequenceMap", 17, importSequenceMap);
  table.add("Optional", 15, importOptional);
  table.add("OptionalHasElement", 15, importOptionalHasElement);
  table.add("OptionalGetElement", 15, importOptionalGetElement);
}
