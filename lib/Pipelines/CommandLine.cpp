//===- CommandLine.cpp - slmc's flags from the option declarations -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Pipelines/CommandLine.h"
#include "slm/Pipelines/OptionList.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"

#include <memory>
#include <vector>

using namespace mlir;
using llvm::SmallVector;
using llvm::StringRef;
using namespace mlir::slm;
namespace cl = llvm::cl;

cl::OptionCategory &slm::optionCategory(OptionGroup group) {
  static cl::OptionCategory output("slmc options");
  static cl::OptionCategory raise("slmc raising options");
  static cl::OptionCategory compress(
      "slmc compression options",
      "Structured pruning and quantization without retraining. "
      "Activation-aware methods,\nlayer pruning, static W8A8 scales, GPTQ "
      "and the accuracy guard need calibration\nsamples: a folder with one "
      "file per model input (NAME.npy or NAME.pb, an ONNX\nTensorProto; or "
      "input_K.npy / input_K.pb), or one sub-folder per sample. Use\n"
      "unpadded samples: padding rows would count as tokens.");
  static cl::OptionCategory optimize("slmc graph optimization options");
  static cl::OptionCategory cpu("slmc CPU code generation options");
  switch (group) {
  case OptionGroup::Raise:
    return raise;
  case OptionGroup::Compress:
    return compress;
  case OptionGroup::Optimize:
    return optimize;
  case OptionGroup::CPU:
    return cpu;
  case OptionGroup::Output:
  case OptionGroup::Driver:
    break;
  }
  return output;
}

namespace {
/// Creates the cl::opt of every option it visits, stored in `options`.
struct CommandLineBinder {
  std::vector<std::unique_ptr<cl::Option>> &owned;

  template <typename T> void option(T &field, const OptionInfo &info) {
    auto opt = std::make_unique<cl::opt<T, /*ExternalStorage=*/true>>(
        info.flag, cl::desc(info.help), cl::location(field),
        cl::cat(optionCategory(info.group)));
    if (!info.valueName.empty())
      opt->setValueStr(info.valueName);
    owned.push_back(std::move(opt));
  }
  template <typename Enum, size_t N>
  void enumOption(Enum &field, const OptionInfo &info,
                  const EnumValue<Enum> (&values)[N]) {
    auto opt = std::make_unique<cl::opt<Enum, /*ExternalStorage=*/true>>(
        info.flag, cl::desc(info.help), cl::location(field),
        cl::cat(optionCategory(info.group)));
    opt->setValueStr(info.valueName);
    for (const EnumValue<Enum> &v : values)
      opt->getParser().addLiteralOption(v.name, v.value, v.help);
    owned.push_back(std::move(opt));
  }
};
} // namespace

void slm::registerMLIRCommandLineOptions() {
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
}

LogicalResult slm::applyMLIRCommandLineOptions(PassManager &pm) {
  return applyPassManagerCLOptions(pm);
}

void slm::registerCompileCommandLineOptions(CompileOptions &options) {
  static std::vector<std::unique_ptr<cl::Option>> owned;
  CommandLineBinder binder{owned};
  visitOptions(options, binder);
}

SmallVector<const cl::OptionCategory *> slm::compileOptionCategories() {
  return {&optionCategory(OptionGroup::Output),
          &optionCategory(OptionGroup::Raise),
          &optionCategory(OptionGroup::Compress),
          &optionCategory(OptionGroup::Optimize),
          &optionCategory(OptionGroup::CPU)};
}
