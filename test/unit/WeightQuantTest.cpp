//===- WeightQuantTest.cpp - Tests of weight quantization codecs -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Round trips against a float64 reference of each scheme's error bound.
//
//===----------------------------------------------------------------------===//

#include "slm/Support/WeightQuant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using slm::QuantCode;

namespace {

std::vector<float> randomWeight(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> w(rows * cols);
  for (float &x : w)
    x = dist(rng);
  return w;
}

/// Largest |w - dequant(quant(w))| relative to its group's scale.
double maxErrorInScales(const std::vector<float> &w,
                        const slm::QuantizedWeight &q) {
  std::vector<float> back = slm::dequantizeWeight(q);
  double worst = 0;
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) {
      double scale = q.scales[r * q.groupsPerRow() + c / q.groupSize];
      worst = std::max(worst, std::fabs(double(w[r * q.cols + c]) -
                                        double(back[r * q.cols + c])) /
                                  scale);
    }
  return worst;
}

struct Scheme {
  QuantCode code;
  int64_t group;
  bool symmetric;
};

class RoundTrip : public ::testing::TestWithParam<Scheme> {};

TEST_P(RoundTrip, ErrorIsWithinHalfAStep) {
  const Scheme s = GetParam();
  const int64_t rows = 16, cols = 256;
  std::vector<float> w = randomWeight(rows, cols, 7);
  slm::QuantizedWeight q =
      slm::quantizeWeight(w.data(), rows, cols, s.group, s.code, s.symmetric);
  ASSERT_EQ(q.groupsPerRow(), cols / s.group);
  ASSERT_EQ(static_cast<int64_t>(q.scales.size()), rows * (cols / s.group));
  ASSERT_EQ(q.zeroPoints.empty(), s.symmetric);
  // Uniform codes round to the nearest step: error <= scale / 2 (plus float
  // rounding).
  EXPECT_LE(maxErrorInScales(w, q), 0.5 + 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, RoundTrip,
    ::testing::Values(Scheme{QuantCode::Int8, 256, true},
                      Scheme{QuantCode::Int8, 64, false},
                      Scheme{QuantCode::Int4, 32, true},
                      Scheme{QuantCode::Int4, 128, true},
                      Scheme{QuantCode::Int4, 64, false}));

TEST(WeightQuant, Int4PacksTwoCodesPerByteLowNibbleFirst) {
  const float w[4] = {-7.0f, 7.0f, 1.0f, -1.0f};
  slm::QuantizedWeight q =
      slm::quantizeWeight(w, 1, 4, 4, QuantCode::Int4, /*symmetric=*/true);
  ASSERT_EQ(q.codes.size(), 2u);
  EXPECT_FLOAT_EQ(q.scales[0], 1.0f);
  // -7 is 0x9 as a nibble, 7 is 0x7: byte 0 = 0x79.
  EXPECT_EQ(static_cast<uint8_t>(q.codes[0]), 0x79);
  EXPECT_EQ(slm::codeAt(q, 0, 0), -7);
  EXPECT_EQ(slm::codeAt(q, 0, 3), -1);
}

TEST(WeightQuant, AsymmetricKeepsZeroExact) {
  const float w[8] = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f};
  slm::QuantizedWeight q =
      slm::quantizeWeight(w, 1, 8, 8, QuantCode::Int4, /*symmetric=*/false);
  EXPECT_EQ(slm::dequantizedValue(q, 0, 0), 0.0f);
  EXPECT_NEAR(slm::dequantizedValue(q, 0, 7), 0.7f, 1e-6);
}

TEST(WeightQuant, NF4LevelsAndNearestCode) {
  EXPECT_EQ(slm::kNF4Levels[7], 0.0f);
  EXPECT_EQ(slm::kNF4Levels[0], -1.0f);
  EXPECT_EQ(slm::kNF4Levels[15], 1.0f);
  for (int i = 1; i < 16; ++i)
    EXPECT_LT(slm::kNF4Levels[i - 1], slm::kNF4Levels[i]);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(slm::nearestNF4Code(slm::kNF4Levels[i]), i);
  EXPECT_EQ(slm::nearestNF4Code(-2.0f), 0);
  EXPECT_EQ(slm::nearestNF4Code(0.01f), 7);
}

TEST(WeightQuant, NF4ErrorBoundedByLargestLevelGap) {
  const int64_t rows = 8, cols = 128;
  std::vector<float> w = randomWeight(rows, cols, 11);
  slm::QuantizedWeight q =
      slm::quantizeWeight(w.data(), rows, cols, 64, QuantCode::NF4, false);
  EXPECT_TRUE(q.zeroPoints.empty()) << "nf4 is always symmetric";
  double gap = 0;
  for (int i = 1; i < 16; ++i)
    gap = std::max(gap, double(slm::kNF4Levels[i] - slm::kNF4Levels[i - 1]));
  EXPECT_LE(maxErrorInScales(w, q), gap / 2 + 1e-6);
  // The group's absmax element is represented exactly (level +-1).
  EXPECT_LT(maxErrorInScales(w, q), 0.16);
}
} // namespace
