//===- PrepareModelEntry.cpp - The entry function's ABI name ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMPREPAREMODELENTRY
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
struct SLMPrepareModelEntryPass
    : mlir::slm::impl::SLMPrepareModelEntryBase<SLMPrepareModelEntryPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>(entry);
    if (!func)
      return;
    if (entry != loweredName && module.lookupSymbol(loweredName)) {
      func.emitError() << "cannot rename the entry to '" << loweredName
                       << "': the module already has that symbol";
      return signalPassFailure();
    }
    func.setSymName(loweredName);
    func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                  UnitAttr::get(&getContext()));
    // Inputs stay the caller's (docs/ABI.md): bufferization must copy
    // before writing into one, never update it in place.
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
      if (isa<TensorType>(func.getArgument(i).getType()))
        func.setArgAttr(i, "bufferization.writable",
                        BoolAttr::get(&getContext(), false));
  }
};
} // namespace
