//===- ModelStats.cpp - Layers, parameters, bytes and MACs ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMOps.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMMODELSTATS
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {
/// One linear layer as the report shows it.
struct LinearStats {
  int64_t outFeatures = 0, inFeatures = 0;
  std::string storage; // "dense f32", "int4 g128", "sparse 16x16"
};

/// Everything the report says about one function.
struct FunctionStats {
  std::string name;
  llvm::MapVector<StringRef, int64_t> opCounts;
  std::vector<LinearStats> linears;
  int64_t parameters = 0, storedBytes = 0, denseBytes = 0;
};
} // namespace

static int64_t bytesOf(RankedTensorType type) {
  return type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8);
}

/// How the weight of a linear is stored.
static std::string describeWeight(Value weight) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto dq = weight.getDefiningOp<DequantizeWeightOp>()) {
    os << stringifyEnum(dq.getKind());
    if (std::optional<uint64_t> group = dq.getGroupSize())
      os << " g" << *group;
    else
      os << " per-channel";
    if (dq.getZeroPoints())
      os << " asym";
  } else if (auto sp = weight.getDefiningOp<SparseWeightOp>()) {
    os << "sparse " << sp.getBlockShape()[0] << "x" << sp.getBlockShape()[1];
  } else {
    os << "dense " << cast<RankedTensorType>(weight.getType()).getElementType();
  }
  return text;
}

static FunctionStats collectStats(func::FuncOp func) {
  FunctionStats stats;
  stats.name = func.getSymName().str();
  func.walk([&](Operation *op) {
    if (isa<SLMDialect>(op->getDialect()))
      ++stats.opCounts[op->getName().getStringRef()];
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      auto type = dyn_cast<RankedTensorType>(constant.getType());
      if (type && type.hasStaticShape() && type.getNumElements() > 1) {
        stats.storedBytes += bytesOf(type);
        // Constants that feed only compressed-weight ops are counted through
        // those ops' dense form below.
        bool onlyCompressed =
            !constant->use_empty() &&
            llvm::all_of(constant->getUsers(), [](Operation *user) {
              return isa<CompressedWeightOpInterface>(user);
            });
        if (!onlyCompressed) {
          stats.denseBytes += type.getNumElements() * 4;
          stats.parameters += type.getNumElements();
        }
      }
    }
    if (auto compressed = dyn_cast<CompressedWeightOpInterface>(op)) {
      RankedTensorType dense = compressed.getDenseWeightType();
      stats.denseBytes += dense.getNumElements() * 4;
      stats.parameters += dense.getNumElements();
    }
    if (auto linear = dyn_cast<LinearOp>(op))
      stats.linears.push_back({linear.getOutFeatures(), linear.getInFeatures(),
                               describeWeight(linear.getWeight())});
  });
  return stats;
}

static void printText(const FunctionStats &stats, llvm::raw_ostream &os) {
  os << "slm model stats: @" << stats.name << "\n  ops:";
  llvm::SmallVector<std::pair<StringRef, int64_t>> sorted(
      stats.opCounts.begin(), stats.opCounts.end());
  llvm::sort(sorted);
  llvm::interleave(
      sorted, os,
      [&](const auto &it) { os << " " << it.first << " " << it.second; }, ",");
  os << "\n";
  for (const LinearStats &linear : stats.linears)
    os << "  linear  weight "
       << llvm::left_justify(std::to_string(linear.outFeatures) + "x" +
                                 std::to_string(linear.inFeatures),
                             11)
       << " " << llvm::left_justify(linear.storage, 16) << " MACs/row "
       << linear.outFeatures * linear.inFeatures << "\n";
  double ratio = stats.storedBytes
                     ? static_cast<double>(stats.denseBytes) / stats.storedBytes
                     : 1.0;
  os << "  parameters " << stats.parameters << "  stored bytes "
     << stats.storedBytes << "  dense bytes " << stats.denseBytes << "  ratio "
     << llvm::format("%.2f", ratio) << "\n";
}

static void printJson(const FunctionStats &stats, llvm::raw_ostream &os) {
  llvm::json::Object ops;
  for (const auto &[name, count] : stats.opCounts)
    ops[name] = count;
  llvm::json::Array linears;
  for (const LinearStats &linear : stats.linears)
    linears.push_back(llvm::json::Object{
        {"out_features", linear.outFeatures},
        {"in_features", linear.inFeatures},
        {"storage", linear.storage},
        {"macs_per_row", linear.outFeatures * linear.inFeatures}});
  llvm::json::Object root{{"function", stats.name},
                          {"ops", std::move(ops)},
                          {"linears", std::move(linears)},
                          {"parameters", stats.parameters},
                          {"stored_bytes", stats.storedBytes},
                          {"dense_bytes", stats.denseBytes}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}

namespace {
struct SLMModelStatsPass
    : mlir::slm::impl::SLMModelStatsBase<SLMModelStatsPass> {
  using SLMModelStatsBase::SLMModelStatsBase;
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      FunctionStats stats = collectStats(func);
      if (json)
        printJson(stats, llvm::outs());
      else
        printText(stats, llvm::outs());
    }
    markAllAnalysesPreserved();
  }
};
} // namespace
