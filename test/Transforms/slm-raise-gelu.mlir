// RUN: slm-opt %s -split-input-file --slm-raise-gelu --canonicalize | FileCheck %s

// Tests the erf form as PyTorch exports it: (x * (erf(x / sqrt2) + 1)) * 0.5.
// CHECK-LABEL: func @erf_pytorch
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>)
// CHECK-NEXT: %[[G:.+]] = slm.gelu %[[X]] : tensor<?x8xf32>
// CHECK-NEXT: return %[[G]]
func.func @erf_pytorch(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %0 = slm.div %x, %sqrt2 : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %1 = math.erf %0 : tensor<?x8xf32>
  %2 = slm.add %1, %one : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %3 = slm.mul %x, %2 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %4 = slm.mul %3, %half : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  return %4 : tensor<?x8xf32>
}

// -----

// Tests the tanh form of GPT-2 (HF gelu_new) with x * x * x for the cube.
// CHECK-LABEL: func @tanh_gpt2
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>)
// CHECK-NEXT: %[[G:.+]] = slm.gelu %[[X]] approximate <tanh> : tensor<?x8xf32>
// CHECK-NEXT: return %[[G]]
func.func @tanh_gpt2(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c = arith.constant dense<0.797884583> : tensor<f32>
  %k = arith.constant dense<0.044715> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %sq = slm.mul %x, %x : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %cube = slm.mul %x, %sq : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %kc = slm.mul %k, %cube : (tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %in = slm.add %x, %kc : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %arg = slm.mul %c, %in : (tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %t = math.tanh %arg : tensor<?x8xf32>
  %a = slm.add %one, %t : (tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %h = slm.mul %half, %x : (tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = slm.mul %h, %a : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Tests that a product with another factor is not a GELU.
// CHECK-LABEL: func @extra_factor
// CHECK-NOT: slm.gelu
func.func @extra_factor(%x: tensor<?x8xf32>, %y: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %0 = slm.div %x, %sqrt2 : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %1 = math.erf %0 : tensor<?x8xf32>
  %2 = slm.add %1, %one : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %3 = slm.mul %y, %2 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %3 : tensor<?x8xf32>
}
