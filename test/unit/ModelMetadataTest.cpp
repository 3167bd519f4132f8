//===- ModelMetadataTest.cpp - The runtime's metadata reader ------------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "ModelMetadata.h"

#include "gtest/gtest.h"

#include <string>

using mlir::slm::runtime::parseModelMetadata;
using mlir::slm::runtime::TensorInfo;

namespace {

bool parse(const std::string &text, std::vector<TensorInfo> &in,
           std::vector<TensorInfo> &out, int64_t &abi) {
  return parseModelMetadata(text.c_str(), in, out, abi);
}

bool parses(const std::string &text) {
  std::vector<TensorInfo> in, out;
  int64_t abi = 0;
  return parse(text, in, out, abi);
}

TEST(ModelMetadata, ReadsWhatSlmcWrites) {
  std::vector<TensorInfo> in, out;
  int64_t abi = 0;
  ASSERT_TRUE(parse(R"({"abi": 3, "inputs": [{"name": "input_ids",
      "dtype": "int64", "shape": [-1, 7], "dims": ["batch", ""]}],
      "outputs": [{"name": "y", "dtype": "uint8", "shape": [], "dims": []}],
      "future": {"nested": [1, "two", {"three": []}]}})",
                    in, out, abi));
  EXPECT_EQ(abi, 3);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].name, "input_ids");
  EXPECT_EQ(in[0].dtype, SLM_INT64);
  EXPECT_EQ(in[0].shape, (std::vector<int64_t>{-1, 7}));
  EXPECT_EQ(in[0].dims, (std::vector<std::string>{"batch", ""}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dtype, SLM_UINT8);
  EXPECT_TRUE(out[0].shape.empty());
}

TEST(ModelMetadata, DecodesStringEscapes) {
  std::vector<TensorInfo> in, out;
  int64_t abi = 0;
  ASSERT_TRUE(parse(R"({"inputs": [{"name": "a\"b\\c\/d\te\n\u00e9\ud83d\ude00",
      "dtype": "float32", "shape": [1]}], "outputs": []})",
                    in, out, abi));
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].name, "a\"b\\c/d\te\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(in[0].dims, (std::vector<std::string>{""}));
}

TEST(ModelMetadata, RefusesMalformedText) {
  EXPECT_FALSE(parses(""));
  EXPECT_FALSE(parses("{"));
  EXPECT_FALSE(parses(R"({"abi": 3} trailing)"));
  EXPECT_FALSE(parses(R"({"abi": 99999999999999999999999})"));
  EXPECT_FALSE(parses(R"({"abi": "3)"));
  EXPECT_FALSE(parses(R"({"inputs": [{"name": "x\)"));
  EXPECT_FALSE(parses(R"({"inputs": [{"name": "\u12"}]})"));
  EXPECT_FALSE(parses(R"({"inputs": [{"name": "\udc00"}]})"));
  EXPECT_FALSE(parses(R"({"inputs": [{"name": "\ud800x"}]})"));
  EXPECT_FALSE(parses(R"({"inputs": [{"name": "\q"}]})"));
  EXPECT_FALSE(parses(R"({"inputs": [{"dtype": "float128"}]})"));
}

TEST(ModelMetadata, RefusesImpossibleShapes) {
  EXPECT_FALSE(parses(R"({"inputs": [{"shape": [-2]}]})"));
  EXPECT_FALSE(parses(R"({"inputs": [{"shape": [1,1,1,1,1,1,1,1,1]}]})"));
  EXPECT_FALSE(parses(R"({"inputs": [{"shape": [1], "dims": ["a", "b"]}]})"));
  EXPECT_TRUE(parses(R"({"inputs": [{"shape": [1,1,1,1,1,1,1,1]}]})"));
}

TEST(ModelMetadata, BoundsNesting) {
  std::string deep = "{\"x\": " + std::string(100000, '[') + "}";
  EXPECT_FALSE(parses(deep));
  std::string ok = "{\"x\": " + std::string(20, '[') + std::string(20, ']') + "}";
  EXPECT_TRUE(parses(ok));
}

} // namespace
