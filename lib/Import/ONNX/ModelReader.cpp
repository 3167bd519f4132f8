//===- ModelReader.cpp - ONNX protobuf and tensor data ----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "ModelReader.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <climits>
#include <cstring>

using namespace mlir::slm::onnx_import;
namespace fs = llvm::sys::fs;
namespace path = llvm::sys::path;

bool mlir::slm::onnx_import::readModelFile(const std::string &filePath,
                                           onnx::ModelProto &model,
                                           std::string &error) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(filePath, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = "cannot open '" + filePath + "': " + buffer.getError().message();
    return false;
  }
  return parseModel((*buffer)->getBuffer(), "'" + filePath + "'", model,
                    error);
}

bool mlir::slm::onnx_import::parseModel(llvm::StringRef bytes,
                                        const std::string &what,
                                        onnx::ModelProto &model,
                                        std::string &error) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    error = what +
            " is over 2 GB: protobuf cannot hold it; save the weights as "
            "ONNX external data (onnx.save(..., save_as_external_data=True))";
    return false;
  }
  google::protobuf::io::ArrayInputStream stream(bytes.data(),
                                                static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(INT_MAX);
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    error = what + " is not a valid ONNX model: the protobuf is malformed or "
                   "truncated";
    return false;
  }
  if (!model.has_graph()) {
    error = what + " is not an ONNX model: it has no graph";
    return false;
  }
  return true;
}

int64_t mlir::slm::onnx_import::elementByteSize(int32_t dataType) {
  switch (dataType) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return 4;
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::UINT64:
    return 8;
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
    return 2;
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    return 1;
  default:
    return 0;
  }
}

std::string mlir::slm::onnx_import::elementTypeName(int32_t dataType) {
  if (onnx::TensorProto::DataType_IsValid(dataType))
    return onnx::TensorProto::DataType_Name(
        static_cast<onnx::TensorProto::DataType>(dataType));
  return "type " + std::to_string(dataType);
}

int64_t
mlir::slm::onnx_import::tensorNumElements(const onnx::TensorProto &tensor) {
  int64_t n = 1;
  for (int64_t d : tensor.dims()) {
    if (d < 0 || (d != 0 && n > INT64_MAX / d))
      return -1;
    n *= d;
  }
  return n;
}

/// Copies the values of a repeated protobuf field into `bytes`, narrowing
/// each to `Stored` (ONNX keeps int8/int16/bool/float16 in int32_data).
template <typename Stored, typename Field>
static bool copyTyped(const Field &field, int64_t count,
                      std::vector<char> &bytes, std::string &error,
                      const std::string &name) {
  if (field.size() != count) {
    error = "tensor '" + name + "' holds " + std::to_string(field.size()) +
            " values but its shape needs " + std::to_string(count);
    return false;
  }
  bytes.resize(count * sizeof(Stored));
  for (int64_t i = 0; i < count; ++i) {
    Stored v = static_cast<Stored>(field.Get(static_cast<int>(i)));
    std::memcpy(bytes.data() + i * sizeof(Stored), &v, sizeof(Stored));
  }
  return true;
}

/// Resolves the external-data location `location` against `baseDir` and
/// checks that it stays inside it (also through symbolic links).
static bool resolveExternalPath(const std::string &location,
                                const std::string &baseDir,
                                std::string &resolved, std::string &error) {
  if (location.empty() || path::is_absolute(location)) {
    error = "external data location '" + location +
            "' must be a relative path inside the model's folder";
    return false;
  }
  // Lexically first ("a/../../x"), then through symbolic links below.
  llvm::SmallString<256> normalized(location);
  path::remove_dots(normalized, /*remove_dot_dot=*/true);
  if (normalized.starts_with("..")) {
    error =
        "external data location '" + location + "' escapes the model's folder";
    return false;
  }
  llvm::SmallString<256> realBase, realFile, joined(baseDir);
  path::append(joined, location);
  if (fs::real_path(baseDir, realBase) || fs::real_path(joined, realFile)) {
    error = "external data file '" + location + "' not found next to the model";
    return false;
  }
  llvm::StringRef base(realBase), file(realFile);
  if (!file.starts_with(base) || file.size() <= base.size() ||
      !path::is_separator(file[base.size()])) {
    error =
        "external data location '" + location + "' escapes the model's folder";
    return false;
  }
  resolved = std::string(realFile);
  return true;
}

static bool readExternal(const onnx::TensorProto &tensor,
                         const std::string &baseDir, int64_t expectedBytes,
                         std::vector<char> &bytes, std::string &error) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
    const std::string &key = entry.key(), &value = entry.value();
    if (key == "location") {
      location = value;
    } else if (key == "offset" || key == "length") {
      char *end = nullptr;
      long long parsed = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || parsed < 0) {
        error = "tensor '" + tensor.name() + "': bad external data " + key +
                " '" + value + "'";
        return false;
      }
      (key == "offset" ? offset : length) = parsed;
    }
  }
  std::string file;
  if (!resolveExternalPath(location, baseDir, file, error)) {
    error = "tensor '" + tensor.name() + "': " + error;
    return false;
  }
  if (length >= 0 && length != expectedBytes) {
    error = "tensor '" + tensor.name() + "': external data length " +
            std::to_string(length) + " but its shape needs " +
            std::to_string(expectedBytes) + " bytes";
    return false;
  }
  uint64_t fileSize = 0;
  if (fs::file_size(file, fileSize) ||
      static_cast<uint64_t>(offset) + expectedBytes > fileSize) {
    error = "tensor '" + tensor.name() + "': external data file '" + location +
            "' is too short (" + std::to_string(fileSize) + " bytes; needs " +
            std::to_string(offset + expectedBytes) + ")";
    return false;
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> slice =
      llvm::MemoryBuffer::getFileSlice(file, expectedBytes, offset);
  if (!slice) {
    error = "tensor '" + tensor.name() + "': cannot read '" + location +
            "': " + slice.getError().message();
    return false;
  }
  bytes.assign((*slice)->getBufferStart(), (*slice)->getBufferEnd());
  return true;
}

bool mlir::slm::onnx_import::readTensorBytes(const onnx::TensorProto &tensor,
                                             const std::string &baseDir,
                                             std::vector<char> &bytes,
                                             std::string &error) {
  const int32_t type = tensor.data_type();
  const int64_t elementBytes = elementByteSize(type);
  if (elementBytes == 0) {
    error = "tensor '" + tensor.name() + "' has element type " +
            elementTypeName(type) + ", which slm does not support";
    return false;
  }
  const int64_t count = tensorNumElements(tensor);
  if (count < 0) {
    error = "tensor '" + tensor.name() + "' has an invalid shape";
    return false;
  }
  const int64_t expected = count * elementBytes;
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
    return readExternal(tensor, baseDir, expected, bytes, error);
  if (tensor.has_raw_data()) {
    if (static_cast<int64_t>(tensor.raw_data().size()) != expected) {
      error = "tensor '" + tensor.name() + "' has " +
              std::to_string(tensor.raw_data().size()) +
              " bytes of raw data but its shape needs " +
              std::to_string(expected);
      return false;
    }
    bytes.assign(tensor.raw_data().begin(), tensor.raw_data().end());
    return true;
  }
  const std::string &name = tensor.name();
  switch (type) {
  case onnx::TensorProto::FLOAT:
    return copyTyped<float>(tensor.float_data(), count, bytes, error, name);
  case onnx::TensorProto::DOUBLE:
    return copyTyped<double>(tensor.double_data(), count, bytes, error, name);
  case onnx::TensorProto::INT64:
    return copyTyped<int64_t>(tensor.int64_data(), count, bytes, error, name);
  case onnx::TensorProto::UINT64:
  case onnx::TensorProto::UINT32:
    if (type == onnx::TensorProto::UINT64)
      return copyTyped<uint64_t>(tensor.uint64_data(), count, bytes, error,
                                 name);
    return copyTyped<uint32_t>(tensor.uint64_data(), count, bytes, error, name);
  case onnx::TensorProto::INT32:
    return copyTyped<int32_t>(tensor.int32_data(), count, bytes, error, name);
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    return copyTyped<uint16_t>(tensor.int32_data(), count, bytes, error, name);
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    return copyTyped<uint8_t>(tensor.int32_data(), count, bytes, error, name);
  default:
    error = "tensor '" + name + "' has unsupported element type " +
            elementTypeName(type);
    return false;
  }
}
