//===- OptionList.h - The single declaration of every option ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// `visitOptions(options, visitor)` hands every option of a phase struct to
// `visitor`, with its flag and help text:
//
//   visitor.option(field, info)                 bool, int64_t, double, string
//   visitor.enumOption(field, info, values)     an enum and its named values
//
// This is the only place an option is declared. slmc's flags, slm-opt's
// pipeline options, `slmc --describe-options` (and through it the Python
// keywords) and the README table are all made by visitors.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_PIPELINES_OPTIONLIST_H
#define SLM_PIPELINES_OPTIONLIST_H

#include "slm/Pipelines/Options.h"

namespace mlir::slm {

inline constexpr EnumValue<Phase> kPhaseValues[] = {
    {Phase::Import, "import", "ONNX to slm IR"},
    {Phase::Raise, "raise", "recognise transformer ops"},
    {Phase::Compress, "compress", "calibrate, prune, quantize, guard"},
    {Phase::Optimize, "optimize", "graph-level fusions"},
    {Phase::Lower, "lower", "the target's lowering (to the LLVM dialect)"},
    {Phase::Emit, "emit", "write LLVM IR, an object file or a library"},
};

inline constexpr EnumValue<ParallelSchedule> kParallelScheduleValues[] = {
    {ParallelSchedule::Static, "static", "one contiguous part per thread"},
    {ParallelSchedule::Dynamic, "dynamic",
     "threads take --parallel-chunk iterations at a time (default)"},
    {ParallelSchedule::Guided, "guided", "shrinking chunks"},
};

inline constexpr EnumValue<EmitKind> kEmitValues[] = {
    {EmitKind::Auto, "auto", "from the -o extension (default)"},
    {EmitKind::MLIR, "mlir", "slm IR after graph optimization"},
    {EmitKind::LLVM, "llvm", "optimized LLVM IR"},
    {EmitKind::Object, "obj", "an object file"},
    {EmitKind::SharedLibrary, "so", "a shared library for the slm runtime"},
};

inline constexpr EnumValue<PruneMethod> kPruneMethodValues[] = {
    {PruneMethod::Auto, "auto",
     "flap with --calibration, else magnitude (default)"},
    {PruneMethod::Magnitude, "magnitude", "weights only"},
    {PruneMethod::Wanda, "wanda", "|W| x input RMS"},
    {PruneMethod::Flap, "flap",
     "input variance x column norm, with bias compensation"},
};

inline constexpr EnumValue<PruneAllocation> kPruneAllocationValues[] = {
    {PruneAllocation::Uniform, "uniform",
     "the same share in every layer (default)"},
    {PruneAllocation::Global, "global",
     "one budget over all layers, by FLAP's standardized scores"},
};

inline constexpr EnumValue<QuantizeKind> kQuantizeValues[] = {
    {QuantizeKind::None, "none", "no quantization (default)"},
    {QuantizeKind::Int8, "int8",
     "int8 weights, one scale per output channel (4x smaller; faster when "
     "memory-bound)"},
    {QuantizeKind::W8A8, "w8a8",
     "int8 weights, and each layer's input quantized to uint8 as the model "
     "runs; products on integers with AVX-512 VNNI, int32 sums dequantized "
     "in registers (the compute-bound speedup)"},
    {QuantizeKind::Int4, "int4",
     "4-bit weights in groups along the input features with a scale each, "
     "symmetric or with zero points (~7.5x smaller)"},
    {QuantizeKind::NF4, "nf4",
     "4-bit weights on QLoRA's NormalFloat levels, a scale per group"},
};

inline constexpr EnumValue<ComputePrecision> kPrecisionValues[] = {
    {ComputePrecision::F32, "f32", "f32 products (default)"},
    {ComputePrecision::BF16, "bf16",
     "linear layers round their inputs and weights to bfloat16 and sum the "
     "products in f32 (AVX512-BF16's vdpbf16ps: about twice the f32 FMA "
     "rate; weights half the bytes)"},
};

inline constexpr EnumValue<KVCacheDType> kKVCacheDTypeValues[] = {
    {KVCacheDType::F32, "f32", "keys and values as computed (default)"},
    {KVCacheDType::F16, "f16",
     "rounded to f16: half the cache's memory"},
    {KVCacheDType::Int8, "int8",
     "int8 codes with an f32 scale per position and head: about a quarter "
     "of the memory"},
};

inline constexpr EnumValue<QuantMethod> kQuantMethodValues[] = {
    {QuantMethod::RTN, "rtn",
     "round to nearest, each group's scale picked among clipped ranges "
     "(default)"},
    {QuantMethod::GPTQ, "gptq",
     "GPTQ error feedback through the calibrated input covariance"},
};

inline constexpr EnumValue<ActivationScheme> kActivationSchemeValues[] = {
    {ActivationScheme::PerToken, "per-token",
     "each row's own range, as the model runs (default)"},
    {ActivationScheme::MinMax, "minmax",
     "one fixed scale per layer from the calibrated [min, max]"},
    {ActivationScheme::Percentile, "percentile",
     "one fixed scale per layer from the 0.01%/99.99% quantiles"},
};

/// Raise.
template <typename Visitor>
void visitOptions(RaiseOptions &options, Visitor &v) {
  v.option(options.enabled,
           {"raise",
            "Raise imported graphs to `slm.linear`, `slm.layer_norm`, "
            "`slm.gelu`, `slm.attention` (default on)",
            "", OptionGroup::Raise, "raise_ops"});
}

/// Compress: pruning, quantization, calibration, guard, report.
template <typename Visitor>
void visitOptions(CompressOptions &options, Visitor &v) {
  PruneOptions &prune = options.prune;
  QuantizeOptions &quantize = options.quantize;
  constexpr OptionGroup group = OptionGroup::Compress;
  v.option(prune.heads,
           {"prune-heads",
            "Remove this share (in [0, 1), rounded to whole heads) of each "
            "attention's heads: Q/K/V rows and output-projection columns go, "
            "every GEMM around attention shrinks; under grouped-query "
            "attention whole key/value heads go, with their query heads",
            "ratio", group});
  v.option(prune.ffn,
           {"prune-ffn",
            "Remove this share of each FFN's hidden neurons (kept count a "
            "multiple of 32)",
            "ratio", group});
  v.option(prune.layers,
           {"prune-layers",
            "Drop this many transformer blocks, those that change the "
            "residual stream least on the calibration samples",
            "count", group});
  v.enumOption(
      prune.method,
      {"prune-method", "How heads and neurons are scored", "method", group},
      kPruneMethodValues);
  v.enumOption(
      prune.allocation,
      {"prune-allocation", "How the pruning budget is spread", "kind", group},
      kPruneAllocationValues);
  v.option(prune.reconstruct,
           {"prune-reconstruct",
            "Refit each pruned output/down projection on the kept channels "
            "by least squares over the calibration data",
            "", group});
  v.enumOption(quantize.kind,
               {"quantize",
                "Quantize every linear layer (after pruning when both are "
                "given); the weights are decoded inside the GEMM kernels "
                "(docs/Compression.md)",
                "kind", group},
               kQuantizeValues);
  v.enumOption(options.precision,
               {"precision",
                "The arithmetic of linear layers whose weights stay float "
                "(after pruning and quantization; attention's products stay "
                "f32; docs/Compression.md)",
                "kind", group},
               kPrecisionValues);
  v.option(quantize.groupSize,
           {"quant-group-size",
            "Input features per scale for --quantize=int4|nf4 (default 128; "
            "0: one per output channel)",
            "n", group});
  v.option(quantize.symmetric,
           {"quant-symmetric",
            "int4 codes symmetric around 0 (default); =false adds a zero "
            "point per group",
            "", group});
  v.enumOption(quantize.method,
               {"quant-method", "How --quantize=int4|nf4 chooses codes",
                "method", group},
               kQuantMethodValues);
  v.enumOption(quantize.activations,
               {"w8a8-activations",
                "How --quantize=w8a8 quantizes layer inputs (minmax and "
                "percentile need --calibration)",
                "scheme", group},
               kActivationSchemeValues);
  v.option(quantize.maxNoise,
           {"w8a8-max-noise",
            "With --calibration: layers whose measured input statistics "
            "predict rounding noise above this share of the input's RMS keep "
            "f32 inputs (default 0: quantize all)",
            "r", group});
  v.option(options.calibration,
           {"calibration",
            "Folder of calibration samples: one file per model input "
            "(NAME.npy, NAME.pb or input_K.*) in the folder or in one "
            "sub-folder per sample; unpadded",
            "dir", group, "", false});
  v.option(options.maxError,
           {"max-error",
            "Accuracy guard: run the compressed model on the calibration "
            "samples, print each output's relative L2 error, and fail "
            "(writing nothing) above this value",
            "x", group, "", false});
  v.option(options.reportPath,
           {"compression-report",
            "Write the per-layer compression report as JSON to this file, "
            "and a chart next to it (.svg)",
            "file", group, "", false});
}

/// Optimize.
template <typename Visitor>
void visitOptions(OptimizeOptions &options, Visitor &v) {
  v.option(options.kvCache,
           {"kv-cache",
            "Give a causal decoder exported without a KV cache one: inputs "
            "past_key_values.<i>.key/value and outputs present.<i>.*, so that "
            "generation runs each new token alone (docs/Generation.md)",
            "", OptionGroup::Optimize});
  v.enumOption(options.kvCacheDtype,
               {"kv-cache-dtype",
                "What the KV cache holds, the model's own (past_key_values "
                "inputs) or the one --kv-cache derives; every attention "
                "reads it back as f32 (docs/Generation.md)",
                "kind", OptionGroup::Optimize},
               kKVCacheDTypeValues);
  v.option(options.paddingFree,
           {"padding-free",
            "Compute on real tokens only: where the attentions use a "
            "key-padding mask from an input (attention_mask), pack the batch's "
            "real tokens at the entry, attend per sequence, and scatter "
            "token outputs back with 0 at pad positions (docs/Passes.md)",
            "", OptionGroup::Optimize});
  v.option(options.pruneTokens,
           {"prune-tokens",
            "Run-time cascade token pruning (SpAtten; implies "
            "--padding-free): after each attention from "
            "--prune-tokens-start on, each sequence keeps this share of its "
            "tokens, the most important by the attention they received "
            "(1: off)",
            "keep", OptionGroup::Optimize});
  v.option(options.pruneTokensStart,
           {"prune-tokens-start",
            "The first attention (0-based) after which --prune-tokens "
            "prunes (default 1)",
            "n", OptionGroup::Optimize});
  v.option(options.pruneTokensLeading,
           {"prune-tokens-leading",
            "Leading tokens of each sequence --prune-tokens never prunes "
            "(default 1: [CLS])",
            "n", OptionGroup::Optimize});
  v.option(options.pruneTokensMin,
           {"prune-tokens-min",
            "The fewest tokens --prune-tokens cuts a sequence to (default 1)",
            "n", OptionGroup::Optimize});
  v.option(options.pruneTokensSkip,
           {"prune-tokens-skip",
            "Tokens --prune-tokens prunes skip the remaining layers, their "
            "last state reaching outputs and poolings (default: they are "
            "dropped, like padding)",
            "", OptionGroup::Optimize});
  v.option(options.fuseLinearActivation,
           {"fuse-linear-activation",
            "Fold GELU/ReLU into the preceding linear layer (default on; "
            "=false to measure what it buys)",
            "", OptionGroup::Optimize});
  v.option(options.mergeLinears,
           {"merge-linears",
            "Merge linear layers that read the same input (attention's Q, "
            "K, V) into one GEMM (default off: no measured gain yet)",
            "", OptionGroup::Optimize});
}

/// Lower and Emit on the CPU.
template <typename Visitor> void visitOptions(CPUOptions &options, Visitor &v) {
  v.option(options.cpu, {"mcpu",
                         "The CPU to generate code for (an LLVM name: znver4, "
                         "skylake-avx512, x86-64-v3); default: this machine",
                         "name", OptionGroup::CPU});
  v.option(options.optLevel,
           {"opt-level",
            "LLVM optimization level of the generated code, 0-3 (default 3)",
            "n", OptionGroup::CPU});
  v.option(options.weightPanel,
           {"weight-panel",
            "Pack linear weights into panels of this many columns (a "
            "multiple of 16) for the kernels; default 32, 0 keeps [out, in] "
            "(docs/Codegen.md)",
            "columns", OptionGroup::CPU});
  v.option(
      options.gemmKernels,
      {"gemm-kernels",
       "Compile matrix products to register-blocked AVX-512 (or AVX2) GEMM "
       "kernels (default on; =false: plain loops, to measure what they "
       "buy)",
       "", OptionGroup::CPU});
  v.option(options.fusedAttention,
           {"fused-attention",
            "Compute each attention in one flash-style kernel that never "
            "builds the [Sq, Skv] scores and reads K/V heads in place "
            "(default on; =false: the decomposed reference)",
            "", OptionGroup::CPU});
  v.enumOption(options.parallelSchedule,
               {"parallel-schedule",
                "How parallel loops deal out their iterations to threads "
                "(dynamic: a thread sharing its core with another process "
                "takes fewer; docs/Codegen.md)",
                "kind", OptionGroup::CPU},
               kParallelScheduleValues);
  v.option(options.parallelChunk,
           {"parallel-chunk",
            "Iterations a thread takes at a time under the dynamic and "
            "guided schedules (default 1: a loop's iterations are tiles)",
            "n", OptionGroup::CPU});
}

/// Every option of a compilation.
template <typename Visitor>
void visitOptions(CompileOptions &options, Visitor &v) {
  v.enumOption(options.emit,
               {"emit", "What to write at the end of the emit phase", "kind",
                OptionGroup::Output, "", false},
               kEmitValues);
  v.enumOption(options.compileFrom,
               {"compile-from",
                "The first phase to run (default import; slm IR input holds "
                "the IR before that phase, ONNX input starts at import)",
                "phase", OptionGroup::Output},
               kPhaseValues);
  v.enumOption(options.compileTo,
               {"compile-to",
                "The last phase to run (default emit); before emit, its IR is "
                "written",
                "phase", OptionGroup::Output},
               kPhaseValues);
  v.option(options.report,
           {"report",
            "Print to stderr what raising produced and, for every candidate "
            "it left, why (docs/Import.md); when compiling, also every "
            "matrix product left to plain loops instead of a GEMM kernel, "
            "and why",
            "", OptionGroup::Output, "", false});
  visitOptions(options.raise, v);
  visitOptions(options.compress, v);
  visitOptions(options.optimize, v);
  visitOptions(options.cpu, v);
}

/// The name of `value` in `values`.
template <typename Enum, size_t N>
llvm::StringRef stringifyEnum(const EnumValue<Enum> (&values)[N], Enum value) {
  for (const EnumValue<Enum> &v : values)
    if (v.value == value)
      return v.name;
  return "";
}

} // namespace mlir::slm

#endif // SLM_PIPELINES_OPTIONLIST_H
