// RUN: slm-opt %s --slm-raise | FileCheck %s
// RUN: slm-opt %s --slm-raise=raise=false | FileCheck %s --check-prefix=OFF

// Tests that the raise phase pipeline turns a matrix product by a constant
// weight plus a bias into slm.linear, and that `raise=false` leaves it.

// CHECK-LABEL: func @dense
// CHECK: slm.linear
// CHECK-NOT: slm.matmul
// OFF: slm.matmul
// OFF-NOT: slm.linear
func.func @dense(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<0.5> : tensor<4x3xf32>
  %b = arith.constant dense<0.25> : tensor<3xf32>
  %y = slm.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  %z = slm.add %y, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %z : tensor<2x3xf32>
}
