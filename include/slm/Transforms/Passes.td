//===- Passes.td - slm transformation passes ---------------*- tablegen -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TRANSFORMS_PASSES_TD
#define SLM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SLMFuseLinearActivation : Pass<"slm-fuse-linear-activation"> {
  let summary = "Fuse an activation that follows a linear layer into its epilogue";
  let description = [{
    An `slm.gelu` (either form) or a ReLU spelled `slm.max(x, 0)` whose
    input is an `slm.linear` without an epilogue, and the linear's only use,
    becomes the linear's `activation`. Code generation then applies it to the
    accumulator tile while it is in registers instead of in a second pass
    over memory.

    Before:
    ```mlir
    %h = slm.linear %x, %w, %b : (tensor<?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x3072xf32>
    %g = slm.gelu %h : tensor<?x3072xf32>
    ```
    After:
    ```mlir
    %g = slm.linear %x, %w, %b {activation = #slm.activation<gelu>}
        : (tensor<?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x3072xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect"];
}

def SLMModelStats : Pass<"slm-model-stats", "::mlir::ModuleOp"> {
  let summary = "Print the model's layers, parameters, weight bytes and MACs";
  let description = [{
    Reads the IR without changing it and prints, per function: how many of
    each slm op, every `slm.linear` with its weight shape, storage form
    (dense, quantized, sparse) and multiply-accumulates per input row, and
    totals: parameters (logical weight elements), weight bytes as stored and
    as dense fp32-equivalent, and the compression ratio. Weight bytes count
    every tensor constant; a compressed weight op counts its stored operands.

    Example output:
    ```
    slm model stats: @forward
      ops: slm.attention 1, slm.linear 4, slm.layer_norm 2
      linear  weight 3072x768    dense f32        MACs/row 2359296
      linear  weight 768x3072    int4 g128        MACs/row 2359296
      parameters 4722432  stored bytes 10626048  dense bytes 18889728  ratio 1.78
    ```
    With `json=true` the same data is printed as one JSON object per
    function, for scripts.
  }];
  let options = [
    Option<"json", "json", "bool", /*default=*/"false",
           "Print JSON instead of text">
  ];
}

#endif // SLM_TRANSFORMS_PASSES_TD
