//===- SLMDialect.cpp - The slm dialect -------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMDialect.h"
#include "slm/IR/SLMOps.h"

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
