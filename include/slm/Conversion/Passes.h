//===- Passes.h - slm conversion passes -------------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --convert-slm-to-linalg. The code generation passes that used to be
// declared here (slm-fuse-elementwise, slm-vectorize-contractions, ...) are
// declared in slm/Codegen/Passes.h, which this header includes.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_CONVERSION_PASSES_H
#define SLM_CONVERSION_PASSES_H

#include "slm/Codegen/Passes.h"

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace slm {

#define GEN_PASS_DECL
#include "slm/Conversion/Passes.h.inc"

namespace linalg_lowering {
struct PanelCache;
} // namespace linalg_lowering

/// Adds the patterns of --convert-slm-to-linalg to `patterns`; constant
/// weights of slm.linear are packed into panels of `weightPanel` columns
/// (0: not packed), each once through `cache` when given (the pass's own:
/// a gather table tied to a packed weight then reads its panels).
void populateSLMToLinalgPatterns(RewritePatternSet &patterns,
                                 int64_t weightPanel = 32,
                                 linalg_lowering::PanelCache *cache = nullptr);

#define GEN_PASS_REGISTRATION
#include "slm/Conversion/Passes.h.inc"

/// Registers --convert-slm-to-linalg and every code generation pass of
/// slm/Codegen/Passes.h (what this function registered before they moved).
inline void registerSLMConversionPasses() {
  registerSLMToLinalgPasses();
  registerSLMCodegenPasses();
}

} // namespace slm
} // namespace mlir

#endif // SLM_CONVERSION_PASSES_H
