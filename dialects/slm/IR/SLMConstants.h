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
#include "mlir/IR/Operation.h"

#include <vector>

namespace mlir::slm {

/// The raw little-endian bytes of a constant whose elements are whole
/// bytes (not i1), dense or resource; empty when not available.
ArrayRef<char> rawConstantBytes(Attribute attr);

/// Whether two constants hold the same elements: the same attribute, or
/// equal types and bytes (exporters write a tied weight as two
/// initializers). Splats compare only as the same attribute.
bool sameConstantElements(Attribute a, Attribute b);

/// `attr` permuted by `perm` into `type`; null when it cannot be read.
Attribute transposeConstant(Attribute attr, RankedTensorType type,
                            ArrayRef<int64_t> perm);

/// The static slice of `attr` at `offsets` with `steps`, shaped `type`;
/// null when it cannot be read.
Attribute sliceConstant(Attribute attr, RankedTensorType type,
                        ArrayRef<int64_t> offsets, ArrayRef<int64_t> steps);

/// A weight `attr` of shape [N, K] laid out as column panels for a GEMM
/// micro-kernel: [ceil(N / panel), K, panel], element [p, k, j] =
/// attr[p * panel + j, k]; columns past N are zero (a splat stays a splat:
/// they are never read back). Null when it
/// cannot be read.
Attribute packConstantPanels(Attribute attr, int64_t panel);

/// The 1-D constant `attr` zero-padded at the end to `size` elements and
/// shaped [size / panel, panel]. Null when it cannot be read.
Attribute padConstantPanels(Attribute attr, int64_t size, int64_t panel);

/// The constants `attrs` (same element type and trailing extents)
/// concatenated along their first dimension into `type`; a resource when
/// any of them is one. Null when one cannot be read.
Attribute concatConstantRows(ArrayRef<Attribute> attrs, RankedTensorType type);

/// The elements of an f32 constant (dense, splat or resource) into
/// `values`; false when `attr` is not one.
bool readF32Constant(Attribute attr, std::vector<float> &values);

/// A new f32 constant of `type` holding `values`: a resource named after
/// `like` (plus `suffix`) when `like` is one, else a dense constant.
Attribute makeF32ConstantLike(Attribute like, RankedTensorType type,
                              ArrayRef<float> values, StringRef suffix);

/// A new constant of `type` holding raw little-endian `bytes`: a resource
/// named after `like` (plus `suffix`) when `like` is one, else dense.
Attribute makeConstantFromBytes(Attribute like, RankedTensorType type,
                                ArrayRef<char> bytes, StringRef suffix);

/// Frees the bytes of every resource weight that a function above replaced
/// (transposed, sliced, packed) and that nothing in `root` refers to any
/// more. Weights are the bulk of a compiler's memory: without this, each
/// layout change of a model's weights would keep another copy alive.
/// Call with the whole module: a resource used elsewhere must not go.
void releaseDeadWeights(Operation *root);

/// While alive, releaseDeadWeights keeps every weight that `root` refers
/// to, whatever IR it is called on: for a copy of a module compiled while
/// the original lives on (calibration), they share their weights.
class WeightsInUse {
public:
  explicit WeightsInUse(Operation *root);
  ~WeightsInUse();
  WeightsInUse(const WeightsInUse &) = delete;
  WeightsInUse &operator=(const WeightsInUse &) = delete;

private:
  Operation *root;
};

} // namespace mlir::slm

#endif // SLM_IR_SLMCONSTANTS_H
