//===- SharedLibrary.cpp - Lowered IR to a model library or object -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Target/CPU.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"

using namespace mlir;

namespace {
/// Intermediate files next to a destination, removed on every path.
class TemporaryFiles {
public:
  TemporaryFiles(StringRef destination, Location loc)
      : destination(destination), loc(loc) {}

  /// A new unique file named after the destination, or an error.
  LogicalResult create(StringRef suffix, SmallString<256> &path) {
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(
            destination + ".%%%%%%" + suffix, path))
      return emitError(loc) << "cannot create a file next to '" << destination
                            << "': " << ec.message();
    removers.push_back(std::make_unique<llvm::FileRemover>(path));
    return success();
  }

  /// Renames `path` onto the destination: the last step, so that a failure
  /// leaves nothing there.
  LogicalResult commit(StringRef path) {
    if (std::error_code ec = llvm::sys::fs::rename(path, destination))
      return emitError(loc)
             << "cannot write '" << destination << "': " << ec.message();
    return success();
  }

private:
  std::string destination;
  Location loc;
  SmallVector<std::unique_ptr<llvm::FileRemover>> removers;
};
} // namespace

LogicalResult slm::emitSharedLibrary(ModuleOp module, StringRef metadata,
                                     StringRef outputPath,
                                     const CPUOptions &options) {
  Location loc = module.getLoc();
  TemporaryFiles files(outputPath, loc);
  SmallString<256> objectPath, weightsPath, weightsObjectPath, supportPath,
      libraryPath;
  if (failed(files.create(".o", objectPath)) ||
      failed(files.create(".weights", weightsPath)) ||
      failed(files.create(".weights.o", weightsObjectPath)) ||
      failed(files.create(".support.o", supportPath)) ||
      failed(files.create(".so", libraryPath)))
    return failure();
  // Large weights stay out of LLVM: a side file that the assembler embeds
  // (.incbin) in a read-only section.
  FailureOr<std::vector<ExternalWeight>> weights =
      externalizeWeights(module, weightsPath);
  if (failed(weights) ||
      failed(emitObjectFile(module, metadata, objectPath, options)) ||
      failed(emitSupportObject(supportPath, loc)))
    return failure();
  std::vector<std::string> objects = {std::string(objectPath),
                                      std::string(supportPath)};
  if (!weights->empty()) {
    if (failed(
            emitWeightsObject(*weights, weightsPath, weightsObjectPath, loc)))
      return failure();
    objects.push_back(std::string(weightsObjectPath));
  }
  if (failed(linkSharedLibrary(objects, libraryPath, loc)))
    return failure();
  return files.commit(libraryPath);
}

LogicalResult slm::emitRelocatableObject(ModuleOp module, StringRef metadata,
                                         StringRef outputPath,
                                         const CPUOptions &options) {
  Location loc = module.getLoc();
  TemporaryFiles files(outputPath, loc);
  SmallString<256> objectPath, supportPath, mergedPath;
  if (failed(files.create(".o", objectPath)) ||
      failed(files.create(".support.o", supportPath)) ||
      failed(files.create(".merged.o", mergedPath)))
    return failure();
  // Every model carries its support code (the buffer allocator).
  if (failed(emitObjectFile(module, metadata, objectPath, options)) ||
      failed(emitSupportObject(supportPath, loc)))
    return failure();
  std::vector<std::string> objects = {std::string(objectPath),
                                      std::string(supportPath)};
  if (failed(mergeObjects(objects, mergedPath, loc)))
    return failure();
  return files.commit(mergedPath);
}
