//===- Options.h - The options of every compilation phase -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// One typed struct per phase of a compilation (import, raise, compress,
// optimize, lower, emit), with enums where an option takes one of a few
// values. `visitOptions` lists every option once: its flag, its help text
// and the field it sets. Everything that exposes options is built from that
// list: slmc's command line (bindCommandLineOptions), the options of the
// phase pipelines registered in slm-opt, `slmc --describe-options=json` (which
// the Python package reads to accept the same keywords) and the options
// table of README.md (checked by test/slmc/options-drift.test).
//
//===----------------------------------------------------------------------===//

#ifndef SLM_PIPELINES_OPTIONS_H
#define SLM_PIPELINES_OPTIONS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir::slm {

/// The phases of a compilation, in order. `slmc --compile-to=<phase>` stops
/// after one and writes its IR; `--compile-from=<phase>` starts at one.
enum class Phase {
  /// ONNX protobuf -> slm IR (importer).
  Import,
  /// Transformer ops recognised: linear, layer norm, GELU, attention.
  Raise,
  /// Calibration, structured pruning, quantization, the accuracy guard.
  Compress,
  /// Graph-level fusions and clean-up on the slm dialect.
  Optimize,
  /// The target's lowering (for the CPU: linalg, kernels, loops, LLVM).
  Lower,
  /// The artifact: LLVM IR, an object file or a model library.
  Emit,
};

/// The name of a phase ("import", "raise", ...).
llvm::StringRef stringifyPhase(Phase phase);

/// What slmc writes at the end of the Emit phase.
enum class EmitKind { Auto, MLIR, LLVM, Object, SharedLibrary };

/// How pruning scores heads and neurons.
enum class PruneMethod { Auto, Magnitude, Wanda, Flap };
/// How the pruning budget is spread over layers.
enum class PruneAllocation { Uniform, Global };
/// How linear layers are quantized.
enum class QuantizeKind { None, Int8, W8A8, Int4, NF4 };
/// How 4-bit codes are chosen.
enum class QuantMethod { RTN, GPTQ };
/// How W8A8 quantizes layer inputs.
enum class ActivationScheme { PerToken, MinMax, Percentile };
/// How OpenMP deals out the iterations of a parallel loop.
enum class ParallelSchedule { Static, Dynamic, Guided };
/// --precision: the arithmetic of the linear layers' products.
enum class ComputePrecision { F32, BF16 };
/// --kv-cache-dtype: what a derived KV cache holds.
enum class KVCacheDType { F32, F16, Int8 };

/// Import: ONNX -> slm IR. (No options yet; the importer's limits are the
/// ONNX file's own.)
struct ImportOptions {};

/// Raise: recognise transformer ops in imported graphs.
struct RaiseOptions {
  /// Run the raising pipeline (slmc --raise).
  bool enabled = true;
};

/// Structured pruning (part of Compress).
struct PruneOptions {
  double heads = 0.0;
  double ffn = 0.0;
  int64_t layers = 0;
  PruneMethod method = PruneMethod::Auto;
  PruneAllocation allocation = PruneAllocation::Uniform;
  bool reconstruct = false;

  /// Whether any pruning is asked for.
  bool enabled() const { return heads > 0 || ffn > 0 || layers > 0; }
};

/// Quantization (part of Compress).
struct QuantizeOptions {
  QuantizeKind kind = QuantizeKind::None;
  int64_t groupSize = 128;
  bool symmetric = true;
  QuantMethod method = QuantMethod::RTN;
  ActivationScheme activations = ActivationScheme::PerToken;
  double maxNoise = 0.0;

  bool enabled() const { return kind != QuantizeKind::None; }
  bool fourBit() const {
    return kind == QuantizeKind::Int4 || kind == QuantizeKind::NF4;
  }
};

/// Compress: calibration, pruning, quantization, accuracy guard, report.
struct CompressOptions {
  PruneOptions prune;
  QuantizeOptions quantize;
  /// bf16: linear layers round their inputs and weights to bfloat16.
  ComputePrecision precision = ComputePrecision::F32;
  /// Folder of calibration samples ("" when none).
  std::string calibration;
  /// Accuracy guard: the largest relative L2 output error allowed (< 0: off).
  double maxError = -1.0;
  /// Where to write the JSON compression report ("" when none).
  std::string reportPath;

  bool compressing() const {
    return prune.enabled() || quantize.enabled() ||
           precision != ComputePrecision::F32;
  }
  bool guarded() const { return maxError >= 0; }
};

/// Optimize: graph-level fusions on the slm dialect.
struct OptimizeOptions {
  /// Derive a KV cache for a causal decoder exported without one.
  bool kvCache = false;
  /// What the KV cache stores, exported or derived (--kv-cache-dtype).
  KVCacheDType kvCacheDtype = KVCacheDType::F32;
  /// Pack the real tokens of a padded batch (--slm-padding-free).
  bool paddingFree = false;
  /// Run-time token pruning (--slm-prune-tokens): the share of tokens
  /// kept per step (1: off), the first attention after which it prunes,
  /// the leading tokens never pruned, the fewest tokens kept.
  double pruneTokens = 1.0;
  int64_t pruneTokensStart = 1;
  int64_t pruneTokensLeading = 1;
  int64_t pruneTokensMin = 1;
  bool pruneTokensSkip = false;
  bool fuseLinearActivation = true;
  bool mergeLinears = false;
};

/// Lower and Emit for the CPU target.
struct CPUOptions {
  /// LLVM CPU name ("znver4", "skylake-avx512"); "native": the host.
  std::string cpu = "native";
  /// LLVM optimization level of the generated code (0-3).
  int64_t optLevel = 3;
  /// Columns per panel of packed constant weights (0: not packed).
  int64_t weightPanel = 32;
  /// Lower contractions to register-blocked vector kernels.
  bool gemmKernels = true;
  /// Compute each attention in one fused kernel (else decomposed).
  bool fusedAttention = true;
  /// How parallel loops deal out their iterations, and how many a thread
  /// takes at a time (dynamic and guided).
  ParallelSchedule parallelSchedule = ParallelSchedule::Dynamic;
  int64_t parallelChunk = 1;
};

/// Everything one compilation needs, phase by phase.
struct CompileOptions {
  ImportOptions import;
  RaiseOptions raise;
  CompressOptions compress;
  OptimizeOptions optimize;
  CPUOptions cpu;
  /// What to write (Emit).
  EmitKind emit = EmitKind::Auto;
  /// Reports: raising, kernels left as loops (stderr).
  bool report = false;
  /// The first and last phase to run.
  Phase compileFrom = Phase::Import;
  Phase compileTo = Phase::Emit;
};

/// Where an option belongs: its --help category and the README section.
enum class OptionGroup { Output, Raise, Compress, Optimize, CPU, Driver };

/// How an option is presented: one entry of the single declaration.
struct OptionInfo {
  /// The flag without dashes ("prune-heads"); also the pass-pipeline option.
  llvm::StringRef flag;
  /// --help text (one paragraph).
  llvm::StringRef help;
  /// What --help shows after `=` ("ratio", "path"); "" for the type.
  llvm::StringRef valueName;
  OptionGroup group;
  /// The Python keyword when it cannot be the flag with '_' for '-'.
  llvm::StringRef pythonName = {};
  /// Whether slm-opt's phase pipelines take it (not those that only the
  /// driver can act on: calibration, the guard, files, what to write).
  bool inPipeline = true;
};

/// One value of an enum option.
template <typename Enum> struct EnumValue {
  Enum value;
  llvm::StringRef name;
  llvm::StringRef help;
};

/// The names of the enum values (the spellings flags and passes use).
llvm::StringRef stringifyPruneMethod(PruneMethod method);
llvm::StringRef stringifyPruneAllocation(PruneAllocation allocation);
llvm::StringRef stringifyQuantizeKind(QuantizeKind kind);
llvm::StringRef stringifyQuantMethod(QuantMethod method);
llvm::StringRef stringifyComputePrecision(ComputePrecision precision);
llvm::StringRef stringifyKVCacheDType(KVCacheDType dtype);
llvm::StringRef stringifyActivationScheme(ActivationScheme scheme);

/// Checks the option values and their combinations (phase order, what each
/// compression option needs); the message names the flags involved.
std::optional<std::string> verifyOptions(const CompileOptions &options);

/// Writes every option as JSON (`slmc --describe-options=json`): a list of
/// {flag, python, type, default, values, help, group}.
void printOptionsJSON(llvm::raw_ostream &os);

/// Writes the README's options table (`slmc --describe-options=markdown`).
void printOptionsMarkdown(llvm::raw_ostream &os);

} // namespace mlir::slm

#endif // SLM_PIPELINES_OPTIONS_H
