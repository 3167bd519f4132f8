//===- LowerRunTimeChecks.cpp - cf.assert as a reported failure -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// A failed `cf.assert` in a model must not abort the process running it:
// it becomes a store of its message into the run's failure slot (an extra
// argument of the entry function), which the model's entry points report
// (slm_model_abi.h, SLM_MODEL_RUN_CHECKED_SYMBOL).
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMLOWERRUNTIMECHECKS
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;

namespace {
struct SLMLowerRunTimeChecksPass
    : mlir::slm::impl::SLMLowerRunTimeChecksBase<SLMLowerRunTimeChecksPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<cf::AssertOp> checks;
    module.walk([&](cf::AssertOp op) { checks.push_back(op); });
    if (checks.empty())
      return;
    auto func = module.lookupSymbol<func::FuncOp>(entry);
    if (!func || func.isExternal()) {
      checks.front().emitError()
          << "run-time checks need the model's entry function '" << entry
          << "'";
      return signalPassFailure();
    }
    for (cf::AssertOp check : checks)
      if (check->getParentOfType<func::FuncOp>() != func) {
        check.emitError() << "run-time checks outside the model's entry "
                             "function are not supported";
        return signalPassFailure();
      }

    MLIRContext *ctx = &getContext();
    auto pointer = LLVM::LLVMPointerType::get(ctx);
    unsigned slotIndex = func.getNumArguments();
    if (failed(func.insertArgument(
            slotIndex, pointer,
            DictionaryAttr::get(ctx, {NamedAttribute(
                                         StringAttr::get(ctx, "slm.failure_slot"),
                                         UnitAttr::get(ctx))}),
            func.getLoc())))
      return signalPassFailure();
    Value slot = func.getArgument(slotIndex);

    // One constant string per distinct message.
    llvm::StringMap<LLVM::GlobalOp> messages;
    OpBuilder moduleBuilder = OpBuilder::atBlockBegin(module.getBody());
    auto messageGlobal = [&](StringRef message, Location loc) {
      LLVM::GlobalOp &global = messages[message];
      if (global)
        return global;
      std::string text = message.str();
      text.push_back('\0');
      auto type = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8),
                                           text.size());
      std::string name =
          "slm_check_message_" + std::to_string(messages.size() - 1);
      while (module.lookupSymbol(name))
        name += "_";
      global = LLVM::GlobalOp::create(moduleBuilder, loc, type,
                                      /*isConstant=*/true,
                                      LLVM::Linkage::Private, name,
                                      StringAttr::get(ctx, text));
      return global;
    };

    for (cf::AssertOp check : checks) {
      Location loc = check.getLoc();
      LLVM::GlobalOp global = messageGlobal(check.getMsg(), loc);
      OpBuilder b(check);
      Value one = arith::ConstantIntOp::create(b, loc, 1, 1);
      Value failedCheck = arith::XOrIOp::create(b, loc, check.getArg(), one);
      auto branch = scf::IfOp::create(b, loc, failedCheck,
                                      /*withElseRegion=*/false);
      b.setInsertionPointToStart(&branch.getThenRegion().front());
      Value message = LLVM::AddressOfOp::create(b, loc, global);
      Value null = LLVM::ZeroOp::create(b, loc, pointer);
      // The first failure of the run wins; later ones leave it.
      LLVM::AtomicCmpXchgOp::create(b, loc, slot, null, message,
                                    LLVM::AtomicOrdering::monotonic,
                                    LLVM::AtomicOrdering::monotonic);
      check.erase();
    }
  }
};
} // namespace
