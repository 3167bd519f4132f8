//===- Passes.td - slm conversion passes -------------------*- tablegen -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_CONVERSION_PASSES_TD
#define SLM_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertSLMToLinalg : Pass<"convert-slm-to-linalg"> {
  let summary = "Lower tensor-level slm ops and slm.linear to linalg on tensors";
  let description = [{
    Elementwise ops with numpy broadcasting become `linalg.generic` with
    broadcasting indexing maps (a static extent of 1 is broadcast; dynamic
    extents must agree at run time), `slm.matmul` and `slm.linear` become
    contractions (the bias initializes the accumulator, the activation is an
    epilogue); a constant `slm.linear` weight is packed at compile time into
    column panels `[ceil(N/P), K, P]` (`pack-weights=P`, 32 by default: two
    AVX-512 vectors), so that the GEMM kernel reads it as one contiguous
    stream, and the `[.., N/P, P]` result is reshaped back to `[.., N]`;
    reductions reduce with `linalg.generic`, `slm.gather` reads with
    `tensor.extract` (indices clamped into range), `slm.transpose`
    becomes `linalg.transpose` and `slm.reshape` `tensor.reshape`.

    Every contraction meant for a GEMM kernel carries its declaration,
    `slm.contraction = #slm.contraction<kind = ..., panel = P, group = G>`
    (f32 products, int8 weight-only, W8A8's uint8 x int8 dot products,
    int4/NF4 weights; see the attribute), which is what
    `--slm-vectorize-contractions` plans from. Linear layers with unpacked
    weights (`pack-weights=0`, B read as `[N, K]`) and integer products
    carry none: no kernel reads them. Run
    `--slm-decompose-transformer-ops` first; ops without a lowering (today:
    compressed weights and token pruning) make the pass fail with an error
    naming them.

    Before:
    ```mlir
    %y = slm.add %x, %b : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
    ```
    After:
    ```mlir
    %c0 = arith.constant 0 : index
    %d0 = tensor.dim %x, %c0 : tensor<?x8xf32>
    %e = tensor.empty(%d0) : tensor<?x8xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                          affine_map<(d0, d1) -> (d1)>,
                                          affine_map<(d0, d1) -> (d0, d1)>],
                         iterator_types = ["parallel", "parallel"]}
        ins(%x, %b : tensor<?x8xf32>, tensor<8xf32>) outs(%e : tensor<?x8xf32>) {
    ^bb0(%a: f32, %c: f32, %out: f32):
      %s = arith.addf %a, %c : f32
      linalg.yield %s : f32
    } -> tensor<?x8xf32>
    ```
    A linear layer over a constant [64, 16] weight (packed in two panels):
    ```mlir
    %y = linalg.generic {indexing_maps = [affine_map<(m, p, j, k) -> (m, k)>,
                                          affine_map<(m, p, j, k) -> (p, k, j)>,
                                          affine_map<(m, p, j, k) -> (m, p, j)>],
                         iterator_types = ["parallel", "parallel", "parallel", "reduction"],
                         slm.contraction = #slm.contraction<kind = f32, panel = 32>}
        ins(%x, %w : tensor<?x16xf32>, tensor<2x16x32xf32>) outs(%init : tensor<?x2x32xf32>) { mul-add }
    ```
  }];
  let options = [
    Option<"packWeights", "pack-weights", "int64_t", /*default=*/"32",
           "Pack constant slm.linear weights [N, K] into column panels "
           "[ceil(N/P), K, P] of this width (0: keep [N, K])">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // SLM_CONVERSION_PASSES_TD
