//===- SLMDialect.td - The slm dialect ---------------------*- tablegen -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_IR_SLMDIALECT_TD
#define SLM_IR_SLMDIALECT_TD

include "mlir/IR/OpBase.td"

def SLM_Dialect : Dialect {
  let name = "slm";
  let cppNamespace = "::mlir::slm";
  let summary = "Transformer graphs and their compressed forms";
  let description = [{
    The `slm` dialect holds transformer models between the ONNX importer and
    code generation. It has two layers of ops:

    * tensor-level ops that ONNX needs and no upstream dialect offers with
      the same semantics (numpy broadcasting, ONNX-style reshape, reductions
      over several axes, gathers), and
    * transformer-level ops that the compression and fusion passes reason
      about: `slm.linear`, `slm.attention`, `slm.layer_norm`, `slm.rms_norm`,
      `slm.gelu`, `slm.softmax`, `slm.embedding`.

    Compressed weights are ops that produce the logical dense weight from its
    stored form (`slm.dequantize_weight`, `slm.sparse_weight`); consumers such
    as `slm.linear` keep seeing a dense `[out, in]` weight, and code
    generation fuses the decompression into the consumer's inner loop.
    `slm.prune_tokens` marks where tokens may be dropped at run time.

    Values are builtin ranked tensors; unary math (`math.erf`, `math.tanh`,
    `math.sqrt`, ...) and casts (`arith.extf`, ...) reuse the upstream
    dialects, which are elementwise on tensors already. Weights are
    `arith.constant dense_resource<...>` values keyed by their ONNX names.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  // `slm.contraction` on linalg.generic (see #slm.contraction).
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Resource weights that a layout change replaced (transposed, sliced,
    /// packed): the candidates of slm::releaseDeadWeights. Kept here so
    /// that they live and die with the context that owns the blobs.
    std::mutex replacedWeightsMutex;
    std::vector<::mlir::DenseResourceElementsHandle> replacedWeights;
    /// Other IR (another module of the context) whose weights must stay,
    /// see slm::WeightsInUse.
    std::vector<::mlir::Operation *> weightRoots;
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // SLM_IR_SLMDIALECT_TD
