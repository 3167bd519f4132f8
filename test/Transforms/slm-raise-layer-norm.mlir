// RUN: slm-opt %s -split-input-file --slm-raise-layer-norm --canonicalize | FileCheck %s

// Tests PyTorch's opset < 17 LayerNorm: ReduceMean, Sub, Pow 2, ReduceMean,
// Add eps, Sqrt, Div, Mul gamma, Add beta.
// CHECK-LABEL: func @pytorch_export
// CHECK-SAME: (%[[X:.+]]: tensor<?x?x4xf32>)
// CHECK-DAG: %[[G:.+]] = arith.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
// CHECK-DAG: %[[B:.+]] = arith.constant dense<5.000000e-01> : tensor<4xf32>
// CHECK: %[[N:.+]] = slm.layer_norm %[[X]], %[[G]], %[[B]] {axis = 2 : i64, epsilon = 9.9999997473787516E-6 : f64}
// CHECK-NEXT: return %[[N]]
func.func @pytorch_export(%x: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  %gamma = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-5> : tensor<f32>
  %beta = arith.constant dense<0.5> : tensor<4xf32>
  %m = slm.reduce <mean> %x axes [-1] keep_dims : tensor<?x?x4xf32> -> tensor<?x?x1xf32>
  %d = slm.sub %x, %m : (tensor<?x?x4xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
  %sq = slm.pow %d, %two : (tensor<?x?x4xf32>, tensor<f32>) -> tensor<?x?x4xf32>
  %v = slm.reduce <mean> %sq axes [-1] keep_dims : tensor<?x?x4xf32> -> tensor<?x?x1xf32>
  %ve = slm.add %v, %eps : (tensor<?x?x1xf32>, tensor<f32>) -> tensor<?x?x1xf32>
  %s = math.sqrt %ve : tensor<?x?x1xf32>
  %n = slm.div %d, %s : (tensor<?x?x4xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
  %g = slm.mul %n, %gamma : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %y = slm.add %g, %beta : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  return %y : tensor<?x?x4xf32>
}

// -----

// Tests the rsqrt form with d * d and epsilon first: without a constant
// scale, gamma becomes ones and a scale that is not a weight stays a
// separate multiplication.
// CHECK-LABEL: func @rsqrt_no_affine
// CHECK-SAME: (%[[X:.+]]: tensor<2x4xf32>, %[[G:.+]]: tensor<4xf32>)
// CHECK: %[[ONES:.+]] = arith.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK: %[[N:.+]] = slm.layer_norm %[[X]], %[[ONES]] {axis = 1 : i64, epsilon = 0.10000000149011612 : f64}
// CHECK: slm.mul %[[N]], %[[G]]
func.func @rsqrt_no_affine(%x: tensor<2x4xf32>, %gamma: tensor<4xf32>) -> tensor<2x4xf32> {
  %eps = arith.constant dense<0.1> : tensor<f32>
  %m = slm.reduce <mean> %x axes [1] keep_dims : tensor<2x4xf32> -> tensor<2x1xf32>
  %d = slm.sub %x, %m : (tensor<2x4xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>
  %sq = slm.mul %d, %d : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %v = slm.reduce <mean> %sq axes [1] keep_dims : tensor<2x4xf32> -> tensor<2x1xf32>
  %ve = slm.add %eps, %v : (tensor<f32>, tensor<2x1xf32>) -> tensor<2x1xf32>
  %r = math.rsqrt %ve : tensor<2x1xf32>
  %n = slm.mul %d, %r : (tensor<2x4xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>
  %y = slm.mul %n, %gamma : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Tests that a mean over a leading axis is not a layer norm.
// CHECK-LABEL: func @leading_axis
// CHECK-NOT: slm.layer_norm
func.func @leading_axis(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-5> : tensor<f32>
  %m = slm.reduce <mean> %x axes [0] keep_dims : tensor<2x4xf32> -> tensor<1x4xf32>
  %d = slm.sub %x, %m : (tensor<2x4xf32>, tensor<1x4xf32>) -> tensor<2x4xf32>
  %sq = slm.pow %d, %two : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  %v = slm.reduce <mean> %sq axes [0] keep_dims : tensor<2x4xf32> -> tensor<1x4xf32>
  %ve = slm.add %v, %eps : (tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xf32>
  %s = math.sqrt %ve : tensor<1x4xf32>
  %n = slm.div %d, %s : (tensor<2x4xf32>, tensor<1x4xf32>) -> tensor<2x4xf32>
  return %n : tensor<2x4xf32>
}
