//===- Calibration.cpp - Measure activations with compiled code -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Calibration runs compiled code, never an interpreter: a copy of the model
// that also returns the probed activations is compiled and loaded by the
// ModelCompiler the caller injects (compileModel's: a temporary library run
// through libslmrt) and run on each sample. Statistics are accumulated here
// in double precision.
//
//===----------------------------------------------------------------------===//

#include "slm/Compression/Compression.h"
#include "slm/IR/SLMConstants.h"
#include "slm/Transforms/ModelStructure.h"
#include "slm/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

using namespace mlir;
using namespace mlir::slm;

RunnableModel::~RunnableModel() = default;

//===----------------------------------------------------------------------===//
// Reading samples
//===----------------------------------------------------------------------===//

namespace {
bool isDataFile(StringRef path) {
  StringRef ext = llvm::sys::path::extension(path);
  return ext == ".npy" || ext == ".pb";
}

/// Reads the sample in `folder` for the model's `inputs`.
LogicalResult readSample(StringRef folder,
                         const std::vector<TensorSpec> &inputs,
                         CalibrationSample &sample, std::string &error) {
  sample.name = folder.str();
  for (size_t i = 0; i < inputs.size(); ++i) {
    SmallVector<std::string> candidates;
    StringRef name = inputs[i].name;
    // Input names come from the model: never let one pick a path.
    bool plainName = !name.empty() && name.find('/') == StringRef::npos &&
                     name != "." && name != "..";
    for (StringRef ext : {".npy", ".pb"}) {
      if (plainName)
        candidates.push_back((name + ext).str());
      candidates.push_back("input_" + std::to_string(i) + ext.str());
    }
    std::string found;
    for (const std::string &c : candidates) {
      SmallString<256> path(folder);
      llvm::sys::path::append(path, c);
      if (llvm::sys::fs::is_regular_file(path)) {
        found = std::string(path);
        break;
      }
    }
    if (found.empty()) {
      error = "calibration sample '" + folder.str() + "': no file for input '" +
              name.str() + "' (expected ";
      for (size_t c = 0; c < candidates.size(); ++c)
        error += (c ? ", " : "") + candidates[c];
      error += ")";
      return failure();
    }
    HostTensor t;
    if (!readTensorFile(found, inputs[i].dtype, t, error))
      return failure();
    if (static_cast<int64_t>(t.shape.size()) != inputs[i].rank) {
      error = "'" + found + "' has rank " + std::to_string(t.shape.size()) +
              "; input '" + name.str() + "' has rank " +
              std::to_string(inputs[i].rank);
      return failure();
    }
    sample.inputs.push_back(std::move(t));
  }
  return success();
}

LogicalResult readSamples(StringRef dir, const std::vector<TensorSpec> &inputs,
                          std::vector<CalibrationSample> &samples,
                          std::string &error) {
  if (!llvm::sys::fs::is_directory(dir)) {
    error = "calibration folder '" + dir.str() + "' does not exist";
    return failure();
  }
  std::vector<std::string> files, folders;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    if (llvm::sys::fs::is_directory(it->path()))
      folders.push_back(it->path());
    else if (isDataFile(it->path()))
      files.push_back(it->path());
  }
  if (ec) {
    error = "cannot list '" + dir.str() + "': " + ec.message();
    return failure();
  }
  if (!files.empty())
    folders = {dir.str()};
  std::sort(folders.begin(), folders.end());
  for (const std::string &folder : folders) {
    CalibrationSample sample;
    if (failed(readSample(folder, inputs, sample, error)))
      return failure();
    samples.push_back(std::move(sample));
  }
  if (samples.empty()) {
    error = "calibration folder '" + dir.str() +
            "' has no samples (.npy or .pb files, or sub-folders of them)";
    return failure();
  }
  return success();
}

/// Float view of an f32 output.
const float *floats(const HostTensor &t) {
  return reinterpret_cast<const float *>(t.bytes.data());
}

} // namespace

//===----------------------------------------------------------------------===//
// Calibration
//===----------------------------------------------------------------------===//

FailureOr<ReferenceOutputs>
mlir::slm::calibrate(ModuleOp module, StringRef dataDir, ModelCompiler compile,
                     bool covariance, bool allLinears, std::string &error) {
  // The probes, on the original IR in the order the probe pass uses: the
  // pruning units' projection inputs, the residual blocks, then (with
  // allLinears) every other linear input, each with the layers reading it.
  SmallVector<SmallVector<Operation *, 1>> linearProbes;
  SmallVector<Value> unitInputs;
  for (AttentionUnit &unit : findAttentionUnits(module)) {
    linearProbes.push_back({unit.output});
    unitInputs.push_back(unit.output.getInput());
  }
  for (FeedForwardUnit &unit : findFeedForwardUnits(module)) {
    linearProbes.push_back({unit.down});
    unitInputs.push_back(unit.down.getInput());
  }
  const size_t unitProbes = linearProbes.size();
  SmallVector<ResidualBlock> blocks = findResidualBlocks(module);
  if (allLinears)
    for (Value input : otherLinearInputs(module, unitInputs)) {
      SmallVector<Operation *, 1> readers;
      for (Operation *user : input.getUsers())
        if (auto linear = dyn_cast<LinearOp>(user))
          if (linear.getInput() == input)
            readers.push_back(linear);
      linearProbes.push_back(readers);
    }
  // Probe index of linear probe p among the extra results.
  auto probeResult = [&](size_t p) {
    return p < unitProbes ? p : p + 2 * blocks.size();
  };

  // The copy shares the weights; compiling it must not free them.
  WeightsInUse keep(module);
  OwningOpRef<ModuleOp> probed = cast<ModuleOp>(module->clone());
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  SLMExposeCalibrationProbesOptions probeOptions;
  probeOptions.allLinears = allLinears;
  pm.addPass(createSLMExposeCalibrationProbes(probeOptions));
  if (failed(pm.run(*probed))) {
    error = "could not build the calibration model";
    return failure();
  }
  FailureOr<std::unique_ptr<RunnableModel>> compiled = compile(*probed, error);
  if (failed(compiled)) {
    error = "could not compile the calibration model" +
            (error.empty() ? std::string() : ": " + error);
    return failure();
  }
  RunnableModel &model = **compiled;
  ReferenceOutputs reference;
  if (failed(readSamples(dataDir, model.inputs(), reference.samples, error)))
    return failure();
  const size_t numProbes = linearProbes.size() + 2 * blocks.size();
  std::vector<TensorSpec> outputInfos = model.outputs();
  const size_t numOutputs = outputInfos.size() - numProbes;
  for (size_t i = 0; i < numOutputs; ++i)
    reference.names.push_back(outputInfos[i].name);

  std::vector<std::vector<double>> sums(linearProbes.size()),
      squares(linearProbes.size()), products(linearProbes.size());
  std::vector<int64_t> counts(linearProbes.size(), 0);
  // Value range and a uniform sample of values (for quantiles) per probe.
  constexpr size_t kSample = 1 << 16;
  std::vector<float> lows(linearProbes.size(), 0.0f),
      highs(linearProbes.size(), 0.0f);
  std::vector<std::vector<float>> samples(linearProbes.size());
  std::vector<uint64_t> seen(linearProbes.size(), 0);
  uint64_t random = 0x9E3779B97F4A7C15ull;
  std::vector<double> cosineSums(blocks.size(), 0.0);
  std::vector<int64_t> tokens(blocks.size(), 0);
  for (const CalibrationSample &sample : reference.samples) {
    std::vector<HostTensor> results;
    if (failed(model.run(sample.inputs, results, error))) {
      error = "sample '" + sample.name + "': " + error;
      return failure();
    }
    reference.outputs.emplace_back(
        std::make_move_iterator(results.begin()),
        std::make_move_iterator(results.begin() + numOutputs));
    for (size_t p = 0; p < linearProbes.size(); ++p) {
      const HostTensor &t = results[numOutputs + probeResult(p)];
      const int64_t channels = t.shape.back();
      const int64_t rows = channels ? t.numElements() / channels : 0;
      sums[p].resize(channels, 0.0);
      squares[p].resize(channels, 0.0);
      const float *x = floats(t);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < channels; ++c) {
          double v = x[r * channels + c];
          sums[p][c] += v;
          squares[p][c] += v * v;
        }
      if (allLinears) {
        // Reservoir sampling (a fixed-seed generator: reproducible).
        const int64_t n = rows * channels;
        if (counts[p] == 0 && n > 0)
          lows[p] = highs[p] = x[0];
        for (int64_t i = 0; i < n; ++i) {
          lows[p] = std::min(lows[p], x[i]);
          highs[p] = std::max(highs[p], x[i]);
          if (samples[p].size() < kSample) {
            samples[p].push_back(x[i]);
          } else {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            const uint64_t slot = random % (seen[p] + 1);
            if (slot < kSample)
              samples[p][slot] = x[i];
          }
          ++seen[p];
        }
      }
      if (covariance) {
        // Upper triangle of sum_t x_t x_t^T.
        products[p].resize(channels * channels, 0.0);
        std::vector<double> row(channels);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = 0; c < channels; ++c)
            row[c] = x[r * channels + c];
          for (int64_t i = 0; i < channels; ++i) {
            const double xi = row[i];
            double *out = &products[p][i * channels];
            for (int64_t j = i; j < channels; ++j)
              out[j] += xi * row[j];
          }
        }
      }
      counts[p] += rows;
    }
    for (size_t b = 0; b < blocks.size(); ++b) {
      const HostTensor &in = results[numOutputs + unitProbes + 2 * b];
      const HostTensor &out = results[numOutputs + unitProbes + 2 * b + 1];
      const int64_t width = in.shape.back();
      const int64_t rows = width ? in.numElements() / width : 0;
      const float *a = floats(in), *c = floats(out);
      for (int64_t r = 0; r < rows; ++r) {
        double dot = 0, na = 0, nc = 0;
        for (int64_t i = 0; i < width; ++i) {
          double x = a[r * width + i], y = c[r * width + i];
          dot += x * y;
          na += x * x;
          nc += y * y;
        }
        cosineSums[b] += na > 0 && nc > 0 ? dot / std::sqrt(na * nc) : 1.0;
      }
      tokens[b] += rows;
    }
  }
  for (size_t p = 0; p < linearProbes.size(); ++p) {
    if (counts[p] == 0)
      continue;
    ChannelStats stats;
    stats.count = counts[p];
    for (size_t c = 0; c < sums[p].size(); ++c) {
      double mean = sums[p][c] / counts[p];
      stats.mean.push_back(static_cast<float>(mean));
      stats.variance.push_back(static_cast<float>(
          std::max(0.0, squares[p][c] / counts[p] - mean * mean)));
    }
    if (covariance) {
      const size_t channels = sums[p].size();
      stats.covariance.resize(channels * channels);
      for (size_t i = 0; i < channels; ++i)
        for (size_t j = i; j < channels; ++j) {
          double mi = sums[p][i] / counts[p], mj = sums[p][j] / counts[p];
          float v = static_cast<float>(
              products[p][i * channels + j] / counts[p] - mi * mj);
          stats.covariance[i * channels + j] = v;
          stats.covariance[j * channels + i] = v;
        }
    }
    if (allLinears && !samples[p].empty()) {
      std::vector<float> &sample = samples[p];
      auto quantile = [&](double q) {
        size_t k = std::min(sample.size() - 1,
                            static_cast<size_t>(q * (sample.size() - 1) + 0.5));
        std::nth_element(sample.begin(), sample.begin() + k, sample.end());
        return sample[k];
      };
      stats.hasRange = true;
      stats.min = lows[p];
      stats.max = highs[p];
      stats.lowQuantile = quantile(1e-4);
      stats.highQuantile = quantile(1.0 - 1e-4);
    }
    for (Operation *op : linearProbes[p])
      setInputStats(op, stats);
  }
  Builder b(module.getContext());
  for (size_t i = 0; i < blocks.size(); ++i)
    if (tokens[i] > 0)
      blocks[i].attention->setAttr(
          kBlockImportanceAttr,
          b.getF64FloatAttr(1.0 - cosineSums[i] / tokens[i]));
  return reference;
}

FailureOr<std::vector<OutputError>>
mlir::slm::measureOutputError(RunnableModel &model,
                              const ReferenceOutputs &reference,
                              std::string &error) {
  const size_t n = reference.names.size();
  std::vector<double> diff(n, 0.0), norm(n, 0.0), cosine(n, 0.0);
  std::vector<int64_t> rowsSeen(n, 0);
  std::vector<OutputError> errors(n);
  for (size_t s = 0; s < reference.samples.size(); ++s) {
    std::vector<HostTensor> results;
    if (failed(model.run(reference.samples[s].inputs, results, error))) {
      error = "sample '" + reference.samples[s].name + "': " + error;
      return failure();
    }
    if (results.size() != n) {
      error = "the compressed model has " + std::to_string(results.size()) +
              " outputs, the original " + std::to_string(n);
      return failure();
    }
    for (size_t o = 0; o < n; ++o) {
      const HostTensor &y = results[o], &r = reference.outputs[s][o];
      errors[o].name = reference.names[o];
      if (y.dtype != SLM_FLOAT32 || y.shape != r.shape)
        continue;
      const float *a = floats(y), *b = floats(r);
      const int64_t width = y.shape.empty() ? 1 : y.shape.back();
      const int64_t rows = width ? y.numElements() / width : 0;
      for (int64_t row = 0; row < rows; ++row) {
        double dot = 0, na = 0, nb = 0;
        for (int64_t i = row * width; i < (row + 1) * width; ++i) {
          double d = double(a[i]) - b[i];
          diff[o] += d * d;
          norm[o] += double(b[i]) * b[i];
          errors[o].maxAbs = std::max(errors[o].maxAbs, std::fabs(d));
          dot += double(a[i]) * b[i];
          na += double(a[i]) * a[i];
          nb += double(b[i]) * b[i];
        }
        cosine[o] += na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 1.0;
        ++rowsSeen[o];
      }
    }
  }
  for (size_t o = 0; o < n; ++o) {
    errors[o].relative =
        norm[o] > 0 ? std::sqrt(diff[o] / norm[o]) : std::sqrt(diff[o]);
    errors[o].cosine = rowsSeen[o] ? cosine[o] / rowsSeen[o] : 1.0;
  }
  return errors;
}
