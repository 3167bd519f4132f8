//===- ModelReader.h - ONNX protobuf and tensor data ------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The protobuf boundary of the importer: parsing a model file and reading a
// tensor's bytes (inline, typed fields, or external data confined to the
// model's folder). Errors are returned as strings; nothing here throws.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_IMPORT_ONNX_MODELREADER_H
#define SLM_LIB_IMPORT_ONNX_MODELREADER_H

#include "onnx/onnx_pb.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::slm::onnx_import {

/// Parses the ONNX model file at `path` into `model`. On failure returns
/// false and sets `error`.
bool readModelFile(const std::string &path, onnx::ModelProto &model,
                   std::string &error);

/// Parses the bytes of an ONNX model into `model`; `what` names the source
/// in errors (e.g. "'model.onnx'"). On failure returns false and sets
/// `error`.
bool parseModel(llvm::StringRef bytes, const std::string &what,
                onnx::ModelProto &model, std::string &error);

/// Bytes per element of an ONNX element type as slm stores it (bool: 1), or
/// 0 for types slm does not support (string, complex, ...).
int64_t elementByteSize(int32_t dataType);

/// The ONNX name of an element type ("FLOAT", "INT64", ...).
std::string elementTypeName(int32_t dataType);

/// Number of elements of `tensor` from its dims; -1 on a negative dim or
/// overflow.
int64_t tensorNumElements(const onnx::TensorProto &tensor);

/// Reads the little-endian bytes of `tensor` (numElements * elementByteSize)
/// into `bytes`. External data is read from `baseDir`; its location must be
/// a relative path that stays inside `baseDir`. On failure returns false and
/// sets `error`.
bool readTensorBytes(const onnx::TensorProto &tensor,
                     const std::string &baseDir, std::vector<char> &bytes,
                     std::string &error);

} // namespace mlir::slm::onnx_import

#endif // SLM_LIB_IMPORT_ONNX_MODELREADER_H
