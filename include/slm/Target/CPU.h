//===- CPU.h - Code generation for CPUs -------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The CPU target: slm IR -> linalg -> GEMM kernels and loops -> LLVM dialect
// -> LLVM IR -> object code in process -> a model library that the slm
// runtime (libslmrt) loads. createCPUTargetBackend (slm/Target/TargetBackend.h)
// is its entry; the functions below are its building blocks. The library's
// entry points, descriptor layout, dtypes and metadata are the model ABI
// (include/slm/Runtime/slm_model_abi.h, docs/ABI.md).
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TARGET_CPU_H
#define SLM_TARGET_CPU_H

#include "slm/Pipelines/Options.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir {
class OpPassManager;
namespace slm {

/// Adds the CPU's Lower phase, from optimized slm IR to the LLVM dialect:
/// the entry's ABI name and C interface (--slm-prepare-model-entry),
/// decomposition, --convert-slm-to-linalg, elementwise fusion,
/// bufferization, GEMM kernels (--slm-vectorize-contractions, when
/// `options.gemmKernels`; remarks on contractions left as loops with
/// `reportKernels`), parallel loops, OpenMP, LLVM.
void buildCPULoweringPipeline(OpPassManager &pm, const CPUOptions &options,
                              bool reportKernels = false);

/// The JSON description of the entry function's inputs and outputs (names,
/// element types, shapes with -1 for dynamic extents, dimension names).
/// Call on slm IR, before lowering.
FailureOr<std::string> describeModelInterface(ModuleOp module);

/// Translates an LLVM-dialect module to optimized LLVM IR text (--emit=llvm).
FailureOr<std::string> emitLLVMIR(ModuleOp module, StringRef metadata,
                                  const CPUOptions &options);

/// Compiles an LLVM-dialect module to an object file at `objectPath`.
LogicalResult emitObjectFile(ModuleOp module, StringRef metadata,
                             StringRef objectPath, const CPUOptions &options);

/// A constant moved out of the LLVM module into a weight file.
struct ExternalWeight {
  std::string symbol;
  uint64_t offset = 0, size = 0;
};

/// Moves every large constant global of an LLVM-dialect module into the
/// file `weightsPath` (64-byte aligned, back to back) and leaves a hidden
/// external declaration in its place. LLVM then never sees the weights:
/// compile time does not grow with them.
FailureOr<std::vector<ExternalWeight>>
externalizeWeights(ModuleOp module, StringRef weightsPath);

/// Assembles an object file that defines the external weights from the
/// weight file (`.incbin`, read-only section).
LogicalResult emitWeightsObject(ArrayRef<ExternalWeight> weights,
                                StringRef weightsPath, StringRef objectPath,
                                Location loc);

/// Writes the object file of the support code every model links (its
/// buffer allocator, lib/Runtime/ModelSupport.c, compiled with slm) to
/// `objectPath`.
LogicalResult emitSupportObject(StringRef objectPath, Location loc);

/// Merges object files into one relocatable object (`cc -r`).
LogicalResult mergeObjects(ArrayRef<std::string> objectPaths,
                           StringRef outputPath, Location loc);

/// Links object files into a shared library with the system C compiler.
LogicalResult linkSharedLibrary(ArrayRef<std::string> objectPaths,
                                StringRef libraryPath, Location loc);

/// Links the lowered `module` into a model library at `outputPath`: object
/// code, weights (kept out of LLVM, see externalizeWeights) and the support
/// object. Written under a temporary name and renamed into place: on
/// failure (reported as diagnostics) nothing is left at `outputPath`.
LogicalResult emitSharedLibrary(ModuleOp module, StringRef metadata,
                                StringRef outputPath,
                                const CPUOptions &options);

/// Writes the lowered `module` as one relocatable object with its support
/// code merged in, at `outputPath` (renamed into place on success).
LogicalResult emitRelocatableObject(ModuleOp module, StringRef metadata,
                                    StringRef outputPath,
                                    const CPUOptions &options);

} // namespace slm
} // namespace mlir

#endif // SLM_TARGET_CPU_H
