//===- ExposeCalibrationProbes.cpp - Values calibration measures ----------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-expose-calibration-probes: the values that calibration measures
// become extra results of the function, so that slmc can compile the model
// once, run it on calibration data and read them (channel statistics for
// activation-aware pruning and quantization, block importance for layer
// pruning).
//
//===----------------------------------------------------------------------===//

#include "slm/Transforms/ModelStructure.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <string>

namespace mlir::slm {
#define GEN_PASS_DEF_SLMEXPOSECALIBRATIONPROBES
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {
/// The values calibration measures, in a fixed order: per attention unit
/// the output projection's input, per FFN unit the down projection's
/// input, per residual block its input and output; then, with
/// `all-linears`, the input of every other linear layer with a constant or
/// compressed weight, each value once.
struct ExposeCalibrationProbesPass
    : public slm::impl::SLMExposeCalibrationProbesBase<
          ExposeCalibrationProbesPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Value> probes;
    for (AttentionUnit &unit : findAttentionUnits(module))
      probes.push_back(unit.output.getInput());
    for (FeedForwardUnit &unit : findFeedForwardUnits(module))
      probes.push_back(unit.down.getInput());
    const size_t unitProbes = probes.size();
    for (ResidualBlock &block : findResidualBlocks(module)) {
      probes.push_back(block.input);
      probes.push_back(block.output);
    }
    if (allLinears)
      probes.append(otherLinearInputs(
          module, ArrayRef<Value>(probes).take_front(unitProbes)));
    if (probes.empty())
      return;
    auto functions = llvm::to_vector(module.getOps<func::FuncOp>());
    if (functions.size() != 1)
      return module.emitError("calibration needs a module with one function"),
             signalPassFailure();
    func::FuncOp func = functions.front();
    auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    unsigned first = ret.getNumOperands();
    ret.getOperandsMutable().append(probes);
    SmallVector<Type> results(func.getResultTypes());
    for (Value v : probes)
      results.push_back(v.getType());
    func.setType(FunctionType::get(module.getContext(), func.getArgumentTypes(),
                                   results));
    Builder b(module.getContext());
    for (unsigned i = 0; i < probes.size(); ++i)
      func.setResultAttr(first + i, "slm.name",
                         b.getStringAttr("slm.probe." + std::to_string(i)));
  }
};
} // namespace
