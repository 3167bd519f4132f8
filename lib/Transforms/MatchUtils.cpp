//===- MatchUtils.cpp - Matching helpers for raising patterns ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Transforms/MatchUtils.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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

static bool onlyShapes(Operation *op, int depth) {
  if (depth > 8 || op->getNumRegions() || !isPure(op) ||
      op->getNumResults() == 0 || op->hasTrait<OpTrait::IsTerminator>())
    return false;
  for (Value r : op->getResults())
    for (Operation *user : r.getUsers())
      if (!isa<tensor::DimOp>(user) && !onlyShapes(user, depth + 1))
        return false;
  return true;
}

bool mlir::slm::onlyReachesShapeQueries(Operation *op) {
  return onlyShapes(op, 0);
}

std::optional<int64_t> mlir::slm::cacheAxis(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t || t.getRank() < 2)
    return std::nullopt;
  std::optional<int64_t> axis;
  for (int64_t d = 1; d < t.getRank(); ++d)
    if (t.isDynamicDim(d)) {
      if (axis)
        return std::nullopt;
      axis = d;
    }
  return axis;
}
