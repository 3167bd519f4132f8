//===- PruningUtils.cpp - Shared logic of the pruning passes --------------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "PruningUtils.h"

#include "slm/IR/SLMConstants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

namespace mlir::slm::pruning {

FailureOr<LinearParams> readParams(LinearOp op) {
  LinearParams p;
  p.rows = op.getOutFeatures();
  p.cols = op.getInFeatures();
  if (!matchPattern(op.getWeight(), m_Constant(&p.weightAttr)) ||
      !readF32Constant(p.weightAttr, p.weight))
    return op.emitError("pruning needs an f32 constant weight"), failure();
  if (Value bias = op.getBias())
    if (!matchPattern(bias, m_Constant(&p.biasAttr)) ||
        !readF32Constant(p.biasAttr, p.bias))
      return op.emitError("pruning needs an f32 constant bias"), failure();
  return p;
}

LinearOp rebuildLinear(LinearOp op, const LinearParams &p,
                       ArrayRef<int64_t> rows, ArrayRef<int64_t> cols,
                       ArrayRef<float> bias, Value input,
                       const std::vector<float> *refit) {
  SmallVector<int64_t> allRows, allCols;
  if (rows.empty()) {
    allRows.resize(p.rows);
    std::iota(allRows.begin(), allRows.end(), 0);
    rows = allRows;
  }
  if (cols.empty()) {
    allCols.resize(p.cols);
    std::iota(allCols.begin(), allCols.end(), 0);
    cols = allCols;
  }
  std::vector<float> weight;
  if (refit) {
    weight = *refit;
  } else {
    weight.reserve(rows.size() * cols.size());
    for (int64_t r : rows)
      for (int64_t c : cols)
        weight.push_back(p.at(r, c));
  }
  OpBuilder b(op);
  Type f32 = b.getF32Type();
  auto weightType = RankedTensorType::get(
      {static_cast<int64_t>(rows.size()), static_cast<int64_t>(cols.size())},
      f32);
  Value newWeight = arith::ConstantOp::create(
      b, op.getLoc(),
      cast<TypedAttr>(
          makeF32ConstantLike(p.weightAttr, weightType, weight, ".pruned")));
  Value newBias;
  if (!bias.empty()) {
    auto biasType =
        RankedTensorType::get({static_cast<int64_t>(rows.size())}, f32);
    Attribute like = p.biasAttr ? p.biasAttr : p.weightAttr;
    newBias = arith::ConstantOp::create(
        b, op.getLoc(),
        cast<TypedAttr>(makeF32ConstantLike(like, biasType, bias, ".pruned")));
  }
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  SmallVector<int64_t> shape(resultType.getShape());
  shape.back() = static_cast<int64_t>(rows.size());
  auto newOp = cast<LinearOp>(b.clone(*op));
  newOp.getInputMutable().assign(input);
  newOp.getWeightMutable().assign(newWeight);
  if (newBias) {
    if (newOp.getBias())
      newOp.getBiasMutable().assign(newBias);
    else
      newOp->insertOperands(2, newBias);
  } else if (newOp.getBias()) {
    newOp.getBiasMutable().clear();
  }
  newOp.getResult().setType(resultType.clone(shape));
  if (std::optional<ChannelStats> stats = getInputStats(op, p.cols)) {
    ChannelStats kept;
    kept.count = stats->count;
    for (int64_t c : cols) {
      kept.mean.push_back(stats->mean[c]);
      kept.variance.push_back(stats->variance[c]);
    }
    if (!stats->covariance.empty() && cols.size() < size_t(p.cols))
      for (int64_t a : cols)
        for (int64_t c : cols)
          kept.covariance.push_back(stats->covariance[a * p.cols + c]);
    else
      kept.covariance = stats->covariance;
    setInputStats(newOp, kept);
  }
  return newOp;
}

/// The bias of `consumer` plus, when compensating, the mean contribution
/// of its removed input channels (FLAP's bias compensation): what the
/// layer outputs on average through them becomes a constant.
static std::vector<float> compensatedBias(const LinearParams &consumer,
                                          ArrayRef<int64_t> removedCols,
                                          const ChannelStats *stats) {
  std::vector<float> bias = consumer.bias;
  if (!stats || removedCols.empty())
    return bias;
  bias.resize(consumer.rows, 0.0f);
  for (int64_t r = 0; r < consumer.rows; ++r) {
    double sum = bias[r];
    for (int64_t c : removedCols)
      sum += static_cast<double>(consumer.at(r, c)) * stats->mean[c];
    bias[r] = static_cast<float>(sum);
  }
  return bias;
}

/// Least-squares reconstruction of a consumer layer without its removed
/// input channels: the weights W' on the kept channels k and bias b' that
/// minimize E||W x + b - W' x_k - b'||^2 over the calibration
/// distribution (mean mu, covariance S):
///   W' = W S[:, k] S[k, k]^-1,   b' = b + W mu - W' mu_k.
/// When the removed channels are uncorrelated with the kept ones this is
/// FLAP's bias compensation; otherwise the kept channels also absorb what
/// the removed ones predicted. S[k, k] gets a small ridge (1% of its mean
/// diagonal) for channels that barely vary. False when the Cholesky
/// factorization fails (then the caller keeps plain compensation).
static bool reconstruct(const LinearParams &consumer, ArrayRef<int64_t> kept,
                        const ChannelStats &stats, std::vector<float> &weight,
                        std::vector<float> &bias) {
  const int64_t n = consumer.rows, c = consumer.cols,
                k = static_cast<int64_t>(kept.size());
  const std::vector<float> &S = stats.covariance;
  // A = S[k, k] + ridge, Cholesky A = L L^T (lower, row-major).
  std::vector<double> L(k * k);
  double diag = 0;
  for (int64_t i = 0; i < k; ++i)
    diag += S[kept[i] * c + kept[i]];
  const double ridge = 0.01 * std::max(diag / std::max<int64_t>(k, 1), 1e-12);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j <= i; ++j)
      L[i * k + j] = S[kept[i] * c + kept[j]] + (i == j ? ridge : 0.0);
  for (int64_t j = 0; j < k; ++j) {
    double d = L[j * k + j];
    for (int64_t p = 0; p < j; ++p)
      d -= L[j * k + p] * L[j * k + p];
    if (!(d > 0))
      return false;
    d = std::sqrt(d);
    L[j * k + j] = d;
    for (int64_t i = j + 1; i < k; ++i) {
      double v = L[i * k + j];
      for (int64_t p = 0; p < j; ++p)
        v -= L[i * k + p] * L[j * k + p];
      L[i * k + j] = v / d;
    }
  }
  // For each output row r: solve A z = S[k, :] W[r, :]^T; W'[r, :] = z.
  std::vector<double> rhs(k), z(k);
  weight.assign(n * k, 0.0f);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < k; ++i) {
      double v = 0;
      const float *row = &S[kept[i] * c];
      for (int64_t j = 0; j < c; ++j)
        v += double(row[j]) * consumer.at(r, j);
      rhs[i] = v;
    }
    for (int64_t i = 0; i < k; ++i) { // L y = rhs
      double v = rhs[i];
      for (int64_t p = 0; p < i; ++p)
        v -= L[i * k + p] * z[p];
      z[i] = v / L[i * k + i];
    }
    for (int64_t i = k - 1; i >= 0; --i) { // L^T z = y
      double v = z[i];
      for (int64_t p = i + 1; p < k; ++p)
        v -= L[p * k + i] * z[p];
      z[i] = v / L[i * k + i];
    }
    for (int64_t i = 0; i < k; ++i)
      weight[r * k + i] = static_cast<float>(z[i]);
  }
  bias.assign(n, 0.0f);
  for (int64_t r = 0; r < n; ++r) {
    double v = consumer.bias.empty() ? 0.0 : consumer.bias[r];
    for (int64_t j = 0; j < c; ++j)
      v += double(consumer.at(r, j)) * stats.mean[j];
    for (int64_t i = 0; i < k; ++i)
      v -= double(weight[r * k + i]) * stats.mean[kept[i]];
    bias[r] = static_cast<float>(v);
  }
  return true;
}

double channelScore(Method method, const LinearParams &consumer, int64_t c,
                    const ChannelStats *stats) {
  double abs = 0, squares = 0;
  for (int64_t r = 0; r < consumer.rows; ++r) {
    double w = consumer.at(r, c);
    abs += std::fabs(w);
    squares += w * w;
  }
  switch (method) {
  case Method::Magnitude:
    return squares;
  case Method::Wanda: {
    double mean = stats->mean[c], variance = stats->variance[c];
    return abs * std::sqrt(std::max(0.0, variance + mean * mean));
  }
  case Method::Flap:
    return stats->variance[c] * squares;
  }
  return 0;
}

double rowSquares(const LinearParams &p, int64_t row) {
  double s = 0;
  for (int64_t c = 0; c < p.cols; ++c)
    s += static_cast<double>(p.at(row, c)) * p.at(row, c);
  return s;
}

std::vector<std::vector<bool>>
chooseRemoved(const std::vector<std::vector<double>> &scores, double ratio,
              Allocation allocation, int64_t minKeep, int64_t keepMultiple) {
  const size_t n = scores.size();
  std::vector<std::vector<bool>> removed(n);
  std::vector<int64_t> removeCount(n, 0);
  auto roundKept = [&](int64_t groups, int64_t kept) {
    int64_t multiple = groups >= 2 * keepMultiple ? keepMultiple : 1;
    kept =
        static_cast<int64_t>(std::llround(double(kept) / multiple)) * multiple;
    return std::clamp<int64_t>(
        kept, std::min(groups, std::max(minKeep, multiple)), groups);
  };
  for (size_t u = 0; u < n; ++u) {
    int64_t groups = scores[u].size();
    removed[u].assign(groups, false);
    int64_t remove = std::llround(ratio * groups);
    removeCount[u] = groups - roundKept(groups, groups - remove);
  }
  if (allocation == Allocation::Global && n > 1) {
    // FLAP: scores standardized per unit, then one ranking over all units.
    int64_t total =
        std::accumulate(removeCount.begin(), removeCount.end(), int64_t(0));
    std::vector<std::tuple<double, size_t, int64_t>> ranked;
    for (size_t u = 0; u < n; ++u) {
      const auto &s = scores[u];
      double mean = std::accumulate(s.begin(), s.end(), 0.0) / s.size();
      double var = 0;
      for (double x : s)
        var += (x - mean) * (x - mean);
      double sd = std::sqrt(var / s.size());
      for (size_t g = 0; g < s.size(); ++g)
        ranked.emplace_back(sd > 0 ? (s[g] - mean) / sd : 0.0, u, g);
    }
    std::stable_sort(ranked.begin(), ranked.end());
    std::fill(removeCount.begin(), removeCount.end(), 0);
    for (auto &[z, u, g] : ranked) {
      if (total == 0)
        break;
      if (static_cast<int64_t>(scores[u].size()) - removeCount[u] <= minKeep)
        continue;
      ++removeCount[u];
      --total;
    }
    for (size_t u = 0; u < n; ++u) {
      int64_t groups = scores[u].size();
      removeCount[u] = groups - roundKept(groups, groups - removeCount[u]);
    }
  }
  for (size_t u = 0; u < n; ++u) {
    std::vector<int64_t> order(scores[u].size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return scores[u][a] < scores[u][b];
    });
    for (int64_t i = 0; i < removeCount[u]; ++i)
      removed[u][order[i]] = true;
  }
  return removed;
}

void eraseDeadConstants(Operation *root) {
  SmallVector<Operation *> dead;
  root->walk([&](arith::ConstantOp op) {
    if (op->use_empty())
      dead.push_back(op);
  });
  for (Operation *op : dead)
    op->erase();
}

static LogicalResult parseMethod(Operation *root, StringRef text,
                                 Method &method) {
  if (text == "magnitude")
    method = Method::Magnitude;
  else if (text == "wanda")
    method = Method::Wanda;
  else if (text == "flap")
    method = Method::Flap;
  else
    return root->emitError("unknown pruning method '")
           << text << "' (expected magnitude, wanda or flap)";
  return success();
}

static LogicalResult parseAllocation(Operation *root, StringRef text,
                                     Allocation &allocation) {
  if (text == "uniform")
    allocation = Allocation::Uniform;
  else if (text == "global")
    allocation = Allocation::Global;
  else
    return root->emitError("unknown allocation '")
           << text << "' (expected uniform or global)";
  return success();
}

static LogicalResult checkRatio(Operation *root, double ratio) {
  if (!(ratio >= 0.0 && ratio < 1.0))
    return root->emitError("pruning ratio must be in [0, 1), not ")
           << static_cast<double>(ratio);
  return success();
}

LogicalResult parseOptions(Operation *root, double ratio, StringRef methodText,
                           StringRef allocationText, Method &method,
                           Allocation &allocation) {
  return success(succeeded(checkRatio(root, ratio)) &&
                 succeeded(parseMethod(root, methodText, method)) &&
                 succeeded(parseAllocation(root, allocationText, allocation)));
}

LinearOp rebuildConsumer(LinearOp op, const LinearParams &p,
                         ArrayRef<int64_t> kept, ArrayRef<int64_t> removed,
                         const ChannelStats *stats, bool refit, Value input) {
  std::vector<float> weight, bias = compensatedBias(p, removed, stats);
  bool rebuilt = refit && stats && !stats->covariance.empty() &&
                 reconstruct(p, kept, *stats, weight, bias);
  return rebuildLinear(op, p, {}, kept, bias, input,
                       rebuilt ? &weight : nullptr);
}

FailureOr<std::optional<ChannelStats>>
statsFor(Method method, LinearOp consumer, bool compensate) {
  std::optional<ChannelStats> stats =
      getInputStats(consumer, consumer.getInFeatures());
  if (method != Method::Magnitude && !stats)
    return consumer.emitError(
               "activation-aware pruning needs calibration statistics "
               "('slm.input_stats') on this layer: give slmc --calibration "
               "DIR, or use method magnitude"),
           failure();
  if (!compensate)
    stats.reset();
  return stats;
}

} // namespace mlir::slm::pruning
