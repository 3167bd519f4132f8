//===- ShapeTest.cpp - Tests of numpy broadcasting helpers ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Support/Shape.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"

#include <gtest/gtest.h>

using namespace mlir;
using slm::kDynamicDim;
using slm::Shape;

// Support code marks dynamic extents the way MLIR types do, so that shapes
// pass between the two unchanged.
static_assert(kDynamicDim == ShapedType::kDynamic,
              "slm::kDynamicDim must equal ShapedType::kDynamic");

namespace {
constexpr int64_t D = kDynamicDim;

TEST(Broadcast, AlignsTrailingDimensions) {
  EXPECT_EQ(slm::broadcastShapes({8, 128, 768}, {768}), (Shape{8, 128, 768}));
  EXPECT_EQ(slm::broadcastShapes({1, 3}, {4, 1}), (Shape{4, 3}));
  EXPECT_EQ(slm::broadcastShapes({}, {2, 2}), (Shape{2, 2}));
}

TEST(Broadcast, RejectsMismatchedStaticExtents) {
  EXPECT_FALSE(slm::broadcastShapes({2, 3}, {4}).has_value());
  EXPECT_FALSE(slm::broadcastShapes({2, 3}, {3, 2}).has_value());
  EXPECT_EQ(slm::broadcastShapes({5, 1}, {3, 1, 1}), (Shape{3, 5, 1}));
}

TEST(Broadcast, DynamicExtents) {
  // Dynamic against 1 stays dynamic; against a static N > 1 becomes N.
  EXPECT_EQ(slm::broadcastShapes({D, 1}, {1, 1}), (Shape{D, 1}));
  EXPECT_EQ(slm::broadcastShapes({D, 12}, {8, 1}), (Shape{8, 12}));
  EXPECT_EQ(slm::broadcastShapes({D}, {D}), (Shape{D}));
}

TEST(Broadcast, IsBroadcastableTo) {
  EXPECT_TRUE(slm::isBroadcastableTo({1, 1, 128}, {8, 12, 128, 128}));
  EXPECT_TRUE(slm::isBroadcastableTo({D, 1, 1, D}, {D, 12, D, D}));
  EXPECT_FALSE(slm::isBroadcastableTo({2, 128}, {8, 128}));
  EXPECT_FALSE(slm::isBroadcastableTo({1, 1, 1, 1, 1}, {1, 1, 1, 1}));
}

TEST(ShapeUtils, NumElementsAndFormatting) {
  EXPECT_EQ(slm::numElements({2, 3, 4}), 24);
  EXPECT_EQ(slm::numElements({2, D}), D);
  EXPECT_EQ(slm::numElements({}), 1);
  EXPECT_EQ(slm::formatShape({2, D, 768}), "2x?x768");
}

TEST(ShapeUtils, NormalizeAxis) {
  EXPECT_EQ(slm::normalizeAxis(-1, 3), 2);
  EXPECT_EQ(slm::normalizeAxis(0, 3), 0);
  EXPECT_FALSE(slm::normalizeAxis(3, 3).has_value());
  EXPECT_FALSE(slm::normalizeAxis(-4, 3).has_value());
}
} // namespace
