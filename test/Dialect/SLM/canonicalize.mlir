// RUN: slm-opt %s -split-input-file -canonicalize | FileCheck %s

// Tests that adding or subtracting a splat zero of the same shape folds away.
// CHECK-LABEL: func @add_sub_zero
// CHECK-SAME: (%[[X:.+]]: tensor<2x3xf32>)
// CHECK-NEXT: return %[[X]]
func.func @add_sub_zero(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %z = arith.constant dense<0.0> : tensor<3xf32>
  %0 = slm.add %z, %x : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = slm.sub %0, %z : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %1 : tensor<2x3xf32>
}

// -----

// Tests that multiplying or dividing by a splat one folds away.
// CHECK-LABEL: func @mul_div_one
// CHECK-SAME: (%[[X:.+]]: tensor<?x4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @mul_div_one(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %one = arith.constant dense<1.0> : tensor<f32>
  %0 = slm.mul %x, %one : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %1 = slm.div %0, %one : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %2 = slm.pow %1, %one : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  return %2 : tensor<?x4xf32>
}

// -----

// Tests that an identity operand that would broadcast the other one is kept.
// CHECK-LABEL: func @add_zero_that_broadcasts
// CHECK: slm.add
func.func @add_zero_that_broadcasts(%x: tensor<3xf32>) -> tensor<2x3xf32> {
  %z = arith.constant dense<0.0> : tensor<2x3xf32>
  %0 = slm.add %x, %z : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Tests that splat constants fold (the scale sqrt(64) of an attention block).
// CHECK-LABEL: func @splat_constants
// CHECK: %[[C:.+]] = arith.constant dense<1.250000e-01> : tensor<f32>
// CHECK-NEXT: return %[[C]]
func.func @splat_constants() -> tensor<f32> {
  %one = arith.constant dense<1.0> : tensor<f32>
  %eight = arith.constant dense<8.0> : tensor<f32>
  %0 = slm.div %one, %eight : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Tests that max/min of a value with itself fold.
// CHECK-LABEL: func @max_min_self
// CHECK-SAME: (%[[X:.+]]: tensor<4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @max_min_self(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = slm.max %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = slm.min %0, %0 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// Tests that a select on a constant condition picks its branch.
// CHECK-LABEL: func @select_constant_condition
// CHECK-SAME: (%[[A:.+]]: tensor<4xf32>, %[[B:.+]]: tensor<4xf32>)
// CHECK-NEXT: return %[[B]], %[[A]]
func.func @select_constant_condition(%a: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %f = arith.constant dense<false> : tensor<4xi1>
  %0 = slm.select %f, %a, %b : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %t = arith.constant dense<true> : tensor<i1>
  %1 = slm.select %t, %a, %b : (tensor<i1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// Tests that identity transposes fold and transposes in a row compose.
// CHECK-LABEL: func @transposes
// CHECK-SAME: (%[[X:.+]]: tensor<2x3x4xf32>)
// CHECK-NEXT: %[[T:.+]] = slm.transpose %[[X]] [2, 1, 0] : tensor<2x3x4xf32> -> tensor<4x3x2xf32>
// CHECK-NEXT: return %[[T]]
func.func @transposes(%x: tensor<2x3x4xf32>) -> tensor<4x3x2xf32> {
  %0 = slm.transpose %x [0, 1, 2] : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %1 = slm.transpose %0 [1, 0, 2] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  %2 = slm.transpose %1 [2, 0, 1] : tensor<3x2x4xf32> -> tensor<4x3x2xf32>
  return %2 : tensor<4x3x2xf32>
}

// -----

// Tests that a head split followed by a head merge cancels, and that a
// reshape of a reshape reshapes once.
// CHECK-LABEL: func @reshapes
// CHECK-SAME: (%[[X:.+]]: tensor<2x8x768xf32>)
// CHECK-NEXT: %[[R:.+]] = slm.reshape %[[X]] : (tensor<2x8x768xf32>) -> tensor<16x768xf32>
// CHECK-NEXT: return %[[X]], %[[R]]
func.func @reshapes(%x: tensor<2x8x768xf32>) -> (tensor<2x8x768xf32>, tensor<16x768xf32>) {
  %0 = slm.reshape %x : (tensor<2x8x768xf32>) -> tensor<2x8x12x64xf32>
  %1 = slm.reshape %0 : (tensor<2x8x12x64xf32>) -> tensor<2x8x768xf32>
  %2 = slm.reshape %0 : (tensor<2x8x12x64xf32>) -> tensor<16x768xf32>
  return %1, %2 : tensor<2x8x768xf32>, tensor<16x768xf32>
}

// -----

// Tests that constants reshape and broadcast at compile time.
// CHECK-LABEL: func @constant_shapes
// CHECK-DAG: arith.constant dense<{{\[}}[1, 2], [3, 4]]> : tensor<2x2xi64>
// CHECK-DAG: arith.constant dense<5.000000e-01> : tensor<4x3xf32>
// CHECK-NOT: slm.
func.func @constant_shapes() -> (tensor<2x2xi64>, tensor<4x3xf32>) {
  %c = arith.constant dense<[1, 2, 3, 4]> : tensor<4xi64>
  %0 = slm.reshape %c : (tensor<4xi64>) -> tensor<2x2xi64>
  %h = arith.constant dense<0.5> : tensor<1x3xf32>
  %1 = slm.broadcast_to %h : (tensor<1x3xf32>) -> tensor<4x3xf32>
  return %0, %1 : tensor<2x2xi64>, tensor<4x3xf32>
}

// -----

// Tests that a broadcast to the input's own type folds away.
// CHECK-LABEL: func @broadcast_noop
// CHECK-SAME: (%[[X:.+]]: tensor<4x3xf32>)
// CHECK-NEXT: return %[[X]]
func.func @broadcast_noop(%x: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %0 = slm.broadcast_to %x : (tensor<4x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

// Tests that a splat-zero bias is dropped and a real one kept.
// CHECK-LABEL: func @linear_zero_bias
// CHECK: slm.linear %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
// CHECK: slm.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<8x4xf32>, tensor<8xf32>)
func.func @linear_zero_bias(%x: tensor<?x4xf32>, %w: tensor<8x4xf32>, %b: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %z = arith.constant dense<0.0> : tensor<8xf32>
  %0 = slm.linear %x, %w, %z : (tensor<?x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %1 = slm.linear %x, %w, %b : (tensor<?x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}
