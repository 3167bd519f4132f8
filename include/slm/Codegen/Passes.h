//===- Passes.h - slm code generation passes --------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The CPU code generation passes that are not conversions
// (lib/Codegen/CPU, one pass per file): elementwise fusion around the GEMM
// kernels, the kernels themselves, loop and math rewrites for the CPU.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_CODEGEN_PASSES_H
#define SLM_CODEGEN_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
namespace arith {
class ArithDialect;
} // namespace arith
namespace func {
class FuncDialect;
} // namespace func
namespace linalg {
class LinalgDialect;
} // namespace linalg
namespace LLVM {
class LLVMDialect;
} // namespace LLVM
namespace math {
class MathDialect;
} // namespace math
namespace memref {
class MemRefDialect;
} // namespace memref
namespace omp {
class OpenMPDialect;
} // namespace omp
namespace scf {
class SCFDialect;
} // namespace scf
namespace tensor {
class TensorDialect;
} // namespace tensor
namespace vector {
class VectorDialect;
} // namespace vector
namespace slm {

#define GEN_PASS_DECL
#include "slm/Codegen/Passes.h.inc"

/// Registers every pass of this header (registerSLMCodegenPasses()).
#define GEN_PASS_REGISTRATION
#include "slm/Codegen/Passes.h.inc"

} // namespace slm
} // namespace mlir

#endif // SLM_CODEGEN_PASSES_H
