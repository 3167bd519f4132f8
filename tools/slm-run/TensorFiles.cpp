//===- TensorFiles.cpp - .npy and ONNX TensorProto files --------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "TensorFiles.h"

#include "onnx/onnx_pb.h"

#include <cstring>
#include <fstream>
#include <sstream>

using namespace slm_run;

slm_tensor HostTensor::view() {
  slm_tensor t{};
  t.dtype = dtype;
  t.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size() && i < SLM_MAX_RANK; ++i)
    t.shape[i] = shape[i];
  t.data = bytes.empty() ? nullptr : bytes.data();
  return t;
}

int64_t HostTensor::count() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

static bool readFile(const std::string &path, std::string &data,
                     std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "'";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  data = ss.str();
  return true;
}

/// numpy descr ('<f4') -> dtype.
static bool dtypeOfDescr(const std::string &descr, slm_dtype &dtype) {
  static const std::pair<const char *, slm_dtype> table[] = {
      {"<f4", SLM_FLOAT32}, {"<f8", SLM_FLOAT64}, {"<f2", SLM_FLOAT16},
      {"|i1", SLM_INT8},    {"<i2", SLM_INT16},   {"<i4", SLM_INT32},
      {"<i8", SLM_INT64},   {"|b1", SLM_BOOL},    {"|u1", SLM_INT8}};
  for (auto &[name, d] : table)
    if (descr == name) {
      dtype = d;
      return true;
    }
  return false;
}

static const char *descrOf(slm_dtype dtype) {
  switch (dtype) {
  case SLM_FLOAT32: return "<f4";
  case SLM_FLOAT64: return "<f8";
  case SLM_FLOAT16: return "<f2";
  case SLM_BFLOAT16: return "<u2";
  case SLM_INT8: return "|i1";
  case SLM_INT16: return "<i2";
  case SLM_INT32: return "<i4";
  case SLM_INT64: return "<i8";
  case SLM_BOOL: return "|b1";
  }
  return "|u1";
}

static bool readNpy(const std::string &path, const std::string &data,
                    HostTensor &t, std::string &error) {
  if (data.size() < 10 || data.compare(0, 6, "\x93NUMPY") != 0) {
    error = "'" + path + "' is not a .npy file";
    return false;
  }
  size_t headerLen, start;
  if (data[6] == 1) {
    headerLen = static_cast<uint8_t>(data[8]) |
                (static_cast<uint8_t>(data[9]) << 8);
    start = 10;
  } else {
    if (data.size() < 12) {
      error = "'" + path + "' is truncated";
      return false;
    }
    headerLen = 0;
    for (int i = 3; i >= 0; --i)
      headerLen = headerLen << 8 | static_cast<uint8_t>(data[8 + i]);
    start = 12;
  }
  if (start + headerLen > data.size()) {
    error = "'" + path + "' is truncated";
    return false;
  }
  std::string header = data.substr(start, headerLen);
  auto field = [&](const std::string &key) -> std::string {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos)
      return "";
    size_t colon = header.find(':', k);
    return colon == std::string::npos ? "" : header.substr(colon + 1);
  };
  std::string descr = field("descr");
  size_t q1 = descr.find('\''), q2 = descr.find('\'', q1 + 1);
  if (q1 == std::string::npos || q2 == std::string::npos ||
      !dtypeOfDescr(descr.substr(q1 + 1, q2 - q1 - 1), t.dtype)) {
    error = "'" + path + "' has an unsupported numpy dtype";
    return false;
  }
  if (field("fortran_order").find("True") < field("fortran_order").find(',')) {
    error = "'" + path + "' is in Fortran order; save it C-contiguous";
    return false;
  }
  std::string shape = field("shape");
  size_t open = shape.find('('), close = shape.find(')');
  if (open == std::string::npos || close == std::string::npos) {
    error = "'" + path + "' has no shape";
    return false;
  }
  std::stringstream dims(shape.substr(open + 1, close - open - 1));
  std::string item;
  t.shape.clear();
  while (std::getline(dims, item, ','))
    if (item.find_first_not_of(' ') != std::string::npos)
      t.shape.push_back(std::stoll(item));
  size_t bytes = t.count() * slm_dtype_size(t.dtype);
  if (start + headerLen + bytes != data.size()) {
    error = "'" + path + "' holds " +
            std::to_string(data.size() - start - headerLen) +
            " bytes of data; its shape needs " + std::to_string(bytes);
    return false;
  }
  t.bytes.assign(data.begin() + start + headerLen, data.end());
  return true;
}

static bool readPb(const std::string &path, const std::string &data,
                   HostTensor &t, std::string &error) {
  onnx::TensorProto proto;
  if (!proto.ParseFromString(data)) {
    error = "'" + path + "' is neither a .npy file nor an ONNX TensorProto";
    return false;
  }
  switch (proto.data_type()) {
  case onnx::TensorProto::FLOAT: t.dtype = SLM_FLOAT32; break;
  case onnx::TensorProto::DOUBLE: t.dtype = SLM_FLOAT64; break;
  case onnx::TensorProto::INT64: t.dtype = SLM_INT64; break;
  case onnx::TensorProto::INT32: t.dtype = SLM_INT32; break;
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8: t.dtype = SLM_INT8; break;
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16: t.dtype = SLM_INT16; break;
  case onnx::TensorProto::UINT32: t.dtype = SLM_INT32; break;
  case onnx::TensorProto::UINT64: t.dtype = SLM_INT64; break;
  case onnx::TensorProto::FLOAT16: t.dtype = SLM_FLOAT16; break;
  case onnx::TensorProto::BFLOAT16: t.dtype = SLM_BFLOAT16; break;
  case onnx::TensorProto::BOOL: t.dtype = SLM_BOOL; break;
  default:
    error = "'" + path + "' has an element type slm-run does not read";
    return false;
  }
  t.shape.assign(proto.dims().begin(), proto.dims().end());
  size_t size = slm_dtype_size(t.dtype), count = t.count();
  t.bytes.resize(count * size);
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != t.bytes.size()) {
      error = "'" + path + "' has raw data of the wrong size";
      return false;
    }
    std::memcpy(t.bytes.data(), proto.raw_data().data(), t.bytes.size());
    return true;
  }
  auto copy = [&](const auto &field, auto tag) {
    using T = decltype(tag);
    if (static_cast<size_t>(field.size()) != count)
      return false;
    for (size_t i = 0; i < count; ++i) {
      T v = static_cast<T>(field.Get(static_cast<int>(i)));
      std::memcpy(t.bytes.data() + i * sizeof(T), &v, sizeof(T));
    }
    return true;
  };
  bool ok = false;
  switch (t.dtype) {
  case SLM_FLOAT32: ok = copy(proto.float_data(), float()); break;
  case SLM_FLOAT64: ok = copy(proto.double_data(), double()); break;
  case SLM_INT64:
    ok = proto.data_type() == onnx::TensorProto::UINT64
             ? copy(proto.uint64_data(), uint64_t())
             : copy(proto.int64_data(), int64_t());
    break;
  case SLM_INT32:
    ok = proto.data_type() == onnx::TensorProto::UINT32
             ? copy(proto.uint64_data(), uint32_t())
             : copy(proto.int32_data(), int32_t());
    break;
  case SLM_INT16:
  case SLM_FLOAT16:
  case SLM_BFLOAT16: ok = copy(proto.int32_data(), uint16_t()); break;
  default: ok = copy(proto.int32_data(), int8_t()); break;
  }
  if (!ok)
    error = "'" + path + "' holds the wrong number of values for its shape";
  return ok;
}

bool slm_run::readTensorFile(const std::string &path, HostTensor &tensor,
                             std::string &error) {
  std::string data;
  if (!readFile(path, data, error))
    return false;
  if (data.compare(0, 6, "\x93NUMPY") == 0)
    return readNpy(path, data, tensor, error);
  return readPb(path, data, tensor, error);
}

bool slm_run::writeNpy(const std::string &path, const slm_tensor &tensor,
                       std::string &error) {
  std::string shape = "(";
  int64_t count = 1;
  for (int32_t i = 0; i < tensor.rank; ++i) {
    shape += std::to_string(tensor.shape[i]) + (tensor.rank == 1 ? "," : "");
    if (i + 1 < tensor.rank)
      shape += ", ";
    count *= tensor.shape[i];
  }
  shape += ")";
  std::string header = "{'descr': '" + std::string(descrOf(tensor.dtype)) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    error = "cannot write '" + path + "'";
    return false;
  }
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xFF));
  out.put(static_cast<char>(len >> 8));
  out << header;
  out.write(static_cast<const char *>(tensor.data),
            count * slm_dtype_size(tensor.dtype));
  if (!out) {
    error = "cannot write '" + path + "'";
    return false;
  }
  return true;
}
