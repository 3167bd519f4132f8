//===- Compiler.h - One entry that compiles a model -------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// compileModel runs the phases of a compilation (Import .. Emit, see
// slm/Pipelines/Options.h) on a model and writes the result. slmc is a thin
// driver around it; the Python package runs slmc; tests call it directly.
// What it needs from outside the compiler (running compiled models for
// calibration and the accuracy guard, progress, timing) comes in through
// CompileHooks, so that the library itself never links the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_PIPELINES_COMPILER_H
#define SLM_PIPELINES_COMPILER_H

#include "slm/Compression/Compression.h"
#include "slm/Pipelines/Options.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <memory>
#include <string>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class MLIRContext;
class PassManager;
class TimingScope;
namespace slm {

/// What compileModel needs from its caller.
struct CompileHooks {
  /// Opens a compiled model library for running: calibration and the
  /// accuracy guard need it (slm/Pipelines/RuntimeHooks.h gives the one
  /// backed by libslmrt). Without it, options that run the model fail with
  /// a message saying so.
  std::function<FailureOr<std::unique_ptr<RunnableModel>>(StringRef path,
                                                          std::string &error)>
      loadLibrary;
  /// Called when a phase has run, with its wall time in seconds.
  std::function<void(Phase phase, double seconds)> phaseDone;
  /// Where the raising report (--report) goes; null: stderr.
  llvm::raw_ostream *raiseReport = nullptr;
  /// Where the compression report and the guard's measurements go; null:
  /// stdout, or stderr when the output itself goes to stdout.
  llvm::raw_ostream *compressionReport = nullptr;
  /// Sets up each pass manager before it runs (slmc:
  /// applyPassManagerCLOptions, for --mlir-print-ir-after-all and friends).
  std::function<LogicalResult(PassManager &)> configurePassManager;
  /// --mlir-timing: the scope the phases nest their timers in.
  TimingScope *timing = nullptr;
};

/// Adds the dialects slm IR may use (slm and every upstream one) to
/// `registry`.
void registerCompilerDialects(DialectRegistry &registry);

/// Reads an ONNX model (.onnx) or slm IR (.mlir, or "-" for stdin). On
/// failure returns null with `error` set (the importer's and parser's
/// diagnostics have gone to the context's handler).
OwningOpRef<ModuleOp> readModel(MLIRContext &context, StringRef path,
                                std::string &error);

/// Runs the phases options.compileFrom .. options.compileTo on `module`
/// (modified in place) and writes the result to `outputPath` ("-":
/// stdout): IR when stopping before Emit or with --emit=mlir, else what
/// `options.emit` (or the output's extension) names. Checks the options
/// first (verifyOptions). A failure leaves no file at `outputPath`; the
/// message is in `error`.
LogicalResult compileModel(ModuleOp module, const CompileOptions &options,
                           StringRef outputPath, const CompileHooks &hooks,
                           std::string &error);

} // namespace slm
} // namespace mlir

#endif // SLM_PIPELINES_COMPILER_H
