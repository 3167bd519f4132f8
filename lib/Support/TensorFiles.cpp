//===- TensorFiles.cpp - .npy and ONNX TensorProto files --------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// A file is first read as it is (FileTensor: its element type, which may be
// unsigned, its shape and its bytes); then either kept as it is (the file's
// own dtype) or converted element by element to the dtype asked for.
//
//===----------------------------------------------------------------------===//

#include "slm/Support/TensorFiles.h"

#include "onnx/onnx_pb.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

using namespace mlir::slm;

//===----------------------------------------------------------------------===//
// HostTensor
//===----------------------------------------------------------------------===//

int64_t HostTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

slm_tensor HostTensor::view() {
  return static_cast<const HostTensor *>(this)->view();
}

slm_tensor HostTensor::view() const {
  slm_tensor t{};
  t.dtype = dtype;
  t.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size() && i < SLM_MAX_RANK; ++i)
    t.shape[i] = shape[i];
  t.data = bytes.empty() ? nullptr : const_cast<char *>(bytes.data());
  return t;
}

//===----------------------------------------------------------------------===//
// Element types of files
//===----------------------------------------------------------------------===//

namespace {

/// The element types files hold.
enum class Element {
  F16,
  BF16,
  F32,
  F64,
  I8,
  I16,
  I32,
  I64,
  U8,
  U16,
  U32,
  U64,
  Bool
};

struct ElementInfo {
  Element element;
  /// NumPy's `descr` (null: NumPy has no such type).
  const char *descr;
  /// The name in messages.
  const char *name;
  size_t size;
  /// The dtype a file of this type is read as.
  slm_dtype dtype;
};

constexpr ElementInfo kElements[] = {
    {Element::F16, "<f2", "float16", 2, SLM_FLOAT16},
    {Element::BF16, nullptr, "bfloat16", 2, SLM_BFLOAT16},
    {Element::F32, "<f4", "float32", 4, SLM_FLOAT32},
    {Element::F64, "<f8", "float64", 8, SLM_FLOAT64},
    {Element::I8, "|i1", "int8", 1, SLM_INT8},
    {Element::I16, "<i2", "int16", 2, SLM_INT16},
    {Element::I32, "<i4", "int32", 4, SLM_INT32},
    {Element::I64, "<i8", "int64", 8, SLM_INT64},
    {Element::U8, "|u1", "uint8", 1, SLM_UINT8},
    {Element::U16, "<u2", "uint16", 2, SLM_UINT16},
    {Element::U32, "<u4", "uint32", 4, SLM_UINT32},
    {Element::U64, "<u8", "uint64", 8, SLM_UINT64},
    {Element::Bool, "|b1", "bool", 1, SLM_BOOL},
};

const ElementInfo &info(Element element) {
  return kElements[static_cast<int>(element)];
}

/// Bytes per element of a dtype; 0 for a value outside slm_model_abi.h.
size_t dtypeSize(slm_dtype dtype) { return slm_abi_dtype_size(dtype); }

const char *dtypeName(slm_dtype dtype) {
  const char *name = slm_abi_dtype_name(dtype);
  return name ? name : "unknown";
}

/// NumPy's descr of a dtype; null when the dtype is unknown.
const char *descrOf(slm_dtype dtype) {
  switch (dtype) {
  case SLM_FLOAT32:
    return "<f4";
  case SLM_FLOAT64:
    return "<f8";
  case SLM_FLOAT16:
    return "<f2";
  case SLM_BFLOAT16:
    return "<u2"; // no NumPy type: the bits
  case SLM_INT8:
    return "|i1";
  case SLM_INT16:
    return "<i2";
  case SLM_INT32:
    return "<i4";
  case SLM_INT64:
    return "<i8";
  case SLM_BOOL:
    return "|b1";
  case SLM_UINT8:
    return "|u1";
  case SLM_UINT16:
    return "<u2";
  case SLM_UINT32:
    return "<u4";
  case SLM_UINT64:
    return "<u8";
  default:
    break;
  }
  return nullptr;
}

/// A file's tensor before conversion.
struct FileTensor {
  Element element = Element::F32;
  std::vector<int64_t> shape;
  /// Exactly numElements * size bytes.
  std::string bytes;
};

std::string quoted(const std::string &path) { return "'" + path + "'"; }

/// Checks the rank and extents of a tensor of `elementSize`-byte elements;
/// sets `bytes`, or `error` (which `what` begins).
bool checkShape(const std::string &what, const std::vector<int64_t> &shape,
                size_t elementSize, size_t &bytes, std::string &error) {
  if (shape.size() > SLM_MAX_RANK) {
    error = what + "has rank " + std::to_string(shape.size()) +
            "; the runtime takes at most " + std::to_string(SLM_MAX_RANK);
    return false;
  }
  uint64_t count = 1;
  const uint64_t limit = std::numeric_limits<int64_t>::max() / elementSize;
  for (int64_t d : shape) {
    if (d < 0) {
      error = what + "has a negative extent (" + std::to_string(d) + ")";
      return false;
    }
    if (d != 0 && count > limit / static_cast<uint64_t>(d)) {
      error = what + "has too many elements";
      return false;
    }
    count *= static_cast<uint64_t>(d);
  }
  bytes = count * elementSize;
  return true;
}

//===----------------------------------------------------------------------===//
// .npy
//===----------------------------------------------------------------------===//

bool readNpy(const std::string &path, const std::string &data, FileTensor &t,
             std::string &error) {
  auto bad = [&](const std::string &why) {
    error = quoted(path) + " is not a NumPy .npy file we can read: " + why;
    return false;
  };
  if (data.size() < 10 || data.compare(0, 6, "\x93NUMPY") != 0)
    return bad("no .npy magic");
  const unsigned major = static_cast<uint8_t>(data[6]);
  size_t headerLength = 0, headerStart = 0;
  if (major == 1) {
    headerLength = static_cast<uint8_t>(data[8]) |
                   static_cast<size_t>(static_cast<uint8_t>(data[9])) << 8;
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12)
      return bad("truncated header");
    for (int i = 3; i >= 0; --i)
      headerLength = headerLength << 8 | static_cast<uint8_t>(data[8 + i]);
    headerStart = 12;
  } else {
    return bad("format version " + std::to_string(major) +
               " (expected 1, 2 or 3)");
  }
  if (headerLength > data.size() - headerStart)
    return bad("truncated header");
  const std::string header = data.substr(headerStart, headerLength);
  // The header is a Python dict literal: {'descr': '<f4', 'fortran_order':
  // False, 'shape': (2, 3), }.
  auto field = [&](const std::string &key) -> std::string {
    size_t at = header.find("'" + key + "'");
    if (at == std::string::npos)
      return {};
    size_t colon = header.find(':', at + key.size() + 2);
    if (colon == std::string::npos)
      return {};
    size_t begin = header.find_first_not_of(' ', colon + 1);
    return begin == std::string::npos ? std::string() : header.substr(begin);
  };
  std::string descr = field("descr");
  if (descr.empty() || descr[0] != '\'' ||
      descr.find('\'', 1) == std::string::npos)
    return bad("no dtype");
  descr = descr.substr(1, descr.find('\'', 1) - 1);
  const ElementInfo *element = nullptr;
  for (const ElementInfo &e : kElements)
    if (e.descr && descr == e.descr)
      element = &e;
  if (!element)
    return bad("dtype '" + descr +
               "' (expected a little-endian float16/32/64, (u)int8/16/32/64 "
               "or bool)");
  t.element = element->element;
  const std::string order = field("fortran_order");
  if (order.compare(0, 4, "True") == 0)
    return bad("Fortran order (save a C-contiguous array)");
  if (order.compare(0, 5, "False") != 0)
    return bad("no fortran_order");
  std::string shape = field("shape");
  if (shape.empty() || shape[0] != '(' || shape.find(')') == std::string::npos)
    return bad("no shape");
  shape = shape.substr(1, shape.find(')') - 1);
  t.shape.clear();
  std::stringstream dims(shape);
  std::string item;
  while (std::getline(dims, item, ',')) {
    size_t begin = item.find_first_not_of(' '),
           end = item.find_last_not_of(' ');
    if (begin == std::string::npos)
      continue;
    item = item.substr(begin, end - begin + 1);
    char *stop = nullptr;
    errno = 0;
    long long v = std::strtoll(item.c_str(), &stop, 10);
    if (errno || *stop || item.empty())
      return bad("shape (" + shape + ")");
    t.shape.push_back(v);
  }
  size_t bytes = 0;
  if (!checkShape(quoted(path) + " ", t.shape, element->size, bytes, error))
    return false;
  const size_t begin = headerStart + headerLength;
  if (data.size() - begin != bytes) {
    error = quoted(path) + " holds " + std::to_string(data.size() - begin) +
            " bytes of data; its shape needs " + std::to_string(bytes);
    return false;
  }
  t.bytes = data.substr(begin);
  return true;
}

//===----------------------------------------------------------------------===//
// ONNX TensorProto
//===----------------------------------------------------------------------===//

bool readTensorProto(const std::string &path, const std::string &data,
                     FileTensor &t, std::string &error) {
  onnx::TensorProto proto;
  if (!proto.ParseFromString(data)) {
    error = quoted(path) + " is not a readable ONNX TensorProto";
    return false;
  }
  switch (proto.data_type()) {
  case onnx::TensorProto::FLOAT:
    t.element = Element::F32;
    break;
  case onnx::TensorProto::DOUBLE:
    t.element = Element::F64;
    break;
  case onnx::TensorProto::FLOAT16:
    t.element = Element::F16;
    break;
  case onnx::TensorProto::BFLOAT16:
    t.element = Element::BF16;
    break;
  case onnx::TensorProto::INT8:
    t.element = Element::I8;
    break;
  case onnx::TensorProto::INT16:
    t.element = Element::I16;
    break;
  case onnx::TensorProto::INT32:
    t.element = Element::I32;
    break;
  case onnx::TensorProto::INT64:
    t.element = Element::I64;
    break;
  case onnx::TensorProto::UINT8:
    t.element = Element::U8;
    break;
  case onnx::TensorProto::UINT16:
    t.element = Element::U16;
    break;
  case onnx::TensorProto::UINT32:
    t.element = Element::U32;
    break;
  case onnx::TensorProto::UINT64:
    t.element = Element::U64;
    break;
  case onnx::TensorProto::BOOL:
    t.element = Element::Bool;
    break;
  default:
    error = quoted(path) + ": ONNX element type " +
            std::to_string(proto.data_type()) + " is not supported";
    return false;
  }
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    error = quoted(path) + ": data in an external file is not supported";
    return false;
  }
  t.shape.assign(proto.dims().begin(), proto.dims().end());
  size_t bytes = 0;
  const size_t size = info(t.element).size;
  if (!checkShape(quoted(path) + " ", t.shape, size, bytes, error))
    return false;
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != bytes) {
      error = quoted(path) + " holds " +
              std::to_string(proto.raw_data().size()) +
              " bytes of data; its shape needs " + std::to_string(bytes);
      return false;
    }
    t.bytes = proto.raw_data();
    return true;
  }
  // Typed fields: each element widened to the field's type.
  const size_t count = bytes / size;
  t.bytes.assign(bytes, '\0');
  auto copy = [&](const auto &field, auto as) {
    using T = decltype(as);
    if (static_cast<size_t>(field.size()) != count) {
      error = quoted(path) + " holds " + std::to_string(field.size()) +
              " values; its shape needs " + std::to_string(count);
      return false;
    }
    for (size_t i = 0; i < count; ++i) {
      T v = static_cast<T>(field.Get(static_cast<int>(i)));
      std::memcpy(&t.bytes[i * sizeof(T)], &v, sizeof(T));
    }
    return true;
  };
  switch (t.element) {
  case Element::F32:
    return copy(proto.float_data(), float());
  case Element::F64:
    return copy(proto.double_data(), double());
  case Element::I64:
    return copy(proto.int64_data(), int64_t());
  case Element::U64:
    return copy(proto.uint64_data(), uint64_t());
  case Element::U32:
    return copy(proto.uint64_data(), uint32_t());
  case Element::I32:
    return copy(proto.int32_data(), int32_t());
  // 16-bit floats travel as their bits in int32_data.
  case Element::I16:
  case Element::U16:
  case Element::F16:
  case Element::BF16:
    return copy(proto.int32_data(), uint16_t());
  case Element::I8:
  case Element::U8:
  case Element::Bool:
    return copy(proto.int32_data(), uint8_t());
  }
  return false;
}

bool readFile(const std::string &path, std::string &data, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + quoted(path);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = "cannot read " + quoted(path);
    return false;
  }
  data = ss.str();
  return true;
}

bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool readFileTensor(const std::string &path, FileTensor &t,
                    std::string &error) {
  std::string data;
  if (!readFile(path, data, error))
    return false;
  bool npy = endsWith(path, ".npy") ||
             (!endsWith(path, ".pb") && data.compare(0, 6, "\x93NUMPY") == 0);
  return npy ? readNpy(path, data, t, error)
             : readTensorProto(path, data, t, error);
}

//===----------------------------------------------------------------------===//
// Conversion
//===----------------------------------------------------------------------===//

double halfToDouble(uint16_t h) {
  int sign = h >> 15, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  double v;
  if (exponent == 0)
    v = std::ldexp(mantissa, -24);
  else if (exponent == 31)
    v = mantissa ? NAN : INFINITY;
  else
    v = std::ldexp(mantissa + 1024, exponent - 25);
  return sign ? -v : v;
}

double bfloat16ToDouble(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename T> T load(const char *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

/// One element: its value as a double (floats) or its bits as a 64-bit
/// integer (integers, sign- or zero-extended).
struct Scalar {
  bool isFloat;
  double real;
  uint64_t bits;
};

Scalar loadScalar(Element e, const char *p) {
  switch (e) {
  case Element::F16:
    return {true, halfToDouble(load<uint16_t>(p)), 0};
  case Element::BF16:
    return {true, bfloat16ToDouble(load<uint16_t>(p)), 0};
  case Element::F32:
    return {true, load<float>(p), 0};
  case Element::F64:
    return {true, load<double>(p), 0};
  case Element::I8:
    return {false, 0, uint64_t(int64_t(load<int8_t>(p)))};
  case Element::I16:
    return {false, 0, uint64_t(int64_t(load<int16_t>(p)))};
  case Element::I32:
    return {false, 0, uint64_t(int64_t(load<int32_t>(p)))};
  case Element::I64:
    return {false, 0, uint64_t(load<int64_t>(p))};
  case Element::U8:
    return {false, 0, load<uint8_t>(p)};
  case Element::U16:
    return {false, 0, load<uint16_t>(p)};
  case Element::U32:
    return {false, 0, load<uint32_t>(p)};
  case Element::U64:
    return {false, 0, load<uint64_t>(p)};
  case Element::Bool:
    return {false, 0, load<uint8_t>(p) != 0 ? 1u : 0u};
  }
  return {false, 0, 0};
}

bool isUnsigned(Element e) {
  return e == Element::U8 || e == Element::U16 || e == Element::U32 ||
         e == Element::U64;
}

/// The value of an integer scalar as a double.
double realOf(Element e, const Scalar &s) {
  if (s.isFloat)
    return s.real;
  return isUnsigned(e) ? double(s.bits) : double(int64_t(s.bits));
}

/// Stores `s` as an integer of `T`: the low bits of an integer, a float
/// truncated toward zero when `T` holds it.
template <typename T> bool storeInteger(const Scalar &s, char *to) {
  T v;
  if (s.isFloat) {
    // T holds [-2^(bits-1), 2^(bits-1)) or [0, 2^bits); NaN fails both
    // tests.
    const int bits = int(sizeof(T) * 8);
    const double lo = std::is_signed_v<T> ? -std::ldexp(1.0, bits - 1) : 0.0;
    const double hi = std::ldexp(1.0, std::is_signed_v<T> ? bits - 1 : bits);
    double t = std::trunc(s.real);
    if (!(t >= lo && t < hi))
      return false;
    v = static_cast<T>(t);
  } else {
    using U = std::make_unsigned_t<T>;
    v = static_cast<T>(static_cast<U>(s.bits));
  }
  std::memcpy(to, &v, sizeof(T));
  return true;
}

bool convert(const std::string &path, const FileTensor &in, slm_dtype dtype,
             HostTensor &out, std::string &error) {
  const ElementInfo &from = info(in.element);
  out.dtype = dtype;
  out.shape = in.shape;
  // The file's own type: the bytes as they are. bfloat16 has no NumPy
  // type: a uint16 file holds its bits (as writeNpy writes them, and as
  // the ONNX test data stores them).
  if (from.dtype == dtype ||
      (dtype == SLM_BFLOAT16 && in.element == Element::U16)) {
    out.bytes.assign(in.bytes.begin(), in.bytes.end());
    return true;
  }
  const size_t size = dtypeSize(dtype);
  if (size == 0 || dtype == SLM_FLOAT16 || dtype == SLM_BFLOAT16) {
    error = quoted(path) + " holds " + from.name + "; cannot convert it to " +
            dtypeName(dtype);
    return false;
  }
  const size_t count = in.bytes.size() / from.size;
  out.bytes.assign(count * size, 0);
  for (size_t i = 0; i < count; ++i) {
    Scalar s = loadScalar(in.element, in.bytes.data() + i * from.size);
    char *to = out.bytes.data() + i * size;
    bool ok = true;
    switch (dtype) {
    case SLM_FLOAT32: {
      float f = float(realOf(in.element, s));
      std::memcpy(to, &f, 4);
      break;
    }
    case SLM_FLOAT64: {
      double d = realOf(in.element, s);
      std::memcpy(to, &d, 8);
      break;
    }
    case SLM_INT8:
      ok = storeInteger<int8_t>(s, to);
      break;
    case SLM_INT16:
      ok = storeInteger<int16_t>(s, to);
      break;
    case SLM_INT32:
      ok = storeInteger<int32_t>(s, to);
      break;
    case SLM_INT64:
      ok = storeInteger<int64_t>(s, to);
      break;
    case SLM_UINT8:
      ok = storeInteger<uint8_t>(s, to);
      break;
    case SLM_UINT16:
      ok = storeInteger<uint16_t>(s, to);
      break;
    case SLM_UINT32:
      ok = storeInteger<uint32_t>(s, to);
      break;
    case SLM_UINT64:
      ok = storeInteger<uint64_t>(s, to);
      break;
    case SLM_BOOL:
      *to = s.isFloat ? s.real != 0 : s.bits != 0;
      break;
    case SLM_FLOAT16:
    case SLM_BFLOAT16:
    default:
      ok = false;
      break;
    }
    if (!ok) {
      std::ostringstream value;
      value << s.real;
      error = quoted(path) + ": element " + std::to_string(i) + " (" +
              value.str() + ") does not fit " + dtypeName(dtype);
      return false;
    }
  }
  return true;
}

} // namespace

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

bool mlir::slm::readTensorFile(const std::string &path, HostTensor &out,
                               std::string &error) {
  FileTensor file;
  if (!readFileTensor(path, file, error))
    return false;
  out.dtype = info(file.element).dtype;
  out.shape = std::move(file.shape);
  out.bytes.assign(file.bytes.begin(), file.bytes.end());
  return true;
}

bool mlir::slm::readTensorFile(const std::string &path, slm_dtype dtype,
                               HostTensor &out, std::string &error) {
  FileTensor file;
  return readFileTensor(path, file, error) &&
         convert(path, file, dtype, out, error);
}

bool mlir::slm::writeNpy(const std::string &path, const slm_tensor &tensor,
                         std::string &error) {
  const char *descr = descrOf(tensor.dtype);
  if (!descr) {
    error = "cannot write " + quoted(path) + ": unknown dtype " +
            std::to_string(static_cast<int>(tensor.dtype));
    return false;
  }
  if (tensor.rank < 0 || tensor.rank > SLM_MAX_RANK) {
    error = "cannot write " + quoted(path) + ": rank " +
            std::to_string(tensor.rank);
    return false;
  }
  std::vector<int64_t> shape(tensor.shape, tensor.shape + tensor.rank);
  size_t bytes = 0;
  if (!checkShape("cannot write " + quoted(path) + ": the tensor ", shape,
                  dtypeSize(tensor.dtype), bytes, error))
    return false;
  if (bytes && !tensor.data) {
    error = "cannot write " + quoted(path) + ": the tensor has no data";
    return false;
  }
  std::string text = "(";
  for (int32_t i = 0; i < tensor.rank; ++i)
    text += std::to_string(tensor.shape[i]) + (tensor.rank == 1      ? ","
                                               : i + 1 < tensor.rank ? ", "
                                                                     : "");
  text += ")";
  std::string header = "{'descr': '" + std::string(descr) +
                       "', 'fortran_order': False, 'shape': " + text + ", }";
  // Data starts 64-byte aligned; the header ends with a newline.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    error = "cannot write " + quoted(path);
    return false;
  }
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(length & 0xFF));
  out.put(static_cast<char>(length >> 8));
  out << header;
  if (bytes)
    out.write(static_cast<const char *>(tensor.data),
              static_cast<std::streamsize>(bytes));
  out.close();
  if (!out) {
    error = "cannot write " + quoted(path);
    return false;
  }
  return true;
}
