//===- FuseElementwise.cpp - Elementwise fusion around GEMMs ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "slm/Codegen/Contraction.h"
#include "slm/Codegen/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMFUSEELEMENTWISE
#include "slm/Codegen/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::cpu_kernels;

namespace {
/// Whether `operand` of a contraction is produced by a copy (a transpose,
/// a broadcast) that may fold into the contraction's indexing: always for
/// the left-hand side (read one element at a time), and for the right-hand
/// side only when its innermost index stays the output column, which the
/// GEMM kernels load as whole vectors.
bool isLayoutPreservingCopy(OpOperand *operand) {
  auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
  auto consumer = dyn_cast<linalg::GenericOp>(operand->getOwner());
  if (!producer || !consumer || !isDataMovement(producer))
    return false;
  unsigned index = operand->getOperandNumber();
  if (index == 0)
    return true;
  if (index != 1)
    return false;
  AffineMap producerOutput = producer.getIndexingMapsArray()[1];
  if (!producerOutput.isPermutation())
    return false;
  AffineMap consumerMap = consumer.getMatchingIndexingMap(operand);
  AffineMap fused = producer.getIndexingMapsArray()[0]
                        .compose(inversePermutation(producerOutput))
                        .compose(consumerMap);
  return fused.getNumResults() > 0 && consumerMap.getNumResults() > 0 &&
         fused.getResults().back() == consumerMap.getResults().back();
}

/// Whether the producer of `operand` fuses into its consumer: upstream's
/// rule (a producer with a single use), nothing into a contraction but
/// layout copies when `keepContractions` (its operands keep the layout the
/// GEMM kernels read), and the blocked A of the W8A8 and 4-bit kernels
/// stays a reshape.
bool shouldFuse(OpOperand *operand, bool keepContractions) {
  Operation *producer = operand->get().getDefiningOp();
  if (!producer || !producer->hasOneUse())
    return false;
  // The blocked A of the W8A8 and 4-bit kernels ([rows, k/4, 4],
  // [rows, k/g, g/2, 2]) stays a reshape: moving it into its producer
  // would give that loop nest the blocked shape and a 2- or 4-wide inner
  // loop.
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(operand->getOwner()))
    for (Operation *user : expand->getUsers())
      if (ContractionAttr declaration = getContractionDeclaration(user))
        if (declaration.getKind() == ContractionKind::u8s8_dot ||
            declaration.getKind() == ContractionKind::bf16_dot ||
            declaration.isFourBit())
          return false;
  auto consumer = dyn_cast<linalg::LinalgOp>(operand->getOwner());
  if (!keepContractions || !consumer || !isKernelContraction(consumer))
    return true;
  return isLayoutPreservingCopy(operand);
}

/// Upstream's producer-into-consumer fusion (FuseElementwiseOps) for a
/// consumer that declares its contraction: the fused op keeps the
/// declaration when the producer is a copy (only the indexing changes),
/// which upstream's pattern would drop; anything else makes it an
/// undeclared op.
struct FuseIntoDeclaredContraction : OpRewritePattern<linalg::GenericOp> {
  FuseIntoDeclaredContraction(MLIRContext *ctx, linalg::ControlFusionFn rule)
      : OpRewritePattern(ctx), rule(std::move(rule)) {}

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    ContractionAttr declaration = getContractionDeclaration(op);
    if (!declaration)
      return failure();
    for (OpOperand &operand : op->getOpOperands()) {
      if (!linalg::areElementwiseOpsFusable(&operand) || !rule(&operand))
        continue;
      auto producer = operand.get().getDefiningOp<linalg::GenericOp>();
      const bool copy = producer && isDataMovement(producer);
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, &operand);
      if (failed(fused))
        return rewriter.notifyMatchFailure(op, "fusion failed");
      if (copy)
        setContractionDeclaration(fused->fusedOp, declaration);
      for (auto [original, replacement] : fused->replacements)
        rewriter.replaceUsesWithIf(original, replacement, [&](OpOperand &use) {
          // Only the consumer's uses.
          return use.get().getDefiningOp() != producer;
        });
      rewriter.eraseOp(op);
      return success();
    }
    return failure();
  }

  linalg::ControlFusionFn rule;
};

/// Warns when a pattern replaces a declared contraction by an op without
/// the declaration (upstream's folding of a splat constant operand into the
/// body): its product then runs as plain loops, and says so.
struct DeclarationWatch : RewriterBase::Listener {
  void notifyOperationReplaced(Operation *op, ValueRange values) override {
    ContractionAttr declaration = getContractionDeclaration(op);
    if (!declaration || values.empty())
      return;
    Operation *replacement = values.front().getDefiningOp();
    if (replacement && getContractionDeclaration(replacement))
      return;
    op->emitWarning() << "declared " << declaration
                      << " lost its declaration in fusion (a constant operand "
                         "was folded into its body): it runs as plain loops";
  }
};

struct SLMFuseElementwisePass
    : mlir::slm::impl::SLMFuseElementwiseBase<SLMFuseElementwisePass> {
  using SLMFuseElementwiseBase::SLMFuseElementwiseBase;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    bool keepContractions = noFuseIntoContractions;
    linalg::ControlFusionFn rule = [keepContractions](OpOperand *operand) {
      return shouldFuse(operand, keepContractions);
    };
    // Upstream's patterns leave producer-consumer fusion into declared
    // contractions to FuseIntoDeclaredContraction.
    linalg::ControlFusionFn control = [rule](OpOperand *operand) {
      if (getContractionDeclaration(operand->getOwner()) &&
          operand->get().getDefiningOp<linalg::GenericOp>())
        return false;
      return rule(operand);
    };
    // Transposes as generics, so that they can fuse (head splits).
    {
      SmallVector<linalg::TransposeOp> transposes;
      getOperation()->walk(
          [&](linalg::TransposeOp op) { transposes.push_back(op); });
      IRRewriter rewriter(ctx);
      for (linalg::TransposeOp op : transposes) {
        rewriter.setInsertionPoint(op);
        (void)linalg::generalizeNamedOp(rewriter, op);
      }
    }
    RewritePatternSet patterns(ctx);
    patterns.add<FuseIntoDeclaredContraction>(ctx, rule);
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, control);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    ctx->getLoadedDialect<linalg::LinalgDialect>()->getCanonicalizationPatterns(
        patterns);
    DeclarationWatch watch;
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns),
                                  GreedyRewriteConfig().setListener(&watch))))
      return signalPassFailure();
    // A fill that several ops accumulate into (CSE merges equal fills)
    // would be copied by bufferization for every consumer but one: give
    // each consumer its own fill instead, which then fuses with the
    // consumer's loop nest.
    SmallVector<linalg::FillOp> shared;
    getOperation()->walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics() && !fill->hasOneUse() &&
          !fill->use_empty())
        shared.push_back(fill);
    });
    IRRewriter rewriter(ctx);
    for (linalg::FillOp fill : shared) {
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : fill->getUses())
        uses.push_back(&use);
      for (OpOperand *use : llvm::drop_begin(uses)) {
        rewriter.setInsertionPoint(use->getOwner());
        Operation *copy = rewriter.clone(*fill);
        rewriter.modifyOpInPlace(use->getOwner(),
                                 [&] { use->set(copy->getResult(0)); });
      }
    }
  }
};
} // namespace
