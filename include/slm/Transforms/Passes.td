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

def SLMMergeLinears : Pass<"slm-merge-linears"> {
  let summary = "Merge linear layers that read the same input into one GEMM";
  let description = [{
    Attention's query, key and value projections (and the gate and up
    projections of gated FFNs) are linear layers that read the same input.
    When their weights are constants with the same input width, the same
    activation, and constant or no biases, they become one `slm.linear`
    over the weights stacked by rows, and each former result is a slice of
    its columns. One GEMM reads the input once, starts its threads once,
    and has more columns to share among them.

    Before:
    ```mlir
    %q = slm.linear %x, %wq, %bq : (tensor<?x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
    %k = slm.linear %x, %wk, %bk : (tensor<?x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
    ```
    After:
    ```mlir
    %qk = slm.linear %x, %wqk, %bqk : (tensor<?x?x384xf32>, tensor<768x384xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %q = tensor.extract_slice %qk[0, 0, 0] [%b, %s, 384] [1, 1, 1] : tensor<?x?x768xf32> to tensor<?x?x384xf32>
    %k = tensor.extract_slice %qk[0, 0, 384] [%b, %s, 384] [1, 1, 1] : tensor<?x?x768xf32> to tensor<?x?x384xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
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

def SLMRaiseLinear : Pass<"slm-raise-linear"> {
  let summary = "Raise matmuls by constant weights (plus bias adds) to slm.linear";
  let description = [{
    `slm.matmul %x, %W` with a constant `[K, N]` weight (or the transpose of
    one, as `Gemm` with `transB` imports) becomes `slm.linear` with the
    weight stored `[N, K]` (the transpose of a constant folds); a following
    `slm.add` of a `[N]` constant becomes its bias.

    Before:
    ```mlir
    %y = slm.matmul %x, %w : (tensor<?x?x64xf32>, tensor<64x256xf32>) -> tensor<?x?x256xf32>
    %z = slm.add %y, %b : (tensor<?x?x256xf32>, tensor<256xf32>) -> tensor<?x?x256xf32>
    ```
    After:
    ```mlir
    %z = slm.linear %x, %wt, %b : (tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<256xf32>) -> tensor<?x?x256xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect"];
}

def SLMRaiseLayerNorm : Pass<"slm-raise-layer-norm"> {
  let summary = "Raise the spelled-out LayerNorm to slm.layer_norm";
  let description = [{
    Matches `(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps)` over the
    trailing axes (also `* rsqrt(..)`, `d * d` for the square), with an
    optional constant scale and shift in either operand order: what PyTorch
    exports below opset 17.

    Before:
    ```mlir
    %m = slm.reduce <mean> %x axes [-1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
    %d = slm.sub %x, %m : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
    %p = slm.pow %d, %two : (tensor<?x64xf32>, tensor<f32>) -> tensor<?x64xf32>
    %v = slm.reduce <mean> %p axes [-1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
    %e = slm.add %v, %eps : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
    %s = math.sqrt %e : tensor<?x1xf32>
    %n = slm.div %d, %s : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
    %g = slm.mul %n, %gamma : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    %y = slm.add %g, %beta : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
    After:
    ```mlir
    %y = slm.layer_norm %x, %gamma, %beta {epsilon = 1.0e-05 : f64, axis = 1 : i64}
        : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect"];
}

def SLMRaiseGelu : Pass<"slm-raise-gelu"> {
  let summary = "Raise spelled-out GELUs (erf and tanh forms) to slm.gelu";
  let description = [{
    `x * 0.5 * (1 + erf(x / sqrt(2)))` and
    `x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))`, with the
    products in any order and association, `x / sqrt(2)` or
    `x * (1/sqrt(2))`, `pow(x, 3)` or `x * x * x`.

    Before:
    ```mlir
    %s = slm.div %x, %sqrt2 : (tensor<?x128xf32>, tensor<f32>) -> tensor<?x128xf32>
    %e = math.erf %s : tensor<?x128xf32>
    %a = slm.add %e, %one : (tensor<?x128xf32>, tensor<f32>) -> tensor<?x128xf32>
    %m = slm.mul %x, %a : (tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x128xf32>
    %g = slm.mul %m, %half : (tensor<?x128xf32>, tensor<f32>) -> tensor<?x128xf32>
    ```
    After:
    ```mlir
    %g = slm.gelu %x : tensor<?x128xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect"];
}

def SLMRaiseAttention : Pass<"slm-raise-attention"> {
  let summary = "Raise scaled dot-product attention subgraphs to slm.attention";
  let description = [{
    Finds `softmax(scale * Q K^T + mask) V` with the head split and merge
    wherever the exporter put them: batch-first (`[B, S, E] -> [B, H, S, D]`,
    as HF models), or sequence-first with batch and heads merged
    (`[S, B, E] -> [B*H, S, D]`, as `nn.MultiheadAttention`); scale by Mul
    or Div on Q, K or the scores; an additive mask, a select (ONNX Where)
    mask in either branch order, or none. Fused QKV projections (one
    linear, then slices) and separate ones both work. A select mask that is
    a slice of a constant lower-triangular buffer becomes `causal`.

    Dimensions are labelled with the atoms they are made of (the outer
    dimensions of each projection, heads, head width); labels are pushed
    through transposes and reshapes, where dynamic extents are compared as
    products of tensor dimensions.

    Before (HF style, with the mask omitted):
    ```mlir
    %qh = slm.reshape %q, %s4 : (tensor<?x?x64xf32>, tensor<4xindex>) -> tensor<?x?x4x16xf32>
    %qt = slm.transpose %qh [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
    %kh = slm.reshape %k, %s4 : (tensor<?x?x64xf32>, tensor<4xindex>) -> tensor<?x?x4x16xf32>
    %kt = slm.transpose %kh [0, 2, 3, 1] : tensor<?x?x4x16xf32> -> tensor<?x4x16x?xf32>
    %vh = slm.reshape %v, %s4 : (tensor<?x?x64xf32>, tensor<4xindex>) -> tensor<?x?x4x16xf32>
    %vt = slm.transpose %vh [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
    %s = slm.matmul %qt, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
    %ss = slm.div %s, %four : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
    %p = slm.softmax %ss axis 3 : tensor<?x4x?x?xf32>
    %c = slm.matmul %p, %vt : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
    %ct = slm.transpose %c [0, 2, 1, 3] : tensor<?x4x?x16xf32> -> tensor<?x?x4x16xf32>
    %o = slm.reshape %ct, %s3 : (tensor<?x?x4x16xf32>, tensor<3xindex>) -> tensor<?x?x64xf32>
    ```
    After:
    ```mlir
    %o = slm.attention %q, %k, %v {num_heads = 4 : i64}
        : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SLMDecomposeTransformerOps : Pass<"slm-decompose-transformer-ops"> {
  let summary = "Spell attention, normalizations, GELU, softmax and embedding out in tensor-level ops";
  let description = [{
    The reference code generation path: each transformer-level op except
    `slm.linear` becomes tensor-level slm ops (`reshape`, `transpose`,
    `matmul`, `reduce`, elementwise) and `math` ops, which
    `--convert-slm-to-linalg` lowers. Attention splits the heads, multiplies
    by the scale, applies the mask (a masked score becomes the lowest finite
    value) and the causal limit `j <= i + (Skv - Sq)`, and merges the heads.

    Before:
    ```mlir
    %y = slm.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f64}
        : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
    After:
    ```mlir
    %m = slm.reduce <mean> %x axes [1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
    %d = slm.sub %x, %m : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
    %dd = slm.mul %d, %d : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
    %v = slm.reduce <mean> %dd axes [1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
    %ve = slm.add %v, %eps : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
    %r = math.rsqrt %ve : tensor<?x1xf32>
    %n = slm.mul %d, %r : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
    %s = slm.mul %n, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    %y = slm.add %s, %b : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"];
}

#endif // SLM_TRANSFORMS_PASSES_TD
