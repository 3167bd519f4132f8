//===- TargetBackend.h - What a code generation target provides -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// A target takes optimized slm IR (the end of the Optimize phase) through the
// Lower and Emit phases: its lowering pipeline, the model ABI its artifacts
// follow (slm/Runtime/slm_model_abi.h), and writing LLVM IR, object files and
// model libraries. The CPU is the first implementation (slm/Target/CPU.h);
// compileModel and calibration reach code generation only through this
// interface.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TARGET_TARGETBACKEND_H
#define SLM_TARGET_TARGETBACKEND_H

#include "slm/Pipelines/Options.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>

namespace mlir {
class OpPassManager;
class PassManager;
namespace slm {

/// A code generation target.
class TargetBackend {
public:
  virtual ~TargetBackend();

  /// The target's name ("cpu").
  virtual StringRef name() const = 0;

  /// Adds the Lower phase: the passes from optimized slm IR to the target's
  /// lowered form (for the CPU: the LLVM dialect).
  virtual void buildLoweringPipeline(OpPassManager &pm) const = 0;

  /// Lowers optimized slm IR in place (the lowering pipeline, which also
  /// gives the entry function its ABI form) and returns the model's
  /// interface as the ABI's metadata JSON (inputs and outputs), which only
  /// the IR before lowering knows. `configure`, when given, sets up the pass
  /// manager first (slmc: MLIR's command-line debugging options). Errors
  /// are diagnostics on `module`.
  virtual FailureOr<std::string>
  lower(ModuleOp module,
        llvm::function_ref<LogicalResult(PassManager &)> configure = {})
      const = 0;

  /// Writes the lowered `module` as `kind` (LLVM IR, an object file or a
  /// model library; not MLIR) to `path`, with `metadata` from lower().
  /// Written under a temporary name and renamed into place: on failure
  /// nothing is left at `path`.
  virtual LogicalResult emit(ModuleOp module, StringRef metadata, EmitKind kind,
                             StringRef path) const = 0;

  /// lower() then emit() of a model library: optimized slm IR (modified in
  /// place) to a library the runtime loads.
  LogicalResult compileLibrary(ModuleOp module, StringRef path) const;
};

/// The CPU target (LLVM's native target; options from CPUOptions).
/// `reportKernels`: remark on every contraction the GEMM kernels leave as
/// loops.
std::unique_ptr<TargetBackend>
createCPUTargetBackend(const CPUOptions &options, bool reportKernels = false);

} // namespace slm
} // namespace mlir

#endif // SLM_TARGET_TARGETBACKEND_H
