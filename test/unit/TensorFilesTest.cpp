//===- TensorFilesTest.cpp - Tests of the .npy / .pb reader and writer ----===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Support/TensorFiles.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

using mlir::slm::HostTensor;
using mlir::slm::readTensorFile;
using mlir::slm::writeNpy;

namespace {

/// A folder for one test's files, removed afterwards.
class TensorFilesTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "slm-tensorfiles-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    ASSERT_NE(mkdtemp(buffer.data()), nullptr);
    dir = buffer.data();
  }
  void TearDown() override {
    for (const std::string &f : files)
      std::remove(f.c_str());
    rmdir(dir.c_str());
  }
  std::string path(const std::string &name) {
    files.push_back(dir + "/" + name);
    return files.back();
  }
  /// Writes `bytes` to the file `name`; returns its path.
  std::string write(const std::string &name, const std::string &bytes) {
    std::string p = path(name);
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string writeProto(const std::string &name,
                         const onnx::TensorProto &proto) {
    return write(name, proto.SerializeAsString());
  }

  std::string dir;
  std::vector<std::string> files;
};

/// A version-1 .npy file with `header` (the dict) and `data`.
std::string npy(const std::string &dict, const std::string &data,
                int version = 1) {
  std::string header = dict;
  size_t prefix = version == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  size_t n = header.size();
  for (size_t i = 0; i < prefix - 8; ++i)
    out += static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

template <typename T> std::string bytesOf(const std::vector<T> &values) {
  return std::string(reinterpret_cast<const char *>(values.data()),
                     values.size() * sizeof(T));
}

template <typename T> std::vector<T> valuesOf(const HostTensor &t) {
  std::vector<T> out(t.bytes.size() / sizeof(T));
  if (!t.bytes.empty())
    std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  return out;
}

slm_tensor tensorOf(slm_dtype dtype, std::vector<int64_t> shape, void *data) {
  slm_tensor t{};
  t.dtype = dtype;
  t.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    t.shape[i] = shape[i];
  t.data = data;
  return t;
}

//===----------------------------------------------------------------------===//
// HostTensor
//===----------------------------------------------------------------------===//

TEST(HostTensorTest, ElementsAndView) {
  HostTensor t;
  EXPECT_EQ(t.numElements(), 1); // a scalar
  t.dtype = SLM_INT32;
  t.shape = {2, 3};
  t.bytes.resize(24);
  EXPECT_EQ(t.numElements(), 6);
  slm_tensor v = t.view();
  EXPECT_EQ(v.dtype, SLM_INT32);
  EXPECT_EQ(v.rank, 2);
  EXPECT_EQ(v.shape[0], 2);
  EXPECT_EQ(v.shape[1], 3);
  EXPECT_EQ(v.data, t.bytes.data());
  EXPECT_EQ(v.owner, nullptr);
  const HostTensor empty{SLM_FLOAT32, {0, 4}, {}};
  EXPECT_EQ(empty.numElements(), 0);
  EXPECT_EQ(empty.view().data, nullptr);
}

//===----------------------------------------------------------------------===//
// .npy
//===----------------------------------------------------------------------===//

TEST_F(TensorFilesTest, NpyRoundTripsEveryDtype) {
  struct Case {
    slm_dtype dtype;
    size_t size;
  };
  for (Case c : {Case{SLM_FLOAT32, 4}, Case{SLM_FLOAT64, 8},
                 Case{SLM_FLOAT16, 2}, Case{SLM_INT8, 1}, Case{SLM_INT16, 2},
                 Case{SLM_INT32, 4}, Case{SLM_INT64, 8}, Case{SLM_BOOL, 1}}) {
    SCOPED_TRACE(static_cast<int>(c.dtype));
    std::vector<char> data(2 * 3 * c.size);
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = c.dtype == SLM_BOOL ? char(i % 2) : char(i * 7 + 1);
    slm_tensor t = tensorOf(c.dtype, {2, 3}, data.data());
    std::string file =
        path("dtype" + std::to_string(static_cast<int>(c.dtype)) + ".npy");
    std::string error;
    ASSERT_TRUE(writeNpy(file, t, error)) << error;
    HostTensor back;
    ASSERT_TRUE(readTensorFile(file, back, error)) << error;
    EXPECT_EQ(back.dtype, c.dtype);
    EXPECT_EQ(back.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(back.bytes, data);
  }
}

TEST_F(TensorFilesTest, NpyRoundTripsScalarsVectorsAndEmptyTensors) {
  std::string error;
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{}, {5}, {0, 3}, {1, 1, 1, 1, 1, 1, 1, 2}}) {
    std::vector<float> data(1);
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    data.resize(n);
    for (int64_t i = 0; i < n; ++i)
      data[i] = 0.5f * i - 1;
    std::string file = path("shape" + std::to_string(shape.size()) + ".npy");
    ASSERT_TRUE(
        writeNpy(file, tensorOf(SLM_FLOAT32, shape, data.data()), error))
        << error;
    HostTensor back;
    ASSERT_TRUE(readTensorFile(file, back, error)) << error;
    EXPECT_EQ(back.shape, shape);
    EXPECT_EQ(valuesOf<float>(back), data);
  }
}

TEST_F(TensorFilesTest, NpyHeaderIsWhatNumPyWrites) {
  float data[3] = {1, 2, 3};
  std::string file = path("v.npy"), error;
  ASSERT_TRUE(writeNpy(file, tensorOf(SLM_FLOAT32, {3}, data), error));
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  // The bytes of numpy.save(np.array([1, 2, 3], np.float32)): a 118-byte
  // header padded with spaces so that the data starts at 128.
  const std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  ASSERT_EQ(bytes.size(), 128u + 12u);
  EXPECT_EQ(bytes.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes.substr(10 + dict.size(), 127 - 10 - dict.size()),
            std::string(127 - 10 - dict.size(), ' '));
  EXPECT_EQ(bytes[127], '\n');
  EXPECT_EQ(bytes.substr(128), bytesOf(std::vector<float>{1, 2, 3}));
}

TEST_F(TensorFilesTest, NpyReadsVersionsTwoAndThreeAndUnsigned) {
  std::vector<uint8_t> data = {0, 200, 255};
  std::string dict =
      "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
  for (int version : {1, 2, 3}) {
    SCOPED_TRACE(version);
    std::string file = write("u8_" + std::to_string(version) + ".npy",
                             npy(dict, bytesOf(data), version));
    HostTensor t;
    std::string error;
    ASSERT_TRUE(readTensorFile(file, t, error)) << error;
    // Unsigned integers keep their own dtype.
    EXPECT_EQ(t.dtype, SLM_UINT8);
    EXPECT_EQ(valuesOf<uint8_t>(t), (std::vector<uint8_t>{0, 200, 255}));
  }
}

TEST_F(TensorFilesTest, BFloat16IsWrittenAsItsBits) {
  uint16_t data[2] = {0x3F80, 0xC000}; // 1.0, -2.0
  std::string file = path("bf16.npy"), error;
  ASSERT_TRUE(writeNpy(file, tensorOf(SLM_BFLOAT16, {2}, data), error));
  HostTensor t;
  ASSERT_TRUE(readTensorFile(file, t, error)) << error;
  EXPECT_EQ(t.dtype, SLM_UINT16); // '<u2': NumPy has no bfloat16
  EXPECT_EQ(valuesOf<uint16_t>(t), (std::vector<uint16_t>{0x3F80, 0xC000}));
  // Read back as bfloat16: the bits as they are.
  ASSERT_TRUE(readTensorFile(file, SLM_BFLOAT16, t, error)) << error;
  EXPECT_EQ(t.dtype, SLM_BFLOAT16);
  EXPECT_EQ(valuesOf<uint16_t>(t), (std::vector<uint16_t>{0x3F80, 0xC000}));
}

TEST_F(TensorFilesTest, UnsignedDtypesRoundTrip) {
  uint8_t u8[3] = {0, 128, 255};
  uint16_t u16[2] = {1, 65535};
  uint32_t u32[2] = {7, 4000000000u};
  uint64_t u64[2] = {9, 18000000000000000000ull};
  struct Case {
    slm_dtype dtype;
    const char *descr;
    void *data;
    int64_t count;
  };
  for (const Case &c :
       {Case{SLM_UINT8, "|u1", u8, 3}, Case{SLM_UINT16, "<u2", u16, 2},
        Case{SLM_UINT32, "<u4", u32, 2}, Case{SLM_UINT64, "<u8", u64, 2}}) {
    SCOPED_TRACE(c.descr);
    std::string file = path("u.npy"), error;
    ASSERT_TRUE(writeNpy(file, tensorOf(c.dtype, {c.count}, c.data), error))
        << error;
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    EXPECT_NE(text.find(std::string("'descr': '") + c.descr + "'"),
              std::string::npos);
    HostTensor t;
    ASSERT_TRUE(readTensorFile(file, t, error)) << error;
    EXPECT_EQ(t.dtype, c.dtype);
    EXPECT_EQ(t.bytes.size(), c.count * slm_abi_dtype_size(c.dtype));
    EXPECT_EQ(std::memcmp(t.bytes.data(), c.data, t.bytes.size()), 0);
  }
  // Converting to an unsigned dtype: integers keep their low bits, floats
  // must fit.
  HostTensor t;
  std::string error;
  std::string f32 = path("f.npy");
  float floats[2] = {255.0f, 3.5f};
  ASSERT_TRUE(writeNpy(f32, tensorOf(SLM_FLOAT32, {2}, floats), error));
  ASSERT_TRUE(readTensorFile(f32, SLM_UINT8, t, error)) << error;
  EXPECT_EQ(valuesOf<uint8_t>(t), (std::vector<uint8_t>{255, 3}));
  floats[1] = -1.0f;
  ASSERT_TRUE(writeNpy(f32, tensorOf(SLM_FLOAT32, {2}, floats), error));
  EXPECT_FALSE(readTensorFile(f32, SLM_UINT8, t, error));
  EXPECT_NE(error.find("does not fit uint8"), std::string::npos) << error;
}

TEST_F(TensorFilesTest, FileTypeByExtensionElseByContent) {
  float data[2] = {4, 5};
  std::string npyFile = path("x.npy"), error;
  ASSERT_TRUE(writeNpy(npyFile, tensorOf(SLM_FLOAT32, {2}, data), error));
  std::ifstream in(npyFile, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  HostTensor t;
  // No known extension: the .npy magic decides.
  ASSERT_TRUE(readTensorFile(write("x.bin", bytes), t, error)) << error;
  EXPECT_EQ(valuesOf<float>(t), (std::vector<float>{4, 5}));
  // A .pb is read as a TensorProto even when it holds .npy bytes.
  EXPECT_FALSE(readTensorFile(write("x.pb", bytes), t, error));
  EXPECT_NE(error.find("x.pb' is not a readable ONNX TensorProto"),
            std::string::npos)
      << error;
  // And a TensorProto without a known extension is read as one.
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::INT64);
  proto.add_dims(1);
  proto.add_int64_data(42);
  ASSERT_TRUE(readTensorFile(writeProto("x.tensor", proto), t, error)) << error;
  EXPECT_EQ(valuesOf<int64_t>(t), (std::vector<int64_t>{42}));
}

/// Expects reading `file` to fail with a message containing `message`.
void expectError(const std::string &file, const std::string &message) {
  HostTensor t;
  std::string error;
  EXPECT_FALSE(readTensorFile(file, t, error)) << file;
  EXPECT_NE(error.find(message), std::string::npos)
      << "error: " << error << "\nexpected: " << message;
  // Every message names the file.
  EXPECT_NE(error.find(file), std::string::npos) << error;
}

TEST_F(TensorFilesTest, NpyErrors) {
  const std::string f4 =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string eight(8, '\0');
  expectError(path("missing.npy"), "cannot open '");
  expectError(write("magic.npy", "not numpy at all"),
              "is not a NumPy .npy file we can read: no .npy magic");
  expectError(write("short.npy", npy(f4, eight).substr(0, 40)),
              "is not a NumPy .npy file we can read: truncated header");
  expectError(write("short2.npy", std::string("\x93NUMPY\x02\x00\x01", 9) +
                                      std::string(1, '\0')),
              "truncated header");
  expectError(
      write("version.npy", std::string("\x93NUMPY\x07\x00\x00\x00", 10)),
      "format version 7");
  expectError(write("data.npy", npy(f4, eight.substr(0, 7))),
              "holds 7 bytes of data; its shape needs 8");
  expectError(write("extra.npy", npy(f4, eight + "x")),
              "holds 9 bytes of data; its shape needs 8");
  expectError(write("nodescr.npy",
                    npy("{'fortran_order': False, 'shape': (2,), }", eight)),
              "no dtype");
  expectError(write("noshape.npy",
                    npy("{'descr': '<f4', 'fortran_order': False, }", eight)),
              "no shape");
  expectError(write("badshape.npy",
                    npy("{'descr': '<f4', 'fortran_order': False, 'shape': "
                        "(2, x), }",
                        eight)),
              "shape (2, x)");
  expectError(write("negative.npy",
                    npy("{'descr': '<f4', 'fortran_order': False, 'shape': "
                        "(-2,), }",
                        eight)),
              "has a negative extent (-2)");
  expectError(write("bigendian.npy",
                    npy("{'descr': '>f4', 'fortran_order': False, 'shape': "
                        "(2,), }",
                        eight)),
              "dtype '>f4'");
  expectError(write("complex.npy",
                    npy("{'descr': '<c8', 'fortran_order': False, 'shape': "
                        "(1,), }",
                        eight)),
              "dtype '<c8'");
  expectError(write("fortran.npy",
                    npy("{'descr': '<f4', 'fortran_order': True, 'shape': "
                        "(2,), }",
                        eight)),
              "Fortran order");
  expectError(
      write("rank.npy", npy("{'descr': '|i1', 'fortran_order': False, 'shape': "
                            "(1, 1, 1, 1, 1, 1, 1, 1, 1), }",
                            "x")),
      "has rank 9; the runtime takes at most 8");
}

//===----------------------------------------------------------------------===//
// ONNX TensorProto
//===----------------------------------------------------------------------===//

TEST_F(TensorFilesTest, TensorProtoRawAndTypedData) {
  std::string error;
  HostTensor t;
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::FLOAT);
    proto.add_dims(2);
    proto.add_dims(2);
    proto.set_raw_data(bytesOf(std::vector<float>{1, 2, 3, 4}));
    ASSERT_TRUE(readTensorFile(writeProto("raw.pb", proto), t, error)) << error;
    EXPECT_EQ(t.dtype, SLM_FLOAT32);
    EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(valuesOf<float>(t), (std::vector<float>{1, 2, 3, 4}));
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::FLOAT);
    proto.add_dims(3);
    for (float v : {0.5f, -1.0f, 8.0f})
      proto.add_float_data(v);
    ASSERT_TRUE(readTensorFile(writeProto("typed.pb", proto), t, error))
        << error;
    EXPECT_EQ(valuesOf<float>(t), (std::vector<float>{0.5f, -1.0f, 8.0f}));
  }
  {
    onnx::TensorProto proto; // a scalar
    proto.set_data_type(onnx::TensorProto::DOUBLE);
    proto.add_double_data(2.25);
    ASSERT_TRUE(readTensorFile(writeProto("scalar.pb", proto), t, error))
        << error;
    EXPECT_EQ(t.dtype, SLM_FLOAT64);
    EXPECT_TRUE(t.shape.empty());
    EXPECT_EQ(valuesOf<double>(t), (std::vector<double>{2.25}));
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::UINT8);
    proto.add_dims(2);
    proto.add_int32_data(7);
    proto.add_int32_data(255);
    ASSERT_TRUE(readTensorFile(writeProto("u8.pb", proto), t, error)) << error;
    EXPECT_EQ(t.dtype, SLM_UINT8);
    EXPECT_EQ(valuesOf<uint8_t>(t), (std::vector<uint8_t>{7, 255}));
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::BOOL);
    proto.add_dims(3);
    for (int v : {1, 0, 1})
      proto.add_int32_data(v);
    ASSERT_TRUE(readTensorFile(writeProto("bool.pb", proto), t, error))
        << error;
    EXPECT_EQ(t.dtype, SLM_BOOL);
    EXPECT_EQ(valuesOf<uint8_t>(t), (std::vector<uint8_t>{1, 0, 1}));
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::FLOAT16);
    proto.add_dims(1);
    proto.add_int32_data(0x3E00); // 1.5
    ASSERT_TRUE(readTensorFile(writeProto("f16.pb", proto), t, error)) << error;
    EXPECT_EQ(t.dtype, SLM_FLOAT16);
    EXPECT_EQ(valuesOf<uint16_t>(t), (std::vector<uint16_t>{0x3E00}));
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::UINT32);
    proto.add_dims(1);
    proto.add_uint64_data(4000000000u);
    ASSERT_TRUE(readTensorFile(writeProto("u32.pb", proto), t, error)) << error;
    EXPECT_EQ(t.dtype, SLM_UINT32);
    EXPECT_EQ(valuesOf<uint32_t>(t), (std::vector<uint32_t>{4000000000u}));
  }
}

TEST_F(TensorFilesTest, TensorProtoErrors) {
  expectError(write("junk.pb", "\xff\xff\xff\xff"),
              "is not a readable ONNX TensorProto");
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::STRING);
    proto.add_dims(1);
    proto.add_string_data("a");
    expectError(writeProto("string.pb", proto),
                "ONNX element type 8 is not supported");
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::FLOAT);
    proto.add_dims(4);
    proto.set_raw_data(bytesOf(std::vector<float>{1, 2, 3}));
    expectError(writeProto("raw.pb", proto),
                "holds 12 bytes of data; its shape needs 16");
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::INT64);
    proto.add_dims(2);
    proto.add_int64_data(1);
    expectError(writeProto("typed.pb", proto),
                "holds 1 values; its shape needs 2");
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::FLOAT);
    proto.add_dims(-1);
    expectError(writeProto("negative.pb", proto), "has a negative extent (-1)");
  }
  {
    onnx::TensorProto proto;
    proto.set_data_type(onnx::TensorProto::FLOAT);
    proto.add_dims(1);
    proto.set_data_location(onnx::TensorProto::EXTERNAL);
    expectError(writeProto("external.pb", proto),
                "data in an external file is not supported");
  }
}

//===----------------------------------------------------------------------===//
// Conversion to a wanted dtype (calibration)
//===----------------------------------------------------------------------===//

TEST_F(TensorFilesTest, ConvertsIntegersAndFloats) {
  std::string error;
  HostTensor t;
  std::string i64 =
      write("ids.npy",
            npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                bytesOf(std::vector<int64_t>{101, -7, 1LL << 40})));
  ASSERT_TRUE(readTensorFile(i64, SLM_INT64, t, error)) << error;
  EXPECT_EQ(valuesOf<int64_t>(t), (std::vector<int64_t>{101, -7, 1LL << 40}));
  // Integer to integer keeps the low bits.
  ASSERT_TRUE(readTensorFile(i64, SLM_INT32, t, error)) << error;
  EXPECT_EQ(t.dtype, SLM_INT32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(valuesOf<int32_t>(t), (std::vector<int32_t>{101, -7, 0}));
  ASSERT_TRUE(readTensorFile(i64, SLM_FLOAT32, t, error)) << error;
  EXPECT_EQ(valuesOf<float>(t),
            (std::vector<float>{101.0f, -7.0f, float(1LL << 40)}));
  ASSERT_TRUE(readTensorFile(i64, SLM_BOOL, t, error)) << error;
  EXPECT_EQ(valuesOf<uint8_t>(t), (std::vector<uint8_t>{1, 1, 1}));

  std::string u8 =
      write("pixels.npy",
            npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }",
                bytesOf(std::vector<uint8_t>{200, 3})));
  ASSERT_TRUE(readTensorFile(u8, SLM_INT8, t, error)) << error;
  EXPECT_EQ(valuesOf<int8_t>(t), (std::vector<int8_t>{-56, 3}));
  ASSERT_TRUE(readTensorFile(u8, SLM_FLOAT64, t, error)) << error;
  EXPECT_EQ(valuesOf<double>(t), (std::vector<double>{200, 3}));

  // Float to integer truncates toward zero.
  std::string f32 = write(
      "f.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                   bytesOf(std::vector<float>{2.7f, -2.7f, 0.0f, 127.0f})));
  ASSERT_TRUE(readTensorFile(f32, SLM_INT8, t, error)) << error;
  EXPECT_EQ(valuesOf<int8_t>(t), (std::vector<int8_t>{2, -2, 0, 127}));
  ASSERT_TRUE(readTensorFile(f32, SLM_FLOAT64, t, error)) << error;
  EXPECT_EQ(valuesOf<double>(t)[0], double(2.7f));
  ASSERT_TRUE(readTensorFile(f32, SLM_BOOL, t, error)) << error;
  EXPECT_EQ(valuesOf<uint8_t>(t), (std::vector<uint8_t>{1, 1, 0, 1}));

  // float16 files convert to the other floats.
  onnx::TensorProto half;
  half.set_data_type(onnx::TensorProto::FLOAT16);
  half.add_dims(2);
  half.add_int32_data(0x3E00); // 1.5
  half.add_int32_data(0xC400); // -4
  ASSERT_TRUE(readTensorFile(writeProto("h.pb", half), SLM_FLOAT32, t, error))
      << error;
  EXPECT_EQ(valuesOf<float>(t), (std::vector<float>{1.5f, -4.0f}));
}

TEST_F(TensorFilesTest, ConversionErrorsNameTheFile) {
  HostTensor t;
  std::string error;
  std::string f32 =
      write("big.npy",
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                bytesOf(std::vector<float>{1.0f, 300.0f})));
  EXPECT_FALSE(readTensorFile(f32, SLM_INT8, t, error));
  EXPECT_NE(error.find("big.npy': element 1 (300) does not fit int8"),
            std::string::npos)
      << error;
  EXPECT_FALSE(readTensorFile(f32, SLM_FLOAT16, t, error));
  EXPECT_NE(error.find("big.npy' holds float32; cannot convert it to float16"),
            std::string::npos)
      << error;
  std::string nan =
      write("nan.npy",
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                bytesOf(std::vector<float>{NAN})));
  EXPECT_FALSE(readTensorFile(nan, SLM_INT32, t, error));
  EXPECT_NE(error.find("nan.npy': element 0"), std::string::npos) << error;
  // Reading errors are the same as without conversion.
  EXPECT_FALSE(readTensorFile(write("bad.npy", "junk"), SLM_FLOAT32, t, error));
  EXPECT_NE(error.find("bad.npy' is not a NumPy .npy file we can read: no "
                       ".npy magic"),
            std::string::npos)
      << error;
}

TEST_F(TensorFilesTest, WriteErrors) {
  std::string error;
  float data[1] = {0};
  EXPECT_FALSE(writeNpy(dir + "/no/such/folder/x.npy",
                        tensorOf(SLM_FLOAT32, {1}, data), error));
  EXPECT_NE(error.find("cannot write '"), std::string::npos) << error;
  EXPECT_FALSE(
      writeNpy(path("null.npy"), tensorOf(SLM_FLOAT32, {2}, nullptr), error));
  EXPECT_NE(error.find("the tensor has no data"), std::string::npos) << error;
  EXPECT_FALSE(writeNpy(path("dtype.npy"),
                        tensorOf(static_cast<slm_dtype>(99), {1}, data),
                        error));
  EXPECT_NE(error.find("unknown dtype 99"), std::string::npos) << error;
}

} // namespace
