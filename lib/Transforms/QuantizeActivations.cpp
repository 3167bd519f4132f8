//===- QuantizeActivations.cpp - W8A8: quantized linear inputs --*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-quantize-activations: every slm.linear with an int8 per-channel
// symmetric weight (from --slm-quantize-weights) gets its input quantized
// to uint8, so that code generation computes the product on integers
// (AVX-512 VNNI): per token as it runs (`input_quant = per_token`), or with
// one scale and zero point from the calibrated input range (`scheme=minmax`
// or `percentile`: `input_quant = fixed`). Layers whose calibration
// statistics predict too much quantization noise keep f32 inputs (int8
// weights only).
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/ModelStructure.h"
#include "slm/Transforms/Passes.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMQUANTIZEACTIVATIONS
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {
/// Whether `op` has the weight W8A8 kernels take: int8 per-channel
/// symmetric codes, in_features a multiple of 4.
bool hasInt8ChannelWeight(LinearOp op) {
  auto dq = op.getWeight().getDefiningOp<DequantizeWeightOp>();
  if (!dq || dq.getKind() != WeightQuantKind::int8 || dq.getZeroPoints())
    return false;
  const int64_t k = op.getInFeatures();
  if (dq.getGroupSize() && static_cast<int64_t>(*dq.getGroupSize()) != k)
    return false;
  return k > 0 && k % 4 == 0;
}

/// The noise-to-signal ratio that per-token uint8 quantization is expected
/// to add to the input, from per-channel statistics: a row's range is
/// about the widest channel's mean +- 4 sigma (min <= 0 <= max), the step
/// is range / 255, and the rounding noise (step / sqrt(12)) is compared
/// with the rows' RMS.
double predictedNoise(const ChannelStats &stats) {
  double hi = 0, lo = 0, power = 0;
  for (size_t c = 0; c < stats.mean.size(); ++c) {
    const double sigma = std::sqrt(std::max(0.0f, stats.variance[c]));
    hi = std::max(hi, stats.mean[c] + 4 * sigma);
    lo = std::min(lo, stats.mean[c] - 4 * sigma);
    power += stats.mean[c] * stats.mean[c] + stats.variance[c];
  }
  const double rms = std::sqrt(power / std::max<size_t>(1, stats.mean.size()));
  if (rms <= 0)
    return 0;
  return (hi - lo) / 255.0 / std::sqrt(12.0) / rms;
}

struct QuantizeActivationsPass
    : public mlir::slm::impl::SLMQuantizeActivationsBase<
          QuantizeActivationsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (maxNoise < 0) {
      getOperation()->emitError("max-noise must be >= 0 (0: no limit)");
      return signalPassFailure();
    }
    if (scheme != "per-token" && scheme != "minmax" && scheme != "percentile") {
      getOperation()->emitError("unknown scheme '")
          << scheme << "' (expected per-token, minmax or percentile)";
      return signalPassFailure();
    }
    getOperation()->walk([&](LinearOp op) {
      if (op.getInputQuant() != InputQuant::none || !hasInt8ChannelWeight(op))
        return;
      if (maxNoise > 0)
        if (std::optional<ChannelStats> stats =
                getInputStats(op, op.getInFeatures())) {
          const double noise = predictedNoise(*stats);
          if (noise > maxNoise) {
            op.emitRemark()
                << "input stays f32: calibration predicts "
                   "quantization noise "
                << llvm::formatv("{0:F4}", noise).str()
                << " of its RMS (max-noise "
                << llvm::formatv("{0}", maxNoise.getValue()).str() << ")";
            return;
          }
        }
      if (scheme == "per-token") {
        op.setInputQuant(InputQuant::per_token);
        return;
      }
      // Static: one scale and zero point from the calibration range.
      std::optional<std::array<float, 4>> range = getInputRange(op);
      if (!range) {
        op.emitRemark() << "no calibrated input range ('slm.input_stats' with "
                           "'range'): quantized per token instead";
        op.setInputQuant(InputQuant::per_token);
        return;
      }
      const bool percentile = scheme == "percentile";
      const double lo = std::min(0.0, double((*range)[percentile ? 2 : 0]));
      const double hi = std::max(0.0, double((*range)[percentile ? 3 : 1]));
      const double scale = hi > lo ? (hi - lo) / 255.0 : 1.0;
      const int32_t zero = static_cast<int32_t>(
          std::clamp(std::nearbyint(-lo / scale), 0.0, 255.0));
      Builder b(op.getContext());
      op.setInputQuant(InputQuant::fixed);
      op.setInputScaleAttr(b.getF32FloatAttr(static_cast<float>(scale)));
      op.setInputZeroPointAttr(b.getI32IntegerAttr(zero));
    });
  }
};
} // namespace
