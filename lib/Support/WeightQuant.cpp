//===- WeightQuant.cpp - Weight quantization codecs -------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Support/WeightQuant.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace mlir::slm {

const std::array<float, 16> kNF4Levels = {-1.0f,
                                          -0.6961928009986877f,
                                          -0.5250730514526367f,
                                          -0.39491748809814453f,
                                          -0.28444138169288635f,
                                          -0.18477343022823334f,
                                          -0.09105003625154495f,
                                          0.0f,
                                          0.07958029955625534f,
                                          0.16093020141124725f,
                                          0.24611230194568634f,
                                          0.33791524171829224f,
                                          0.44070982933044434f,
                                          0.5626170039176941f,
                                          0.7229568362236023f,
                                          1.0f};

static bool isFourBit(QuantCode code) { return code != QuantCode::Int8; }

int64_t QuantizedWeight::codeBytesPerRow() const {
  return isFourBit(code) ? (cols + 1) / 2 : cols;
}

int nearestNF4Code(float x) {
  // Levels ascend: the nearest one is next to the first level >= x.
  auto it = std::lower_bound(kNF4Levels.begin(), kNF4Levels.end(), x);
  if (it == kNF4Levels.begin())
    return 0;
  if (it == kNF4Levels.end())
    return 15;
  int hi = static_cast<int>(it - kNF4Levels.begin());
  return (x - kNF4Levels[hi - 1] <= kNF4Levels[hi] - x) ? hi - 1 : hi;
}

static void storeCode(QuantizedWeight &q, int64_t row, int64_t col,
                      int32_t code) {
  const int64_t base = row * q.codeBytesPerRow();
  if (!isFourBit(q.code)) {
    q.codes[base + col] = static_cast<int8_t>(code);
    return;
  }
  uint8_t &byte = reinterpret_cast<uint8_t &>(q.codes[base + col / 2]);
  const uint8_t nibble = static_cast<uint8_t>(code) & 0xF;
  byte = (col % 2 == 0) ? static_cast<uint8_t>((byte & 0xF0) | nibble)
                        : static_cast<uint8_t>((byte & 0x0F) | (nibble << 4));
}

namespace {
/// The code ranges: symmetric codes in [-qmax, qmax]; asymmetric ones over
/// the whole signed range for int8, the unsigned range [0, 15] for int4.
struct CodeRange {
  explicit CodeRange(QuantCode code) {
    const int32_t bits = isFourBit(code) ? 4 : 8;
    qmax = (1 << (bits - 1)) - 1;
    aMin = bits == 8 ? -128 : 0;
    aMax = bits == 8 ? 127 : 15;
  }
  int32_t qmax, aMin, aMax;
};
} // namespace

/// The code of `x` in a group with `scale` (and zero point `zp` when
/// asymmetric), rounded to nearest and saturated; `value` is what it
/// stands for.
static int32_t roundToCode(QuantCode code, bool symmetric, const CodeRange &r,
                           float scale, int32_t zp, double x, double &value) {
  if (code == QuantCode::NF4) {
    int32_t c =
        nearestNF4Code(std::clamp(static_cast<float>(x / scale), -1.0f, 1.0f));
    value = kNF4Levels[c] * double(scale);
    return c;
  }
  if (symmetric) {
    int32_t c = std::clamp(static_cast<int32_t>(std::lround(x / scale)),
                           -r.qmax, r.qmax);
    value = c * double(scale);
    return c;
  }
  int32_t c = std::clamp(static_cast<int32_t>(std::lround(x / scale)) + zp,
                         r.aMin, r.aMax);
  value = (c - zp) * double(scale);
  return c;
}

QuantizedWeight quantizeWeight(const float *weight, int64_t rows, int64_t cols,
                               int64_t groupSize, QuantCode code,
                               bool symmetric, const float *columnImportance) {
  assert(groupSize > 0 && cols % groupSize == 0 && "group must divide cols");
  if (code == QuantCode::NF4)
    symmetric = true;
  QuantizedWeight q;
  q.code = code;
  q.rows = rows;
  q.cols = cols;
  q.groupSize = groupSize;
  q.codes.assign(rows * q.codeBytesPerRow(), 0);
  q.scales.assign(rows * q.groupsPerRow(), 0.0f);
  if (!symmetric)
    q.zeroPoints.assign(rows * q.groupsPerRow(), 0);

  const CodeRange range(code);
  const int32_t qmax = range.qmax, aMin = range.aMin, aMax = range.aMax;

  // 4-bit codes: the scale of each group is chosen among clipped ranges
  // (factors 1, 0.95, ..., 0.6 of the group's range) by the squared error
  // of the dequantized group; round-to-nearest with the full range wastes
  // most of 16 levels on one outlier. 8-bit codes keep the full range.
  const int clipSteps = isFourBit(code) ? 9 : 1;
  std::vector<int32_t> best(groupSize), trial(groupSize);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < q.groupsPerRow(); ++g) {
      const float *w = weight + r * cols + g * groupSize;
      const float *importance =
          columnImportance ? columnImportance + g * groupSize : nullptr;
      auto weightOf = [&](int64_t i) -> double {
        return importance ? importance[i] : 1.0;
      };
      float lo = 0.0f, hi = 0.0f, absMax = 0.0f;
      for (int64_t i = 0; i < groupSize; ++i) {
        lo = std::min(lo, w[i]);
        hi = std::max(hi, w[i]);
        absMax = std::max(absMax, std::fabs(w[i]));
      }
      const int64_t slot = r * q.groupsPerRow() + g;
      double bestError = -1;
      float bestScale = 1.0f;
      int32_t bestZero = 0;
      for (int step = 0; step < clipSteps; ++step) {
        const float clip = 1.0f - 0.05f * step;
        float scale;
        int32_t zp = 0;
        if (code == QuantCode::NF4) {
          scale = absMax > 0 ? absMax * clip : 1.0f;
        } else if (symmetric) {
          scale = absMax > 0 ? absMax * clip / qmax : 1.0f;
        } else {
          // [lo, hi] (which always contains 0, so 0 is exact) onto
          // [aMin, aMax].
          const float clo = lo * clip, chi = hi * clip;
          scale = chi > clo ? (chi - clo) / (aMax - aMin) : 1.0f;
          zp = std::clamp(static_cast<int32_t>(std::lround(aMin - clo / scale)),
                          aMin, aMax);
        }
        double error = 0;
        for (int64_t i = 0; i < groupSize; ++i) {
          double value;
          trial[i] =
              roundToCode(code, symmetric, range, scale, zp, w[i], value);
          error += weightOf(i) * (value - w[i]) * (value - w[i]);
        }
        if (bestError < 0 || error < bestError) {
          bestError = error;
          bestScale = scale;
          bestZero = zp;
          best.swap(trial);
        }
      }
      q.scales[slot] = bestScale;
      if (!symmetric)
        q.zeroPoints[slot] = static_cast<int8_t>(bestZero);
      for (int64_t i = 0; i < groupSize; ++i)
        storeCode(q, r, g * groupSize + i, best[i]);
    }
  }
  return q;
}

/// In-place Cholesky factorization of the symmetric positive definite
/// [n, n] `a`: lower factor L in the lower triangle. False if not positive.
static bool cholesky(std::vector<double> &a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int64_t k = 0; k < j; ++k)
      d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0))
      return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double v = a[i * n + j];
      const double *ri = &a[i * n], *rj = &a[j * n];
      for (int64_t k = 0; k < j; ++k)
        v -= ri[k] * rj[k];
      a[i * n + j] = v / d;
    }
  }
  return true;
}

QuantizedWeight quantizeWeightGPTQ(const float *weight, int64_t rows,
                                   int64_t cols, int64_t groupSize,
                                   QuantCode code, bool symmetric,
                                   const float *secondMoment,
                                   double dampening) {
  assert(groupSize > 0 && cols % groupSize == 0 && "group must divide cols");
  const int64_t n = cols;
  // Columns in order of decreasing input energy (GPTQ's act-order): the
  // most important ones are quantized first, while the most columns are
  // left to absorb their error. Group parameters are fixed up front from
  // the original weights (static groups), so the order does not matter to
  // the storage format.
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return secondMoment[a * n + a] > secondMoment[b * n + b];
  });
  // H = E[x x^T] (permuted) + damp * mean(diag) * I; dead inputs get 1 on
  // the diagonal.
  std::vector<double> h(n * n);
  std::vector<bool> dead(n, false);
  double meanDiag = 0;
  for (int64_t i = 0; i < n; ++i)
    meanDiag += secondMoment[i * n + i];
  meanDiag = std::max(meanDiag / n, 1e-12);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      h[i * n + j] = secondMoment[order[i] * n + order[j]];
  for (int64_t i = 0; i < n; ++i) {
    if (!(h[i * n + i] > 0)) {
      dead[i] = true;
      for (int64_t j = 0; j < n; ++j)
        h[i * n + j] = h[j * n + i] = 0;
      h[i * n + i] = 1;
    }
    h[i * n + i] += dampening * meanDiag;
  }
  // H^-1 = L^-T L^-1, then its upper Cholesky factor U (H^-1 = U^T U): row
  // k of U spreads column k's error over the later columns.
  if (!cholesky(h, n))
    return quantizeWeight(weight, rows, cols, groupSize, code, symmetric);
  std::vector<double> inv(n * n, 0.0); // L^-1, lower
  for (int64_t j = 0; j < n; ++j) {
    inv[j * n + j] = 1.0 / h[j * n + j];
    for (int64_t i = j + 1; i < n; ++i) {
      double v = 0;
      for (int64_t k = j; k < i; ++k)
        v -= h[i * n + k] * inv[k * n + j];
      inv[i * n + j] = v / h[i * n + i];
    }
  }
  // H^-1 = L^-T L^-1 (symmetric), into h.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double v = 0;
      for (int64_t k = i; k < n; ++k)
        v += inv[k * n + i] * inv[k * n + j];
      h[i * n + j] = h[j * n + i] = v;
    }
  // U upper with H^-1 = U^T U: the transpose of H^-1's lower Cholesky
  // factor (GPTQ's cholesky(H^-1, upper=True)).
  if (!cholesky(h, n))
    return quantizeWeight(weight, rows, cols, groupSize, code, symmetric);
  std::vector<double> u(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j)
      u[i * n + j] = h[j * n + i];

  // Static group parameters: the clipped ranges quantizeWeight chooses
  // (weighted by the input energy); the codes are rewritten below.
  std::vector<float> energy(n);
  for (int64_t i = 0; i < n; ++i)
    energy[i] = secondMoment[i * n + i];
  QuantizedWeight q = quantizeWeight(weight, rows, cols, groupSize, code,
                                     symmetric, energy.data());
  symmetric = q.zeroPoints.empty();
  const CodeRange range(code);
  std::vector<double> w(cols);
  for (int64_t r = 0; r < rows; ++r) {
    // Work in the permuted order: position p holds column order[p].
    for (int64_t p = 0; p < cols; ++p)
      w[p] = dead[p] ? 0.0 : weight[r * cols + order[p]];
    for (int64_t p = 0; p < cols; ++p) {
      const int64_t c = order[p];
      const int64_t slot = r * q.groupsPerRow() + c / groupSize;
      const float scale = q.scales[slot];
      const int32_t zp = symmetric ? 0 : q.zeroPoints[slot];
      double value;
      storeCode(q, r, c,
                roundToCode(code, symmetric, range, scale, zp, w[p], value));
      const double err = (w[p] - value) / u[p * n + p];
      const double *ur = &u[p * n];
      for (int64_t j = p + 1; j < cols; ++j)
        w[j] -= err * ur[j];
    }
  }
  return q;
}

int32_t codeAt(const QuantizedWeight &q, int64_t row, int64_t col) {
  const int64_t base = row * q.codeBytesPerRow();
  if (!isFourBit(q.code))
    return q.codes[base + col];
  const uint8_t byte = static_cast<uint8_t>(q.codes[base + col / 2]);
  int32_t nibble = (col % 2 == 0) ? (byte & 0xF) : (byte >> 4);
  // Symmetric int4 codes are signed; asymmetric int4 and NF4 are indices.
  if (q.code == QuantCode::Int4 && q.zeroPoints.empty() && nibble >= 8)
    nibble -= 16;
  return nibble;
}

float dequantizedValue(const QuantizedWeight &q, int64_t row, int64_t col) {
  const int64_t slot = row * q.groupsPerRow() + col / q.groupSize;
  const int32_t c = codeAt(q, row, col);
  if (q.code == QuantCode::NF4)
    return kNF4Levels[c] * q.scales[slot];
  const int32_t zp = q.zeroPoints.empty() ? 0 : q.zeroPoints[slot];
  return static_cast<float>(c - zp) * q.scales[slot];
}

std::vector<float> dequantizeWeight(const QuantizedWeight &q) {
  std::vector<float> out(q.rows * q.cols);
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c)
      out[r * q.cols + c] = dequantizedValue(q, r, c);
  return out;
}

} // namespace mlir::slm
