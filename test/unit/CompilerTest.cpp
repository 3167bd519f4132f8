//===- CompilerTest.cpp - Tests of compileModel and its options -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Pipelines/Compiler.h"
#include "slm/Pipelines/OptionList.h"
#include "slm/Pipelines/Pipelines.h"
#include "slm/Support/TensorFiles.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::slm;

namespace {

constexpr const char *kModel = R"mlir(
func.func @main(%x: tensor<2x16xf32> {slm.name = "x"}) -> (tensor<2x32xf32> {slm.name = "y"}) {
  %w = arith.constant dense<0.01> : tensor<32x16xf32>
  %h = slm.linear %x, %w : (tensor<2x16xf32>, tensor<32x16xf32>) -> tensor<2x32xf32>
  %g = slm.gelu %h : tensor<2x32xf32>
  return %g : tensor<2x32xf32>
}
)mlir";

class CompilerTest : public ::testing::Test {
protected:
  CompilerTest() : context(registry()) {}

  static DialectRegistry registry() {
    DialectRegistry r;
    registerCompilerDialects(r);
    return r;
  }

  OwningOpRef<ModuleOp> parse() {
    return parseSourceString<ModuleOp>(kModel, &context);
  }

  /// A fresh temporary folder.
  std::string temporaryFolder() {
    SmallString<128> path;
    EXPECT_FALSE(
        llvm::sys::fs::createUniqueDirectory("slm-compiler-test", path));
    return std::string(path);
  }

  static std::string readFile(StringRef path) {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    return buffer ? (*buffer)->getBuffer().str() : std::string();
  }

  MLIRContext context;
};

// Tests that the default options verify and that each bad combination is
// named by its flags.
TEST_F(CompilerTest, VerifyOptions) {
  CompileOptions options;
  EXPECT_FALSE(verifyOptions(options));
  options.compress.maxError = 0.1;
  std::optional<std::string> error = verifyOptions(options);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("--max-error needs calibration samples"),
            std::string::npos);
  options = {};
  options.compileFrom = Phase::Optimize;
  options.compileTo = Phase::Raise;
  ASSERT_TRUE(verifyOptions(options));
  options = {};
  options.compress.quantize.kind = QuantizeKind::Int8;
  options.cpu.weightPanel = 0;
  ASSERT_TRUE(verifyOptions(options));
}

// Tests that the enum names flags and passes use come from the declarations.
TEST_F(CompilerTest, EnumNames) {
  EXPECT_EQ(stringifyQuantizeKind(QuantizeKind::W8A8), "w8a8");
  EXPECT_EQ(stringifyActivationScheme(ActivationScheme::PerToken), "per-token");
  EXPECT_EQ(stringifyPhase(Phase::Lower), "lower");
  EXPECT_EQ(stringifyPruneMethod(resolvePruneMethod({}, true)), "flap");
  EXPECT_EQ(stringifyPruneMethod(resolvePruneMethod({}, false)), "magnitude");
}

// Tests that compileModel stops after --compile-to and writes that phase's
// IR: raised but unfused after raise, fused after optimize.
TEST_F(CompilerTest, StopsAfterPhase) {
  std::string dir = temporaryFolder();
  for (auto [phase, fused] :
       {std::pair(Phase::Raise, false), std::pair(Phase::Optimize, true)}) {
    OwningOpRef<ModuleOp> module = parse();
    ASSERT_TRUE(module);
    CompileOptions options;
    options.compileTo = phase;
    std::string out = dir + "/out.mlir", error;
    ASSERT_TRUE(succeeded(compileModel(*module, options, out, {}, error)))
        << error;
    std::string text = readFile(out);
    EXPECT_EQ(text.find("slm.gelu") == std::string::npos, fused) << text;
    EXPECT_EQ(text.find("#slm.activation<gelu>") != std::string::npos, fused);
  }
  (void)llvm::sys::fs::remove_directories(dir);
}

// Tests that calibration runs compiled models only through the injected
// hook: without one the message says so; with one, the hook is what runs
// (and its error is what the user sees), and nothing is written.
TEST_F(CompilerTest, CalibrationUsesTheInjectedRunner) {
  std::string dir = temporaryFolder();
  HostTensor x;
  x.dtype = SLM_FLOAT32;
  x.shape = {2, 16};
  x.bytes.assign(2 * 16 * sizeof(float), 0);
  std::string error;
  ASSERT_TRUE(writeNpy(dir + "/x.npy", x.view(), error)) << error;

  CompileOptions options;
  options.compress.prune.ffn = 0.5;
  options.compress.calibration = dir;
  std::string out = dir + "/model.so";
  {
    OwningOpRef<ModuleOp> module = parse();
    EXPECT_TRUE(failed(compileModel(*module, options, out, {}, error)));
    EXPECT_NE(error.find("needs a runtime"), std::string::npos) << error;
  }
  int calls = 0;
  CompileHooks hooks;
  hooks.loadLibrary =
      [&](StringRef path,
          std::string &message) -> FailureOr<std::unique_ptr<RunnableModel>> {
    ++calls;
    EXPECT_TRUE(llvm::sys::fs::exists(path));
    message = "no runtime in this test";
    return failure();
  };
  {
    OwningOpRef<ModuleOp> module = parse();
    EXPECT_TRUE(failed(compileModel(*module, options, out, hooks, error)));
  }
  EXPECT_EQ(calls, 1);
  EXPECT_NE(error.find("calibration: could not compile the calibration "
                       "model: no runtime in this test"),
            std::string::npos)
      << error;
  EXPECT_FALSE(llvm::sys::fs::exists(out));
  (void)llvm::sys::fs::remove_directories(dir);
}

// Tests that slm-opt's phase pipelines take the declared options: the
// fusion goes away with fuse-linear-activation=false.
TEST_F(CompilerTest, PipelineOptionsFromDeclarations) {
  registerSLMPipelines();
  auto passes = [&](StringRef pipeline) {
    OpPassManager pm(ModuleOp::getOperationName());
    std::string text;
    llvm::raw_string_ostream os(text);
    EXPECT_TRUE(succeeded(parsePassPipeline(pipeline, pm, os))) << text;
    pm.printAsTextualPipeline(os);
    return text;
  };
  EXPECT_NE(passes("slm-optimize").find("slm-fuse-linear-activation"),
            std::string::npos);
  EXPECT_EQ(passes("slm-optimize{fuse-linear-activation=false}")
                .find("slm-fuse-linear-activation"),
            std::string::npos);
  EXPECT_NE(
      passes("slm-compress{quantize=w8a8}").find("slm-quantize-activations"),
      std::string::npos);
}

} // namespace
