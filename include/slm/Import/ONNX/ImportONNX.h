//===- ImportONNX.h - ONNX models into the slm dialect ----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The entry point shared by slmc, the Python package and tests. No protobuf
// or ONNX header leaks through here.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_IMPORT_ONNX_IMPORTONNX_H
#define SLM_IMPORT_ONNX_IMPORTONNX_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace mlir {
class MLIRContext;
namespace slm {

/// How to import.
struct ONNXImportOptions {
  /// Name of the function that holds the graph.
  std::string functionName = "main";
  /// Tensors with at most this many elements become inline `dense<...>`
  /// constants (visible to folders); larger ones `dense_resource` blobs.
  int64_t inlineConstantLimit = 64;
};

/// Reads the ONNX model at `path` (external data is read from the model's
/// folder and may not escape it) and returns a module with one function in
/// the slm dialect: graph inputs are its arguments, graph outputs its
/// results, each tagged with its ONNX name (`slm.name`). Symbolic input
/// dimensions stay dynamic; static shape arithmetic is folded.
///
/// Every problem is an error diagnostic on `context`; all unsupported ops
/// are listed together. Returns null when anything failed.
OwningOpRef<ModuleOp> importONNXFile(MLIRContext &context, llvm::StringRef path,
                                     const ONNXImportOptions &options = {});

/// Imports an ONNX model held in memory (`bytes`, the serialized
/// ModelProto), as importONNXFile does; external data is read from
/// `baseDir`, and `name` stands for the model in diagnostics.
OwningOpRef<ModuleOp> importONNXBuffer(MLIRContext &context,
                                       llvm::StringRef bytes,
                                       llvm::StringRef baseDir,
                                       llvm::StringRef name,
                                       const ONNXImportOptions &options = {});

/// Registers the dialects the importer produces in `registry`.
void registerONNXImportDialects(DialectRegistry &registry);

} // namespace slm
} // namespace mlir

#endif // SLM_IMPORT_ONNX_IMPORTONNX_H
