// RUN: slm-opt %s -split-input-file --slm-fuse-attention --canonicalize --cse | FileCheck %s

// Tests HF's layout with the grouped-query head repeat: the kernel reads
// q [B, 4, S, 8] and the unrepeated k/v [B, 2, T, 8] (seq_dims 2), the
// merges, the repeat and the broadcast are gone. What the IR does not prove
// is checked at run time: v's batch and length against the repeat's shape
// (built from k's), and the mask's dynamic extents against the scores'.
// CHECK-LABEL: func @gqa
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x4x?x8xf32>, %[[K:[^:]+]]: tensor<?x2x?x8xf32>, %[[V:[^:]+]]: tensor<?x2x?x8xf32>, %[[M:[^:]+]]: tensor<?x1x?x?xf32>)
// CHECK-NOT: slm.broadcast_to
// CHECK-NOT: slm.transpose
// CHECK-COUNT-2: cf.assert {{.*}} "fused attention: an extent of K or V differs from the attention's"
// CHECK-COUNT-3: cf.assert {{.*}} "fused attention: an extent of the mask (neither 1 nor the scores') differs from the attention's"
// CHECK-NOT: cf.assert
// CHECK: %[[E:.+]] = tensor.empty({{.*}}) : tensor<?x?x32xf32>
// CHECK: %[[R:.+]] = slm.fused_attention %[[Q]], %[[K]], %[[V]] mask %[[M]] outs %[[E]]
// CHECK-SAME: num_heads = 4 : i64, scale = 0.35355339059327373 : f64, seq_dims = array<i64: 2, 2, 2>
// CHECK-SAME: (tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x1x?x?xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
// CHECK: return %[[R]]
func.func @gqa(%q4: tensor<?x4x?x8xf32>, %k4: tensor<?x2x?x8xf32>, %v4: tensor<?x2x?x8xf32>, %mask: tensor<?x1x?x?xf32>) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c32 = arith.constant 32 : index
  %b = tensor.dim %k4, %c0 : tensor<?x2x?x8xf32>
  %t = tensor.dim %k4, %c2 : tensor<?x2x?x8xf32>
  %s5 = tensor.from_elements %b, %c2, %c1, %t, %c8 : tensor<5xindex>
  %k5 = slm.reshape %k4, %s5 : (tensor<?x2x?x8xf32>, tensor<5xindex>) -> tensor<?x2x1x?x8xf32>
  %v5 = slm.reshape %v4, %s5 : (tensor<?x2x?x8xf32>, tensor<5xindex>) -> tensor<?x2x1x?x8xf32>
  %e5 = tensor.from_elements %b, %c2, %c2, %t, %c8 : tensor<5xindex>
  %kb = slm.broadcast_to %k5, %e5 : (tensor<?x2x1x?x8xf32>, tensor<5xindex>) -> tensor<?x2x2x?x8xf32>
  %vb = slm.broadcast_to %v5, %e5 : (tensor<?x2x1x?x8xf32>, tensor<5xindex>) -> tensor<?x2x2x?x8xf32>
  %r4 = tensor.from_elements %b, %c4, %t, %c8 : tensor<4xindex>
  %kr = slm.reshape %kb, %r4 : (tensor<?x2x2x?x8xf32>, tensor<4xindex>) -> tensor<?x4x?x8xf32>
  %vr = slm.reshape %vb, %r4 : (tensor<?x2x2x?x8xf32>, tensor<4xindex>) -> tensor<?x4x?x8xf32>
  %qt = slm.transpose %q4 [0, 2, 1, 3] : tensor<?x4x?x8xf32> -> tensor<?x?x4x8xf32>
  %kt = slm.transpose %kr [0, 2, 1, 3] : tensor<?x4x?x8xf32> -> tensor<?x?x4x8xf32>
  %vt = slm.transpose %vr [0, 2, 1, 3] : tensor<?x4x?x8xf32> -> tensor<?x?x4x8xf32>
  %qd0 = tensor.dim %qt, %c0 : tensor<?x?x4x8xf32>
  %qd1 = tensor.dim %qt, %c1 : tensor<?x?x4x8xf32>
  %qs = tensor.from_elements %qd0, %qd1, %c32 : tensor<3xindex>
  %q = slm.reshape %qt, %qs : (tensor<?x?x4x8xf32>, tensor<3xindex>) -> tensor<?x?x32xf32>
  %kd0 = tensor.dim %kt, %c0 : tensor<?x?x4x8xf32>
  %kd1 = tensor.dim %kt, %c1 : tensor<?x?x4x8xf32>
  %ks = tensor.from_elements %kd0, %kd1, %c32 : tensor<3xindex>
  %k = slm.reshape %kt, %ks : (tensor<?x?x4x8xf32>, tensor<3xindex>) -> tensor<?x?x32xf32>
  %vd0 = tensor.dim %vt, %c0 : tensor<?x?x4x8xf32>
  %vd1 = tensor.dim %vt, %c1 : tensor<?x?x4x8xf32>
  %vs = tensor.from_elements %vd0, %vd1, %c32 : tensor<3xindex>
  %v = slm.reshape %vt, %vs : (tensor<?x?x4x8xf32>, tensor<3xindex>) -> tensor<?x?x32xf32>
  %a = slm.attention %q, %k, %v, %mask {num_heads = 4 : i64} : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x?x?xf32>) -> tensor<?x?x32xf32>
  return %a : tensor<?x?x32xf32>
}

// -----

// Tests merged inputs (viewed as [B, S, H, D], seq_dims 1), a value width
// unlike the key's, causal kept, and an i1 mask of rank 2 made additive
// (0 or the lowest finite value) with leading unit dimensions.
// CHECK-LABEL: func @merged
// CHECK-DAG: %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : tensor<f32>
// CHECK-DAG: %[[LOW:.+]] = arith.constant dense<-3.40282347E+38> : tensor<f32>
// CHECK-DAG: %[[Q:.+]] = slm.reshape %arg0 : (tensor<2x5x8xf32>) -> tensor<2x5x2x4xf32>
// CHECK-DAG: %[[K:.+]] = slm.reshape %arg1 : (tensor<2x7x8xf32>) -> tensor<2x7x2x4xf32>
// CHECK-DAG: %[[V:.+]] = slm.reshape %arg2 : (tensor<2x7x12xf32>) -> tensor<2x7x2x6xf32>
// CHECK: %[[A:.+]] = slm.select %arg3, %[[ZERO]], %[[LOW]] : (tensor<5x7xi1>, tensor<f32>, tensor<f32>) -> tensor<5x7xf32>
// CHECK: %[[M:.+]] = slm.reshape %[[A]] : (tensor<5x7xf32>) -> tensor<1x1x5x7xf32>
// CHECK: slm.fused_attention %[[Q]], %[[K]], %[[V]] mask %[[M]] outs %{{.+}} {causal, num_heads = 2 : i64, scale = 5.000000e-01 : f64, seq_dims = array<i64: 1, 1, 1>}
// CHECK-SAME: -> tensor<2x5x12xf32>
func.func @merged(%q: tensor<2x5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x7x12xf32>, %m: tensor<5x7xi1>) -> tensor<2x5x12xf32> {
  %a = slm.attention %q, %k, %v, %m {num_heads = 2 : i64, causal} : (tensor<2x5x8xf32>, tensor<2x7x8xf32>, tensor<2x7x12xf32>, tensor<5x7xi1>) -> tensor<2x5x12xf32>
  return %a : tensor<2x5x12xf32>
}

// -----

// Tests that an attention the kernel does not take (f16) stays for the
// decomposition.
// CHECK-LABEL: func @f16
// CHECK: slm.attention
// CHECK-NOT: slm.fused_attention
func.func @f16(%q: tensor<2x5x8xf16>) -> tensor<2x5x8xf16> {
  %a = slm.attention %q, %q, %q {num_heads = 2 : i64} : (tensor<2x5x8xf16>, tensor<2x5x8xf16>, tensor<2x5x8xf16>) -> tensor<2x5x8xf16>
  return %a : tensor<2x5x8xf16>
}
