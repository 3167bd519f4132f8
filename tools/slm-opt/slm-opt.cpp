//===- slm-opt.cpp - mlir-opt with the slm dialect and passes ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Every upstream dialect and pass plus ours, so that each slm pass can be run
// and tested on its own (`slm-opt in.mlir --slm-<pass>`), and each phase
// pipeline too (--slm-raise, --slm-compress, --slm-optimize,
// --slm-lower-to-llvm, --slm-compile{compile-to=<phase>}).
//
//===----------------------------------------------------------------------===//

#include "slm/Conversion/Passes.h"
#include "slm/Pipelines/Compiler.h"
#include "slm/Pipelines/Pipelines.h"
#include "slm/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::slm::registerSLMTransformsPasses();
  mlir::slm::registerSLMPipelines();
  mlir::slm::registerSLMConversionPasses();

  mlir::DialectRegistry registry;
  mlir::slm::registerCompilerDialects(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "slm optimizer driver: the slm dialect and passes\n",
      registry));
}
