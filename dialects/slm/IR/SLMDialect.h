//===- SLMDialect.h - The slm dialect ---------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_IR_SLMDIALECT_H
#define SLM_IR_SLMDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <mutex>
#include <vector>

#include "slm/IR/SLMDialect.h.inc"

#endif // SLM_IR_SLMDIALECT_H
