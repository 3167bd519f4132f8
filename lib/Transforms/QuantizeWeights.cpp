//===- QuantizeWeights.cpp - Weight-only quantization -----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-quantize-weights: every constant f32 weight of an slm.linear becomes
// `slm.dequantize_weight` of stored codes and scales (the codecs of
// slm/Support/WeightQuant.h). Code generation decodes the codes inside the
// GEMM; the f32 weight never exists again.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMOps.h"
#include "slm/Support/WeightQuant.h"
#include "slm/Transforms/ModelStructure.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/bit.h"

#include <set>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMQUANTIZEWEIGHTS
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {
struct QuantizeWeightsPass
    : public mlir::slm::impl::SLMQuantizeWeightsBase<QuantizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    Operation *root = getOperation();
    slm::QuantCode code;
    WeightQuantKind kindAttr;
    if (kind == "int8") {
      code = slm::QuantCode::Int8;
      kindAttr = WeightQuantKind::int8;
    } else if (kind == "int4") {
      code = slm::QuantCode::Int4;
      kindAttr = WeightQuantKind::int4;
    } else if (kind == "nf4") {
      code = slm::QuantCode::NF4;
      kindAttr = WeightQuantKind::nf4;
    } else {
      root->emitError("unknown quantization kind '")
          << kind << "' (expected int8, int4 or nf4)";
      return signalPassFailure();
    }
    if (method != "rtn" && method != "gptq") {
      root->emitError("unknown method '")
          << method << "' (expected rtn or gptq)";
      return signalPassFailure();
    }
    if (groupSize < 0) {
      root->emitError("group-size must be 0 (per channel) or positive");
      return signalPassFailure();
    }
    SmallVector<LinearOp> linears;
    root->walk([&](LinearOp op) { linears.push_back(op); });
    // Embedding tables (axis-0 gathers of f32 [V, H] constants): one equal
    // to a quantized weight (an LM head tied to the token embedding) reads
    // that weight's codes instead, so the model keeps no f32 copy.
    SmallVector<std::pair<GatherOp, Attribute>> tables;
    root->walk([&](GatherOp op) {
      Attribute attr;
      auto type = op.getData().getType();
      if (op.getAxis() == 0 && type.getRank() == 2 &&
          type.getElementType().isF32() &&
          matchPattern(op.getData(), m_Constant(&attr)))
        tables.push_back({op, attr});
    });
    // Layers left in f32 because their input features do not split into
    // groups: reported once, with a group size that would split them.
    int64_t skipped = 0, quantizable = 0;
    std::set<int64_t> skippedWidths;
    auto reportSkipped = [&] {
      if (!skipped)
        return;
      const int64_t requested = groupSize;
      InFlightDiagnostic diag = root->emitWarning();
      diag << skipped << " of " << quantizable
           << " linear layers stay f32: their input features (";
      llvm::interleaveComma(skippedWidths, diag);
      if (requested == 0) {
        diag << ") are odd, and 4-bit codes pack in pairs";
        return;
      }
      diag << ") do not split into groups of " << requested;
      // The largest power of two up to the request that splits them all.
      int64_t suggestion = llvm::bit_floor(static_cast<uint64_t>(requested));
      auto splitsAll = [&](int64_t g) {
        return llvm::all_of(skippedWidths, [&](int64_t c) {
          return c % g == 0 && (code == slm::QuantCode::Int8 || c % 2 == 0);
        });
      };
      while (suggestion > 2 && !splitsAll(suggestion))
        suggestion /= 2;
      if (suggestion > 2 && splitsAll(suggestion))
        diag << " (--quant-group-size=" << suggestion << " splits them)";
    };
    for (LinearOp op : linears) {
      Attribute weightAttr;
      std::vector<float> weight;
      RankedTensorType type = op.getWeight().getType();
      if (!matchPattern(op.getWeight(), m_Constant(&weightAttr)) ||
          !readF32Constant(weightAttr, weight))
        continue;
      const int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
      const int64_t group = groupSize == 0 ? cols : groupSize;
      ++quantizable;
      if (cols % group != 0 || (code != slm::QuantCode::Int8 && cols % 2)) {
        ++skipped;
        skippedWidths.insert(cols);
        continue;
      }
      // Calibrated inputs (slm.input_stats): weigh each column's error by
      // E[x^2] of the input channel it multiplies.
      std::vector<float> importance;
      std::optional<ChannelStats> stats = getInputStats(op, cols);
      if (stats)
        for (int64_t c = 0; c < cols; ++c)
          importance.push_back(stats->variance[c] +
                               stats->mean[c] * stats->mean[c]);
      slm::QuantizedWeight q;
      if (method == "gptq") {
        if (!stats || stats->covariance.empty()) {
          op.emitError("gptq needs the input's calibrated covariance "
                       "('slm.input_stats' with 'covariance'): give slmc "
                       "--calibration DIR");
          return signalPassFailure();
        }
        // E[x x^T] = covariance + mean mean^T.
        std::vector<float> moment(stats->covariance);
        for (int64_t i = 0; i < cols; ++i)
          for (int64_t j = 0; j < cols; ++j)
            moment[i * cols + j] += stats->mean[i] * stats->mean[j];
        q = slm::quantizeWeightGPTQ(weight.data(), rows, cols, group, code,
                                    symmetric, moment.data());
      } else {
        q = slm::quantizeWeight(
            weight.data(), rows, cols, group, code, symmetric,
            importance.empty() ? nullptr : importance.data());
      }
      // The codes go before the first reader: the linear, or a tied table's
      // gather earlier in the same block.
      SmallVector<GatherOp> tied;
      Operation *first = op;
      for (auto &[gather, table] : tables)
        if (gather->getBlock() == op->getBlock() &&
            gather.getData().getType() == type &&
            sameConstantElements(table, weightAttr)) {
          tied.push_back(gather);
          if (gather->isBeforeInBlock(first))
            first = gather;
        }
      OpBuilder b(first);
      Location loc = op.getLoc();
      auto i8 = b.getIntegerType(8);
      auto codesType = RankedTensorType::get({rows, q.codeBytesPerRow()}, i8);
      Value codes = arith::ConstantOp::create(
          b, loc,
          cast<TypedAttr>(makeConstantFromBytes(
              weightAttr, codesType,
              ArrayRef<char>(reinterpret_cast<const char *>(q.codes.data()),
                             q.codes.size()),
              ".codes")));
      auto groupsType = [&](Type element) {
        return RankedTensorType::get({rows, q.groupsPerRow()}, element);
      };
      Value scales = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(groupsType(b.getF32Type()),
                                 ArrayRef<float>(q.scales)));
      Value zeroPoints;
      if (!q.zeroPoints.empty())
        zeroPoints = arith::ConstantOp::create(
            b, loc,
            DenseElementsAttr::get(groupsType(i8),
                                   ArrayRef<int8_t>(q.zeroPoints)));
      IntegerAttr groupAttr =
          groupSize == 0 ? IntegerAttr() : b.getI64IntegerAttr(group);
      auto dq = DequantizeWeightOp::create(b, loc, type, kindAttr, codes,
                                           scales, zeroPoints, groupAttr);
      op.getWeightMutable().assign(dq.getResult());
      for (GatherOp gather : tied)
        gather.getDataMutable().assign(dq.getResult());
    }
    reportSkipped();
  }
};
} // namespace
