//===- Compression.h - Calibration, accuracy guard, report ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// What the Compress phase does around the pruning and quantization passes:
// - calibration: compile a copy of the model that also returns the values
//   pruning measures (--slm-expose-calibration-probes), run it on the
//   user's calibration samples, and write the statistics onto the IR
//   (channel mean/variance, block importance);
// - the accuracy guard: run the compressed model on the same samples and
//   compare with the uncompressed outputs;
// - the compression report: per layer heads and neurons kept, weight bytes
//   and multiply-accumulates before and after.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_COMPRESSION_COMPRESSION_H
#define SLM_COMPRESSION_COMPRESSION_H

#include "slm/Support/TensorFiles.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::slm {

/// One calibration sample: a value for each model input, in input order.
struct CalibrationSample {
  std::string name;
  std::vector<HostTensor> inputs;
};

/// Model outputs per sample, as produced by the uncompressed model during
/// calibration; the accuracy guard compares against them.
struct ReferenceOutputs {
  std::vector<std::string> names;
  std::vector<CalibrationSample> samples;
  std::vector<std::vector<HostTensor>> outputs;
};

/// A model input or output as a compiled model reports it.
struct TensorSpec {
  std::string name;
  slm_dtype dtype = SLM_FLOAT32;
  int64_t rank = 0;
};

/// A compiled model that runs on host tensors. Compression reaches code
/// generation and the runtime only through this interface and a
/// ModelCompiler: the compiler library injects both (compileModel's
/// CompileHooks), the way IREE injects its constant evaluator.
class RunnableModel {
public:
  virtual ~RunnableModel();
  virtual std::vector<TensorSpec> inputs() const = 0;
  virtual std::vector<TensorSpec> outputs() const = 0;
  /// Runs on `inputs` (one per model input, in order) and returns every
  /// output; errors name the problem.
  virtual LogicalResult run(const std::vector<HostTensor> &inputs,
                            std::vector<HostTensor> &outputs,
                            std::string &error) = 0;
};

/// Compiles slm IR after compression (optimize, lower, emit, load).
using ModelCompiler =
    llvm::function_ref<FailureOr<std::unique_ptr<RunnableModel>>(
        ModuleOp module, std::string &error)>;

/// Compiles a copy of `module` (raised slm IR) with calibration probes
/// with `compile`, runs it on the samples in `dataDir` and sets
/// slm.input_stats / slm.block_importance on `module`. Samples: `dataDir`
/// holds the files of one sample, or one sub-folder per sample; a sample
/// has, per model input, NAME.npy or NAME.pb (ONNX TensorProto), or
/// input_K.npy / input_K.pb for the K-th input. Errors name the file.
/// With `covariance`, also each projection input's channel covariance
/// (for least-squares reconstruction; channels^2 per layer). With
/// `allLinears`, every linear layer's input is measured (not only the
/// pruning units'), with its value range and 0.01%/99.99% quantiles.
FailureOr<ReferenceOutputs> calibrate(ModuleOp module, StringRef dataDir,
                                      ModelCompiler compile, bool covariance,
                                      bool allLinears, std::string &error);

/// Output error of a compiled model against the references.
struct OutputError {
  std::string name;
  double relative = 0; ///< ||y - ref|| / ||ref|| over all samples
  double maxAbs = 0;
  double cosine = 1; ///< mean cosine similarity of the last-axis rows
};

/// Runs the compressed `model` on the reference samples and measures each
/// output's error.
FailureOr<std::vector<OutputError>>
measureOutputError(RunnableModel &model, const ReferenceOutputs &reference,
                   std::string &error);

/// Per-layer structure, for the compression report.
struct LayerShape {
  int64_t index = 0;
  int64_t heads = 0, neurons = 0;
  int64_t weightBytes = 0; ///< the layer's linear weights and biases
  int64_t macsPerToken = 0;
};
struct ModelShape {
  std::vector<LayerShape> layers;
  int64_t weightBytes = 0; ///< every tensor constant
  int64_t linearMacsPerToken = 0;
};

/// Tags attention ops and FFN up projections with their layer index (so
/// the report can match layers after pruning).
void tagLayers(ModuleOp module);
/// The tagged layers of `module` and its totals.
ModelShape describeModelShape(ModuleOp module);

/// Prints the before/after table to `os`.
void printCompressionReport(const ModelShape &before, const ModelShape &after,
                            llvm::raw_ostream &os);
/// Writes the report as JSON to `path` and as an SVG chart (share of heads
/// and neurons kept per layer) to `path` with its extension replaced by
/// .svg. Errors go to `error`.
LogicalResult writeCompressionReport(const ModelShape &before,
                                     const ModelShape &after,
                                     ArrayRef<OutputError> errors,
                                     StringRef path, std::string &error);

} // namespace mlir::slm

#endif // SLM_COMPRESSION_COMPRESSION_H
