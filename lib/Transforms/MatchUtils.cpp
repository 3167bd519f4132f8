//===- MatchUtils.cpp - Matching helpers for raising patterns ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Transforms/MatchUtils.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;

std::optional<double> mlir::slm::getSplatConstant(Value value) {
  SplatElementsAttr splat;
  if (!value || !matchPattern(value, m_Constant(&splat)) ||
      !isa<FloatType>(splat.getElementType()))
    return std::nullopt;
  return splat.getSplatValue<APFloat>().convertToDouble();
}

bool mlir::slm::isSplatNear(Value value, double expected, double tolerance) {
  std::optional<double> v = getSplatConstant(value);
  return v && std::fabs(*v - expected) <= tolerance * std::fabs(expected);
}

bool mlir::slm::isConstantTensor(Value value) {
  ElementsAttr attr;
  return value && matchPattern(value, m_Constant(&attr));
}
