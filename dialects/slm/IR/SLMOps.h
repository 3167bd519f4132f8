//===- SLMOps.h - slm operations --------------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_IR_SLMOPS_H
#define SLM_IR_SLMOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "slm/IR/SLMDialect.h"

#include "slm/IR/SLMEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "slm/IR/SLMAttrs.h.inc"

#include "slm/IR/SLMInterfaces.h.inc"

#define GET_OP_CLASSES
#include "slm/IR/SLMOps.h.inc"

#endif // SLM_IR_SLMOPS_H
