//===- Shape.cpp - Shape arithmetic shared by IR and runtime ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Support/Shape.h"

#include <algorithm>

namespace mlir::slm {

std::optional<Shape> broadcastShapes(const Shape &lhs, const Shape &rhs) {
  const size_t rank = std::max(lhs.size(), rhs.size());
  Shape result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the back; a missing leading dimension acts as size 1.
    int64_t a = i < rank - lhs.size() ? 1 : lhs[i - (rank - lhs.size())];
    int64_t b = i < rank - rhs.size() ? 1 : rhs[i - (rank - rhs.size())];
    if (a == 1) {
      result[i] = b;
    } else if (b == 1) {
      result[i] = a;
    } else if (a == kDynamicDim) {
      result[i] = b;
    } else if (b == kDynamicDim || a == b) {
      result[i] = a;
    } else {
      return std::nullopt;
    }
  }
  return result;
}

bool isBroadcastableTo(const Shape &from, const Shape &to) {
  if (from.size() > to.size())
    return false;
  const size_t offset = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[i], t = to[i + offset];
    if (f != 1 && !extentsCompatible(f, t))
      return false;
  }
  return true;
}

bool shapesCompatible(const Shape &a, const Shape &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!extentsCompatible(a[i], b[i]))
      return false;
  return true;
}

int64_t numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d == kDynamicDim)
      return kDynamicDim;
    n *= d;
  }
  return n;
}

std::string formatShape(const Shape &shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += 'x';
    s += shape[i] == kDynamicDim ? std::string("?") : std::to_string(shape[i]);
  }
  return s;
}

std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

} // namespace mlir::slm
