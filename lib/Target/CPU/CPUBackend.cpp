//===- CPUBackend.cpp - The CPU target backend ------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Target/CPU.h"
#include "slm/Target/TargetBackend.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace mlir::slm;

namespace {
class CPUTargetBackend final : public TargetBackend {
public:
  CPUTargetBackend(const CPUOptions &options, bool reportKernels)
      : options(options), reportKernels(reportKernels) {}

  StringRef name() const override { return "cpu"; }

  void buildLoweringPipeline(OpPassManager &pm) const override {
    buildCPULoweringPipeline(pm, options, reportKernels);
  }

  FailureOr<std::string> lower(ModuleOp module,
                               llvm::function_ref<LogicalResult(PassManager &)>
                                   configure) const override {
    FailureOr<std::string> metadata = describeModelInterface(module);
    if (failed(metadata))
      return failure();
    PassManager pm(module.getContext(), ModuleOp::getOperationName());
    if (configure && failed(configure(pm)))
      return failure();
    buildLoweringPipeline(pm);
    if (failed(pm.run(module)))
      return failure();
    return metadata;
  }

  LogicalResult emit(ModuleOp module, StringRef metadata, EmitKind kind,
                     StringRef path) const override {
    switch (kind) {
    case EmitKind::SharedLibrary:
      return emitSharedLibrary(module, metadata, path, options);
    case EmitKind::Object:
      return emitRelocatableObject(module, metadata, path, options);
    case EmitKind::LLVM: {
      FailureOr<std::string> ir = emitLLVMIR(module, metadata, options);
      if (failed(ir))
        return failure();
      std::string error;
      std::unique_ptr<llvm::ToolOutputFile> output =
          openOutputFile(path, &error);
      if (!output)
        return emitError(module.getLoc()) << error;
      output->os() << *ir;
      output->os().flush();
      if (output->os().has_error())
        return emitError(module.getLoc()) << "cannot write '" << path << "'";
      output->keep();
      return success();
    }
    case EmitKind::Auto:
    case EmitKind::MLIR:
      break;
    }
    return emitError(module.getLoc())
           << "the CPU target writes LLVM IR, objects and libraries, not IR";
  }

private:
  CPUOptions options;
  bool reportKernels;
};
} // namespace

std::unique_ptr<TargetBackend>
slm::createCPUTargetBackend(const CPUOptions &options, bool reportKernels) {
  return std::make_unique<CPUTargetBackend>(options, reportKernels);
}
