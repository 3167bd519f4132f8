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
  // Quantized matrix products (ORT's quantize_dynamic, QDQ, MatMulNBits)
  // become linear layers first: attention raising follows Q, K and V back
  // to linear layers, and a projection still spelled as integer ops hid
  // every attention of an ORT-quantized decoder.
  pm.addPass(createSLMRaiseQuantizedMatMul());
  pm.addPass(createSLMRaiseAttention());
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
  buildPrecisionPipeline(pm, options.precision);
}

void slm::buildPrecisionPipeline(OpPassManager &pm,
                                 ComputePrecision precision) {
  if (precision == ComputePrecision::F32)
    return;
  SLMSetPrecisionOptions set;
  set.precision = stringifyComputePrecision(precision).str();
  pm.addPass(createSLMSetPrecision(set));
}

void slm::buildOptimizePipeline(OpPassManager &pm,
                                const OptimizeOptions &options) {
  if (options.kvCache)
    pm.addPass(createSLMDeriveKVCache());
  // The cache's dtype: the derived one, or the one the model was exported
  // with.
  if (options.kvCacheDtype != KVCacheDType::F32) {
    SLMKVCacheDTypeOptions cache;
    cache.dtype = stringifyKVCacheDType(options.kvCacheDtype).str();
    pm.addPass(createSLMKVCacheDType(cache));
  }
  pm.addPass(createCanonicalizerPass());
  if (options.fuseLinearActivation)
    pm.addPass(createSLMFuseLinearActivation());
  // Before merging linears: the packing follows each projection.
  if (options.pruneTokens != 1.0) {
    SLMPruneTokensOptions prune;
    prune.keep = options.pruneTokens;
    prune.start = options.pruneTokensStart;
    prune.leading = options.pruneTokensLeading;
    prune.minTokens = options.pruneTokensMin;
    prune.skip = options.pruneTokensSkip;
    pm.addPass(createSLMPruneTokens(prune));
  } else if (options.paddingFree) {
    pm.addPass(createSLMPaddingFree());
  }
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
/// (driver-only ones such as --calibration left out). `get()` visits a
/// fresh struct in the same order and copies each parsed value into it.
template <typename PhaseOptions>
struct DeclaredPipelineOptions
    : PassPipelineOptions<DeclaredPipelineOptions<PhaseOptions>> {
  using Base = PassPipelineOptions<DeclaredPipelineOptions<PhaseOptions>>;
  template <typename T> using Option = typename Base::template Option<T>;

  DeclaredPipelineOptions() {
    PhaseOptions defaults;
    Creator creator{*this};
    visitOptions(defaults, creator);
  }

  /// The options as parsed.
  PhaseOptions get() const {
    PhaseOptions result;
    Reader reader{*this};
    visitOptions(result, reader);
    return result;
  }

private:
  /// Creates the options, with the declared defaults and value names.
  struct Creator {
    DeclaredPipelineOptions &self;
    template <typename T> void option(T &field, const OptionInfo &info) {
      if (info.inPipeline)
        self.owned.push_back(std::make_unique<Option<T>>(
            self, info.flag, llvm::cl::desc(info.help), llvm::cl::init(field)));
    }
    template <typename Enum, size_t N>
    void enumOption(Enum &field, const OptionInfo &info,
                    const EnumValue<Enum> (&values)[N]) {
      if (!info.inPipeline)
        return;
      auto opt = std::make_unique<Option<Enum>>(
          self, info.flag, llvm::cl::desc(info.help), llvm::cl::init(field));
      for (const EnumValue<Enum> &v : values)
        opt->getParser().addLiteralOption(v.name, v.value, v.help);
      self.owned.push_back(std::move(opt));
    }
  };
  /// Copies the parsed values back, in the order Creator made them.
  struct Reader {
    const DeclaredPipelineOptions &self;
    size_t next = 0;
    template <typename T> void option(T &field, const OptionInfo &info) {
      if (info.inPipeline)
        field = static_cast<const Option<T> &>(*self.owned[next++]).getValue();
    }
    template <typename Enum, size_t N>
    void enumOption(Enum &field, const OptionInfo &info,
                    const EnumValue<Enum> (&)[N]) {
      option(field, info);
    }
  };

  std::vector<std::unique_ptr<llvm::cl::Option>> owned;
};
} // namespace

void slm::registerSLMPipelines() {
  PassPipelineRegistration<DeclaredPipelineOptions<RaiseOptions>>(
      "slm-raise",
      "Raise: recognise linear layers, layer norms, GELUs, attention and "
      "quantized matrix products in imported graphs",
      [](OpPassManager &pm, const auto &options) {
        buildRaisePipeline(pm, options.get());
      });
  PassPipelineRegistration<DeclaredPipelineOptions<CompressOptions>>(
      "slm-compress",
      "Compress (its passes): structured pruning, then quantization; "
      "activation-aware scores read the statistics calibration wrote on the "
      "IR",
      [](OpPassManager &pm, const auto &options) {
        buildCompressPipeline(pm, options.get());
      });
  PassPipelineRegistration<DeclaredPipelineOptions<OptimizeOptions>>(
      "slm-optimize", "Optimize: canonicalize, the enabled fusions, clean up",
      [](OpPassManager &pm, const auto &options) {
        buildOptimizePipeline(pm, options.get());
      });
  PassPipelineRegistration<DeclaredPipelineOptions<CPUOptions>>(
      "slm-lower-to-llvm",
      "Lower (CPU): optimized slm IR to the LLVM dialect: linalg, GEMM "
      "kernels, parallel loops, OpenMP, LLVM",
      [](OpPassManager &pm, const auto &options) {
        createCPUTargetBackend(options.get())->buildLoweringPipeline(pm);
      });
  PassPipelineRegistration<DeclaredPipelineOptions<CompileOptions>>(
      "slm-compile",
      "Every pass phase from raise to lower, as slmc runs them "
      "(--compile-from/--compile-to choose the phases; calibration and the "
      "accuracy guard need slmc)",
      [](OpPassManager &pm, const auto &options) {
        buildCompilePipeline(pm, options.get());
      });
}
