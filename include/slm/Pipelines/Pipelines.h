//===- Pipelines.h - slm compilation pipelines ------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_PIPELINES_PIPELINES_H
#define SLM_PIPELINES_PIPELINES_H

namespace mlir {
class OpPassManager;
namespace slm {

/// What `slmc` asks of a compilation. Every later stage (compression,
/// fusion, code generation) adds its switches here, so that the driver, the
/// Python package and tests build the same pipeline.
struct CompileOptions {
  /// Raise imported graphs to transformer ops (--slm-raise) first.
  bool raise = true;
  /// Fold activations into linear epilogues (--slm-fuse-linear-activation).
  bool fuseLinearActivation = true;
  /// Merge linear layers that read the same input (--slm-merge-linears).
  /// Off by default: no measurable gain yet (see docs/Passes.md).
  bool mergeLinears = false;
};

/// Adds the raising pipeline: linear layers, layer norms, GELUs and
/// attention recognised in imported graphs (--slm-raise).
void buildSLMRaisePipeline(OpPassManager &pm);

/// Adds the graph-level optimization pipeline on the slm dialect:
/// raising (when enabled), canonicalization, each enabled fusion, cleanup.
void buildSLMOptimizationPipeline(OpPassManager &pm,
                                  const CompileOptions &options);

/// Registers `slm-optimize` for slm-opt (`--pass-pipeline` / `-slm-optimize`).
void registerSLMPipelines();

} // namespace slm
} // namespace mlir

#endif // SLM_PIPELINES_PIPELINES_H
