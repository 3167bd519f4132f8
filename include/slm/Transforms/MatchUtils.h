//===- MatchUtils.h - Matching helpers for raising patterns -----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TRANSFORMS_MATCHUTILS_H
#define SLM_TRANSFORMS_MATCHUTILS_H

#include "mlir/IR/Value.h"

#include <optional>

namespace mlir::slm {

/// The value of a splat floating-point constant (any shape, typically 0-D),
/// or std::nullopt.
std::optional<double> getSplatConstant(Value value);

/// True when `value` is a splat constant within a relative `tolerance` of
/// `expected`.
bool isSplatNear(Value value, double expected, double tolerance = 1e-4);

/// True when `value` is a constant tensor (inline or resource): weights.
bool isConstantTensor(Value value);

/// True when `op`'s results reach nothing but shape queries (tensor.dim),
/// through pure ops without regions (what raising leaves of a decomposed
/// attention to give a mask its extents): values never read.
bool onlyReachesShapeQueries(Operation *op);

/// The axis of positions of a KV cache's type: the batch first, one dynamic
/// extent after it (the positions), all others static; std::nullopt for
/// any other type (--slm-derive-kv-cache, --slm-kv-cache-dtype).
std::optional<int64_t> cacheAxis(Type type);

} // namespace mlir::slm

#endif // SLM_TRANSFORMS_MATCHUTILS_H
