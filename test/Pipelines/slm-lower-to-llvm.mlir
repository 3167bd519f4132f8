// RUN: slm-opt %s --slm-lower-to-llvm | FileCheck %s
// RUN: slm-opt %s --slm-lower-to-llvm=gemm-kernels=false | FileCheck %s --check-prefix=LOOPS

// Tests that the CPU lower phase pipeline takes optimized slm IR all the way
// to the LLVM dialect, the entry in its ABI form (a register-blocked GEMM kernel for the matrix product:
// vector FMAs, in a loop nest of its own function: slm-outline-loop-nests),
// and to plain loops without the kernels.

// CHECK: llvm.func @slm_model_main(
// CHECK: llvm.call @slm_model_main_nest0(
// CHECK: llvm.func internal @slm_model_main_nest0({{.*}}passthrough = ["noinline"]
// CHECK: llvm.intr.fmuladd{{.*}}vector<16xf32>
// CHECK-NOT: slm.
// CHECK-NOT: linalg.
// LOOPS: llvm.func @slm_model_main
// LOOPS-NOT: vector<16xf32>
func.func @main(%x: tensor<8x64xf32>, %w: tensor<64x64xf32>) -> tensor<8x64xf32> {
  %y = slm.matmul %x, %w : (tensor<8x64xf32>, tensor<64x64xf32>) -> tensor<8x64xf32>
  return %y : tensor<8x64xf32>
}
