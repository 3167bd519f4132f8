//===- RaiseReport.cpp - What raising produced and what it left -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/MatchUtils.h"
#include "slm/Transforms/Raise.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::slm;

/// The ONNX node name a location carries (NameLoc, possibly fused).
static std::string nodeName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string n = nodeName(inner); !n.empty())
        return n;
  return "";
}

/// A constant, or a transpose of one.
static bool isWeight(Value value) {
  if (auto transpose = value.getDefiningOp<TransposeOp>())
    value = transpose.getInput();
  return isConstantTensor(value);
}

void mlir::slm::printRaiseReport(ModuleOp module, llvm::raw_ostream &os) {
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    llvm::MapVector<StringRef, int> raised;
    for (StringRef name : {"slm.attention", "slm.linear", "slm.layer_norm",
                           "slm.rms_norm", "slm.gelu", "slm.embedding"})
      raised[name] = 0;
    SmallVector<std::string> leftovers;
    func.walk([&](Operation *op) {
      StringRef opName = op->getName().getStringRef();
      if (raised.count(opName))
        ++raised[opName];
      std::string why;
      if (isa<SoftmaxOp>(op))
        why = explainAttentionMismatch(op);
      else if (isa<math::ErfOp, math::TanhOp>(op))
        why = explainGeluMismatch(op);
      else if (auto reduce = dyn_cast<ReduceOp>(op);
               reduce && reduce.getKind() == ReduceKind::mean)
        why = explainLayerNormMismatch(op);
      else if (auto matmul = dyn_cast<MatMulOp>(op);
               matmul &&
               (isConstantTensor(matmul.getLhs()) || isWeight(matmul.getRhs())))
        why = explainLinearMismatch(op);
      else
        return;
      // A candidate that still matches will be raised by the next run of the
      // pass; one that does not says why.
      if (why.empty())
        why = "matches, but was not raised (run --slm-raise)";
      std::string where = nodeName(op->getLoc());
      leftovers.push_back((opName + " '" + where + "': " + why).str());
    });
    os << "slm raising report: @" << func.getSymName() << "\n  raised:";
    bool any = false;
    for (auto [name, count] : raised)
      if (count) {
        os << (any ? ", " : " ") << count << " " << name;
        any = true;
      }
    os << (any ? "" : " nothing") << "\n";
    os << "  not raised: " << (leftovers.empty() ? "none" : "") << "\n";
    for (const std::string &line : leftovers)
      os << "    " << line << "\n";
  }
}
