//===- DialectTest.cpp - Tests of slm op helpers ----------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace mlir;

namespace {

class SLMDialectTest : public ::testing::Test {
protected:
  SLMDialectTest() {
    context.loadDialect<slm::SLMDialect, func::FuncDialect>();
  }

  /// Parses `source` and returns its first op of type OpTy.
  template <typename OpTy> OpTy parseFirst(StringRef source) {
    module = parseSourceString<ModuleOp>(source, &context);
    EXPECT_TRUE(module) << "failed to parse";
    OpTy found;
    if (module)
      module->walk([&](OpTy op) {
        if (!found)
          found = op;
      });
    return found;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(SLMDialectTest, Int4StoredBytesCountCodesScalesAndZeroPoints) {
  auto op = parseFirst<slm::DequantizeWeightOp>(R"mlir(
    func.func @f(%c: tensor<64x128xi8>, %s: tensor<64x2xf32>, %z: tensor<64x2xi8>) -> tensor<64x256xf32> {
      %w = slm.dequantize_weight <int4> %c, %s zero_points %z group_size 128
          : (tensor<64x128xi8>, tensor<64x2xf32>, tensor<64x2xi8>) -> tensor<64x256xf32>
      return %w : tensor<64x256xf32>
    })mlir");
  ASSERT_TRUE(op);
  EXPECT_EQ(op.getCodeBits(), 4u);
  auto iface = cast<slm::CompressedWeightOpInterface>(op.getOperation());
  // 64*128 code bytes + 64*2 f32 scales + 64*2 i8 zero points.
  EXPECT_EQ(iface.getStoredBytes(), 64 * 128 + 64 * 2 * 4 + 64 * 2);
  EXPECT_EQ(iface.getDenseWeightType().getShape(),
            (ArrayRef<int64_t>{64, 256}));
}

TEST_F(SLMDialectTest, AttentionDefaultScaleIsInverseSqrtHeadDim) {
  auto op = parseFirst<slm::AttentionOp>(R"mlir(
    func.func @f(%q: tensor<1x8x768xf32>) -> tensor<1x8x768xf32> {
      %r = slm.attention %q, %q, %q {num_heads = 12 : i64}
          : (tensor<1x8x768xf32>, tensor<1x8x768xf32>, tensor<1x8x768xf32>) -> tensor<1x8x768xf32>
      return %r : tensor<1x8x768xf32>
    })mlir");
  ASSERT_TRUE(op);
  EXPECT_EQ(op.getQueryHeadDim(), 64);
  EXPECT_DOUBLE_EQ(op.getEffectiveScale(), 1.0 / 8.0);
  op.setScaleAttr(FloatAttr::get(Float64Type::get(&context), 0.5));
  EXPECT_DOUBLE_EQ(op.getEffectiveScale(), 0.5);
}

TEST_F(SLMDialectTest, LinearReportsFeatureCounts) {
  auto op = parseFirst<slm::LinearOp>(R"mlir(
    func.func @f(%x: tensor<?x384xf32>, %w: tensor<1536x384xf32>) -> tensor<?x1536xf32> {
      %y = slm.linear %x, %w : (tensor<?x384xf32>, tensor<1536x384xf32>) -> tensor<?x1536xf32>
      return %y : tensor<?x1536xf32>
    })mlir");
  ASSERT_TRUE(op);
  EXPECT_EQ(op.getOutFeatures(), 1536);
  EXPECT_EQ(op.getInFeatures(), 384);
  EXPECT_EQ(op.getActivation(), slm::Activation::none);
}

TEST_F(SLMDialectTest, VerifierRejectsMismatchedInFeatures) {
  // Diagnostics are expected here; keep them off the test's output.
  ScopedDiagnosticHandler silence(&context,
                                  [](Diagnostic &) { return success(); });
  OwningOpRef<ModuleOp> bad = parseSourceString<ModuleOp>(R"mlir(
    func.func @f(%x: tensor<?x384xf32>, %w: tensor<1536x512xf32>) -> tensor<?x1536xf32> {
      %y = slm.linear %x, %w : (tensor<?x384xf32>, tensor<1536x512xf32>) -> tensor<?x1536xf32>
      return %y : tensor<?x1536xf32>
    })mlir",
                                                          &context);
  EXPECT_FALSE(bad);
}
} // namespace
