// RUN: slm-opt %s -split-input-file --slm-decompose-transformer-ops | FileCheck %s

// Tests attention: heads split by reshape + transpose, scaled scores, the
// additive mask, softmax over the keys, heads merged back.
// CHECK-LABEL: func @attention
// CHECK-SAME: (%[[Q:.+]]: tensor<2x5x8xf32>, %[[M:.+]]: tensor<2x1x1x5xf32>)
// CHECK: %[[QH:.+]] = slm.reshape %[[Q]], %{{.+}} : (tensor<2x5x8xf32>, tensor<4xindex>) -> tensor<2x5x2x4xf32>
// CHECK: slm.transpose %[[QH]] [0, 2, 1, 3]
// CHECK: slm.transpose %{{.+}} [0, 2, 3, 1] : tensor<2x5x2x4xf32> -> tensor<2x2x4x5xf32>
// CHECK: %[[S:.+]] = slm.matmul {{.*}} -> tensor<2x2x5x5xf32>
// CHECK: %[[SS:.+]] = slm.mul %[[S]], %{{.+}}
// CHECK: %[[SM:.+]] = slm.add %[[SS]], %[[M]]
// CHECK: slm.reduce <max> %[[SM]] axes [3] keep_dims
// CHECK: math.exp
// CHECK: slm.reduce <sum>
// CHECK: slm.div
// CHECK: slm.matmul {{.*}} -> tensor<2x2x5x4xf32>
// CHECK: slm.transpose %{{.+}} [0, 2, 1, 3]
// CHECK: slm.reshape {{.*}} -> tensor<2x5x8xf32>
// CHECK-NOT: slm.attention
func.func @attention(%q: tensor<2x5x8xf32>, %mask: tensor<2x1x1x5xf32>) -> tensor<2x5x8xf32> {
  %0 = slm.attention %q, %q, %q, %mask {num_heads = 2 : i64} : (tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<2x1x1x5xf32>) -> tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// -----

// Tests the causal limit: a generated keep-mask j <= i + (Skv - Sq).
// CHECK-LABEL: func @causal
// CHECK: tensor.generate
// CHECK: arith.cmpi sle
// CHECK: slm.select
func.func @causal(%q: tensor<1x?x8xf32>) -> tensor<1x?x8xf32> {
  %0 = slm.attention %q, %q, %q {num_heads = 2 : i64, causal} : (tensor<1x?x8xf32>, tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  return %0 : tensor<1x?x8xf32>
}

// -----

// Tests layer norm and GELU: mean, centered variance, rsqrt; erf form.
// CHECK-LABEL: func @norm_gelu
// CHECK: slm.reduce <mean>
// CHECK: slm.sub
// CHECK: slm.reduce <mean>
// CHECK: math.rsqrt
// CHECK: math.erf
// CHECK-NOT: slm.layer_norm
// CHECK-NOT: slm.gelu
func.func @norm_gelu(%x: tensor<?x8xf32>, %g: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = slm.layer_norm %x, %g : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %1 = slm.gelu %0 : tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}
