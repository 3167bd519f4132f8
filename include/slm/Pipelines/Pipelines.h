//===- Pipelines.h - The pass pipelines of each phase -----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// One builder per phase that is a pass pipeline, each taking its phase's
// options (slm/Pipelines/Options.h). compileModel (slm/Pipelines/Compiler.h)
// runs them in order; slm-opt registers each as a pipeline of its own
// (--slm-raise, --slm-compress, --slm-optimize, --slm-lower-to-llvm and the
// whole --slm-compile), with options bound from the same declarations as
// slmc's flags.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_PIPELINES_PIPELINES_H
#define SLM_PIPELINES_PIPELINES_H

#include "slm/Pipelines/Options.h"

namespace mlir {
class OpPassManager;
namespace slm {

/// Raise: linear layers, layer norms, GELUs, attention and quantized matrix
/// products recognised in imported graphs.
void buildRaisePipeline(OpPassManager &pm, const RaiseOptions &options = {});

/// The pruning method `options` asks for, with Auto resolved (FLAP when
/// calibrated, else magnitude).
PruneMethod resolvePruneMethod(const PruneOptions &options, bool calibrated);

/// Structured pruning: layers, then heads, then FFN neurons. Scores that
/// need statistics read them from the IR (calibration writes them there
/// first; see compileModel).
void buildPrunePipeline(OpPassManager &pm, const CompressOptions &options);

/// Quantization: weights, then (W8A8) layer inputs.
void buildQuantizePipeline(OpPassManager &pm, const QuantizeOptions &options);

/// --precision=bf16: the linear layers whose weights stay float compute
/// in bf16 (nothing for f32).
void buildPrecisionPipeline(OpPassManager &pm, ComputePrecision precision);

/// The pass part of Compress: buildPrunePipeline, buildQuantizePipeline,
/// then buildPrecisionPipeline.
void buildCompressPipeline(OpPassManager &pm, const CompressOptions &options);

/// Optimize: canonicalization, the enabled fusions, clean-up.
void buildOptimizePipeline(OpPassManager &pm,
                           const OptimizeOptions &options = {});

/// The pass phases of `options` from --compile-from to --compile-to (raise,
/// compress, optimize, and the CPU target's lowering) in one pipeline.
/// Calibration and the accuracy guard are not passes: compileModel runs
/// them around this.
void buildCompilePipeline(OpPassManager &pm, const CompileOptions &options);

/// Registers the phase pipelines for slm-opt: --slm-raise, --slm-compress,
/// --slm-optimize, --slm-lower-to-llvm and --slm-compile{to=<phase>}.
void registerSLMPipelines();

} // namespace slm
} // namespace mlir

#endif // SLM_PIPELINES_PIPELINES_H
