//===- slmc.cpp - The slm compiler driver -----------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// slmc reads a model, runs the slm pipeline and writes the result. Today it
// reads slm IR (.mlir) and writes optimized IR; the ONNX importer and code
// generation fill in the other ends of the same driver.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMDialect.h"
#include "slm/Import/ONNX/ImportONNX.h"
#include "slm/Pipelines/Pipelines.h"
#include "slm/Transforms/Raise.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitKind { MLIR };

cl::OptionCategory category("slmc options");

cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model>"),
                                   cl::Required, cl::cat(category));

cl::opt<std::string> outputFilename(
    "o", cl::desc("Output file ('-' for stdout, the default)"),
    cl::value_desc("path"), cl::init("-"), cl::cat(category));

cl::opt<EmitKind> emitKind(
    "emit", cl::desc("What to write"), cl::init(EmitKind::MLIR),
    cl::values(clEnumValN(EmitKind::MLIR, "mlir",
                          "slm IR after graph optimization")),
    cl::cat(category));

cl::opt<bool> raise(
    "raise",
    cl::desc("Raise imported graphs to transformer ops (linear, layer norm, "
             "GELU, attention) before optimizing (default on)"),
    cl::init(true), cl::cat(category));

cl::opt<bool> report(
    "report",
    cl::desc("Print to stderr what raising produced and, for every candidate "
             "left as it was, why"),
    cl::init(false), cl::cat(category));

cl::opt<bool> fuseLinearActivation(
    "fuse-linear-activation",
    cl::desc("Fold GELU/ReLU into the preceding linear layer's epilogue "
             "(default on; --fuse-linear-activation=false to measure it)"),
    cl::init(true), cl::cat(category));
} // namespace

static LogicalResult fail(const llvm::Twine &message) {
  llvm::errs() << "slmc: error: " << message << "\n";
  return failure();
}

static LogicalResult run(MLIRContext &context) {
  // --mlir-timing reports import, each pass and printing.
  DefaultTimingManager timing;
  applyDefaultTimingManagerCLOptions(timing);
  TimingScope rootTimer = timing.getRootScope();

  StringRef extension = llvm::sys::path::extension(inputFilename);
  OwningOpRef<ModuleOp> module;
  TimingScope readTimer = rootTimer.nest("Read input");
  if (extension == ".onnx") {
    module = slm::importONNXFile(context, inputFilename);
    if (!module)
      return fail("could not import '" + inputFilename + "'");
  } else if (extension == ".mlir" || inputFilename == "-") {
    std::string errorMessage;
    std::unique_ptr<llvm::MemoryBuffer> input =
        openInputFile(inputFilename, &errorMessage);
    if (!input)
      return fail(errorMessage);
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
    SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
    if (!module)
      return fail("could not parse '" + inputFilename + "'");
  } else {
    return fail("'" + inputFilename +
                "': unknown input kind; expected an ONNX model (.onnx) or "
                "slm IR (.mlir)");
  }

  readTimer.stop();

  // Raising first, so that the report sees its result before fusions
  // change it.
  if (raise) {
    PassManager raisePm(&context, ModuleOp::getOperationName());
    if (failed(applyPassManagerCLOptions(raisePm)))
      return fail("bad pass manager options");
    TimingScope raiseTimer = rootTimer.nest("Raise");
    raisePm.enableTiming(raiseTimer);
    slm::buildSLMRaisePipeline(raisePm);
    if (failed(raisePm.run(*module)))
      return fail("raising '" + inputFilename + "' failed");
  }
  if (report)
    slm::printRaiseReport(*module, llvm::errs());

  slm::CompileOptions options;
  options.raise = false;
  options.fuseLinearActivation = fuseLinearActivation;
  PassManager pm(&context, ModuleOp::getOperationName());
  if (failed(applyPassManagerCLOptions(pm)))
    return fail("bad pass manager options");
  TimingScope optimizeTimer = rootTimer.nest("Optimize");
  pm.enableTiming(optimizeTimer);
  slm::buildSLMOptimizationPipeline(pm, options);
  if (failed(pm.run(*module)))
    return fail("optimization of '" + inputFilename + "' failed");

  // Written to a temporary and renamed into place on success: a failure never
  // leaves a partial output behind.
  TimingScope writeTimer = rootTimer.nest("Write output");
  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &errorMessage);
  if (!output)
    return fail(errorMessage);
  module->print(output->os());
  output->os() << "\n";
  if (output->os().has_error())
    return fail("could not write '" + outputFilename + "'");
  output->keep();
  return success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  // libLLVM.so registers hundreds of back-end flags; --help shows ours and
  // the MLIR debugging ones (--mlir-print-ir-after-all, --mlir-timing, ...).
  static cl::OptionCategory debugCategory("MLIR debugging options");
  cl::HideUnrelatedOptions({&category});
  for (auto &[name, option] : cl::getRegisteredOptions())
    if (name.starts_with("mlir-")) {
      option->setHiddenFlag(cl::NotHidden);
      option->addCategory(debugCategory);
    }
  cl::ParseCommandLineOptions(
      argc, argv,
      "slmc: the slm compiler for compressed transformer models\n\n"
      "  slmc model.onnx --emit=mlir --report -o model.mlir\n\n"
      "Reads an ONNX model (opsets 13-21; external data from the model's\n"
      "folder) or slm IR, raises the graph to transformer ops (linear, layer\n"
      "norm, GELU, attention), runs the graph optimization pipeline\n"
      "(canonicalization and fusions) and writes slm IR. Compression flags and\n"
      "code generation to a shared library arrive in later releases.\n");

  DialectRegistry registry;
  registry.insert<slm::SLMDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, tensor::TensorDialect>();
  MLIRContext context(registry);
  return failed(run(context)) ? 1 : 0;
}
