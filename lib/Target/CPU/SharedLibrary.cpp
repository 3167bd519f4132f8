//===- SharedLibrary.cpp - slm IR to a model library, in one call -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Target/CPU.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"

using namespace mlir;

LogicalResult slm::compileSharedLibrary(ModuleOp module, StringRef outputPath,
                                        const CPUTargetOptions &target) {
  Location loc = module.getLoc();
  FailureOr<std::string> metadata = describeModelInterface(module);
  if (failed(metadata))
    return failure();
  if (failed(lowerToLLVMDialect(module, target)))
    return failure();
  // Intermediate files next to the destination, removed on every path;
  // the library is renamed into place last, so a failure leaves nothing.
  SmallVector<std::unique_ptr<llvm::FileRemover>> removers;
  auto temporary = [&](StringRef suffix, SmallString<256> &path) {
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(
            outputPath + ".%%%%%%" + suffix, path)) {
      emitError(loc) << "cannot create a file next to '" << outputPath
                     << "': " << ec.message();
      return failure();
    }
    removers.push_back(std::make_unique<llvm::FileRemover>(path));
    return success();
  };
  SmallString<256> objectPath, weightsPath, weightsObjectPath, supportPath,
      libraryPath;
  if (failed(temporary(".o", objectPath)) ||
      failed(temporary(".weights", weightsPath)) ||
      failed(temporary(".weights.o", weightsObjectPath)) ||
      failed(temporary(".support.o", supportPath)) ||
      failed(temporary(".so", libraryPath)))
    return failure();
  // Large weights stay out of LLVM: a side file that the assembler embeds
  // (.incbin) in a read-only section.
  FailureOr<std::vector<ExternalWeight>> weights =
      externalizeWeights(module, weightsPath);
  if (failed(weights) ||
      failed(emitObjectFile(module, *metadata, objectPath, target)) ||
      failed(emitSupportObject(supportPath, loc)))
    return failure();
  std::vector<std::string> objects = {std::string(objectPath),
                                      std::string(supportPath)};
  if (!weights->empty()) {
    if (failed(emitWeightsObject(*weights, weightsPath, weightsObjectPath,
                                 loc)))
      return failure();
    objects.push_back(std::string(weightsObjectPath));
  }
  if (failed(linkSharedLibrary(objects, libraryPath, loc)))
    return failure();
  if (std::error_code ec = llvm::sys::fs::rename(libraryPath, outputPath)) {
    emitError(loc) << "cannot write '" << outputPath << "': " << ec.message();
    return failure();
  }
  return success();
}
