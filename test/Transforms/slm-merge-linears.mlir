// RUN: slm-opt %s -split-input-file --slm-merge-linears | FileCheck %s

// Tests Q, K, V projections of one input: one linear over the weights
// stacked by rows (2 + 2 + 1 = 5 output features), biases stacked the same
// way (the missing one as zeros), and each result a slice of its columns.
// CHECK-LABEL: func @qkv
// CHECK-DAG: %[[W:.+]] = arith.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00], [5.000000e+00, 6.000000e+00], [7.000000e+00, 8.000000e+00], [9.000000e+00, 1.000000e+01]]> : tensor<5x2xf32>
// CHECK-DAG: %[[B:.+]] = arith.constant dense<[1.000000e-01, 2.000000e-01, 0.000000e+00, 0.000000e+00, 5.000000e-01]> : tensor<5xf32>
// CHECK: %[[Y:.+]] = slm.linear %{{.+}}, %[[W]], %[[B]] : (tensor<?x2xf32>, tensor<5x2xf32>, tensor<5xf32>) -> tensor<?x5xf32>
// CHECK: %[[Q:.+]] = tensor.extract_slice %[[Y]][0, 0] [%{{.+}}, 2] [1, 1]
// CHECK: %[[K:.+]] = tensor.extract_slice %[[Y]][0, 2] [%{{.+}}, 2] [1, 1]
// CHECK: %[[V:.+]] = tensor.extract_slice %[[Y]][0, 4] [%{{.+}}, 1] [1, 1]
// CHECK: return %[[Q]], %[[K]], %[[V]]
func.func @qkv(%x: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x1xf32>) {
  %wq = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wk = arith.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %wv = arith.constant dense<[[9.0, 10.0]]> : tensor<1x2xf32>
  %bq = arith.constant dense<[0.1, 0.2]> : tensor<2xf32>
  %bv = arith.constant dense<0.5> : tensor<1xf32>
  %q = slm.linear %x, %wq, %bq : (tensor<?x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %k = slm.linear %x, %wk : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %v = slm.linear %x, %wv, %bv : (tensor<?x2xf32>, tensor<1x2xf32>, tensor<1xf32>) -> tensor<?x1xf32>
  return %q, %k, %v : tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x1xf32>
}

// -----

// Tests what stays apart: different inputs, different activations, and a
// weight computed at run time.
// CHECK-LABEL: func @apart
// CHECK-COUNT-4: slm.linear
// CHECK-NOT: tensor.extract_slice
func.func @apart(%x: tensor<?x2xf32>, %z: tensor<?x2xf32>, %wr: tensor<2x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>) {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %a = slm.linear %x, %w : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %b = slm.linear %z, %w : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %c = slm.linear %x, %w {activation = #slm.activation<relu>} : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %d = slm.linear %x, %wr : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %a, %b, %c, %d : tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>
}
