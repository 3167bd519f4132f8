//===- Options.cpp - Option names, checks and descriptions ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Pipelines/OptionList.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <type_traits>

using namespace mlir;
using llvm::SmallVector;
using llvm::StringRef;
using namespace mlir::slm;

StringRef slm::stringifyPhase(Phase phase) {
  return stringifyEnum(kPhaseValues, phase);
}
StringRef slm::stringifyPruneMethod(PruneMethod method) {
  return stringifyEnum(kPruneMethodValues, method);
}
StringRef slm::stringifyPruneAllocation(PruneAllocation allocation) {
  return stringifyEnum(kPruneAllocationValues, allocation);
}
StringRef slm::stringifyQuantizeKind(QuantizeKind kind) {
  return stringifyEnum(kQuantizeValues, kind);
}
StringRef slm::stringifyComputePrecision(ComputePrecision precision) {
  return stringifyEnum(kPrecisionValues, precision);
}
StringRef slm::stringifyKVCacheDType(KVCacheDType dtype) {
  return stringifyEnum(kKVCacheDTypeValues, dtype);
}
StringRef slm::stringifyQuantMethod(QuantMethod method) {
  return stringifyEnum(kQuantMethodValues, method);
}
StringRef slm::stringifyActivationScheme(ActivationScheme scheme) {
  return stringifyEnum(kActivationSchemeValues, scheme);
}

std::optional<std::string> slm::verifyOptions(const CompileOptions &options) {
  const CompressOptions &compress = options.compress;
  const PruneOptions &prune = compress.prune;
  const QuantizeOptions &quantize = compress.quantize;
  const bool calibrated = !compress.calibration.empty();
  auto error = [](const llvm::Twine &message) { return message.str(); };
  if (options.compileFrom == Phase::Emit)
    return error("--compile-from=emit: the emit phase needs the IR before "
                 "lowering; start at lower at the latest");
  if (options.compileFrom > options.compileTo)
    return error(
        "--compile-from=" + stringifyPhase(options.compileFrom) +
        " comes after --compile-to=" + stringifyPhase(options.compileTo));
  if (options.compileTo != Phase::Emit && options.emit != EmitKind::Auto &&
      options.emit != EmitKind::MLIR)
    return error("--compile-to=" + stringifyPhase(options.compileTo) +
                 " writes IR: it cannot be combined with --emit other than "
                 "mlir");
  if (options.cpu.weightPanel < 0 ||
      (options.cpu.weightPanel > 0 && options.cpu.weightPanel % 16 != 0))
    return error("--weight-panel must be 0 or a multiple of 16, not " +
                 llvm::Twine(options.cpu.weightPanel));
  if (options.cpu.optLevel < 0 || options.cpu.optLevel > 3)
    return error("--opt-level must be 0, 1, 2 or 3, not " +
                 llvm::Twine(options.cpu.optLevel));
  if (options.cpu.parallelChunk < 1)
    return error("--parallel-chunk must be >= 1, not " +
                 llvm::Twine(options.cpu.parallelChunk));
  if (quantize.groupSize < 0 || quantize.groupSize % 2 != 0)
    return error("--quant-group-size must be 0 (per channel) or a positive "
                 "even number");
  if (quantize.maxNoise < 0)
    return error("--w8a8-max-noise must be >= 0");
  if (quantize.method == QuantMethod::GPTQ &&
      (!quantize.fourBit() || !calibrated))
    return error("--quant-method=gptq fits each layer on calibration "
                 "samples: it needs --quantize=int4|nf4 and --calibration "
                 "DIR");
  if (quantize.activations != ActivationScheme::PerToken &&
      (quantize.kind != QuantizeKind::W8A8 || !calibrated))
    return error("--w8a8-activations=" +
                 stringifyActivationScheme(quantize.activations) +
                 " takes each layer's input range from calibration: it "
                 "needs --quantize=w8a8 and --calibration DIR");
  if (quantize.maxNoise > 0 &&
      (quantize.kind != QuantizeKind::W8A8 || !calibrated))
    return error("--w8a8-max-noise measures layers on calibration samples: "
                 "it needs --quantize=w8a8 and --calibration DIR");
  if (compress.precision != ComputePrecision::F32 &&
      options.cpu.weightPanel == 0)
    return error("--precision=bf16 rounds and packs weights for the dot "
                 "kernels: it needs --weight-panel > 0");
  if (quantize.enabled() && options.cpu.weightPanel == 0)
    return error("--quantize decodes weights inside the packed GEMM "
                 "kernels: it needs --weight-panel > 0");
  if (calibrated && !options.raise.enabled)
    return error("--calibration needs raised IR (drop --raise=false)");
  if (compress.guarded() && !calibrated)
    return error("--max-error needs calibration samples: give --calibration "
                 "DIR");
  if (prune.reconstruct && !calibrated)
    return error("--prune-reconstruct fits on calibration samples: give "
                 "--calibration DIR");
  if (prune.layers > 0 && !calibrated)
    return error("--prune-layers measures each block on calibration "
                 "samples: give --calibration DIR");
  if (prune.layers < 0)
    return error("--prune-layers must be >= 0");
  const OptimizeOptions &optimize = options.optimize;
  if (!(optimize.pruneTokens > 0 && optimize.pruneTokens <= 1))
    return error("--prune-tokens is the share of tokens kept, in (0, 1], "
                 "not " +
                 llvm::formatv("{0:g}", optimize.pruneTokens).str());
  if (optimize.pruneTokensStart < 0 || optimize.pruneTokensLeading < 0 ||
      optimize.pruneTokensMin < 1)
    return error("--prune-tokens-start and --prune-tokens-leading must be "
                 ">= 0, --prune-tokens-min >= 1");
  if (optimize.pruneTokens != 1.0 && optimize.kvCache)
    return error("--prune-tokens with --kv-cache: pruned tokens leaving the "
                 "cache is not supported yet");
  PruneMethod method = prune.method;
  if (method != PruneMethod::Auto && method != PruneMethod::Magnitude &&
      (prune.heads > 0 || prune.ffn > 0) && !calibrated)
    return error("--prune-method=" + stringifyPruneMethod(method) +
                 " is activation-aware: give --calibration DIR, or use "
                 "--prune-method=magnitude");
  if ((compress.compressing() || compress.guarded()) &&
      (options.compileFrom > Phase::Compress ||
       options.compileTo < Phase::Compress))
    return error("compression options need the compress phase: it is "
                 "outside --compile-from=" +
                 stringifyPhase(options.compileFrom) +
                 " .. --compile-to=" + stringifyPhase(options.compileTo));
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Descriptions
//===----------------------------------------------------------------------===//

namespace {
StringRef groupName(OptionGroup group) {
  switch (group) {
  case OptionGroup::Output:
    return "output";
  case OptionGroup::Raise:
    return "raise";
  case OptionGroup::Compress:
    return "compress";
  case OptionGroup::Optimize:
    return "optimize";
  case OptionGroup::CPU:
    return "cpu";
  case OptionGroup::Driver:
    return "driver";
  }
  return "";
}

std::string pythonName(const OptionInfo &info) {
  if (!info.pythonName.empty())
    return info.pythonName.str();
  std::string name = info.flag.str();
  for (char &c : name)
    if (c == '-')
      c = '_';
  return name;
}

/// Collects every option as JSON.
struct JSONDescriber {
  llvm::json::Array options;

  template <typename T> void option(T &field, const OptionInfo &info) {
    llvm::json::Object o = describe(info);
    if constexpr (std::is_same_v<T, bool>) {
      o["type"] = "bool";
      o["default"] = field;
    } else if constexpr (std::is_same_v<T, int64_t>) {
      o["type"] = "int";
      o["default"] = field;
    } else if constexpr (std::is_same_v<T, double>) {
      o["type"] = "float";
      o["default"] = field;
    } else {
      o["type"] = "string";
      o["default"] = field;
    }
    options.push_back(std::move(o));
  }
  template <typename Enum, size_t N>
  void enumOption(Enum &field, const OptionInfo &info,
                  const EnumValue<Enum> (&values)[N]) {
    llvm::json::Object o = describe(info);
    o["type"] = "enum";
    o["default"] = stringifyEnum(values, field).str();
    llvm::json::Array names;
    for (const EnumValue<Enum> &v : values)
      names.push_back(
          llvm::json::Object{{"name", v.name.str()}, {"help", v.help.str()}});
    o["values"] = std::move(names);
    options.push_back(std::move(o));
  }
  llvm::json::Object describe(const OptionInfo &info) {
    return llvm::json::Object{{"flag", info.flag.str()},
                              {"python", pythonName(info)},
                              {"help", info.help.str()},
                              {"value_name", info.valueName.str()},
                              {"group", groupName(info.group).str()}};
  }
};

/// `text` with the table's cell separator escaped.
std::string cell(StringRef text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += '\\';
    out += c;
  }
  return out;
}

/// Writes one table row per option.
struct MarkdownDescriber {
  llvm::raw_ostream &os;

  template <typename T> void option(T &field, const OptionInfo &info) {
    os << "| `--" << info.flag;
    if constexpr (!std::is_same_v<T, bool>)
      os << "=<" << (info.valueName.empty() ? "value" : info.valueName) << ">";
    os << "` | " << cell(info.help) << " |\n";
  }
  template <typename Enum, size_t N>
  void enumOption(Enum &, const OptionInfo &info,
                  const EnumValue<Enum> (&values)[N]) {
    os << "| `--" << info.flag << "=<" << info.valueName << ">` | "
       << cell(info.help) << ":";
    for (size_t i = 0; i < N; ++i)
      os << (i ? ";" : "") << " `" << values[i].name << "` "
         << cell(values[i].help);
    os << " |\n";
  }
};
} // namespace

void slm::printOptionsJSON(llvm::raw_ostream &os) {
  CompileOptions defaults;
  JSONDescriber describer;
  visitOptions(defaults, describer);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(describer.options)))
     << "\n";
}

void slm::printOptionsMarkdown(llvm::raw_ostream &os) {
  CompileOptions defaults;
  MarkdownDescriber describer{os};
  os << "| option | meaning |\n|---|---|\n";
  visitOptions(defaults, describer);
}
