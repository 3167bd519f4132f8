//===- SLMConstants.h - Byte-level work on constant tensors -----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Transposing and slicing weights at compile time, for inline
// (DenseElementsAttr) and resource (DenseResourceElementsAttr) constants
// alike. Results keep the kind of their input: a resource stays a resource.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_IR_SLMCONSTANTS_H
#define SLM_IR_SLMCONSTANTS_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::slm {

/// The raw little-endian bytes of a constant whose elements are whole
/// bytes (not i1), dense or resource; empty when not available.
ArrayRef<char> rawConstantBytes(Attribute attr);

/// `attr` permuted by `perm` into `type`; null when it cannot be read.
Attribute transposeConstant(Attribute attr, RankedTensorType type,
                            ArrayRef<int64_t> perm);

/// The static slice of `attr` at `offsets` with `steps`, shaped `type`;
/// null when it cannot be read.
Attribute sliceConstant(Attribute attr, RankedTensorType type,
                        ArrayRef<int64_t> offsets, ArrayRef<int64_t> steps);

} // namespace mlir::slm

#endif // SLM_IR_SLMCONSTANTS_H
