//===- CPUTarget.cpp - Code generation for CPUs -----------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Passes.h"
#include "slm/Conversion/Passes.h"
#include "slm/IR/SLMConstants.h"
#include "slm/Runtime/slm_model_abi.h"
#include "slm/Target/CPU.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;

static constexpr StringLiteral kEntryName = "main";
/// The entry's name in the object file: "main" would read as a program's.
static constexpr StringLiteral kLoweredEntryName = "slm_model_main";

/// Whether the CPU that `options` targets has `feature` ("avx512vnni").
static bool targetHasFeature(const slm::CPUOptions &options,
                             StringRef feature) {
  if (options.cpu.empty() || options.cpu == "native") {
    llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
    auto it = host.find(feature);
    return it != host.end() && it->second;
  }
  llvm::InitializeNativeTarget();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return false;
  std::unique_ptr<llvm::MCSubtargetInfo> info(
      target->createMCSubtargetInfo(triple, options.cpu, ""));
  return info && info->checkFeatures(("+" + feature).str());
}

void slm::buildCPULoweringPipeline(OpPassManager &pm, const CPUOptions &options,
                                   bool reportKernels) {
  // Each step is named by the flag that runs it alone in slm-opt.
  // The entry's ABI name and C interface (what slm_model_run calls).
  SLMPrepareModelEntryOptions entry;
  entry.entry = kEntryName.str();
  entry.loweredName = kLoweredEntryName.str();
  pm.addPass(createSLMPrepareModelEntry(entry));
  // slm IR -> linalg on tensors; attention as one kernel (or decomposed,
  // the reference).
  if (options.fusedAttention)
    pm.addPass(createSLMFuseAttention());
  pm.addPass(createSLMDecomposeTransformerOps());
  ConvertSLMToLinalgOptions toLinalg;
  toLinalg.packWeights = options.weightPanel;
  pm.addPass(createConvertSLMToLinalg(toLinalg));
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createSLMFuseElementwise());
  // Tensors -> buffers.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  // Loops on tensors (ONNX Loop, Scan, recurrent ops) yield new buffers.
  bufferize.allowReturnAllocsFromLoops = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::buildBufferDeallocationPipeline(pm);
  // The clones deallocation leaves (around branches and loops, a returned
  // view of a buffer the function does not own) -> alloc + copy.
  pm.addPass(createConvertBufferizationToMemRefPass());
  // Run-time checks (cf.assert) -> failures the entry reports (after the
  // deallocation pipeline, which refuses the atomic store they become).
  SLMLowerRunTimeChecksOptions checks;
  checks.entry = kLoweredEntryName.str();
  pm.addPass(createSLMLowerRunTimeChecks(checks));
  pm.addPass(createSLMLowerMemRefCopy());
  pm.addPass(createCanonicalizerPass());
  // Fused attentions -> their kernels.
  pm.addPass(createSLMLowerFusedAttention());
  // Contractions -> register-blocked kernels.
  if (options.gemmKernels) {
    SLMVectorizeContractionsOptions kernels;
    kernels.report = reportKernels;
    kernels.vnni = targetHasFeature(options, "avx512vnni");
    kernels.bf16 = targetHasFeature(options, "avx512bf16");
    const bool avx512 = targetHasFeature(options, "avx512f");
    kernels.avx2 = targetHasFeature(options, "avx2");
    kernels.lookup = avx512 ? "avx512" : kernels.avx2 ? "avx2" : "generic";
    // The 8 x 32 f32 tile (16 accumulators of 16 lanes) fits AVX-512's 32
    // registers; with 16 (AVX2, each vector two halves) a 6 x 16 tile's 12
    // accumulators do: BERT-base b1 s128 551 -> 351 ms, MiniLM b1 s32
    // 19.6 -> 14.8 ms on an AMD EPYC (Zen 1), 2026-12-03.
    if (!avx512) {
      kernels.mr = 6;
      kernels.nr = 16;
    }
    pm.addPass(createSLMVectorizeContractions(kernels));
    pm.addPass(createCanonicalizerPass());
  }
  // The rest -> parallel loops, fused, on OpenMP.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createSLMSequentialInnerLoops());
  pm.addPass(createSLMPromoteAccumulators());
  pm.addPass(memref::createResolveRankedShapeTypeResultDimsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createParallelLoopFusionPass());
  pm.addPass(createSLMApproximateMath());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createSLMSerializeSmallLoops());
  // Buffers freed after their last use (after the loops are fused: a
  // dealloc between two nests keeps them apart).
  pm.addPass(createSLMShrinkBufferLifetimes());
  pm.addPass(createSLMOutlineLoopNests());
  pm.addPass(createConvertSCFToOpenMPPass());
  SLMScheduleParallelLoopsOptions schedule;
  schedule.schedule = [&] {
    switch (options.parallelSchedule) {
    case ParallelSchedule::Static:
      return "static";
    case ParallelSchedule::Dynamic:
      return "dynamic";
    case ParallelSchedule::Guided:
      return "guided";
    }
    return "static";
  }();
  schedule.chunk = options.parallelChunk;
  pm.addPass(createSLMScheduleParallelLoops(schedule));
  // Everything -> the LLVM dialect.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

/// The model ABI's dtype of an element type (slm_model_abi.h); integers are
/// unsigned when the signature says so (`slm.unsigned`).
static std::optional<slm_dtype> dtypeOf(Type type, bool isUnsigned) {
  if (isUnsigned && type.isInteger(8))
    return SLM_UINT8;
  if (isUnsigned && type.isInteger(16))
    return SLM_UINT16;
  if (isUnsigned && type.isInteger(32))
    return SLM_UINT32;
  if (isUnsigned && type.isInteger(64))
    return SLM_UINT64;
  if (type.isF32())
    return SLM_FLOAT32;
  if (type.isF64())
    return SLM_FLOAT64;
  if (type.isF16())
    return SLM_FLOAT16;
  if (type.isBF16())
    return SLM_BFLOAT16;
  if (type.isInteger(1))
    return SLM_BOOL;
  if (type.isInteger(8))
    return SLM_INT8;
  if (type.isInteger(16))
    return SLM_INT16;
  if (type.isInteger(32))
    return SLM_INT32;
  if (type.isInteger(64))
    return SLM_INT64;
  return std::nullopt;
}

/// The metadata's name of an element type ("float32").
static std::optional<StringRef> dtypeName(Type type, bool isUnsigned) {
  std::optional<slm_dtype> dtype = dtypeOf(type, isUnsigned);
  if (!dtype)
    return std::nullopt;
  if (const char *name = slm_abi_dtype_name(*dtype))
    return StringRef(name);
  return std::nullopt;
}

FailureOr<std::string> slm::describeModelInterface(ModuleOp module) {
  auto func = module.lookupSymbol<func::FuncOp>(kEntryName);
  if (!func)
    return emitError(module.getLoc()) << "the model has no function @main";
  auto describe = [&](Type t, DictionaryAttr attrs, StringRef fallback,
                      llvm::json::Array &into) -> LogicalResult {
    auto type = dyn_cast<RankedTensorType>(t);
    bool isUnsigned = attrs && attrs.get("slm.unsigned");
    std::optional<StringRef> dtype =
        type ? dtypeName(type.getElementType(), isUnsigned) : std::nullopt;
    if (!dtype)
      return emitError(func.getLoc())
             << "code generation does not support the model signature type "
             << t;
    llvm::json::Array shape, dims;
    for (int64_t d : type.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? int64_t(-1) : d);
    StringRef name = fallback;
    if (attrs) {
      if (auto n = attrs.getAs<StringAttr>("slm.name"))
        name = n.getValue();
      if (auto names = attrs.getAs<ArrayAttr>("slm.dim_names"))
        for (Attribute a : names)
          dims.push_back(cast<StringAttr>(a).getValue().str());
    }
    into.push_back(llvm::json::Object{{"name", name.str()},
                                      {"dtype", dtype->str()},
                                      {"shape", std::move(shape)},
                                      {"dims", std::move(dims)}});
    return success();
  };
  llvm::json::Array inputs, outputs;
  for (auto [i, t] : llvm::enumerate(func.getArgumentTypes()))
    if (failed(describe(t, func.getArgAttrDict(i), "input" + std::to_string(i),
                        inputs)))
      return failure();
  for (auto [i, t] : llvm::enumerate(func.getResultTypes()))
    if (failed(describe(t, func.getResultAttrDict(i),
                        "output" + std::to_string(i), outputs)))
      return failure();
  if (outputs.empty())
    return emitError(func.getLoc()) << "the model has no outputs";
  llvm::json::Object root{{"abi", SLM_MODEL_ABI_VERSION},
                          {"inputs", std::move(inputs)},
                          {"outputs", std::move(outputs)}};
  return llvm::formatv("{0}", llvm::json::Value(std::move(root))).str();
}

/// A target machine for `options`, or null after an error at `loc`.
static std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const slm::CPUOptions &options, Location loc) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    emitError(loc) << "no LLVM target for " << triple.str() << ": " << error;
    return nullptr;
  }
  std::string cpu = options.cpu, features;
  if (cpu.empty() || cpu == "native") {
    cpu = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures list;
    for (const auto &[feature, enabled] : llvm::sys::getHostCPUFeatures())
      list.AddFeature(feature, enabled);
    features = list.getString();
  }
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features, targetOptions, llvm::Reloc::PIC_, std::nullopt,
      options.optLevel >= 3   ? llvm::CodeGenOptLevel::Aggressive
      : options.optLevel == 0 ? llvm::CodeGenOptLevel::None
                              : llvm::CodeGenOptLevel::Default));
  if (!machine)
    emitError(loc) << "cannot create an LLVM target machine for CPU '" << cpu
                   << "'";
  return machine;
}

/// The x86 features a model records (SLM_MODEL_CPU_FEATURES_SYMBOL) when
/// its target has them: those code generation or LLVM may use that a CPU
/// can lack, each one the runtime checks with __builtin_cpu_supports.
static constexpr StringLiteral kCheckedCPUFeatures[] = {
    "sse4.2",     "avx",          "avx2",       "fma",        "f16c",
    "bmi",        "bmi2",         "avx512f",    "avx512bw",   "avx512dq",
    "avx512vl",   "avx512cd",     "avx512vnni", "avx512bf16", "avx512vbmi",
    "avx512vbmi2", "avx512ifma",  "avx512bitalg", "avx512vpopcntdq",
    "avx512fp16", "avxvnni",      "gfni",       "vaes",       "vpclmulqdq",
    "amx-tile",   "amx-int8",     "amx-bf16"};

/// The features of kCheckedCPUFeatures that `machine` generates code for.
static std::string requiredCPUFeatures(const llvm::TargetMachine &machine) {
  std::string list;
  if (!machine.getTargetTriple().isX86())
    return list;
  for (StringRef feature : kCheckedCPUFeatures)
    if (machine.getMCSubtargetInfo()->checkFeatures(("+" + feature).str()))
      list += (list.empty() ? "" : ",") + feature.str();
  return list;
}

/// Adds the exported entry points of the shared library: the run entries
/// (slm_model_abi.h) around the C interface of the lowered entry, whose
/// arguments are the results, one descriptor per input, and, when the model
/// has run-time checks, the run's failure slot (slm-lower-run-time-checks).
static LogicalResult addEntryPoints(llvm::Module &module, StringRef metadata,
                                    StringRef cpuFeatures, Location loc) {
  llvm::LLVMContext &ctx = module.getContext();
  llvm::Function *ciface =
      module.getFunction(("_mlir_ciface_" + kLoweredEntryName).str());
  if (!ciface)
    return emitError(loc) << "the lowered module has no C interface of @main";
  llvm::Expected<llvm::json::Value> description = llvm::json::parse(metadata);
  const llvm::json::Array *inputList =
      description && description->getAsObject()
          ? description->getAsObject()->getArray("inputs")
          : nullptr;
  if (!description)
    llvm::consumeError(description.takeError());
  if (!inputList)
    return emitError(loc) << "the model's metadata has no inputs";
  const unsigned numInputs = inputList->size();
  const bool hasFailureSlot = ciface->arg_size() == numInputs + 2;
  if (!hasFailureSlot && ciface->arg_size() != numInputs + 1)
    return emitError(loc) << "the C interface of @main takes "
                          << ciface->arg_size() << " arguments; the model has "
                          << numInputs << " inputs";
  llvm::PointerType *ptr = llvm::PointerType::getUnqual(ctx);
  // Builds `name(void **inputs, void *results)`: calls the entry with a
  // fresh failure slot and returns what `finish` makes of the slot's value
  // (the first failed check's message, or null).
  auto buildRun = [&](StringRef name, llvm::Type *returnType,
                      llvm::function_ref<void(llvm::IRBuilder<> &,
                                              llvm::Value *)>
                          finish) {
    auto *run = llvm::Function::Create(
        llvm::FunctionType::get(returnType, {ptr, ptr}, false),
        llvm::GlobalValue::ExternalLinkage, name, module);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", run));
    llvm::Value *slot = b.CreateAlloca(ptr, nullptr, "failure");
    b.CreateStore(llvm::ConstantPointerNull::get(ptr), slot);
    SmallVector<llvm::Value *> args = {run->getArg(1)};
    for (unsigned i = 0; i < numInputs; ++i) {
      llvm::Value *input = b.CreateConstGEP1_64(ptr, run->getArg(0), i);
      args.push_back(b.CreateLoad(ptr, input));
    }
    if (hasFailureSlot)
      args.push_back(slot);
    b.CreateCall(ciface, args);
    finish(b, b.CreateLoad(ptr, slot));
  };
  // slm_model_run_fn: a failed check ends the process, as cf.assert would
  // (runtimes that know the checked entry never call this one).
  buildRun(SLM_MODEL_RUN_SYMBOL, llvm::Type::getVoidTy(ctx),
           [&](llvm::IRBuilder<> &b, llvm::Value *message) {
             if (hasFailureSlot) {
               llvm::Function *run = b.GetInsertBlock()->getParent();
               auto *fail = llvm::BasicBlock::Create(ctx, "failed", run);
               auto *done = llvm::BasicBlock::Create(ctx, "done", run);
               b.CreateCondBr(b.CreateIsNotNull(message), fail, done);
               b.SetInsertPoint(fail);
               // lib/Runtime/ModelSupport.c: prints the message, aborts.
               llvm::FunctionCallee abortRun = module.getOrInsertFunction(
                   "slm_model_abort_run",
                   llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr},
                                           false));
               b.CreateCall(abortRun, {message});
               b.CreateUnreachable();
               b.SetInsertPoint(done);
             }
             b.CreateRetVoid();
           });
  // slm_model_run_checked_fn: the message of the first failed check.
  buildRun(SLM_MODEL_RUN_CHECKED_SYMBOL, ptr,
           [&](llvm::IRBuilder<> &b, llvm::Value *message) {
             b.CreateRet(message);
           });
  auto *text = llvm::ConstantDataArray::getString(ctx, metadata, true);
  new llvm::GlobalVariable(module, text->getType(), true,
                           llvm::GlobalValue::ExternalLinkage, text,
                           SLM_MODEL_METADATA_SYMBOL);
  new llvm::GlobalVariable(module, llvm::Type::getInt32Ty(ctx), true,
                           llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(llvm::Type::getInt32Ty(ctx),
                                                  SLM_MODEL_ABI_VERSION),
                           SLM_MODEL_ABI_VERSION_SYMBOL);
  auto *features = llvm::ConstantDataArray::getString(ctx, cpuFeatures, true);
  new llvm::GlobalVariable(module, features->getType(), true,
                           llvm::GlobalValue::ExternalLinkage, features,
                           SLM_MODEL_CPU_FEATURES_SYMBOL);
  return success();
}

/// Translates, adds the entry points, and optimizes for `machine`.
static std::unique_ptr<llvm::Module>
translateAndOptimize(ModuleOp module, StringRef metadata,
                     llvm::TargetMachine &machine, llvm::LLVMContext &ctx,
                     unsigned optLevel) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  module.getContext()->appendDialectRegistry(registry);
  // slm's argument attributes (names, dimension names, failure slots) have
  // served: the metadata carries them. LLVM IR has no place for them.
  auto withoutSlm = [](ArrayRef<NamedAttribute> attrs) {
    SmallVector<NamedAttribute> kept;
    for (NamedAttribute attr : attrs)
      if (!attr.getName().strref().starts_with("slm."))
        kept.push_back(attr);
    return kept;
  };
  module.walk([&](LLVM::LLVMFuncOp op) {
    auto func = cast<FunctionOpInterface>(op.getOperation());
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
      ArrayRef<NamedAttribute> attrs = func.getArgAttrs(i);
      SmallVector<NamedAttribute> kept = withoutSlm(attrs);
      if (kept.size() != attrs.size())
        func.setArgAttrs(i, kept);
    }
    // Results too (an output's name).
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
      ArrayRef<NamedAttribute> attrs = func.getResultAttrs(i);
      SmallVector<NamedAttribute> kept = withoutSlm(attrs);
      if (kept.size() != attrs.size())
        func.setResultAttrs(i, kept);
    }
  });
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, ctx, "slm_model");
  if (!llvmModule) {
    emitError(module.getLoc()) << "translation to LLVM IR failed";
    return nullptr;
  }
  llvmModule->setTargetTriple(machine.getTargetTriple());
  llvmModule->setDataLayout(machine.createDataLayout());
  if (failed(addEntryPoints(*llvmModule, metadata, requiredCPUFeatures(machine),
                            module.getLoc())))
    return nullptr;
  // LLVM vectorizes loops 256 bits wide on AVX-512 CPUs unless told
  // otherwise (a guard against clock throttling that matters little next
  // to GEMM kernels already 512 bits wide): use whole registers.
  if (machine.getMCSubtargetInfo()->checkFeatures("+avx512f"))
    for (llvm::Function &function : *llvmModule)
      if (!function.isDeclaration())
        function.addFnAttr("prefer-vector-width", "512");
  auto optimize = makeOptimizingTransformer(optLevel, 0, &machine);
  if (llvm::Error error = optimize(llvmModule.get())) {
    emitError(module.getLoc())
        << "LLVM optimization failed: " << llvm::toString(std::move(error));
    return nullptr;
  }
  return llvmModule;
}

namespace {
/// An optimized LLVM module with the target machine it was built for.
struct CompiledModule {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::TargetMachine> machine;
  std::unique_ptr<llvm::Module> module;
};
} // namespace

/// Translates and optimizes `module` for `options`; null after an error.
static std::unique_ptr<CompiledModule>
compile(ModuleOp module, StringRef metadata, const slm::CPUOptions &options) {
  auto compiled = std::make_unique<CompiledModule>();
  compiled->machine = createTargetMachine(options, module.getLoc());
  if (!compiled->machine)
    return nullptr;
  compiled->module = translateAndOptimize(module, metadata, *compiled->machine,
                                          compiled->context, options.optLevel);
  if (!compiled->module)
    return nullptr;
  return compiled;
}

FailureOr<std::string> slm::emitLLVMIR(ModuleOp module, StringRef metadata,
                                       const CPUOptions &options) {
  std::unique_ptr<CompiledModule> compiled = compile(module, metadata, options);
  if (!compiled)
    return failure();
  std::string text;
  llvm::raw_string_ostream os(text);
  compiled->module->print(os, nullptr);
  return text;
}

LogicalResult slm::emitObjectFile(ModuleOp module, StringRef metadata,
                                  StringRef objectPath,
                                  const CPUOptions &options) {
  std::unique_ptr<CompiledModule> compiled = compile(module, metadata, options);
  if (!compiled)
    return failure();
  std::error_code ec;
  llvm::ToolOutputFile out(objectPath, ec, llvm::sys::fs::OF_None);
  if (ec)
    return emitError(module.getLoc())
           << "cannot write '" << objectPath << "': " << ec.message();
  llvm::legacy::PassManager codegen;
  if (compiled->machine->addPassesToEmitFile(codegen, out.os(), nullptr,
                                             llvm::CodeGenFileType::ObjectFile))
    return emitError(module.getLoc()) << "the target cannot emit object files";
  codegen.run(*compiled->module);
  out.os().flush();
  if (out.os().has_error())
    return emitError(module.getLoc()) << "cannot write '" << objectPath << "'";
  out.keep();
  return success();
}

FailureOr<std::vector<slm::ExternalWeight>>
slm::externalizeWeights(ModuleOp module, StringRef weightsPath) {
  // Small constants stay in the code, where LLVM may fold them.
  constexpr uint64_t kThreshold = 4096;
  std::error_code ec;
  llvm::raw_fd_ostream out(weightsPath, ec, llvm::sys::fs::OF_None);
  if (ec) {
    emitError(module.getLoc())
        << "cannot write '" << weightsPath << "': " << ec.message();
    return failure();
  }
  std::vector<ExternalWeight> weights;
  uint64_t offset = 0;
  for (auto global : module.getOps<LLVM::GlobalOp>()) {
    if (!global.getConstant() || !global.getValueAttr())
      continue;
    ArrayRef<char> bytes = rawConstantBytes(global.getValueAttr());
    if (bytes.size() < kThreshold)
      continue;
    uint64_t padding = (64 - offset % 64) % 64;
    out.write_zeros(padding);
    offset += padding;
    out.write(bytes.data(), bytes.size());
    weights.push_back({global.getSymName().str(), offset, bytes.size()});
    offset += bytes.size();
    global.removeValueAttr();
    global.setLinkage(LLVM::Linkage::External);
    global.setVisibility_(LLVM::Visibility::Hidden);
    global.setDsoLocal(true);
    global.setAlignment(64);
  }
  out.close();
  if (out.has_error()) {
    emitError(module.getLoc()) << "cannot write '" << weightsPath << "'";
    return failure();
  }
  return weights;
}

/// The C compiler that assembles and links, or an error at `loc`.
static FailureOr<std::string> findCompiler(Location loc) {
  for (StringRef name : {"cc", "gcc", "clang"})
    if (llvm::ErrorOr<std::string> path = llvm::sys::findProgramByName(name))
      return *path;
  return emitError(loc) << "no C compiler (cc, gcc or clang) on PATH to "
                           "assemble and link the model";
}

static LogicalResult runCompiler(ArrayRef<StringRef> args, StringRef what,
                                 Location loc) {
  FailureOr<std::string> compiler = findCompiler(loc);
  if (failed(compiler))
    return failure();
  SmallVector<StringRef> argv = {*compiler};
  argv.append(args.begin(), args.end());
  std::string errorMessage;
  int status = llvm::sys::ExecuteAndWait(*compiler, argv, std::nullopt, {}, 0,
                                         0, &errorMessage);
  if (status != 0)
    return emitError(loc) << what << " failed"
                          << (errorMessage.empty() ? "" : ": ") << errorMessage;
  return success();
}

/// Writes a text file with `write`, or an error at `loc`.
static LogicalResult writeTextFile(StringRef path,
                                   function_ref<void(raw_ostream &)> write,
                                   Location loc) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Text);
  if (ec)
    return emitError(loc) << "cannot write '" << path << "': " << ec.message();
  write(os);
  os.close();
  if (os.has_error())
    return emitError(loc) << "cannot write '" << path << "'";
  return success();
}

LogicalResult slm::emitWeightsObject(ArrayRef<ExternalWeight> weights,
                                     StringRef weightsPath,
                                     StringRef objectPath, Location loc) {
  llvm::SmallString<256> asmPath(objectPath);
  asmPath += ".s";
  llvm::FileRemover removeAsm(asmPath);
  auto writeAsm = [&](raw_ostream &os) {
    // The weight file's path, quoted for the assembler.
    std::string file;
    for (char c : weightsPath) {
      if (c == '"' || c == '\\')
        file += '\\';
      file += c;
    }
    os << "\t.section .rodata.slm_weights,\"a\",@progbits\n";
    for (const ExternalWeight &w : weights)
      os << "\t.balign 64\n\t.globl " << w.symbol << "\n\t.hidden " << w.symbol
         << "\n\t.type " << w.symbol << ",@object\n\t.size " << w.symbol << ", "
         << w.size << "\n"
         << w.symbol << ":\n\t.incbin \"" << file << "\", " << w.offset << ", "
         << w.size << "\n";
    os << "\t.section .note.GNU-stack,\"\",@progbits\n";
  };
  if (failed(writeTextFile(asmPath, writeAsm, loc)))
    return failure();
  return runCompiler({"-c", asmPath, "-o", objectPath},
                     "assembling the weights", loc);
}

LogicalResult slm::mergeObjects(ArrayRef<std::string> objectPaths,
                                StringRef outputPath, Location loc) {
  SmallVector<StringRef> args = {"-r", "-nostdlib", "-o", outputPath};
  for (const std::string &object : objectPaths)
    args.push_back(object);
  return runCompiler(args, "merging object files", loc);
}

LogicalResult slm::linkSharedLibrary(ArrayRef<std::string> objectPaths,
                                     StringRef libraryPath, Location loc) {
  SmallVector<StringRef> args = {"-shared", "-o", libraryPath};
  for (const std::string &object : objectPaths)
    args.push_back(object);
  // The parallel loops' OpenMP entry points are the support object's
  // thread pool (lib/Runtime/ModelThreads.c): no OpenMP runtime is linked.
  // Every symbol must resolve now (-z defs), not at load time.
  args.push_back("-Wl,-z,defs");
  args.push_back("-lm");
  args.push_back("-lpthread");
  return runCompiler(args, ("linking '" + libraryPath + "'").str(), loc);
}
