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
    epilogue), reductions reduce with `linalg.generic`, `slm.gather` reads
    with `tensor.extract` (indices clamped into range), `slm.transpose`
    becomes `linalg.transpose` and `slm.reshape` `tensor.reshape`. Run
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
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SLMLowerMemRefCopy : Pass<"slm-lower-memref-copy"> {
  let summary = "Rewrite memref.copy as a linalg copy, so that it becomes loops";
  let description = [{
    `memref.copy` between strided buffers lowers to a call into MLIR's C
    runner library, which a compiled model must not depend on. As a
    `linalg.generic` copy it becomes plain loops.

    Before:
    ```mlir
    memref.copy %a, %b : memref<?x4xf32, strided<[8, 1]>> to memref<?x4xf32>
    ```
    After:
    ```mlir
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%a : memref<?x4xf32, strided<[8, 1]>>) outs(%b : memref<?x4xf32>) {
    ^bb0(%in: f32, %out: f32):
      linalg.yield %in : f32
    }
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

#endif // SLM_CONVERSION_PASSES_TD
