//===- slmc.cpp - The slm compiler driver -----------------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// slmc binds the declared options to flags, reads the model, and calls
// compileModel (slm/Pipelines/Compiler.h), which does the rest. Exit status:
// 0 on success, 1 on any error (with a message on stderr, nothing written).
//
//===----------------------------------------------------------------------===//

#include "slm/Pipelines/CommandLine.h"
#include "slm/Pipelines/Compiler.h"
#include "slm/Pipelines/RuntimeHooks.h"
#include "slm/Support/Version.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class OptionsFormat { None, JSON, Markdown };

cl::OptionCategory &driver = slm::optionCategory(slm::OptionGroup::Driver);
cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model>"),
                                   cl::Optional, cl::cat(driver));
cl::opt<std::string>
    outputFilename("o", cl::desc("Output file ('-' for stdout, the default)"),
                   cl::value_desc("path"), cl::init("-"), cl::cat(driver));
cl::opt<bool> quiet("quiet",
                    cl::desc("No progress lines (they are printed only when "
                             "stderr is a terminal)"),
                    cl::init(false), cl::cat(driver));
cl::opt<OptionsFormat> describeOptions(
    "describe-options",
    cl::desc("Print every compile option and exit (the Python package reads "
             "the JSON; the README's table is the markdown)"),
    cl::init(OptionsFormat::None),
    cl::values(clEnumValN(OptionsFormat::JSON, "json", "a JSON list"),
               clEnumValN(OptionsFormat::Markdown, "markdown",
                          "the README's options table")),
    cl::cat(driver));
} // namespace

static int fail(const llvm::Twine &message) {
  llvm::errs() << "slmc: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  slm::registerMLIRCommandLineOptions();
  slm::CompileOptions options;
  slm::registerCompileCommandLineOptions(options);
  // libLLVM.so registers hundreds of back-end flags; --help shows ours and
  // the MLIR debugging ones (--mlir-print-ir-after-all, --mlir-timing, ...).
  static cl::OptionCategory debugCategory("MLIR debugging options");
  cl::HideUnrelatedOptions(slm::compileOptionCategories());
  for (auto &[name, option] : cl::getRegisteredOptions())
    if (name.starts_with("mlir-")) {
      option->setHiddenFlag(cl::NotHidden);
      option->addCategory(debugCategory);
    }
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "slmc (slm) " SLM_VERSION_STRING "\n";
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "slmc: the slm compiler for compressed transformer models\n\n"
      "  slmc model.onnx -o model.so\n"
      "  slmc model.onnx --report -o model.mlir\n\n"
      "Reads an ONNX model (opsets 7-23; external data from the model's\n"
      "folder) or slm IR and runs the phases import, raise (transformer "
      "ops),\ncompress (pruning, quantization), optimize (fusions), lower "
      "and emit:\nslm IR, LLVM IR, an object file or a shared library that "
      "the slm\nruntime loads (libslmrt, slm-run, the Python package).\n");

  if (describeOptions != OptionsFormat::None) {
    if (describeOptions == OptionsFormat::JSON)
      slm::printOptionsJSON(llvm::outs());
    else
      slm::printOptionsMarkdown(llvm::outs());
    return 0;
  }
  if (inputFilename.empty())
    return fail("no input model (see slmc --help)");
  if (std::optional<std::string> message = slm::verifyOptions(options))
    return fail(*message);

  DialectRegistry registry;
  slm::registerCompilerDialects(registry);
  MLIRContext context(registry);
  // --mlir-timing reports reading, each phase and each pass.
  DefaultTimingManager timing;
  applyDefaultTimingManagerCLOptions(timing);
  TimingScope rootTimer = timing.getRootScope();

  std::string error;
  OwningOpRef<ModuleOp> module;
  {
    TimingScope readTimer = rootTimer.nest("Read input");
    module = slm::readModel(context, inputFilename, error);
  }
  if (!module)
    return fail(error);

  slm::CompileHooks hooks;
  hooks.loadLibrary = slm::loadModelWithRuntime;
  hooks.configurePassManager = slm::applyMLIRCommandLineOptions;
  hooks.timing = &rootTimer;
  // A progress line per phase on long compiles, for a person watching.
  if (!quiet && llvm::sys::Process::StandardErrIsDisplayed())
    hooks.phaseDone = [](slm::Phase phase, double seconds) {
      llvm::errs() << llvm::format("slmc: %-8s %6.2f s\n",
                                   slm::stringifyPhase(phase).str().c_str(),
                                   seconds);
    };
  if (failed(slm::compileModel(*module, options, outputFilename, hooks, error)))
    return fail(error);
  return 0;
}
