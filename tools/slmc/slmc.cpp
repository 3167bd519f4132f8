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

#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMDialect.h"
#include "slm/Import/ONNX/ImportONNX.h"
#include "slm/Pipelines/Pipelines.h"
#include "slm/Conversion/Passes.h"
#include "slm/Target/CPU.h"
#include "slm/Transforms/Passes.h"
#include "slm/Transforms/Raise.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitKind { Auto, MLIR, LLVM, Object, SharedLibrary };

cl::OptionCategory category("slmc options");

cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model>"),
                                   cl::Required, cl::cat(category));

cl::opt<std::string> outputFilename(
    "o", cl::desc("Output file ('-' for stdout, the default)"),
    cl::value_desc("path"), cl::init("-"), cl::cat(category));

cl::opt<EmitKind> emitKind(
    "emit",
    cl::desc("What to write (default: from the -o extension: .so, .o, .ll, "
             "else mlir)"),
    cl::init(EmitKind::Auto),
    cl::values(
        clEnumValN(EmitKind::MLIR, "mlir", "slm IR after graph optimization"),
        clEnumValN(EmitKind::LLVM, "llvm", "optimized LLVM IR"),
        clEnumValN(EmitKind::Object, "obj", "an object file"),
        clEnumValN(EmitKind::SharedLibrary, "so",
                   "a shared library for the slm runtime")),
    cl::cat(category));

cl::opt<std::string> targetCPU(
    "mcpu",
    cl::desc("CPU to generate code for (an LLVM CPU name such as znver4 or "
             "skylake-avx512; default: this machine)"),
    cl::value_desc("name"), cl::init("native"), cl::cat(category));

cl::opt<bool> raise(
    "raise",
    cl::desc("Raise imported graphs to transformer ops (linear, layer norm, "
             "GELU, attention) before optimizing (default on)"),
    cl::init(true), cl::cat(category));

cl::opt<bool> report(
    "report",
    cl::desc("Print to stderr what raising produced and, for every candidate "
             "left as it was, why; when compiling, also every matrix product "
             "left to plain loops instead of a GEMM kernel, and why"),
    cl::init(false), cl::cat(category));

cl::opt<bool> fuseLinearActivation(
    "fuse-linear-activation",
    cl::desc("Fold GELU/ReLU into the preceding linear layer's epilogue "
             "(default on; --fuse-linear-activation=false to measure it)"),
    cl::init(true), cl::cat(category));

cl::opt<bool> mergeLinears(
    "merge-linears",
    cl::desc("Merge linear layers that read the same input (attention's "
             "Q, K, V) into one GEMM (default off: no measured gain yet, "
             "the head split copies the slices)"),
    cl::init(false), cl::cat(category));

cl::opt<bool> gemmKernels(
    "gemm-kernels",
    cl::desc("Compile matrix products to register-blocked AVX-512 GEMM "
             "kernels (default on; --gemm-kernels=false gives plain loops, "
             "to measure what the kernels buy)"),
    cl::init(true), cl::cat(category));

cl::opt<int64_t> weightPanel(
    "weight-panel",
    cl::desc("Pack linear-layer weights into column panels of this many "
             "columns for the GEMM kernels (default 32; 0 keeps them "
             "[out, in])"),
    cl::init(32), cl::cat(category));
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
    // Weights transposed into slm.linear's layout: the originals can go.
    slm::releaseDeadWeights(*module);
  }
  if (report)
    slm::printRaiseReport(*module, llvm::errs());

  slm::CompileOptions options;
  options.raise = false;
  options.fuseLinearActivation = fuseLinearActivation;
  options.mergeLinears = mergeLinears;
  PassManager pm(&context, ModuleOp::getOperationName());
  if (failed(applyPassManagerCLOptions(pm)))
    return fail("bad pass manager options");
  TimingScope optimizeTimer = rootTimer.nest("Optimize");
  pm.enableTiming(optimizeTimer);
  slm::buildSLMOptimizationPipeline(pm, options);
  if (failed(pm.run(*module)))
    return fail("optimization of '" + inputFilename + "' failed");
  optimizeTimer.stop();

  // Written to a temporary and renamed into place on success: a failure never
  // leaves a partial output behind.
  EmitKind emit = emitKind;
  if (emit == EmitKind::Auto) {
    StringRef ext = llvm::sys::path::extension(outputFilename);
    emit = ext == ".so"   ? EmitKind::SharedLibrary
           : ext == ".o"  ? EmitKind::Object
           : ext == ".ll" ? EmitKind::LLVM
                          : EmitKind::MLIR;
  }
  if ((emit == EmitKind::Object || emit == EmitKind::SharedLibrary) &&
      outputFilename == "-")
    return fail("binary output needs a file: give -o <path>");

  TimingScope writeTimer = rootTimer.nest("Write output");
  std::string errorMessage;
  if (emit == EmitKind::MLIR) {
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

  // Code generation.
  if (weightPanel < 0 || (weightPanel > 0 && weightPanel % 16 != 0))
    return fail("--weight-panel must be 0 or a multiple of 16, not " +
                llvm::Twine(weightPanel));
  slm::CPUTargetOptions target;
  target.cpu = targetCPU;
  target.weightPanel = weightPanel;
  target.gemmKernels = gemmKernels;
  target.reportKernels = report;
  FailureOr<std::string> metadata = slm::describeModelInterface(*module);
  if (failed(metadata))
    return fail("'" + inputFilename + "' cannot be compiled");
  {
    TimingScope lowerTimer = writeTimer.nest("Lower to LLVM dialect");
    // --report: the code generator's remarks (matrix products left to
    // plain loops) go to stderr; other diagnostics take their usual way.
    std::optional<ScopedDiagnosticHandler> remarks;
    if (report)
      remarks.emplace(module->getContext(), [](Diagnostic &diagnostic) {
        if (diagnostic.getSeverity() != DiagnosticSeverity::Remark)
          return failure();
        llvm::errs() << diagnostic.getLocation() << ": remark: " << diagnostic
                     << "\n";
        return success();
      });
    if (failed(slm::lowerToLLVMDialect(*module, target)))
      return fail("lowering '" + inputFilename + "' failed");
  }
  if (emit == EmitKind::LLVM) {
    FailureOr<std::string> ir = slm::emitLLVMIR(*module, *metadata, target);
    if (failed(ir))
      return fail("code generation failed");
    std::unique_ptr<llvm::ToolOutputFile> output =
        openOutputFile(outputFilename, &errorMessage);
    if (!output)
      return fail(errorMessage);
    output->os() << *ir;
    output->keep();
    return success();
  }
  // Object and library files are written next to their destination and
  // renamed into place, so a failure leaves nothing behind.
  auto temporary = [&](StringRef suffix,
                       llvm::SmallString<256> &path) -> LogicalResult {
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(
            outputFilename + ".%%%%%%" + suffix, path))
      return fail("cannot create a file next to '" + outputFilename +
                  "': " + ec.message());
    return success();
  };
  llvm::SmallString<256> objectPath, weightsPath, weightsObjectPath;
  if (failed(temporary(".o", objectPath)))
    return failure();
  llvm::FileRemover removeObject(objectPath);
  // A shared library keeps large weights out of LLVM: they go to a side
  // file that the assembler embeds (.incbin) in a read-only section.
  std::vector<slm::ExternalWeight> weights;
  std::optional<llvm::FileRemover> removeWeights, removeWeightsObject;
  if (emit == EmitKind::SharedLibrary) {
    if (failed(temporary(".weights", weightsPath)) ||
        failed(temporary(".weights.o", weightsObjectPath)))
      return failure();
    removeWeights.emplace(weightsPath);
    removeWeightsObject.emplace(weightsObjectPath);
    FailureOr<std::vector<slm::ExternalWeight>> moved =
        slm::externalizeWeights(*module, weightsPath);
    if (failed(moved))
      return fail("code generation failed");
    weights = std::move(*moved);
  }
  {
    TimingScope codegenTimer = writeTimer.nest("LLVM code generation");
    if (failed(slm::emitObjectFile(*module, *metadata, objectPath, target)))
      return fail("code generation failed");
  }
  // Every model carries its support code (the buffer allocator).
  llvm::SmallString<256> supportPath;
  if (failed(temporary(".support.o", supportPath)))
    return failure();
  llvm::FileRemover removeSupport(supportPath);
  if (failed(slm::emitSupportObject(supportPath, module->getLoc())))
    return fail("code generation failed");
  std::vector<std::string> objects = {std::string(objectPath),
                                      std::string(supportPath)};
  if (emit == EmitKind::Object) {
    llvm::SmallString<256> mergedPath(outputFilename);
    mergedPath += ".tmp.o";
    llvm::FileRemover removeMerged(mergedPath);
    if (failed(slm::mergeObjects(objects, mergedPath, module->getLoc())))
      return fail("code generation failed");
    if (std::error_code ec = llvm::sys::fs::rename(mergedPath, outputFilename))
      return fail("cannot write '" + outputFilename + "': " + ec.message());
    return success();
  }
  if (!weights.empty()) {
    TimingScope weightsTimer = writeTimer.nest("Embed weights");
    if (failed(slm::emitWeightsObject(weights, weightsPath, weightsObjectPath,
                                      module->getLoc())))
      return fail("code generation failed");
    objects.push_back(std::string(weightsObjectPath));
  }
  llvm::SmallString<256> libraryPath(outputFilename);
  libraryPath += ".tmp.so";
  llvm::FileRemover removeLibrary(libraryPath);
  {
    TimingScope linkTimer = writeTimer.nest("Link");
    if (failed(slm::linkSharedLibrary(objects, libraryPath, module->getLoc())))
      return fail("linking '" + outputFilename + "' failed");
  }
  if (std::error_code ec = llvm::sys::fs::rename(libraryPath, outputFilename))
    return fail("cannot write '" + outputFilename + "': " + ec.message());
  return success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  // The lowering pipeline is parsed from pass names.
  registerAllPasses();
  slm::registerSLMTransformsPasses();
  slm::registerSLMConversionPasses();
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
      "  slmc model.onnx --report -o model.mlir\n\n"
      "Reads an ONNX model (opsets 13-21; external data from the model's\n"
      "folder) or slm IR, raises the graph to transformer ops (linear, layer\n"
      "norm, GELU, attention), runs the graph optimization pipeline\n"
      "(canonicalization and fusions) and writes slm IR, LLVM IR, an object\n"
      "file or a shared library that the slm runtime loads (libslmrt,\n"
      "slm-run, the Python package).\n\n"
      "  slmc model.onnx -o model.so\n");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<slm::SLMDialect>();
  MLIRContext context(registry);
  return failed(run(context)) ? 1 : 0;
}
