// RUN: slm-opt %s -split-input-file --slm-raise-linear | FileCheck %s

// Tests that a matmul by a constant [K, N] weight plus a [N] bias becomes one
// linear with the weight transposed to [N, K] at compile time.
// CHECK-LABEL: func @matmul_add
// CHECK-SAME: (%[[X:.+]]: tensor<?x?x3xf32>)
// CHECK-DAG: %[[W:.+]] = arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-DAG: %[[B:.+]] = arith.constant dense<[1.000000e-01, 2.000000e-01]> : tensor<2xf32>
// CHECK: %[[Y:.+]] = slm.linear %[[X]], %[[W]], %[[B]] : (tensor<?x?x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<?x?x2xf32>
func.func @matmul_add(%x: tensor<?x?x3xf32>) -> tensor<?x?x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %b = arith.constant dense<[0.1, 0.2]> : tensor<2xf32>
  %0 = slm.matmul %x, %w : (tensor<?x?x3xf32>, tensor<3x2xf32>) -> tensor<?x?x2xf32>
  %1 = slm.add %b, %0 : (tensor<2xf32>, tensor<?x?x2xf32>) -> tensor<?x?x2xf32>
  return %1 : tensor<?x?x2xf32>
}

// -----

// Tests that a transposed weight (Gemm with transB) is used as it is, and
// that any [N] vector added afterwards is a bias.
// CHECK-LABEL: func @gemm_trans_b
// CHECK-SAME: (%[[X:.+]]: tensor<4x3xf32>, %[[B:.+]]: tensor<2xf32>)
// CHECK: %[[W:.+]] = arith.constant dense_resource<fc.weight> : tensor<2x3xf32>
// CHECK: slm.linear %[[X]], %[[W]], %[[B]] : (tensor<4x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<4x2xf32>
// CHECK-NOT: slm.add
func.func @gemm_trans_b(%x: tensor<4x3xf32>, %b: tensor<2xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense_resource<fc.weight> : tensor<2x3xf32>
  %t = slm.transpose %w [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  %0 = slm.matmul %x, %t : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  %1 = slm.add %0, %b : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  return %1 : tensor<4x2xf32>
}

// -----

// Tests that a resource weight is transposed into a new resource.
// CHECK-LABEL: func @resource_weight
// CHECK: %[[W:.+]] = arith.constant dense_resource<w.T> : tensor<2x3xf32>
// CHECK: slm.linear %{{.+}}, %[[W]]
// CHECK: w.T: "0x040000000000803F000040400000A04000000040000080400000C040"
func.func @resource_weight(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense_resource<w> : tensor<3x2xf32>
  %0 = slm.matmul %x, %w : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
  return %0 : tensor<?x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000004000004040000080400000A0400000C040"
    }
  }
#-}

// -----

// Tests that products of activations are not linear layers.
// CHECK-LABEL: func @activations
// CHECK: slm.matmul
// CHECK-NOT: slm.linear
func.func @activations(%a: tensor<?x4x8xf32>, %b: tensor<?x8x4xf32>) -> tensor<?x4x4xf32> {
  %0 = slm.matmul %a, %b : (tensor<?x4x8xf32>, tensor<?x8x4xf32>) -> tensor<?x4x4xf32>
  return %0 : tensor<?x4x4xf32>
}
