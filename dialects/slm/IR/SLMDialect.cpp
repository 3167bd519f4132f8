//===- SLMDialect.cpp - The slm dialect -------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMDialect.h"
#include "slm/IR/SLMOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::slm;

#include "slm/IR/SLMDialect.cpp.inc"
#include "slm/IR/SLMEnums.cpp.inc"
#include "slm/IR/SLMInterfaces.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "slm/IR/SLMAttrs.cpp.inc"

void SLMDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "slm/IR/SLMAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "slm/IR/SLMOps.cpp.inc"
      >();
}

Operation *SLMDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  auto typed = dyn_cast<TypedAttr>(value);
  if (!typed || typed.getType() != type)
    return nullptr;
  return arith::ConstantOp::create(builder, loc, type, typed);
}

//===----------------------------------------------------------------------===//
// #slm.contraction
//===----------------------------------------------------------------------===//

unsigned ContractionAttr::getNumInputs() const {
  switch (getKind()) {
  case ContractionKind::f32:
  case ContractionKind::u8s8_dot:
  case ContractionKind::bf16_dot:
    return 2;
  case ContractionKind::int8_weight:
  case ContractionKind::nf4:
    return 3;
  case ContractionKind::int4:
    return 4;
  }
  llvm_unreachable("unknown contraction kind");
}

unsigned ContractionAttr::getNumReductions() const {
  if (getKind() == ContractionKind::u8s8_dot ||
      getKind() == ContractionKind::bf16_dot)
    return 2;
  return isFourBit() ? 3 : 1;
}

bool ContractionAttr::hasScales() const { return getNumInputs() > 2; }

bool ContractionAttr::hasOffsets() const {
  return getKind() == ContractionKind::int4;
}

bool ContractionAttr::isFourBit() const {
  return getKind() == ContractionKind::int4 ||
         getKind() == ContractionKind::nf4;
}

LogicalResult
ContractionAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        ContractionKind kind, int64_t panel, int64_t group) {
  if (panel < 0)
    return emitError() << "panel must be >= 0, got " << panel;
  if (kind != ContractionKind::f32 && panel == 0)
    return emitError() << "kind " << stringifyContractionKind(kind)
                       << " reads packed weights: panel must be > 0";
  const bool fourBit =
      kind == ContractionKind::int4 || kind == ContractionKind::nf4;
  if (fourBit && (group <= 0 || group % 2 != 0))
    return emitError() << "kind " << stringifyContractionKind(kind)
                       << " needs an even group size > 0, got " << group;
  if (!fourBit && group != 0)
    return emitError() << "group is only meaningful for 4-bit kinds, got "
                       << group << " for " << stringifyContractionKind(kind);
  return success();
}

LogicalResult ContractionAttr::verifyOn(Operation *op) const {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic)
    return op->emitOpError()
           << "'" << getAttrName() << "' is only valid on linalg.generic";
  auto fail = [&]() {
    return op->emitOpError() << "declared " << *this << ": ";
  };
  if (generic.getNumDpsInputs() != getNumInputs() ||
      generic.getNumDpsInits() != 1)
    return fail() << "expects " << getNumInputs()
                  << " inputs and 1 output, has " << generic.getNumDpsInputs()
                  << " and " << generic.getNumDpsInits();
  if (generic.getNumReductionLoops() != getNumReductions())
    return fail() << "expects " << getNumReductions()
                  << " reduction loops, has " << generic.getNumReductionLoops();
  Builder b(op->getContext());
  const bool dot = getKind() == ContractionKind::u8s8_dot;
  const bool bf16 = getKind() == ContractionKind::bf16_dot;
  Type f32 = b.getF32Type(), i8 = b.getIntegerType(8), bf = b.getBF16Type();
  SmallVector<std::pair<Value, Type>> expected = {
      {generic.getDpsInputs()[0], dot    ? i8
                                  : bf16 ? bf
                                         : f32},
      {generic.getDpsInputs()[1], getKind() == ContractionKind::f32 ? f32
                                  : bf16                            ? bf
                                                                    : i8}};
  for (unsigned i = 2; i < getNumInputs(); ++i)
    expected.push_back({generic.getDpsInputs()[i], f32});
  expected.push_back({generic.getDpsInits()[0], dot ? b.getI32Type() : f32});
  static const char *roles[] = {"A", "B", "scales", "offsets"};
  for (auto [i, pair] : llvm::enumerate(expected)) {
    Type element = getElementTypeOrSelf(pair.first.getType());
    if (element != pair.second)
      return fail() << (i + 1 == expected.size() ? "C" : roles[i])
                    << " must have elements of " << pair.second << ", has "
                    << element;
  }
  return success();
}

LogicalResult SLMDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (attr.getName() != ContractionAttr::getAttrName())
    return success();
  auto declaration = dyn_cast<ContractionAttr>(attr.getValue());
  if (!declaration)
    return op->emitOpError() << "'" << ContractionAttr::getAttrName()
                             << "' must be a #slm.contraction attribute";
  return declaration.verifyOn(op);
}
