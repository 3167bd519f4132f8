//===- Pipelines.cpp - The pass pipelines of each phase ---------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Pipelines/Pipelines.h"
#include "slm/Pipelines/OptionList.h"
#include "slm/Target/TargetBackend.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include <functional>
#include <memory>
#include <type_traits>

using namespace mlir;
using namespace mlir::slm;

void slm::buildRaisePipeline(OpPassManager &pm, const RaiseOptions &options) {
  if (!options.enabled)
    return;
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createSLMRaiseLinear());
  pm.addPass(createSLMRaiseLayerNorm());
  pm.addPass(createSLMRaiseGelu());
  pm.addPass(createSLMRaiseAttention());
  pm.addPass(createSLMRaiseQuantizedMatMul());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

PruneMethod slm::resolvePruneMethod(const PruneOptions &options,
                                    bool calibrated) {
  if (options.method != PruneMethod::Auto)
    return options.method;
  return calibrated ? PruneMethod::Flap : PruneMethod::Magnitude;
}

void slm::buildPrunePipeline(OpPassManager &pm,
                             const CompressOptions &options) {
  const PruneOptions &prune = options.prune;
  if (prune.layers > 0) {
    SLMPruneLayersOptions layers;
    layers.count = prune.layers;
    pm.addPass(createSLMPruneLayers(layers));
  }
  // Heads and FFN neurons share the scoring options.
  std::string method =
      stringifyPruneMethod(
          resolvePruneMethod(prune, !options.calibration.empty()))
          .str();
  auto scoring = [&](auto passOptions, double ratio) {
    passOptions.ratio = ratio;
    passOptions.method_ = method;
    passOptions.allocation = stringifyPruneAllocation(prune.allocation).str();
    passOptions.reconstructWeights = prune.reconstruct;
    return passOptions;
  };
  if (prune.heads > 0)
    pm.addPass(
        createSLMPruneHeads(scoring(SLMPruneHeadsOptions(), prune.heads)));
  if (prune.ffn > 0)
    pm.addPass(createSLMPruneFFN(scoring(SLMPruneFFNOptions(), prune.ffn)));
}

void slm::buildQuantizePipeline(OpPassManager &pm,
                                const QuantizeOptions &quantize) {
  if (!quantize.enabled())
    return;
  SLMQuantizeWeightsOptions weights;
  weights.kind = quantize.fourBit() ? stringifyQuantizeKind(quantize.kind).str()
                                    : std::string("int8");
  if (quantize.fourBit()) {
    weights.groupSize = quantize.groupSize;
    weights.symmetric =
        quantize.kind == QuantizeKind::NF4 || quantize.symmetric;
    weights.method = stringifyQuantMethod(quantize.method).str();
  }
  pm.addPass(createSLMQuantizeWeights(weights));
  if (quantize.kind == QuantizeKind::W8A8) {
    SLMQuantizeActivationsOptions activations;
    activations.maxNoise = quantize.maxNoise;
    activations.scheme = stringifyActivationScheme(quantize.activations).str();
    pm.addPass(createSLMQuantizeActivations(activations));
  }
}

void slm::buildCompressPipeline(OpPassManager &pm,
                                const CompressOptions &options) {
  buildPrunePipeline(pm, options);
  buildQuantizePipeline(pm, options.quantize);
}

void slm::buildOptimizePipeline(OpPassManager &pm,
                                const OptimizeOptions &options) {
  pm.addPass(createCanonicalizerPass());
  if (options.fuseLinearActivation)
    pm.addPass(createSLMFuseLinearActivation());
  if (options.mergeLinears)
    pm.addPass(createSLMMergeLinears());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
}

void slm::buildCompilePipeline(OpPassManager &pm,
                               const CompileOptions &options) {
  auto runs = [&](Phase phase) {
    return options.compileFrom <= phase && phase <= options.compileTo;
  };
  if (runs(Phase::Raise))
    buildRaisePipeline(pm, options.raise);
  if (runs(Phase::Compress))
    buildCompressPipeline(pm, options.compress);
  if (runs(Phase::Optimize))
    buildOptimizePipeline(pm, options.optimize);
  if (runs(Phase::Lower))
    createCPUTargetBackend(options.cpu, options.report)
        ->buildLoweringPipeline(pm);
}

//===----------------------------------------------------------------------===//
// slm-opt registration
//===----------------------------------------------------------------------===//

namespace {
/// Pipeline options made from the option declarations of one phase struct
/// (or of CompileOptions): one PassOptions::Option per declared option
/// (driver-only ones such as --calibration left out) that writes what is
/// parsed into `parsed`.
template <typename PhaseOptions>
struct DeclaredPipelineOptions
    : PassPipelineOptions<DeclaredPipelineOptions<PhaseOptions>> {
  using Base = PassPipelineOptions<DeclaredPipelineOptions<PhaseOptions>>;

  DeclaredPipelineOptions() { visitOptions(parsed, *this); }

  PhaseOptions parsed;

  // The visitor.
  template <typename T> void option(T &field, const OptionInfo &info) {
    if (info.inPipeline)
      owned.push_back(std::make_unique<typename Base::template Option<T>>(
          *this, info.flag, llvm::cl::desc(info.help.str()),
          llvm::cl::init(field),
          llvm::cl::cb<void, T>([&field](const T &value) { field = value; })));
  }
  template <typename Enum, size_t N>
  void enumOption(Enum &field, const OptionInfo &info,
                  const EnumValue<Enum> (&values)[N]) {
    if (!info.inPipeline)
      return;
    auto opt = std::make_unique<typename Base::template Option<Enum>>(
        *this, info.flag, llvm::cl::desc(info.help.str()),
        llvm::cl::init(field),
        llvm::cl::cb<void, Enum>(
            [&field](const Enum &value) { field = value; }));
    for (const EnumValue<Enum> &v : values)
      opt->getParser().addLiteralOption(v.name, v.value, v.help);
    owned.push_back(std::move(opt));
  }

private:
  std::vector<std::unique_ptr<llvm::cl::Option>> owned;
};
} // namespace

void slm::registerSLMPipelines() {
  PassPipelineRegistration<DeclaredPipelineOptions<RaiseOptions>>(
      "slm-raise",
      "Raise: recognise linear layers, layer norms, GELUs, attention and "
      "quantized matrix products in imported graphs",
      [](OpPassManager &pm, const auto &options) {
        buildRaisePipeline(pm, options.parsed);
      });
  PassPipelineRegistration<DeclaredPipelineOptions<CompressOptions>>(
      "slm-compress",
      "Compress (its passes): structured pruning, then quantization; "
      "activation-aware scores read the statistics calibration wrote on the "
      "IR",
      [](OpPassManager &pm, const auto &options) {
        buildCompressPipeline(pm, options.parsed);
      });
  PassPipelineRegistration<DeclaredPipelineOptions<OptimizeOptions>>(
      "slm-optimize",
      "Optimize: canonicalize, the enabled fusions, clean up",
      [](OpPassManager &pm, const auto &options) {
        buildOptimizePipeline(pm, options.parsed);
      });
  PassPipelineRegistration<DeclaredPipelineOptions<CPUOptions>>(
      "slm-lower-to-llvm",
      "Lower (CPU): optimized slm IR to the LLVM dialect: linalg, GEMM "
      "kernels, parallel loops, OpenMP, LLVM",
      [](OpPassManager &pm, const auto &options) {
        createCPUTargetBackend(options.parsed)->buildLoweringPipeline(pm);
      });
  PassPipelineRegistration<DeclaredPipelineOptions<CompileOptions>>(
      "slm-compile",
      "Every pass phase from raise to lower, as slmc runs them "
      "(--compile-from/--compile-to choose the phases; calibration and the "
      "accuracy guard need slmc)",
      [](OpPassManager &pm, const auto &options) {
        buildCompilePipeline(pm, options.parsed);
      });
}
