//===- WeightQuantTest.cpp - Tests of weight quantization codecs -*- C++
//-*-===//
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

#include <algorithm>
#include <cmath>
#include <random>

using namespace mlir;
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

/// Sum of squared errors of `q` against `w`.
double squaredError(const std::vector<float> &w,
                    const slm::QuantizedWeight &q) {
  std::vector<float> back = slm::dequantizeWeight(q);
  double sum = 0;
  for (size_t i = 0; i < w.size(); ++i)
    sum += (double(w[i]) - back[i]) * (double(w[i]) - back[i]);
  return sum;
}

/// Round-to-nearest over each group's full range (no clipping), in float64:
/// the baseline the clipped scales must not be worse than.
double fullRangeError(const std::vector<float> &w, int64_t rows, int64_t cols,
                      const Scheme &s) {
  const int qmax = s.code == QuantCode::Int8 ? 127 : 7;
  const int aMax = s.code == QuantCode::Int8 ? 127 : 15,
            aMin = s.code == QuantCode::Int8 ? -128 : 0;
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < cols / s.group; ++g) {
      const float *x = &w[r * cols + g * s.group];
      double lo = 0, hi = 0, absMax = 0;
      for (int64_t i = 0; i < s.group; ++i) {
        lo = std::min(lo, double(x[i]));
        hi = std::max(hi, double(x[i]));
        absMax = std::max(absMax, std::fabs(double(x[i])));
      }
      for (int64_t i = 0; i < s.group; ++i) {
        double v;
        if (s.symmetric) {
          double scale = absMax / qmax;
          v = std::clamp(std::round(x[i] / scale), -double(qmax),
                         double(qmax)) *
              scale;
        } else {
          double scale = (hi - lo) / (aMax - aMin);
          double zp = std::clamp(std::round(aMin - lo / scale), double(aMin),
                                 double(aMax));
          v = (std::clamp(std::round(x[i] / scale) + zp, double(aMin),
                          double(aMax)) -
               zp) *
              scale;
        }
        sum += (x[i] - v) * (x[i] - v);
      }
    }
  return sum;
}

TEST_P(RoundTrip, ErrorIsWithinHalfAStepAndNoWorseThanFullRange) {
  const Scheme s = GetParam();
  const int64_t rows = 16, cols = 256;
  std::vector<float> w = randomWeight(rows, cols, 7);
  slm::QuantizedWeight q =
      slm::quantizeWeight(w.data(), rows, cols, s.group, s.code, s.symmetric);
  ASSERT_EQ(q.groupsPerRow(), cols / s.group);
  ASSERT_EQ(static_cast<int64_t>(q.scales.size()), rows * (cols / s.group));
  ASSERT_EQ(q.zeroPoints.empty(), s.symmetric);
  if (s.code == QuantCode::Int8) {
    // Uniform codes round to the nearest step over the full range: error
    // <= scale / 2 (plus float rounding).
    EXPECT_LE(maxErrorInScales(w, q), 0.5 + 1e-4);
    return;
  }
  // 4-bit scales are chosen among clipped ranges by squared error: never
  // worse than the full range, usually better; unclipped values still
  // round to the nearest step.
  const double chosen = squaredError(w, q),
               full = fullRangeError(w, rows, cols, s);
  EXPECT_LE(chosen, full * (1 + 1e-6));
  EXPECT_LT(chosen, full) << "clipping should help on Gaussian weights";
  std::vector<float> back = slm::dequantizeWeight(q);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t slot = r * q.groupsPerRow() + c / s.group;
      const double scale = q.scales[slot];
      const double zp = s.symmetric ? 0 : q.zeroPoints[slot];
      const double lo = s.symmetric ? -7 * scale : (0 - zp) * scale;
      const double hi = s.symmetric ? 7 * scale : (15 - zp) * scale;
      const double x = w[r * cols + c];
      if (x >= lo && x <= hi)
        EXPECT_LE(std::fabs(x - back[r * cols + c]), 0.5 * scale * (1 + 1e-4));
    }
}

INSTANTIATE_TEST_SUITE_P(Schemes, RoundTrip,
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
  // Values inside the (possibly clipped) range [-scale, scale] round to the
  // nearest level.
  std::vector<float> back = slm::dequantizeWeight(q);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const double scale = q.scales[r * q.groupsPerRow() + c / 64];
      const double x = w[r * cols + c];
      if (std::fabs(x) <= scale)
        EXPECT_LE(std::fabs(x - back[r * cols + c]) / scale, gap / 2 + 1e-6);
    }
}

/// Output error sum_t ||W x_t - Q x_t||^2 of a quantized weight on inputs X.
double outputError(const std::vector<float> &w, const slm::QuantizedWeight &q,
                   const std::vector<double> &x, int64_t tokens) {
  std::vector<float> back = slm::dequantizeWeight(q);
  double sum = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < q.rows; ++r) {
      double d = 0;
      for (int64_t c = 0; c < q.cols; ++c)
        d += (double(w[r * q.cols + c]) - back[r * q.cols + c]) *
             x[t * q.cols + c];
      sum += d * d;
    }
  return sum;
}

TEST(WeightQuant, GPTQLowersTheOutputErrorOnCorrelatedInputs) {
  const int64_t rows = 24, cols = 128, tokens = 512;
  std::vector<float> w = randomWeight(rows, cols, 3);
  // Correlated inputs with uneven channel scales: x = z A, A mixing
  // neighbouring channels, a few channels 10x larger.
  std::mt19937 rng(5);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<double> x(tokens * cols);
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<double> z(cols);
    for (double &v : z)
      v = dist(rng);
    for (int64_t c = 0; c < cols; ++c) {
      double v = z[c] + 0.8 * z[(c + 1) % cols] + 0.5 * z[(c + 7) % cols];
      x[t * cols + c] = (c % 17 == 0 ? 10.0 : 1.0) * v;
    }
  }
  std::vector<float> moment(cols * cols, 0.0f);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      double m = 0;
      for (int64_t t = 0; t < tokens; ++t)
        m += x[t * cols + i] * x[t * cols + j];
      moment[i * cols + j] = static_cast<float>(m / tokens);
    }
  for (QuantCode code : {QuantCode::Int4, QuantCode::NF4}) {
    slm::QuantizedWeight rtn =
        slm::quantizeWeight(w.data(), rows, cols, 32, code, true);
    slm::QuantizedWeight gptq = slm::quantizeWeightGPTQ(
        w.data(), rows, cols, 32, code, true, moment.data());
    ASSERT_EQ(gptq.scales.size(), rtn.scales.size());
    const double before = outputError(w, rtn, x, tokens),
                 after = outputError(w, gptq, x, tokens);
    // GPTQ minimizes exactly this error; on these inputs it removes most
    // of it.
    EXPECT_LT(after, 0.7 * before)
        << "code " << int(code) << ": RTN " << before << ", GPTQ " << after;
  }
}
} // namespace
