//===- Compiler.cpp - One entry that compiles a model -----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Pipelines/Compiler.h"
#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMDialect.h"
#include "slm/Import/ONNX/ImportONNX.h"
#include "slm/Pipelines/Pipelines.h"
#include "slm/Target/TargetBackend.h"
#include "slm/Transforms/ModelStructure.h"
#include "slm/Transforms/Raise.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <optional>

using namespace mlir;
using namespace mlir::slm;

void slm::registerCompilerDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<SLMDialect>();
}

OwningOpRef<ModuleOp> slm::readModel(MLIRContext &context, StringRef path,
                                     std::string &error) {
  StringRef extension = llvm::sys::path::extension(path);
  if (extension == ".onnx") {
    OwningOpRef<ModuleOp> module = importONNXFile(context, path);
    if (!module)
      error = ("could not import '" + path + "'").str();
    return module;
  }
  if (extension != ".mlir" && path != "-") {
    error = ("'" + path +
             "': unknown input kind; expected an ONNX model (.onnx) or slm "
             "IR (.mlir)")
                .str();
    return nullptr;
  }
  std::unique_ptr<llvm::MemoryBuffer> input = openInputFile(path, &error);
  if (!input)
    return nullptr;
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    error = ("could not parse '" + path + "'").str();
  return module;
}

namespace {
/// Times one phase: nests an MLIR timer (--mlir-timing) and reports the
/// wall time to the progress hook when it ends.
class PhaseTimer {
public:
  PhaseTimer(const CompileHooks &hooks, Phase phase, StringRef label)
      : hooks(hooks), phase(phase), start(std::chrono::steady_clock::now()) {
    if (hooks.timing)
      scope.emplace(hooks.timing->nest(label));
  }
  ~PhaseTimer() {
    if (scope)
      scope->stop();
    if (hooks.phaseDone)
      hooks.phaseDone(phase, std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - start)
                                 .count());
  }
  /// Times the passes of `pm` under this phase.
  void time(PassManager &pm) {
    if (scope)
      pm.enableTiming(*scope);
  }

private:
  const CompileHooks &hooks;
  Phase phase;
  std::chrono::steady_clock::time_point start;
  std::optional<TimingScope> scope;
};

/// Runs the passes `build` adds on `module`, with MLIR's command-line pass
/// manager options (--mlir-print-ir-after-all, ...).
LogicalResult runPipeline(ModuleOp module, const CompileHooks &hooks,
                          PhaseTimer &timer,
                          function_ref<void(OpPassManager &)> build) {
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  if (hooks.configurePassManager && failed(hooks.configurePassManager(pm)))
    return failure();
  timer.time(pm);
  build(pm);
  return pm.run(module);
}

/// What to write, from --emit or the output's extension.
EmitKind resolveEmitKind(EmitKind emit, StringRef outputPath) {
  if (emit != EmitKind::Auto)
    return emit;
  StringRef ext = llvm::sys::path::extension(outputPath);
  return ext == ".so"   ? EmitKind::SharedLibrary
         : ext == ".o"  ? EmitKind::Object
         : ext == ".ll" ? EmitKind::LLVM
                        : EmitKind::MLIR;
}

/// Prints `module` to `path` (written only when complete).
LogicalResult writeIR(ModuleOp module, StringRef path, std::string &error) {
  std::unique_ptr<llvm::ToolOutputFile> output = openOutputFile(path, &error);
  if (!output)
    return failure();
  module->print(output->os());
  output->os() << "\n";
  output->os().flush();
  if (output->os().has_error()) {
    error = ("could not write '" + path + "'").str();
    return failure();
  }
  output->keep();
  return success();
}

/// A temporary folder removed with everything in it.
struct TemporaryFolder {
  SmallString<128> path;
  ~TemporaryFolder() {
    if (!path.empty())
      (void)llvm::sys::fs::remove_directories(path);
  }
};

/// One compilation: the phases of compileModel with what they share.
class Compilation {
public:
  Compilation(ModuleOp module, const CompileOptions &options,
              StringRef outputPath, const CompileHooks &hooks)
      : module(module), options(options), outputPath(outputPath), hooks(hooks),
        target(createCPUTargetBackend(options.cpu, options.report)) {}

  LogicalResult run(std::string &error);

private:
  bool runs(Phase phase) const {
    return options.compileFrom <= phase && phase <= options.compileTo;
  }
  LogicalResult fail(const llvm::Twine &message, std::string &error) {
    error = message.str();
    return failure();
  }
  /// Compiles `m` (after Compress; optimized first unless `optimized`) into
  /// the library `path` and loads it. A `reference` (calibration's) is
  /// optimized without run-time token pruning.
  FailureOr<std::unique_ptr<RunnableModel>>
  compileAndLoad(ModuleOp m, bool optimized, StringRef path, std::string &error,
                 bool reference = false);
  LogicalResult compress(std::string &error);
  LogicalResult guard(std::string &error);
  LogicalResult emit(std::string &error);

  ModuleOp module;
  const CompileOptions &options;
  StringRef outputPath;
  const CompileHooks &hooks;
  std::unique_ptr<TargetBackend> target;
  EmitKind emitKind = EmitKind::MLIR;
  /// The last phase that runs (--emit=mlir stops after Optimize).
  Phase last = Phase::Emit;

  // Compress's results, for the report and the guard.
  std::optional<ReferenceOutputs> reference;
  ModelShape shapeBefore, shapeAfter;
  /// The guarded model library, when it is also the output.
  SmallString<256> guardedLibrary;
  std::optional<llvm::FileRemover> removeGuarded;
};
} // namespace

FailureOr<std::unique_ptr<RunnableModel>>
Compilation::compileAndLoad(ModuleOp m, bool optimized, StringRef path,
                            std::string &error, bool reference) {
  if (!hooks.loadLibrary) {
    error = "running compiled models (calibration, the accuracy guard) "
            "needs a runtime, and none was given";
    return failure();
  }
  if (!optimized) {
    PassManager pm(m.getContext(), ModuleOp::getOperationName());
    OptimizeOptions optimize = options.optimize;
    if (reference) {
      // The uncompressed model's outputs: run-time token pruning is a
      // compression (and its packing does not follow calibration probes).
      optimize.pruneTokens = 1.0;
      optimize.paddingFree = false;
    }
    buildOptimizePipeline(pm, optimize);
    if (failed(pm.run(m))) {
      error = "optimization failed";
      return failure();
    }
  }
  if (failed(target->compileLibrary(m, path))) {
    error = "code generation failed";
    return failure();
  }
  return hooks.loadLibrary(path, error);
}

/// Prints a warning (with its notes, not the op a pass ran on) to stderr;
/// other diagnostics take their usual way. MLIR drops warnings no handler
/// takes.
static LogicalResult printWarning(Diagnostic &d) {
  if (d.getSeverity() != DiagnosticSeverity::Warning)
    return failure();
  llvm::errs() << "warning: " << d << "\n";
  for (Diagnostic &note : d.getNotes()) {
    std::string text = note.str();
    if (!StringRef(text).starts_with("see current operation"))
      llvm::errs() << "  note: " << text << "\n";
  }
  return success();
}

LogicalResult Compilation::compress(std::string &error) {
  // Compression's warnings (layers a requested quantization could not apply
  // to) go to stderr; MLIR drops warnings no handler takes.
  ScopedDiagnosticHandler warnings(module.getContext(), printWarning);
  const CompressOptions &c = options.compress;
  const bool pruning = c.prune.enabled();
  const bool calibrated = !c.calibration.empty();
  if (c.compressing() || c.guarded()) {
    // GPT-2's fused Q/K/V as three projections: prunable, and measured by
    // calibration like any other attention.
    if (c.prune.heads > 0)
      splitFusedProjections(module);
    tagLayers(module);
    shapeBefore = describeModelShape(module);
  }
  // 4-bit weights with calibration samples: every layer's input statistics
  // weigh its rounding error (activation-aware scales).
  const bool fourBitAware = c.quantize.fourBit() && calibrated;
  const bool measureLinears =
      c.quantize.activations != ActivationScheme::PerToken ||
      c.quantize.maxNoise > 0 || fourBitAware;
  if (calibrated && (pruning || c.guarded() || measureLinears)) {
    PhaseTimer timer(hooks, Phase::Compress, "Calibrate");
    TemporaryFolder folder;
    if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(
            "slm-calibration", folder.path))
      return fail("calibration: cannot create a temporary folder: " +
                      ec.message(),
                  error);
    SmallString<256> library(folder.path);
    llvm::sys::path::append(library, "calibration.so");
    auto compile = [&](ModuleOp probed, std::string &message) {
      return compileAndLoad(probed, /*optimized=*/false, library, message,
                            /*reference=*/true);
    };
    std::string message;
    FailureOr<ReferenceOutputs> measured =
        calibrate(module, c.calibration, compile,
                  /*covariance=*/c.prune.reconstruct ||
                      c.quantize.method == QuantMethod::GPTQ,
                  /*allLinears=*/measureLinears, message);
    if (failed(measured))
      return fail("calibration: " + message, error);
    reference = std::move(*measured);
  }
  if (pruning) {
    PhaseTimer timer(hooks, Phase::Compress, "Prune");
    if (failed(runPipeline(module, hooks, timer, [&](OpPassManager &pm) {
          buildPrunePipeline(pm, c);
        })))
      return fail("pruning failed", error);
    releaseDeadWeights(module);
  }
  if (c.quantize.enabled()) {
    PhaseTimer timer(hooks, Phase::Compress, "Quantize");
    if (failed(runPipeline(module, hooks, timer, [&](OpPassManager &pm) {
          buildQuantizePipeline(pm, c.quantize);
        })))
      return fail("quantizing failed", error);
    releaseDeadWeights(module);
  }
  if (c.precision != ComputePrecision::F32) {
    PhaseTimer timer(hooks, Phase::Compress, "Precision");
    if (failed(runPipeline(module, hooks, timer, [&](OpPassManager &pm) {
          buildPrecisionPipeline(pm, c.precision);
        })))
      return fail("setting the precision failed", error);
  }
  if (c.compressing() || c.guarded())
    shapeAfter = describeModelShape(module);
  return success();
}

LogicalResult Compilation::guard(std::string &error) {
  const CompressOptions &c = options.compress;
  // The compression report goes to stdout unless the output does.
  llvm::raw_ostream &report = hooks.compressionReport ? *hooks.compressionReport
                              : outputPath == "-"     ? llvm::errs()
                                                      : llvm::outs();
  if (c.compressing())
    printCompressionReport(shapeBefore, shapeAfter, report);
  std::vector<OutputError> outputErrors;
  if (reference) {
    // The guard compiles the compressed model (for a library output, the
    // library itself, under a temporary name), runs it on the calibration
    // samples and compares with the uncompressed outputs.
    const bool reuse = emitKind == EmitKind::SharedLibrary &&
                       last == Phase::Emit && runs(Phase::Lower);
    OwningOpRef<ModuleOp> copy;
    ModuleOp compiled = module;
    std::optional<WeightsInUse> keep;
    if (!reuse) {
      keep.emplace(module);
      copy = cast<ModuleOp>(module->clone());
      compiled = *copy;
    }
    SmallString<256> model(outputPath == "-" ? StringRef("slmc-guard")
                                             : outputPath);
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(
            model + ".%%%%%%.guard.so", guardedLibrary))
      return fail("cannot create a file next to '" + model +
                      "': " + ec.message(),
                  error);
    removeGuarded.emplace(guardedLibrary);
    PhaseTimer timer(hooks, Phase::Compress, "Accuracy guard");
    std::string message;
    FailureOr<std::unique_ptr<RunnableModel>> loaded = compileAndLoad(
        compiled, /*optimized=*/runs(Phase::Optimize), guardedLibrary, message);
    if (failed(loaded))
      return fail("accuracy guard: " + message, error);
    FailureOr<std::vector<OutputError>> errors =
        measureOutputError(**loaded, *reference, message);
    if (failed(errors))
      return fail("accuracy guard: " + message, error);
    outputErrors = std::move(*errors);
    report << "output error on " << reference->samples.size()
           << " calibration sample(s):\n";
    for (const OutputError &e : outputErrors)
      report << llvm::format(
          "  %-16s relative L2 %.5f  max abs %.5g  mean cosine %.5f\n",
          e.name.c_str(), e.relative, e.maxAbs, e.cosine);
    if (!reuse)
      guardedLibrary.clear();
  }
  if (!c.reportPath.empty() && (c.compressing() || c.guarded())) {
    std::string message;
    if (failed(writeCompressionReport(shapeBefore, shapeAfter, outputErrors,
                                      c.reportPath, message)))
      return fail(message, error);
  }
  if (c.guarded())
    for (const OutputError &e : outputErrors)
      if (e.relative > c.maxError)
        return fail(llvm::formatv("output '{0}' of the compressed model is "
                                  "off by {1:f5} (relative L2) on the "
                                  "calibration samples, more than "
                                  "--max-error={2}; nothing written",
                                  e.name, e.relative, c.maxError),
                    error);
  return success();
}

LogicalResult Compilation::emit(std::string &error) {
  if (last < Phase::Lower)
    return writeIR(module, outputPath, error);
  // The guarded library is the output: already lowered and linked.
  if (!guardedLibrary.empty()) {
    if (std::error_code ec = llvm::sys::fs::rename(guardedLibrary, outputPath))
      return fail("cannot write '" + outputPath + "': " + ec.message(), error);
    return success();
  }
  FailureOr<std::string> metadata;
  {
    PhaseTimer timer(hooks, Phase::Lower, "Lower");
    metadata = target->lower(module, hooks.configurePassManager);
    if (failed(metadata))
      return fail("lowering failed", error);
  }
  if (last == Phase::Lower)
    return writeIR(module, outputPath, error);
  PhaseTimer timer(hooks, Phase::Emit, "Emit");
  if (failed(target->emit(module, *metadata, emitKind, outputPath)))
    return fail("code generation failed", error);
  return success();
}

LogicalResult Compilation::run(std::string &error) {
  if (std::optional<std::string> message = verifyOptions(options))
    return fail(*message, error);
  emitKind = resolveEmitKind(options.emit, outputPath);
  last = options.compileTo;
  if (last == Phase::Emit && emitKind == EmitKind::MLIR)
    last = Phase::Optimize;
  if (last == Phase::Emit && outputPath == "-" &&
      (emitKind == EmitKind::Object || emitKind == EmitKind::SharedLibrary))
    return fail("binary output needs a file: give -o <path>", error);

  if (runs(Phase::Raise) && options.raise.enabled) {
    PhaseTimer timer(hooks, Phase::Raise, "Raise");
    if (failed(runPipeline(module, hooks, timer, [&](OpPassManager &pm) {
          buildRaisePipeline(pm, options.raise);
        })))
      return fail("raising failed", error);
    // Weights transposed into slm.linear's layout: the originals can go.
    releaseDeadWeights(module);
  }
  if (options.report)
    printRaiseReport(module,
                     hooks.raiseReport ? *hooks.raiseReport : llvm::errs());
  if (runs(Phase::Compress) && failed(compress(error)))
    return failure();
  if (runs(Phase::Optimize)) {
    PhaseTimer timer(hooks, Phase::Optimize, "Optimize");
    // --padding-free's warning (nothing to pack) goes to stderr.
    ScopedDiagnosticHandler warnings(module.getContext(), printWarning);
    if (failed(runPipeline(module, hooks, timer, [&](OpPassManager &pm) {
          buildOptimizePipeline(pm, options.optimize);
        })))
      return fail("optimization failed", error);
  }
  // --report: the code generator's remarks (matrix products left to plain
  // loops) go to stderr; other diagnostics take their usual way.
  std::optional<ScopedDiagnosticHandler> remarks;
  if (options.report)
    remarks.emplace(module.getContext(), [](Diagnostic &diagnostic) {
      if (diagnostic.getSeverity() != DiagnosticSeverity::Remark)
        return failure();
      llvm::errs() << diagnostic.getLocation() << ": remark: " << diagnostic
                   << "\n";
      return success();
    });
  if (runs(Phase::Compress) && failed(guard(error)))
    return failure();
  // The target's warnings (kernels it lacks the instructions for) go to
  // stderr.
  ScopedDiagnosticHandler targetWarnings(module.getContext(), printWarning);
  return emit(error);
}

LogicalResult slm::compileModel(ModuleOp module, const CompileOptions &options,
                                StringRef outputPath, const CompileHooks &hooks,
                                std::string &error) {
  return Compilation(module, options, outputPath, hooks).run(error);
}
