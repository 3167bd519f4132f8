// Tests that slmc --report names every matrix product left to plain loops:
// with unpacked weights ([out, in]: B contiguous along the reduction) the
// linear layer is; with the default packing nothing is.
// RUN: slmc %s --report --weight-panel=0 -o %t.so 2>&1 | FileCheck %s --check-prefix=UNPACKED
// RUN: slmc %s --report -o %t.so 2>&1 | FileCheck %s --check-prefix=PACKED

// UNPACKED: remark: contraction left as loops: B is not contiguous along the output columns
// PACKED-NOT: left as loops
func.func @main(%x: tensor<?x4xf32>) -> tensor<?x8xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [1.5, 2.5, 3.5, 4.5], [5.5, 6.5, 7.5, 8.5], [0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2], [1.3, 1.4, 1.5, 1.6]]> : tensor<8x4xf32>
  %y = slm.linear %x, %w : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
