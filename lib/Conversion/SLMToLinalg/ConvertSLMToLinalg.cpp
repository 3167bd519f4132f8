//===- ConvertSLMToLinalg.cpp - The --convert-slm-to-linalg pass *- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The pass and its patterns; each op family's lowering has its own file
// (Elementwise, Linear, QuantizedLinear, DataMovement, Reductions).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "slm/Conversion/Passes.h"
#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::slm {
#define GEN_PASS_DEF_CONVERTSLMTOLINALG
#include "slm/Conversion/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {
struct ConvertSLMToLinalgPass
    : mlir::slm::impl::ConvertSLMToLinalgBase<ConvertSLMToLinalgPass> {
  using ConvertSLMToLinalgBase::ConvertSLMToLinalgBase;

  /// A model's outputs belong to the caller, who frees them: a result that
  /// is (a view of) an input or a constant, or a dynamic reshape, is copied
  /// into a new tensor.
  void copyReturnedInputs() {
    getOperation()->walk([](func::ReturnOp ret) {
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        Value root = operand.get();
        while (Operation *def = root.getDefiningOp()) {
          if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp,
                   tensor::CastOp, tensor::ExtractSliceOp, tensor::ReshapeOp>(
                  def))
            break;
          root = def->getOperand(0);
        }
        // tensor.reshape bufferizes to a memref.reshape view that the
        // function boundary cannot return; other views get their copy (when
        // strided) from bufferization itself.
        if (!isa<BlockArgument>(root) && !matchPattern(root, m_Constant()) &&
            !operand.get().getDefiningOp<tensor::ReshapeOp>())
          continue;
        auto type = dyn_cast<RankedTensorType>(operand.get().getType());
        if (!type)
          continue;
        Location loc = ret.getLoc();
        SmallVector<Value> dynamic;
        for (int64_t i = 0; i < type.getRank(); ++i)
          if (type.isDynamicDim(i))
            dynamic.push_back(tensor::DimOp::create(b, loc, operand.get(), i));
        Value empty = tensor::EmptyOp::create(b, loc, type, dynamic);
        operand.set(
            linalg::CopyOp::create(b, loc, operand.get(), empty).getResult(0));
      }
    });
  }

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg_lowering::PanelCache cache;
    cache.panel = packWeights;
    cache.findTiedTables(getOperation());
    populateSLMToLinalgPatterns(patterns, packWeights, &cache);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      signalPassFailure();
      return;
    }
    // Anything left has no lowering yet: say which, once per op name (the
    // fused attention stays: it bufferizes, and its kernel is emitted on
    // buffers).
    llvm::StringSet<> reported;
    WalkResult walk = getOperation()->walk([&](Operation *op) {
      if (isa<SLMDialect>(op->getDialect()) && !isa<FusedAttentionOp>(op) &&
          reported.insert(op->getName().getStringRef()).second) {
        auto linear = dyn_cast<LinearOp>(op);
        if (linear && linear.getPrecision() == Precision::bf16) {
          op->emitError() << "a bf16 linear layer needs a float constant "
                             "weight and packed weights (--weight-panel > 0)";
          return WalkResult::interrupt();
        }
        op->emitError() << "code generation does not support '" << op->getName()
                        << "' yet";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    copyReturnedInputs();
    // Weights packed into panels: the [N, K] originals can go (only when the
    // whole module is in view: another function may still use them).
    if (isa<ModuleOp>(getOperation()))
      releaseDeadWeights(getOperation());
  }
};
} // namespace

void mlir::slm::populateSLMToLinalgPatterns(
    RewritePatternSet &patterns, int64_t weightPanel,
    linalg_lowering::PanelCache *cache) {
  linalg_lowering::populateElementwisePatterns(patterns);
  linalg_lowering::populateLinearPatterns(patterns, weightPanel, cache);
  linalg_lowering::populateDataMovementPatterns(patterns, cache);
  linalg_lowering::populateReductionPatterns(patterns);
  // tensor.concat has no bufferization of its own: slices into an empty.
  tensor::populateDecomposeTensorConcatPatterns(patterns);
}
