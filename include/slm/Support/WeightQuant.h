//===- WeightQuant.h - Weight quantization codecs ---------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The storage formats behind `slm.dequantize_weight`, in plain C++ so that the
// quantization passes, the reference scripts' tests and the run-time library
// share one definition of every code.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_SUPPORT_WEIGHTQUANT_H
#define SLM_SUPPORT_WEIGHTQUANT_H

#include <array>
#include <cstdint>
#include <vector>

namespace mlir::slm {

/// Storage code of a quantized weight; mirrors WeightQuantKind (the IR).
enum class QuantCode { Int8, Int4, NF4 };

/// The 16 NormalFloat-4 levels of QLoRA (Dettmers et al. 2023), ascending,
/// with an exact zero at code 7.
extern const std::array<float, 16> kNF4Levels;

/// A [rows, cols] weight quantized in groups of `groupSize` along each row.
struct QuantizedWeight {
  QuantCode code = QuantCode::Int8;
  int64_t rows = 0, cols = 0, groupSize = 0;
  /// Codes, row-major. 8-bit codes one per byte; 4-bit codes two per byte,
  /// low nibble first, rows padded to whole bytes.
  std::vector<int8_t> codes;
  /// One scale per (row, group): rows * (cols / groupSize).
  std::vector<float> scales;
  /// One zero point per (row, group) for asymmetric schemes, else empty.
  std::vector<int8_t> zeroPoints;

  int64_t groupsPerRow() const { return cols / groupSize; }
  /// Bytes per row of `codes`.
  int64_t codeBytesPerRow() const;
};

/// Quantizes a row-major [rows, cols] float weight. `groupSize` must divide
/// `cols` (use `cols` for per-channel). Symmetric int8/int4 map max |w| of a
/// group to the largest positive code; asymmetric ones map [min, max] onto
/// the whole unsigned code range with a zero point; NF4 is always symmetric
/// (absmax scaling, nearest level).
///
/// 4-bit codes choose each group's scale among clipped ranges by the
/// squared error of the dequantized weights, each column's error weighted
/// by `columnImportance[col]` when given (E[x_col^2] over calibration
/// inputs: the error the layer's output sees), else uniformly.
QuantizedWeight quantizeWeight(const float *weight, int64_t rows, int64_t cols,
                               int64_t groupSize, QuantCode code,
                               bool symmetric,
                               const float *columnImportance = nullptr);

/// GPTQ (Frantar et al. 2022): quantizes the columns of each row in order
/// and spreads each one's rounding error over the columns not yet
/// quantized, through the inverse of the input's second moment
/// `secondMoment` ([cols, cols], E[x x^T] over calibration inputs), so that
/// the layer's output error ||X W^T - X Q^T|| is minimized rather than the
/// weights'. Group scales are set from the (updated) weights when a group
/// starts; `dampening` (a share of the mean diagonal) keeps the inverse
/// stable. Columns whose input is always zero are zeroed.
QuantizedWeight quantizeWeightGPTQ(const float *weight, int64_t rows,
                                   int64_t cols, int64_t groupSize,
                                   QuantCode code, bool symmetric,
                                   const float *secondMoment,
                                   double dampening = 0.01);

/// The stored code at (row, col), sign-extended for symmetric int4.
int32_t codeAt(const QuantizedWeight &q, int64_t row, int64_t col);

/// The real value that code (row, col) stands for.
float dequantizedValue(const QuantizedWeight &q, int64_t row, int64_t col);

/// Expands the whole weight back into floats (row-major [rows, cols]).
std::vector<float> dequantizeWeight(const QuantizedWeight &q);

/// Index of the NF4 level nearest to `x` (x in [-1, 1]).
int nearestNF4Code(float x);

} // namespace mlir::slm

#endif // SLM_SUPPORT_WEIGHTQUANT_H
