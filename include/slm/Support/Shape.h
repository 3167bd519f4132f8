//===- Shape.h - Shape arithmetic shared by IR and runtime ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Plain C++ (no MLIR or LLVM) so that verifiers, the importer and the run-time
// library agree on one implementation of numpy broadcasting.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_SUPPORT_SHAPE_H
#define SLM_SUPPORT_SHAPE_H

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace mlir::slm {

/// The marker of a dynamic extent; equal to mlir::ShapedType::kDynamic.
constexpr int64_t kDynamicDim = std::numeric_limits<int64_t>::min();

/// A shape: one extent per dimension, kDynamicDim where unknown.
using Shape = std::vector<int64_t>;

/// Broadcasts two shapes under numpy rules (trailing dimensions aligned, size
/// 1 stretches). A dynamic extent against 1 stays dynamic; against a static
/// extent N > 1 it becomes N (anything else would fail at run time). Returns
/// std::nullopt when two static extents differ and neither is 1.
std::optional<Shape> broadcastShapes(const Shape &lhs, const Shape &rhs);

/// True when `from` can be stretched to exactly `to` under numpy rules
/// (rank(from) <= rank(to); every aligned extent of `from` is 1, equal, or
/// either side dynamic).
bool isBroadcastableTo(const Shape &from, const Shape &to);

/// True when two extents may be equal at run time (equal, or one dynamic).
inline bool extentsCompatible(int64_t a, int64_t b) {
  return a == kDynamicDim || b == kDynamicDim || a == b;
}

/// True when the shapes have one rank and pairwise compatible extents.
bool shapesCompatible(const Shape &a, const Shape &b);

/// Product of the extents, or kDynamicDim when any is dynamic.
int64_t numElements(const Shape &shape);

/// Formats a shape the way MLIR prints tensor types: `2x?x768`.
std::string formatShape(const Shape &shape);

/// Maps a possibly negative axis into [0, rank); std::nullopt when out of
/// range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

} // namespace mlir::slm

#endif // SLM_SUPPORT_SHAPE_H
