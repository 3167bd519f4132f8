//===- CPU.h - Code generation for CPUs -------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// slm IR -> linalg -> loops -> LLVM dialect -> LLVM IR -> object code in
// process -> a shared library that the slm runtime (libslmrt) loads. What
// the library exports (entry points, descriptor layout, dtypes, metadata
// schema) is the model ABI: include/slm/Runtime/slm_model_abi.h.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TARGET_CPU_H
#define SLM_TARGET_CPU_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir {
class OpPassManager;
namespace slm {

/// How to generate code.
struct CPUTargetOptions {
  /// LLVM CPU name ("znver4", "skylake-avx512"); empty or "native": the host.
  std::string cpu;
  /// LLVM optimization level of the generated code (0-3).
  unsigned optLevel = 3;
  /// Columns per panel of packed constant weights (0: not packed).
  int64_t weightPanel = 32;
  /// Lower contractions to register-blocked vector kernels
  /// (--slm-vectorize-contractions); otherwise they become plain loops.
  bool gemmKernels = true;
  /// Remark on every contraction the GEMM kernels leave as loops.
  bool reportKernels = false;
};

/// Adds the passes from slm IR to the LLVM dialect: decomposition,
/// --convert-slm-to-linalg, elementwise fusion, bufferization, GEMM
/// kernels, loops, LLVM.
void buildLowerToLLVMPipeline(OpPassManager &pm,
                              const CPUTargetOptions &options = {});

/// The JSON description of the entry function's inputs and outputs (names,
/// element types, shapes with -1 for dynamic extents, dimension names).
/// Call on slm IR, before lowering.
FailureOr<std::string> describeModelInterface(ModuleOp module);

/// Lowers `module` (slm IR; modified in place) to the LLVM dialect with the
/// entry function's C interface.
LogicalResult lowerToLLVMDialect(ModuleOp module,
                                 const CPUTargetOptions &options = {});

/// Translates an LLVM-dialect module to optimized LLVM IR text (--emit=llvm).
FailureOr<std::string> emitLLVMIR(ModuleOp module, StringRef metadata,
                                  const CPUTargetOptions &options);

/// Compiles an LLVM-dialect module to an object file at `objectPath`.
LogicalResult emitObjectFile(ModuleOp module, StringRef metadata,
                             StringRef objectPath,
                             const CPUTargetOptions &options);

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

/// Compiles `module` (slm IR after graph optimization; lowered in place)
/// into a model library at `outputPath` that the runtime loads. Written
/// under a temporary name and renamed into place: on failure (reported as
/// diagnostics) nothing is left at `outputPath`.
LogicalResult compileSharedLibrary(ModuleOp module, StringRef outputPath,
                                   const CPUTargetOptions &target);

} // namespace slm
} // namespace mlir

#endif // SLM_TARGET_CPU_H
