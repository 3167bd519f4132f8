//===- Pipelines.cpp - slm compilation pipelines ----------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Pipelines/Pipelines.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void slm::buildSLMRaisePipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createSLMRaiseLinear());
  pm.addPass(createSLMRaiseLayerNorm());
  pm.addPass(createSLMRaiseGelu());
  pm.addPass(createSLMRaiseAttention());
  pm.addPass(createSLMRaiseQuantizedMatMul());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void slm::buildSLMOptimizationPipeline(OpPassManager &pm,
                                       const CompileOptions &options) {
  if (options.raise)
    buildSLMRaisePipeline(pm);
  pm.addPass(createCanonicalizerPass());
  if (options.fuseLinearActivation)
    pm.addPass(createSLMFuseLinearActivation());
  if (options.mergeLinears)
    pm.addPass(createSLMMergeLinears());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
}

namespace {
struct OptimizationPipelineOptions
    : PassPipelineOptions<OptimizationPipelineOptions> {
  Option<bool> raise{*this, "raise",
                     llvm::cl::desc("Raise to transformer ops first"),
                     llvm::cl::init(true)};
  Option<bool> fuseLinearActivation{
      *this, "fuse-linear-activation",
      llvm::cl::desc("Fold activations into linear epilogues"),
      llvm::cl::init(true)};
  Option<bool> mergeLinears{
      *this, "merge-linears",
      llvm::cl::desc("Merge linear layers that read the same input"),
      llvm::cl::init(false)};
};
} // namespace

void slm::registerSLMPipelines() {
  PassPipelineRegistration<>(
      "slm-raise",
      "Raise imported ONNX graphs to transformer ops: linear layers, layer "
      "norms, GELUs, attention",
      [](OpPassManager &pm) { buildSLMRaisePipeline(pm); });
  PassPipelineRegistration<OptimizationPipelineOptions>(
      "slm-optimize",
      "The graph-level slm pipeline slmc runs: canonicalize, fuse, clean up",
      [](OpPassManager &pm, const OptimizationPipelineOptions &cli) {
        CompileOptions options;
        options.raise = cli.raise;
        options.fuseLinearActivation = cli.fuseLinearActivation;
        options.mergeLinears = cli.mergeLinears;
        buildSLMOptimizationPipeline(pm, options);
      });
}
