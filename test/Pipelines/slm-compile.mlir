// RUN: slm-opt %s --slm-compile="compile-to=raise" | FileCheck %s --check-prefix=RAISE
// RUN: slm-opt %s --slm-compile="compile-to=optimize" | FileCheck %s --check-prefix=OPT
// RUN: slm-opt %s --slm-compile="compile-to=optimize quantize=int8" | FileCheck %s --check-prefix=INT8
// RUN: slm-opt %s --slm-compile | FileCheck %s --check-prefix=LLVM
// RUN: slm-opt %s --slm-compile="compile-from=optimize compile-to=optimize" | FileCheck %s --check-prefix=ONLYOPT

// Tests that --slm-compile runs the pass phases from --compile-from to
// --compile-to with slmc's options: raised, then fused, then lowered.

// RAISE: slm.linear
// RAISE: slm.gelu
// OPT: slm.linear {{.*}}activation = #slm.activation<gelu>
// OPT-NOT: slm.gelu
// INT8: slm.dequantize_weight
// LLVM: llvm.func @slm_model_main
// LLVM: llvm.func @_mlir_ciface_slm_model_main
// LLVM-NOT: slm.
// ONLYOPT: slm.matmul
// ONLYOPT-NOT: slm.linear
func.func @main(%x: tensor<4x16xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.01> : tensor<16x32xf32>
  %y = slm.matmul %x, %w : (tensor<4x16xf32>, tensor<16x32xf32>) -> tensor<4x32xf32>
  %g = slm.gelu %y : tensor<4x32xf32>
  return %g : tensor<4x32xf32>
}
