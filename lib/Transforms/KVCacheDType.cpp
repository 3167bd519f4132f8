//===- KVCacheDType.cpp - A KV cache stored in f16 or int8 -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-kv-cache-dtype: the KV cache of a decoder's entry function, exported
// with the model or derived by --slm-derive-kv-cache, stored in f16 or as
// int8 codes with a scale per position and head.
//
// Both kinds of cache have one form: a cache input (past_key_values.<i>.key
// or past.<i>...) read only by shape queries and by a tensor.concat that
// joins it with the new rows along its positions; the join is the matching
// output (present<rest>) and what the rest of the function reads. The
// rewrite stores the new rows in the cache's form before the join, joins
// in that form (the output), and gives every other reader the join read
// back as f32: the new rows too, so that a position reads the same keys and
// values in the step that computed it and in every later one.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"

#include <limits>
#include <optional>
#include <string>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMKVCACHEDTYPE
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

enum class CacheForm { F16, Int8 };

/// One cache input, the join of it with the new rows, and its output.
struct Slot {
  BlockArgument past;
  tensor::ConcatOp join;
  unsigned result = 0;
  std::string name;
  /// int8: elements per scale along the last axis (a head's).
  int64_t group = 0;
};

/// `t` [..., L] with its last axis split into [L / group, group].
RankedTensorType grouped(RankedTensorType t, int64_t group) {
  SmallVector<int64_t> shape(t.getShape());
  shape.back() /= group;
  shape.push_back(group);
  return t.clone(shape);
}

/// The scales of a cache `t` [..., L]: [..., L / group] in f32.
RankedTensorType scaleType(RankedTensorType t, int64_t group) {
  SmallVector<int64_t> shape(t.getShape());
  shape.back() /= group;
  return RankedTensorType::get(shape, Float32Type::get(t.getContext()));
}

SmallVector<ReassociationIndices> splitLast(int64_t rank) {
  SmallVector<ReassociationIndices> groups;
  for (int64_t d = 0; d + 1 < rank; ++d)
    groups.push_back({d});
  groups.push_back({rank - 1, rank});
  return groups;
}

Value scalar(OpBuilder &b, Location loc, float value) {
  auto f32 = b.getF32Type();
  auto type = RankedTensorType::get({}, f32);
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(type, b.getFloatAttr(f32, value)));
}

/// int8 codes [..., L] and scales [..., L / group] of `x` [..., L]: per
/// group, scale = max |x| / 127 and code = round(x * 127 / max |x|), so a
/// group of zeros has codes 0 (and scale 0).
std::pair<Value, Value> quantize(OpBuilder &b, Location loc, Value x,
                                 int64_t group) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  RankedTensorType split = grouped(type, group);
  Value xs = tensor::ExpandShapeOp::create(b, loc, split, x, splitLast(rank));
  SmallVector<int64_t> reducedShape(split.getShape());
  reducedShape.back() = 1;
  auto reduced = split.clone(reducedShape);
  Value absMax = ReduceOp::create(
      b, loc, reduced, ReduceKind::max,
      math::AbsFOp::create(b, loc, xs).getResult(), ArrayRef<int64_t>{rank},
      true);
  Value limit = scalar(b, loc, 127.0f);
  Value scale = DivOp::create(b, loc, reduced, absMax, limit);
  Value tiny = scalar(b, loc, std::numeric_limits<float>::min());
  Value inverse = DivOp::create(b, loc, reduced, limit,
                                MaxOp::create(b, loc, reduced, absMax, tiny));
  Value rounded = math::RoundEvenOp::create(
      b, loc, MulOp::create(b, loc, split, xs, inverse));
  Value clamped = MinOp::create(
      b, loc, split,
      MaxOp::create(b, loc, split, rounded, scalar(b, loc, -127.0f)), limit);
  Value codes = arith::FPToSIOp::create(
      b, loc, split.clone(b.getIntegerType(8)), clamped);
  Value flatCodes = tensor::CollapseShapeOp::create(
      b, loc, type.clone(b.getIntegerType(8)), codes, splitLast(rank));
  Value flatScale = tensor::CollapseShapeOp::create(
      b, loc, scaleType(type, group), scale, splitLast(rank));
  return {flatCodes, flatScale};
}

/// f32 [..., L] of int8 codes [..., L] and scales [..., L / group], whose
/// extents but the last are the codes' (checked by the caller): one
/// elementwise op over the codes split into [..., L / group, group], each
/// group's scale broadcast along it (a product of two operands of one
/// shape would need the shapes proven equal to fuse the conversion in).
Value dequantize(OpBuilder &b, Location loc, Value codes, Value scales,
                 int64_t group) {
  auto type = cast<RankedTensorType>(codes.getType());
  int64_t rank = type.getRank();
  RankedTensorType split = grouped(type.clone(b.getF32Type()), group);
  Value codesSplit = tensor::ExpandShapeOp::create(
      b, loc, split.clone(b.getIntegerType(8)), codes, splitLast(rank));
  SmallVector<OpFoldResult> extents =
      tensor::getMixedSizes(b, loc, codesSplit);
  Value init = tensor::EmptyOp::create(b, loc, extents, b.getF32Type());
  MLIRContext *context = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank + 1, context);
  AffineMap perGroup = identity.dropResult(rank);
  SmallVector<utils::IteratorType> iterators(rank + 1,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{split}, ValueRange{codesSplit, scales},
      ValueRange{init}, ArrayRef<AffineMap>{identity, perGroup, identity},
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value value =
            arith::SIToFPOp::create(nb, nloc, nb.getF32Type(), args[0]);
        linalg::YieldOp::create(
            nb, nloc, ValueRange{arith::MulFOp::create(nb, nloc, value, args[1])
                                     .getResult()});
      });
  return tensor::CollapseShapeOp::create(
      b, loc, type.clone(b.getF32Type()), generic.getResult(0),
      splitLast(rank));
}

/// The output that gives a cache input's next value: past_key_values<rest>
/// or past<rest> -> present<rest> (the runtime's generator pairs them so).
std::string presentName(StringRef past) {
  StringRef rest = past.starts_with("past_key_values")
                       ? past.drop_front(strlen("past_key_values"))
                       : past.drop_front(strlen("past"));
  return ("present" + rest).str();
}

bool movesData(Operation *op) {
  return isa<ReshapeOp, TransposeOp, BroadcastToOp, tensor::CastOp,
             tensor::ExtractSliceOp, tensor::ExpandShapeOp,
             tensor::CollapseShapeOp>(op);
}

/// The per-head width of the attention operand `join` reaches through
/// data movement (its last extent over the heads), or nullopt.
std::optional<int64_t> headWidth(Value join) {
  SmallVector<Value> work{join};
  llvm::SmallPtrSet<Operation *, 16> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (auto attention = dyn_cast<AttentionOp>(user)) {
        unsigned n = use.getOperandNumber();
        if (n != 1 && n != 2)
          continue;
        int64_t width =
            cast<RankedTensorType>(use.get().getType()).getShape().back();
        if (ShapedType::isDynamic(width) ||
            width % attention.getNumHeads() != 0)
          return std::nullopt;
        return width / attention.getNumHeads();
      }
      if (movesData(user) && use.getOperandNumber() == 0 &&
          seen.insert(user).second)
        work.push_back(user->getResult(0));
    }
  }
  return std::nullopt;
}

struct SLMKVCacheDTypePass
    : public slm::impl::SLMKVCacheDTypeBase<SLMKVCacheDTypePass> {
  using Base::Base;

  void runOnOperation() override;
  LogicalResult rewrite(func::FuncOp func, CacheForm form);
};

LogicalResult SLMKVCacheDTypePass::rewrite(func::FuncOp func,
                                           CacheForm form) {
  if (!func.getBody().hasOneBlock())
    return func.emitError("--kv-cache-dtype: the entry function has control "
                          "flow");
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  // The outputs by name.
  llvm::StringMap<unsigned> outputs;
  for (unsigned i = 0; i < func.getNumResults(); ++i)
    if (auto name = func.getResultAttrOfType<StringAttr>(i, "slm.name"))
      outputs[name.getValue()] = i;
  SmallVector<Slot> slots;
  for (BlockArgument arg : func.getArguments()) {
    auto nameAttr =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "slm.name");
    if (!nameAttr || !nameAttr.getValue().starts_with("past"))
      continue;
    StringRef name = nameAttr.getValue();
    std::string want = presentName(name);
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    auto fail = [&](const Twine &why) {
      return func.emitError("--kv-cache-dtype: cache input '")
             << name << "' " << why;
    };
    if (!type || !type.getElementType().isF32())
      return fail("is not an f32 tensor");
    std::optional<int64_t> axis = cacheAxis(type);
    if (!axis)
      return fail("has no axis of positions (one dynamic extent after the "
                  "batch, all others static)");
    auto out = outputs.find(want);
    if (out == outputs.end())
      return fail("has no output '" + want + "' that gives its next value");
    Slot slot{arg, {}, out->second, name.str()};
    for (Operation *user : arg.getUsers()) {
      if (isa<tensor::DimOp>(user))
        continue;
      auto join = dyn_cast<tensor::ConcatOp>(user);
      if (!join || join.getInputs().size() != 2 ||
          join.getInputs()[0] != arg ||
          static_cast<int64_t>(join.getDim()) != *axis || slot.join)
        return fail("is read other than joined once with the new positions "
                    "(tensor.concat along its positions)");
      slot.join = join;
    }
    if (!slot.join)
      return fail("is not joined with the new positions");
    // The output is the join (through casts).
    Value returned = ret.getOperand(slot.result);
    while (auto cast = returned.getDefiningOp<tensor::CastOp>())
      returned = cast.getSource();
    if (returned != slot.join.getResult())
      return fail("is joined with the new positions, but output '" + want +
                  "' is not that join");
    if (form == CacheForm::Int8) {
      int64_t last = type.getShape().back();
      std::optional<int64_t> width = headWidth(slot.join.getResult());
      if (!width && type.getRank() == 4 && *axis == 2)
        width = last; // [batch, heads, positions, head_dim]
      if (!width || *axis == type.getRank() - 1)
        return fail("does not reach an attention whose head width gives its "
                    "scales' groups");
      slot.group = last % *width == 0 ? *width : last;
    }
    slots.push_back(slot);
  }
  if (slots.empty())
    return func.emitError(
        "--kv-cache-dtype: the model has no KV cache (inputs "
        "past_key_values.<i>.key/value): export it with one, or derive one "
        "with --kv-cache");

  OpBuilder b(func.getContext());
  SmallVector<Value> results(ret.getOperands());
  SmallVector<DictionaryAttr> resultAttrs;
  func.getAllResultAttrs(resultAttrs);
  // Scales, inserted after their codes: (result index, value, name).
  SmallVector<std::tuple<unsigned, Value, std::string>> scaleResults;
  Type stored = form == CacheForm::F16 ? Type(b.getF16Type())
                                       : Type(b.getIntegerType(8));
  for (Slot &slot : slots) {
    auto type = cast<RankedTensorType>(slot.past.getType());
    slot.past.setType(type.clone(stored));
    BlockArgument pastScale;
    if (form == CacheForm::Int8) {
      unsigned number = slot.past.getArgNumber() + 1;
      if (failed(func.insertArgument(number, scaleType(type, slot.group),
                                     {}, slot.past.getLoc())))
        return failure();
      pastScale = func.getArgument(number);
      func.setArgAttr(number, "slm.name",
                      b.getStringAttr(slot.name + "_scale"));
      if (auto dims = func.getArgAttr(slot.past.getArgNumber(),
                                      "slm.dim_names"))
        func.setArgAttr(number, "slm.dim_names", dims);
    }
    tensor::ConcatOp join = slot.join;
    Location loc = join.getLoc();
    b.setInsertionPoint(join);
    Value rows = join.getInputs()[1];
    int64_t axis = join.getDim();
    Value full, present, presentScale;
    if (form == CacheForm::F16) {
      auto rowsType = cast<RankedTensorType>(rows.getType());
      Value rounded = arith::TruncFOp::create(
          b, loc, rowsType.clone(b.getF16Type()), rows);
      present = tensor::ConcatOp::create(b, loc, axis,
                                         ValueRange{slot.past, rounded});
      full = arith::ExtFOp::create(
          b, loc,
          cast<RankedTensorType>(present.getType()).clone(b.getF32Type()),
          present);
    } else {
      // The scales input holds the codes' batch and positions.
      for (int64_t d = 0; d < type.getRank(); ++d)
        if (type.isDynamicDim(d))
          cf::AssertOp::create(
              b, loc,
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::eq,
                  tensor::DimOp::create(b, loc, pastScale, d),
                  tensor::DimOp::create(b, loc, slot.past, d)),
              "--kv-cache-dtype: " + slot.name + "_scale and " + slot.name +
                  " differ in " + (d == 0 ? "batch" : "positions"));
      auto [codes, scales] = quantize(b, loc, rows, slot.group);
      present =
          tensor::ConcatOp::create(b, loc, axis, ValueRange{slot.past, codes});
      presentScale = tensor::ConcatOp::create(b, loc, axis,
                                              ValueRange{pastScale, scales});
      full = dequantize(b, loc, present, presentScale, slot.group);
    }
    if (full.getType() != join.getType())
      full = tensor::CastOp::create(b, loc, join.getType(), full);
    join.getResult().replaceAllUsesWith(full);
    join.erase();
    results[slot.result] = present;
    if (presentScale)
      scaleResults.push_back(
          {slot.result, presentScale, presentName(slot.name) + "_scale"});
  }
  // The outputs: each scale after its codes.
  SmallVector<Value> newResults;
  SmallVector<DictionaryAttr> newAttrs;
  for (unsigned i = 0; i < results.size(); ++i) {
    newResults.push_back(results[i]);
    newAttrs.push_back(resultAttrs[i]);
    for (auto &[index, value, name] : scaleResults)
      if (index == i) {
        newResults.push_back(value);
        newAttrs.push_back(b.getDictionaryAttr(
            b.getNamedAttr("slm.name", b.getStringAttr(name))));
      }
  }
  b.setInsertionPoint(ret);
  func::ReturnOp::create(b, ret.getLoc(), newResults);
  ret->erase();
  SmallVector<Type> resultTypes;
  for (Value v : newResults)
    resultTypes.push_back(v.getType());
  func.setType(FunctionType::get(func.getContext(),
                                 body.getArgumentTypes(), resultTypes));
  func.setAllResultAttrs(newAttrs);
  return success();
}

void SLMKVCacheDTypePass::runOnOperation() {
  ModuleOp module = getOperation();
  std::optional<CacheForm> form =
      llvm::StringSwitch<std::optional<CacheForm>>(dtype)
          .Case("f16", CacheForm::F16)
          .Case("int8", CacheForm::Int8)
          .Default(std::nullopt);
  if (!form) {
    module.emitError("--slm-kv-cache-dtype: dtype must be f16 or int8, not '")
        << dtype << "'";
    return signalPassFailure();
  }
  func::FuncOp entry = module.lookupSymbol<func::FuncOp>("main");
  if (!entry) {
    int publicFuncs = 0;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isPrivate() && !func.isExternal()) {
        ++publicFuncs;
        entry = func;
      }
    if (publicFuncs != 1) {
      module.emitError("--kv-cache-dtype: no entry function (@main, or the "
                       "only public function)");
      return signalPassFailure();
    }
  }
  if (failed(rewrite(entry, *form)))
    signalPassFailure();
}

} // namespace
