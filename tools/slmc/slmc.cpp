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

#include "slm/Compression/Compression.h"
#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMDialect.h"
#include "slm/Import/ONNX/ImportONNX.h"
#include "slm/Pipelines/Pipelines.h"
#include "slm/Conversion/Passes.h"
#include "slm/Target/CPU.h"
#include "slm/Transforms/Passes.h"
#include "slm/Transforms/ModelStructure.h"
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
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
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

cl::OptionCategory compression(
    "slmc compression options",
    "Structured pruning without retraining. Activation-aware methods, layer\n"
    "pruning and the accuracy guard need calibration samples: a folder with\n"
    "one file per model input (NAME.npy or NAME.pb, an ONNX TensorProto;\n"
    "or input_K.npy / input_K.pb), or one sub-folder per sample. Use\n"
    "unpadded samples: padding rows would count as tokens.");

cl::opt<double> pruneHeads(
    "prune-heads",
    cl::desc("Share of attention heads to remove, in [0, 1) (default 0)"),
    cl::value_desc("ratio"), cl::init(0.0), cl::cat(compression));

cl::opt<double> pruneFFN(
    "prune-ffn",
    cl::desc("Share of feed-forward neurons to remove, in [0, 1) (default "
             "0); kept counts round to multiples of 32"),
    cl::value_desc("ratio"), cl::init(0.0), cl::cat(compression));

cl::opt<int64_t> pruneLayers(
    "prune-layers",
    cl::desc("Number of transformer blocks to drop, those that change the "
             "residual stream least on the calibration data (default 0)"),
    cl::value_desc("count"), cl::init(0), cl::cat(compression));

cl::opt<std::string> pruneMethod(
    "prune-method",
    cl::desc("Importance of heads and neurons: magnitude (weights only), "
             "wanda (|W| x input RMS) or flap (input variance x column "
             "norm, with bias compensation). Default: flap with "
             "--calibration, magnitude without"),
    cl::value_desc("method"), cl::init(""), cl::cat(compression));

cl::opt<std::string> pruneAllocation(
    "prune-allocation",
    cl::desc("uniform: the same share in every layer (default); global: one "
             "budget over all layers, where standardized scores are lowest"),
    cl::value_desc("kind"), cl::init("uniform"), cl::cat(compression));

cl::opt<std::string> quantize(
    "quantize",
    cl::desc("Quantize every linear layer (after pruning when both are "
             "given). int8: int8 weights, one scale per output channel, "
             "decoded inside the GEMM kernels. w8a8: int8 weights and inputs "
             "quantized to uint8 per token as the model runs; products on "
             "integers (AVX-512 VNNI). int4, nf4: 4-bit weights in groups of "
             "--quant-group-size input features with a scale each (int4: "
             "symmetric, or with zero points by --quant-symmetric=false; nf4: "
             "QLoRA's NormalFloat levels), decoded inside the GEMM kernels"),
    cl::value_desc("int8|w8a8|int4|nf4"), cl::init(""), cl::cat(compression));

cl::opt<int64_t> quantGroupSize(
    "quant-group-size",
    cl::desc("Input features per scale for --quantize=int4|nf4 (default 128; "
             "0: one scale per output channel)"),
    cl::init(128), cl::cat(compression));

cl::opt<std::string> quantMethod(
    "quant-method",
    cl::desc("How --quantize=int4|nf4 chooses codes: rtn (default: round to "
             "nearest, each group's scale picked among clipped ranges) or "
             "gptq (GPTQ error feedback through each layer's calibrated "
             "input covariance; needs --calibration)"),
    cl::value_desc("rtn|gptq"), cl::init("rtn"), cl::cat(compression));

cl::opt<bool> quantSymmetric(
    "quant-symmetric",
    cl::desc("int4 codes symmetric around 0 (default); false adds a zero "
             "point per group"),
    cl::init(true), cl::cat(compression));

cl::opt<std::string> w8a8Activations(
    "w8a8-activations",
    cl::desc("How --quantize=w8a8 quantizes layer inputs: per-token "
             "(default: each row's own range as the model runs), minmax or "
             "percentile (one fixed scale per layer from the calibrated "
             "range, or its 0.01%/99.99% quantiles; needs --calibration)"),
    cl::value_desc("scheme"), cl::init("per-token"), cl::cat(compression));

cl::opt<double> w8a8MaxNoise(
    "w8a8-max-noise",
    cl::desc("With --quantize=w8a8 and --calibration: layers whose measured "
             "input statistics predict quantization noise above this share "
             "of the input's RMS keep f32 inputs (default 0: quantize all)"),
    cl::init(0.0), cl::cat(compression));

cl::opt<bool> pruneReconstruct(
    "prune-reconstruct",
    cl::desc("Refit each pruned layer's output/down projection on the kept "
             "channels by least squares over the calibration data (needs "
             "--calibration; default off)"),
    cl::init(false), cl::cat(compression));

cl::opt<std::string> calibrationDir(
    "calibration",
    cl::desc("Folder of calibration samples (see above)"),
    cl::value_desc("dir"), cl::init(""), cl::cat(compression));

cl::opt<double> maxError(
    "max-error",
    cl::desc("Fail, writing nothing, when an output of the compressed "
             "model differs from the uncompressed one on the calibration "
             "samples by more than this relative L2 error "
             "(||y - y_ref|| / ||y_ref||); needs --calibration"),
    cl::value_desc("x"), cl::init(-1.0), cl::cat(compression));

cl::opt<std::string> compressionReport(
    "compression-report",
    cl::desc("Write the compression report as JSON to this file, and a "
             "chart of what each layer kept next to it (.svg)"),
    cl::value_desc("path"), cl::init(""), cl::cat(compression));
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

  if (weightPanel < 0 || (weightPanel > 0 && weightPanel % 16 != 0))
    return fail("--weight-panel must be 0 or a multiple of 16, not " +
                llvm::Twine(weightPanel));
  slm::CPUTargetOptions target;
  target.cpu = targetCPU;
  target.weightPanel = weightPanel;
  target.gemmKernels = gemmKernels;
  target.reportKernels = report;

  // Compression: calibrate, prune, report.
  const bool pruning = pruneHeads > 0 || pruneFFN > 0 || pruneLayers > 0;
  if (!quantize.empty() && quantize != "int8" && quantize != "w8a8" &&
      quantize != "int4" && quantize != "nf4")
    return fail("unknown --quantize=" + quantize +
                " (expected int8, w8a8, int4 or nf4)");
  if (quantGroupSize < 0 || quantGroupSize % 2 != 0)
    return fail("--quant-group-size must be 0 (per channel) or a positive "
                "even number");
  if (w8a8MaxNoise < 0)
    return fail("--w8a8-max-noise must be >= 0");
  if (quantMethod != "rtn" && quantMethod != "gptq")
    return fail("unknown --quant-method=" + quantMethod +
                " (expected rtn or gptq)");
  const bool gptq = quantMethod == "gptq";
  if (gptq && ((quantize != "int4" && quantize != "nf4") ||
               calibrationDir.empty()))
    return fail("--quant-method=gptq fits each layer on calibration samples: "
                "it needs --quantize=int4|nf4 and --calibration DIR");
  if (w8a8Activations != "per-token" && w8a8Activations != "minmax" &&
      w8a8Activations != "percentile")
    return fail("unknown --w8a8-activations=" + w8a8Activations +
                " (expected per-token, minmax or percentile)");
  const bool staticActivations = w8a8Activations != "per-token";
  if (staticActivations && (quantize != "w8a8" || calibrationDir.empty()))
    return fail("--w8a8-activations=" + w8a8Activations +
                " takes each layer's input range from calibration: it needs "
                "--quantize=w8a8 and --calibration DIR");
  if (w8a8MaxNoise > 0 && (quantize != "w8a8" || calibrationDir.empty()))
    return fail("--w8a8-max-noise measures layers on calibration samples: "
                "it needs --quantize=w8a8 and --calibration DIR");
  if (!quantize.empty() && weightPanel == 0)
    return fail("--quantize decodes weights inside the packed GEMM kernels: "
                "it needs --weight-panel > 0");
  const bool guard = maxError >= 0;
  std::string method = pruneMethod;
  if (method.empty())
    method = calibrationDir.empty() ? "magnitude" : "flap";
  if (method != "magnitude" && method != "wanda" && method != "flap")
    return fail("unknown --prune-method '" + method +
                "' (expected magnitude, wanda or flap)");
  if (pruneAllocation != "uniform" && pruneAllocation != "global")
    return fail("unknown --prune-allocation '" + pruneAllocation +
                "' (expected uniform or global)");
  if (!calibrationDir.empty() && !raise)
    return fail("--calibration needs raised IR (drop --raise=false)");
  if (guard && calibrationDir.empty())
    return fail("--max-error needs calibration samples: give --calibration "
                "DIR");
  if (pruneReconstruct && calibrationDir.empty())
    return fail("--prune-reconstruct fits on calibration samples: give "
                "--calibration DIR");
  if (pruneLayers > 0 && calibrationDir.empty())
    return fail("--prune-layers measures each block on calibration samples: "
                "give --calibration DIR");
  if (method != "magnitude" && (pruneHeads > 0 || pruneFFN > 0) &&
      calibrationDir.empty())
    return fail("--prune-method=" + method +
                " is activation-aware: give --calibration DIR, or use "
                "--prune-method=magnitude");
  std::optional<slm::ReferenceOutputs> reference;
  slm::ModelShape shapeBefore;
  const bool compressing = pruning || !quantize.empty();
  if (compressing || guard) {
    // GPT-2's fused Q/K/V as three projections: prunable, and measured
    // by calibration like any other attention.
    if (pruneHeads > 0)
      slm::splitFusedProjections(*module);
    slm::tagLayers(*module);
    shapeBefore = slm::describeModelShape(*module);
  }
  // 4-bit weights with calibration samples: every layer's input statistics
  // weigh its rounding error (activation-aware scales).
  const bool fourBitAware =
      (quantize == "int4" || quantize == "nf4") && !calibrationDir.empty();
  const bool measureLinears =
      staticActivations || w8a8MaxNoise > 0 || fourBitAware;
  if (!calibrationDir.empty() && (pruning || guard || measureLinears)) {
    TimingScope calibrationTimer = rootTimer.nest("Calibrate");
    std::string error;
    FailureOr<slm::ReferenceOutputs> measured =
        slm::calibrate(*module, calibrationDir, options, target,
                       /*covariance=*/pruneReconstruct || gptq,
                       /*allLinears=*/measureLinears, error);
    if (failed(measured))
      return fail("calibration: " + error);
    reference = std::move(*measured);
  }
  if (pruning) {
    PassManager prunePm(&context, ModuleOp::getOperationName());
    if (failed(applyPassManagerCLOptions(prunePm)))
      return fail("bad pass manager options");
    TimingScope pruneTimer = rootTimer.nest("Prune");
    prunePm.enableTiming(pruneTimer);
    if (pruneLayers > 0) {
      slm::SLMPruneLayersOptions layers;
      layers.count = pruneLayers;
      prunePm.addPass(slm::createSLMPruneLayers(layers));
    }
    // Heads and FFN neurons share the scoring options.
    auto scoring = [&](auto options, double ratio) {
      options.ratio = ratio;
      options.method_ = method;
      options.allocation = pruneAllocation;
      options.reconstructWeights = pruneReconstruct;
      return options;
    };
    if (pruneHeads > 0)
      prunePm.addPass(slm::createSLMPruneHeads(
          scoring(slm::SLMPruneHeadsOptions(), pruneHeads)));
    if (pruneFFN > 0)
      prunePm.addPass(slm::createSLMPruneFFN(
          scoring(slm::SLMPruneFFNOptions(), pruneFFN)));
    if (failed(prunePm.run(*module)))
      return fail("pruning '" + inputFilename + "' failed");
    slm::releaseDeadWeights(*module);
  }
  if (!quantize.empty()) {
    PassManager quantizePm(&context, ModuleOp::getOperationName());
    if (failed(applyPassManagerCLOptions(quantizePm)))
      return fail("bad pass manager options");
    slm::SLMQuantizeWeightsOptions q;
    const bool fourBit = quantize == "int4" || quantize == "nf4";
    q.kind = fourBit ? quantize.getValue() : std::string("int8");
    if (fourBit) {
      q.groupSize = quantGroupSize;
      q.symmetric = quantize == "nf4" || quantSymmetric;
      q.method = quantMethod;
    }
    quantizePm.addPass(slm::createSLMQuantizeWeights(q));
    if (quantize == "w8a8") {
      slm::SLMQuantizeActivationsOptions a;
      a.maxNoise = w8a8MaxNoise;
      a.scheme = w8a8Activations;
      quantizePm.addPass(slm::createSLMQuantizeActivations(a));
    }
    if (failed(quantizePm.run(*module)))
      return fail("quantizing '" + inputFilename + "' failed");
    slm::releaseDeadWeights(*module);
  }
  slm::ModelShape shapeAfter;
  if (compressing || guard)
    shapeAfter = slm::describeModelShape(*module);
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
  // --report: the code generator's remarks (matrix products left to plain
  // loops) go to stderr; other diagnostics take their usual way.
  std::optional<ScopedDiagnosticHandler> remarks;
  if (report)
    remarks.emplace(module->getContext(), [](Diagnostic &diagnostic) {
      if (diagnostic.getSeverity() != DiagnosticSeverity::Remark)
        return failure();
      llvm::errs() << diagnostic.getLocation() << ": remark: " << diagnostic
                   << "\n";
      return success();
    });

  // The compression report goes to stdout unless the output does.
  llvm::raw_ostream &reportStream =
      outputFilename == "-" ? llvm::errs() : llvm::outs();
  if (compressing)
    slm::printCompressionReport(shapeBefore, shapeAfter, reportStream);
  std::vector<slm::OutputError> outputErrors;
  // The accuracy guard compiles the compressed model (for a library
  // output, the library itself, under a temporary name), runs it on the
  // calibration samples and compares with the uncompressed outputs.
  llvm::SmallString<256> guardedLibrary;
  std::optional<llvm::FileRemover> removeGuarded;
  if (reference) {
    OwningOpRef<ModuleOp> copy;
    ModuleOp compiled = *module;
    std::optional<slm::WeightsInUse> keep;
    if (emit != EmitKind::SharedLibrary) {
      keep.emplace(*module);
      copy = cast<ModuleOp>((*module)->clone());
      compiled = *copy;
    }
    llvm::SmallString<256> model(outputFilename == "-" ? "slmc-guard"
                                                       : outputFilename.c_str());
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(
            model + ".%%%%%%.guard.so", guardedLibrary))
      return fail("cannot create a file next to '" + model + "': " +
                  ec.message());
    removeGuarded.emplace(guardedLibrary);
    {
      TimingScope guardTimer = writeTimer.nest("Accuracy guard");
      if (failed(slm::compileSharedLibrary(compiled, guardedLibrary, target)))
        return fail("compiling '" + inputFilename + "' failed");
      std::string error;
      FailureOr<std::vector<slm::OutputError>> errors =
          slm::measureOutputError(guardedLibrary, *reference, error);
      if (failed(errors))
        return fail("accuracy guard: " + error);
      outputErrors = std::move(*errors);
    }
    reportStream << "output error on " << reference->samples.size()
                 << " calibration sample(s):\n";
    for (const slm::OutputError &e : outputErrors)
      reportStream << llvm::format(
          "  %-16s relative L2 %.5f  max abs %.5g  mean cosine %.5f\n",
          e.name.c_str(), e.relative, e.maxAbs, e.cosine);
  }
  if (!compressionReport.empty() && (compressing || guard)) {
    std::string error;
    if (failed(slm::writeCompressionReport(shapeBefore, shapeAfter,
                                           outputErrors, compressionReport,
                                           error)))
      return fail(error);
  }
  if (guard)
    for (const slm::OutputError &e : outputErrors)
      if (e.relative > maxError)
        return fail(llvm::formatv("output '{0}' of the compressed model is "
                                  "off by {1:f5} (relative L2) on the "
                                  "calibration samples, more than "
                                  "--max-error={2}; nothing written",
                                  e.name, e.relative, maxError.getValue())
                        .str());
  if (reference && emit == EmitKind::SharedLibrary) {
    if (std::error_code ec =
            llvm::sys::fs::rename(guardedLibrary, outputFilename))
      return fail("cannot write '" + outputFilename + "': " + ec.message());
    return success();
  }

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
  if (emit == EmitKind::SharedLibrary) {
    if (failed(slm::compileSharedLibrary(*module, outputFilename, target)))
      return fail("compiling '" + inputFilename + "' failed");
    return success();
  }
  FailureOr<std::string> metadata = slm::describeModelInterface(*module);
  if (failed(metadata))
    return fail("'" + inputFilename + "' cannot be compiled");
  {
    TimingScope lowerTimer = writeTimer.nest("Lower to LLVM dialect");
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
  // An object file: written next to its destination and renamed into
  // place, so a failure leaves nothing behind.
  auto temporary = [&](StringRef suffix,
                       llvm::SmallString<256> &path) -> LogicalResult {
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(
            outputFilename + ".%%%%%%" + suffix, path))
      return fail("cannot create a file next to '" + outputFilename +
                  "': " + ec.message());
    return success();
  };
  llvm::SmallString<256> objectPath, supportPath, mergedPath;
  if (failed(temporary(".o", objectPath)) ||
      failed(temporary(".support.o", supportPath)) ||
      failed(temporary(".merged.o", mergedPath)))
    return failure();
  llvm::FileRemover removeObject(objectPath), removeSupport(supportPath),
      removeMerged(mergedPath);
  {
    TimingScope codegenTimer = writeTimer.nest("LLVM code generation");
    if (failed(slm::emitObjectFile(*module, *metadata, objectPath, target)))
      return fail("code generation failed");
  }
  // Every model carries its support code (the buffer allocator).
  if (failed(slm::emitSupportObject(supportPath, module->getLoc())))
    return fail("code generation failed");
  std::vector<std::string> objects = {std::string(objectPath),
                                      std::string(supportPath)};
  if (failed(slm::mergeObjects(objects, mergedPath, module->getLoc())))
    return fail("code generation failed");
  if (std::error_code ec = llvm::sys::fs::rename(mergedPath, outputFilename))
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
  cl::HideUnrelatedOptions({&category, &compression});
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
