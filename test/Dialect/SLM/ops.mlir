// RUN: slm-opt %s | slm-opt | FileCheck %s
// RUN: slm-opt %s --mlir-print-op-generic | slm-opt | FileCheck %s

// Tests that every slm op round-trips through its custom syntax, and through
// the generic form.

// CHECK-LABEL: func @elementwise
func.func @elementwise(%a: tensor<?x128x768xf32>, %b: tensor<768xf32>, %i: tensor<?x?xi64>, %s: tensor<i64>) -> tensor<?x128x768xf32> {
  // CHECK: slm.add %{{.*}}, %{{.*}} : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  %0 = slm.add %a, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  // CHECK: slm.sub
  %1 = slm.sub %0, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  // CHECK: slm.mul
  %2 = slm.mul %1, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  // CHECK: slm.div
  %3 = slm.div %2, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  // CHECK: slm.pow
  %4 = slm.pow %3, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  // CHECK: slm.max
  %5 = slm.max %4, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  // CHECK: slm.min
  %6 = slm.min %5, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  // CHECK: slm.compare <eq> %{{.*}}, %{{.*}} : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x?xi1>
  %m = slm.compare <eq> %i, %s : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x?xi1>
  // CHECK: slm.compare <ge>
  %m2 = slm.compare <ge> %a, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xi1>
  // CHECK: slm.select %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x128x768xi1>, tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  %7 = slm.select %m2, %6, %b : (tensor<?x128x768xi1>, tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
  return %7 : tensor<?x128x768xf32>
}

// CHECK-LABEL: func @shapes
func.func @shapes(%x: tensor<?x?x768xf32>, %shape: tensor<4xindex>, %kt: tensor<?x12x64x?xf32>, %ids: tensor<3xi64>,
                  %ia: tensor<2x4xi32>, %ib: tensor<4x3xi32>) -> tensor<?x12x?x?xf32> {
  // CHECK: slm.reshape %{{.*}}, %{{.*}} : (tensor<?x?x768xf32>, tensor<4xindex>) -> tensor<?x?x12x64xf32>
  %h = slm.reshape %x, %shape : (tensor<?x?x768xf32>, tensor<4xindex>) -> tensor<?x?x12x64xf32>
  // CHECK: slm.transpose %{{.*}} [0, 2, 1, 3] : tensor<?x?x12x64xf32> -> tensor<?x12x?x64xf32>
  %t = slm.transpose %h [0, 2, 1, 3] : tensor<?x?x12x64xf32> -> tensor<?x12x?x64xf32>
  // CHECK: slm.matmul %{{.*}}, %{{.*}} : (tensor<?x12x?x64xf32>, tensor<?x12x64x?xf32>) -> tensor<?x12x?x?xf32>
  %s = slm.matmul %t, %kt : (tensor<?x12x?x64xf32>, tensor<?x12x64x?xf32>) -> tensor<?x12x?x?xf32>
  // CHECK: slm.matmul %{{.*}}, %{{.*}} : (tensor<2x4xi32>, tensor<4x3xi32>) -> tensor<2x3xi32>
  %im = slm.matmul %ia, %ib : (tensor<2x4xi32>, tensor<4x3xi32>) -> tensor<2x3xi32>
  // CHECK: slm.reduce <mean> %{{.*}} axes [-1] keep_dims : tensor<?x?x768xf32> -> tensor<?x?x1xf32>
  %r = slm.reduce <mean> %x axes [-1] keep_dims : tensor<?x?x768xf32> -> tensor<?x?x1xf32>
  // CHECK: slm.reduce <sum> %{{.*}} axes [1, 2] : tensor<?x?x768xf32> -> tensor<?xf32>
  %r2 = slm.reduce <sum> %x axes [1, 2] : tensor<?x?x768xf32> -> tensor<?xf32>
  // CHECK: slm.gather %{{.*}}[%{{.*}}] axis 2 : (tensor<?x?x768xf32>, tensor<3xi64>) -> tensor<?x?x3xf32>
  %g = slm.gather %x[%ids] axis 2 : (tensor<?x?x768xf32>, tensor<3xi64>) -> tensor<?x?x3xf32>
  // CHECK: slm.broadcast_to %{{.*}} : (tensor<?x?x1xf32>) -> tensor<?x?x768xf32>
  %b = slm.broadcast_to %r : (tensor<?x?x1xf32>) -> tensor<?x?x768xf32>
  // CHECK: slm.broadcast_to %{{.*}}, %{{.*}} : (tensor<?x?x1xf32>, tensor<4xindex>) -> tensor<?x?x?x768xf32>
  %b2 = slm.broadcast_to %r, %shape : (tensor<?x?x1xf32>, tensor<4xindex>) -> tensor<?x?x?x768xf32>
  return %s : tensor<?x12x?x?xf32>
}

// CHECK-LABEL: func @transformer
func.func @transformer(%ids: tensor<?x?xi64>, %table: tensor<1000x768xf32>,
                       %w: tensor<2304x768xf32>, %b: tensor<2304xf32>,
                       %gamma: tensor<768xf32>, %beta: tensor<768xf32>,
                       %mask: tensor<?x1x1x?xi1>) -> tensor<?x?x768xf32> {
  // CHECK: slm.embedding %{{.*}}[%{{.*}}] : (tensor<1000x768xf32>, tensor<?x?xi64>) -> tensor<?x?x768xf32>
  %e = slm.embedding %table[%ids] : (tensor<1000x768xf32>, tensor<?x?xi64>) -> tensor<?x?x768xf32>
  // CHECK: slm.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.9999999999999998E-13 : f64}
  %n = slm.layer_norm %e, %gamma, %beta {epsilon = 1.0e-12 : f64} : (tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
  // CHECK: slm.layer_norm %{{.*}}, %{{.*}} {axis = -2 : i64}
  %n2 = slm.layer_norm %e, %table {axis = -2 : i64} : (tensor<?x?x768xf32>, tensor<1000x768xf32>) -> tensor<?x?x768xf32>
  // CHECK: slm.rms_norm %{{.*}}, %{{.*}} : (tensor<?x?x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
  %r = slm.rms_norm %n, %gamma : (tensor<?x?x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
  // CHECK: slm.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x?x768xf32>, tensor<2304x768xf32>, tensor<2304xf32>) -> tensor<?x?x2304xf32>
  %qkv = slm.linear %r, %w, %b : (tensor<?x?x768xf32>, tensor<2304x768xf32>, tensor<2304xf32>) -> tensor<?x?x2304xf32>
  // CHECK: slm.linear %{{.*}}, %{{.*}} {activation = #slm.activation<gelu_tanh>} : (tensor<?x?x768xf32>, tensor<2304x768xf32>) -> tensor<?x?x2304xf32>
  %act = slm.linear %r, %w {activation = #slm.activation<gelu_tanh>} : (tensor<?x?x768xf32>, tensor<2304x768xf32>) -> tensor<?x?x2304xf32>
  // CHECK: slm.linear %{{.*}}, %{{.*}} {precision = #slm.precision<bf16>} : (tensor<?x?x768xf32>, tensor<2304x768xf32>) -> tensor<?x?x2304xf32>
  %bf = slm.linear %r, %w {precision = #slm.precision<bf16>} : (tensor<?x?x768xf32>, tensor<2304x768xf32>) -> tensor<?x?x2304xf32>
  // CHECK: slm.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {num_heads = 12 : i64} : (tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x768xf32>
  %a = slm.attention %r, %r, %r, %mask {num_heads = 12 : i64} : (tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x768xf32>
  // CHECK: slm.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, num_heads = 12 : i64, scale = 1.250000e-01 : f64}
  %c = slm.attention %a, %a, %a {num_heads = 12 : i64, scale = 0.125 : f64, causal} : (tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>) -> tensor<?x?x768xf32>
  // CHECK: slm.gelu %{{.*}} : tensor<?x?x768xf32>
  %g = slm.gelu %c : tensor<?x?x768xf32>
  // CHECK: slm.gelu %{{.*}} approximate <tanh> : tensor<?x?x768xf32>
  %g2 = slm.gelu %g approximate <tanh> : tensor<?x?x768xf32>
  // CHECK: slm.softmax %{{.*}} axis -1 : tensor<?x?x768xf32>
  %p = slm.softmax %g2 axis -1 : tensor<?x?x768xf32>
  return %p : tensor<?x?x768xf32>
}

// CHECK-LABEL: func @compressed_weights
func.func @compressed_weights(%x: tensor<?x768xf32>,
                              %c8: tensor<3072x768xi8>, %s8: tensor<3072x1xf32>,
                              %c4: tensor<3072x384xi8>, %s4: tensor<3072x6xf32>, %z4: tensor<3072x6xi8>,
                              %vals: tensor<?x16x16xf32>, %cols: tensor<?xi32>, %offs: tensor<193xi32>) -> tensor<?x3072xf32> {
  // CHECK: slm.dequantize_weight <int8> %{{.*}}, %{{.*}} : (tensor<3072x768xi8>, tensor<3072x1xf32>) -> tensor<3072x768xf32>
  %w8 = slm.dequantize_weight <int8> %c8, %s8 : (tensor<3072x768xi8>, tensor<3072x1xf32>) -> tensor<3072x768xf32>
  // CHECK: slm.dequantize_weight <int4> %{{.*}}, %{{.*}} zero_points %{{.*}} group_size 128 : (tensor<3072x384xi8>, tensor<3072x6xf32>, tensor<3072x6xi8>) -> tensor<3072x768xf32>
  %w4 = slm.dequantize_weight <int4> %c4, %s4 zero_points %z4 group_size 128 : (tensor<3072x384xi8>, tensor<3072x6xf32>, tensor<3072x6xi8>) -> tensor<3072x768xf32>
  // CHECK: slm.dequantize_weight <nf4> %{{.*}}, %{{.*}} group_size 128 : (tensor<3072x384xi8>, tensor<3072x6xf32>) -> tensor<3072x768xf32>
  %wn = slm.dequantize_weight <nf4> %c4, %s4 group_size 128 : (tensor<3072x384xi8>, tensor<3072x6xf32>) -> tensor<3072x768xf32>
  // CHECK: slm.sparse_weight %{{.*}}, %{{.*}}, %{{.*}} block_shape [16, 16] : (tensor<?x16x16xf32>, tensor<?xi32>, tensor<193xi32>) -> tensor<3072x768xf32>
  %ws = slm.sparse_weight %vals, %cols, %offs block_shape [16, 16] : (tensor<?x16x16xf32>, tensor<?xi32>, tensor<193xi32>) -> tensor<3072x768xf32>
  %y8 = slm.linear %x, %w8 : (tensor<?x768xf32>, tensor<3072x768xf32>) -> tensor<?x3072xf32>
  %y4 = slm.linear %x, %w4 : (tensor<?x768xf32>, tensor<3072x768xf32>) -> tensor<?x3072xf32>
  %yn = slm.linear %x, %wn : (tensor<?x768xf32>, tensor<3072x768xf32>) -> tensor<?x3072xf32>
  %ys = slm.linear %x, %ws : (tensor<?x768xf32>, tensor<3072x768xf32>) -> tensor<?x3072xf32>
  return %ys : tensor<?x3072xf32>
}

// CHECK-LABEL: func @token_pruning
func.func @token_pruning(%h: tensor<?x?x768xf32>, %imp: tensor<?x?xf32>) -> (tensor<?x?x768xf32>, tensor<?x?xi64>) {
  // CHECK: slm.prune_tokens %{{.*}}, %{{.*}} {keep_leading = 1 : i64, keep_ratio = 5.000000e-01 : f64} : (tensor<?x?x768xf32>, tensor<?x?xf32>) -> (tensor<?x?x768xf32>, tensor<?x?xi64>)
  %r, %k = slm.prune_tokens %h, %imp {keep_ratio = 0.5 : f64, keep_leading = 1 : i64} : (tensor<?x?x768xf32>, tensor<?x?xf32>) -> (tensor<?x?x768xf32>, tensor<?x?xi64>)
  // CHECK: slm.prune_tokens %{{.*}}, %{{.*}} {top_k = 32 : i64}
  %r2, %k2 = slm.prune_tokens %r, %imp {top_k = 32 : i64} : (tensor<?x?x768xf32>, tensor<?x?xf32>) -> (tensor<?x?x768xf32>, tensor<?x?xi64>)
  return %r2, %k2 : tensor<?x?x768xf32>, tensor<?x?xi64>
}

// Weights are resources: the blob stays out of the op and prints once.
// CHECK-LABEL: func @resource_weight
func.func @resource_weight(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  // CHECK: arith.constant dense_resource<encoder.fc.weight> : tensor<2x4xf32>
  %w = arith.constant dense_resource<encoder.fc.weight> : tensor<2x4xf32>
  %y = slm.linear %x, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      encoder.fc.weight: "0x040000000000803F0000004000004040000080400000A0400000C0400000E04000000041"
    }
  }
#-}

// Tests slm.fused_attention on tensors (one result tied to init) and on
// buffers (none), with and without a mask, round-tripped.
// CHECK-LABEL: func @fused_attention
func.func @fused_attention(%q: tensor<?x4x?x8xf32>, %k: tensor<?x2x?x8xf32>, %m: tensor<?x1x1x?xf32>, %o: tensor<?x?x32xf32>,
                           %bq: memref<?x?x4x8xf32>, %bo: memref<?x?x32xf32>) -> tensor<?x?x32xf32> {
  // CHECK: slm.fused_attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} outs %{{.*}} {causal, num_heads = 4 : i64, scale = 3.500000e-01 : f64, seq_dims = array<i64: 2, 2, 2>} : (tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x1x1x?xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  %r = slm.fused_attention %q, %k, %k mask %m outs %o {num_heads = 4 : i64, scale = 0.35 : f64, seq_dims = array<i64: 2, 2, 2>, causal} : (tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x1x1x?xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  // CHECK: slm.fused_attention %{{.*}}, %{{.*}}, %{{.*}} outs %{{.*}} {num_heads = 4 : i64, scale = 3.500000e-01 : f64, seq_dims = array<i64: 1, 1, 1>} : (memref<?x?x4x8xf32>, memref<?x?x4x8xf32>, memref<?x?x4x8xf32>, memref<?x?x32xf32>) -> ()
  slm.fused_attention %bq, %bq, %bq outs %bo {num_heads = 4 : i64, scale = 0.35 : f64, seq_dims = array<i64: 1, 1, 1>} : (memref<?x?x4x8xf32>, memref<?x?x4x8xf32>, memref<?x?x4x8xf32>, memref<?x?x32xf32>) -> ()
  return %r : tensor<?x?x32xf32>
}

// Tests a packed batch's fused attention (offsets), round-tripped.
// CHECK-LABEL: func @fused_attention_packed
// CHECK: slm.fused_attention %{{.*}}, %{{.*}}, %{{.*}} offsets %{{.*}} outs %{{.*}} {num_heads = 4 : i64, scale = 3.500000e-01 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<?xindex>, tensor<1x?x32xf32>) -> tensor<1x?x32xf32>
func.func @fused_attention_packed(%q: tensor<1x?x4x8xf32>, %off: tensor<?xindex>, %o: tensor<1x?x32xf32>) -> tensor<1x?x32xf32> {
  %r = slm.fused_attention %q, %q, %q offsets %off outs %o {num_heads = 4 : i64, scale = 0.35 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<?xindex>, tensor<1x?x32xf32>) -> tensor<1x?x32xf32>
  return %r : tensor<1x?x32xf32>
}

// CHECK-LABEL: func @fused_attention_importance
// CHECK: %{{.*}}:2 = slm.fused_attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} outs %{{.*}} importance %{{.*}} {num_heads = 2 : i64, scale = 5.000000e-01 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<2x?x2x8xf32>, tensor<2x?x2x8xf32>, tensor<2x?x2x8xf32>, tensor<2x1x1x?xf32>, tensor<2x?x16xf32>, tensor<2x?xf32>) -> (tensor<2x?x16xf32>, tensor<2x?xf32>)
func.func @fused_attention_importance(%q: tensor<2x?x2x8xf32>, %m: tensor<2x1x1x?xf32>, %o: tensor<2x?x16xf32>, %i: tensor<2x?xf32>) -> (tensor<2x?x16xf32>, tensor<2x?xf32>) {
  %r:2 = slm.fused_attention %q, %q, %q mask %m outs %o importance %i {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<2x?x2x8xf32>, tensor<2x?x2x8xf32>, tensor<2x?x2x8xf32>, tensor<2x1x1x?xf32>, tensor<2x?x16xf32>, tensor<2x?xf32>) -> (tensor<2x?x16xf32>, tensor<2x?xf32>)
  return %r#0, %r#1 : tensor<2x?x16xf32>, tensor<2x?xf32>
}
