//===- SymbolicExtent.h - Extents as a constant times dimensions -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// A tensor extent known symbolically: a constant factor times a product of
// (tensor value, dimension) pairs. The importer folds ONNX shape arithmetic
// with it (Shape -> Gather -> Mul -> Reshape); raising compares the extents
// of head splits and merges with it. Header-only.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_ANALYSIS_SYMBOLICEXTENT_H
#define SLM_ANALYSIS_SYMBOLICEXTENT_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <optional>
#include <utility>

namespace mlir::slm {

/// `factor` x the product of `dims` (kept sorted, so that equal products
/// compare equal).
struct SymbolicExtent {
  /// Dimension `second` of the tensor `first`.
  using DimRef = std::pair<Value, int64_t>;

  int64_t factor = 1;
  llvm::SmallVector<DimRef, 2> dims;

  static SymbolicExtent constant(int64_t c) { return SymbolicExtent{c, {}}; }
  /// Dimension `index` of `tensor` (a ranked tensor): a constant when static.
  static SymbolicExtent dimOf(Value tensor, int64_t index) {
    auto type = cast<RankedTensorType>(tensor.getType());
    if (!type.isDynamicDim(index))
      return constant(type.getDimSize(index));
    return SymbolicExtent{1, {{tensor, index}}};
  }
  /// A symbolic extent of one dimension reference.
  static SymbolicExtent of(DimRef dim) { return SymbolicExtent{1, {dim}}; }

  bool isConstant() const { return dims.empty(); }

  /// The product; a zero factor makes the constant 0.
  SymbolicExtent operator*(const SymbolicExtent &other) const {
    SymbolicExtent result{factor * other.factor, dims};
    if (result.factor == 0)
      return constant(0);
    result.dims.append(other.dims.begin(), other.dims.end());
    llvm::sort(result.dims, less);
    return result;
  }
  /// `this / other` when it divides exactly (symbols cancel, factors divide).
  std::optional<SymbolicExtent> dividedBy(const SymbolicExtent &other) const {
    if (other.factor == 0 || factor % other.factor != 0)
      return std::nullopt;
    SymbolicExtent result{factor / other.factor, dims};
    for (const DimRef &d : other.dims) {
      auto it = llvm::find(result.dims, d);
      if (it == result.dims.end())
        return std::nullopt;
      result.dims.erase(it);
    }
    return result;
  }
  bool operator==(const SymbolicExtent &other) const {
    return factor == other.factor && dims == other.dims;
  }
  bool operator!=(const SymbolicExtent &other) const {
    return !(*this == other);
  }

  /// The order `dims` is kept in.
  static bool less(const DimRef &a, const DimRef &b) {
    if (a.first != b.first)
      return a.first.getAsOpaquePointer() < b.first.getAsOpaquePointer();
    return a.second < b.second;
  }
};

} // namespace mlir::slm

#endif // SLM_ANALYSIS_SYMBOLICEXTENT_H
