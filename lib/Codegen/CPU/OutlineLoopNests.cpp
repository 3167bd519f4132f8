//===- OutlineLoopNests.cpp - Loop nests as shared functions ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// A lowered model is one function of a few thousand loop nests, and LLVM's
// loop passes (strength reduction, vectorization, scalar evolution) cost
// more than linearly in the size of the function they run on: a 30-layer
// decoder took minutes. Each top-level operation that holds a loop becomes
// a call to a private, never-inlined function of its own, and functions
// whose bodies are the same (the same nest in every layer, on other
// weights) are one function, so LLVM compiles one layer's worth of loops.
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMOUTLINELOOPNESTS
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
/// Whether `op` has regions with a loop in them.
static bool holdsLoop(Operation &op) {
  if (op.getNumRegions() == 0)
    return false;
  bool found = false;
  op.walk([&](Operation *inner) {
    if (inner != &op && isa<LoopLikeOpInterface>(inner)) {
      found = true;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found || isa<LoopLikeOpInterface>(op);
}

/// A value the outlined body recomputes instead of taking as an argument:
/// a constant (loop bounds and sizes stay known to LLVM), or an operation
/// of no operands, no regions and no effects. Symbol references (weights'
/// `memref.get_global`) stay arguments, so that the same nest on other
/// weights is the same function.
static bool cloneIntoBody(Value value) {
  Operation *def = value.getDefiningOp();
  if (!def || def->getNumOperands() || def->getNumRegions() ||
      def->getNumResults() != 1 || !isMemoryEffectFree(def))
    return false;
  for (NamedAttribute attr : def->getAttrs())
    if (isa<SymbolRefAttr>(attr.getValue()))
      return false;
  return true;
}

/// A hash of `func`'s body that ignores its name and the names of values:
/// operation names, attributes, types and the nesting, in order.
static llvm::hash_code hashBody(func::FuncOp func) {
  llvm::hash_code hash = hash_value(func.getFunctionType());
  func.getBody().walk([&](Operation *op) {
    hash =
        llvm::hash_combine(hash, OperationEquivalence::computeHash(
                                     op, OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::IgnoreLocations));
  });
  return hash;
}

struct OutlineLoopNests
    : public slm::impl::SLMOutlineLoopNestsBase<OutlineLoopNests> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> functions;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal())
        functions.push_back(func);
    // Outlined bodies by hash; a new one equal to an earlier one is erased.
    llvm::DenseMap<llvm::hash_code, SmallVector<func::FuncOp, 1>> byHash;
    for (func::FuncOp func : functions) {
      unsigned index = 0;
      for (Block &block : func.getBody()) {
        SmallVector<Operation *> nests;
        for (Operation &op : block)
          if (holdsLoop(op))
            nests.push_back(&op);
        for (Operation *nest : nests) {
          auto [callee, call] = outline(
              nest, (func.getName() + "_nest" + Twine(index++)).str(), symbols);
          ++numOutlined;
          // The same body outlined before: call that one.
          SmallVector<func::FuncOp, 1> &same = byHash[hashBody(callee)];
          func::FuncOp earlier;
          for (func::FuncOp candidate : same)
            if (candidate.getFunctionType() == callee.getFunctionType() &&
                OperationEquivalence::isRegionEquivalentTo(
                    &candidate.getBody(), &callee.getBody(),
                    OperationEquivalence::IgnoreLocations)) {
              earlier = candidate;
              break;
            }
          if (!earlier) {
            same.push_back(callee);
            continue;
          }
          ++numShared;
          call.setCallee(earlier.getName());
          symbols.erase(callee);
        }
      }
    }
  }

  /// Moves `nest` into a new private function and calls it in its place.
  std::pair<func::FuncOp, func::CallOp> outline(Operation *nest, StringRef name,
                                                SymbolTable &symbols) {
    llvm::SetVector<Value> captured;
    getUsedValuesDefinedAbove(nest->getRegions(), captured);
    for (Value operand : nest->getOperands())
      captured.insert(operand);
    SmallVector<Value> arguments, recomputed;
    for (Value value : captured)
      (cloneIntoBody(value) ? recomputed : arguments).push_back(value);

    OpBuilder b(nest->getContext());
    auto type = b.getFunctionType(ValueRange(arguments).getTypes(),
                                  nest->getResultTypes());
    b.setInsertionPointToEnd(nest->getParentOfType<ModuleOp>().getBody());
    auto callee = func::FuncOp::create(b, nest->getLoc(), name, type);
    callee.setPrivate();
    // Kept out of line: inlined back, the entry would be one function again.
    callee->setAttr("passthrough",
                    b.getArrayAttr({b.getStringAttr("noinline")}));
    // Not exported from the library.
    callee->setAttr(
        "llvm.linkage",
        LLVM::LinkageAttr::get(b.getContext(), LLVM::Linkage::Internal));
    symbols.insert(callee);
    Block *body = callee.addEntryBlock();
    b.setInsertionPointToStart(body);
    IRMapping mapping;
    for (auto [value, argument] : llvm::zip(arguments, body->getArguments()))
      mapping.map(value, argument);
    for (Value value : recomputed)
      b.clone(*value.getDefiningOp(), mapping);
    Operation *moved = b.clone(*nest, mapping);
    func::ReturnOp::create(b, nest->getLoc(), moved->getResults());

    b.setInsertionPoint(nest);
    auto call = func::CallOp::create(b, nest->getLoc(), callee, arguments);
    nest->replaceAllUsesWith(call.getResults());
    nest->erase();
    return {callee, call};
  }
};
} // namespace
