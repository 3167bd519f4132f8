// RUN: rm -rf %t && mkdir -p %t
// RUN: slmc %s -o %t/model.so
// RUN: slm-run %t/model.so --info | FileCheck %s --check-prefix=INFO
// RUN: slmc %s -o %t/model.ll
// RUN: FileCheck %s --check-prefix=LLVM < %t/model.ll
// RUN: slmc %s -o %t/model.o
// RUN: test -s %t/model.o
// RUN: ls %t | FileCheck %s --check-prefix=CLEAN

// Tests the code generation outputs: a shared library whose interface the
// runtime reads (names, dtypes, dynamic extents), LLVM IR with the entry
// points, an object file, and no temporary file left behind.

// INFO: input 'x': float32 [?, 4]
// INFO: output 'y': float32 [?, 2]
// LLVM: @slm_model_metadata = {{.*}}constant
// LLVM: @slm_model_abi_version = {{.*}}constant i32 1
// LLVM: define void @slm_model_run(ptr
// CLEAN-NOT: .tmp
// CLEAN-NOT: .weights
func.func @main(%x: tensor<?x4xf32> {slm.name = "x"}) -> (tensor<?x2xf32> {slm.name = "y"}) {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]> : tensor<2x4xf32>
  %b = arith.constant dense<[0.25, -1.0]> : tensor<2xf32>
  %y = slm.linear %x, %w, %b {activation = #slm.activation<relu>} : (tensor<?x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
