//===- RuntimeHooks.cpp - Running compiled models from the compiler -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Pipelines/RuntimeHooks.h"
#include "slm/Runtime/slmrt.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::slm;

namespace {
/// A model library opened through the runtime.
class RuntimeModel final : public RunnableModel {
public:
  ~RuntimeModel() override { slm_model_close(model); }

  LogicalResult open(StringRef path, std::string &error) {
    char message[512] = {0};
    if (slm_model_open(path.str().c_str(), &model, message, sizeof(message)) !=
        SLM_OK) {
      error = message;
      return failure();
    }
    return success();
  }

  std::vector<TensorSpec> inputs() const override {
    std::vector<TensorSpec> specs(slm_model_num_inputs(model));
    for (size_t i = 0; i < specs.size(); ++i) {
      slm_tensor_info info;
      slm_model_input_info(model, i, &info);
      specs[i] = {info.name ? info.name : "", info.dtype, info.rank};
    }
    return specs;
  }

  std::vector<TensorSpec> outputs() const override {
    std::vector<TensorSpec> specs(slm_model_num_outputs(model));
    for (size_t i = 0; i < specs.size(); ++i) {
      slm_tensor_info info;
      slm_model_output_info(model, i, &info);
      specs[i] = {info.name ? info.name : "", info.dtype, info.rank};
    }
    return specs;
  }

  LogicalResult run(const std::vector<HostTensor> &inputs,
                    std::vector<HostTensor> &results,
                    std::string &error) override {
    std::vector<slm_tensor> in(inputs.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const HostTensor &t = inputs[i];
      in[i] = {};
      in[i].dtype = static_cast<slm_dtype>(t.dtype);
      in[i].rank = t.shape.size();
      if (t.shape.size() > SLM_MAX_RANK) {
        error = "rank too large";
        return failure();
      }
      std::copy(t.shape.begin(), t.shape.end(), in[i].shape);
      in[i].data = const_cast<char *>(t.bytes.data());
    }
    std::vector<slm_tensor> out(slm_model_num_outputs(model));
    for (slm_tensor &t : out)
      t = {};
    char message[512] = {0};
    if (slm_model_run(model, in.data(), in.size(), out.data(), out.size(),
                      message, sizeof(message)) != SLM_OK) {
      error = message;
      return failure();
    }
    results.clear();
    for (slm_tensor &t : out) {
      HostTensor h;
      h.dtype = t.dtype;
      h.shape.assign(t.shape, t.shape + t.rank);
      const char *p = static_cast<const char *>(t.data);
      h.bytes.assign(p, p + h.numElements() * slm_dtype_size(t.dtype));
      slm_tensor_release(&t);
      results.push_back(std::move(h));
    }
    return success();
  }

private:
  slm_model *model = nullptr;
};
} // namespace

FailureOr<std::unique_ptr<RunnableModel>>
slm::loadModelWithRuntime(StringRef path, std::string &error) {
  auto model = std::make_unique<RuntimeModel>();
  if (failed(model->open(path, error)))
    return failure();
  return std::unique_ptr<RunnableModel>(std::move(model));
}
