// RUN: slm-opt %s -split-input-file --slm-prune-layers="drop=1" | FileCheck %s --check-prefix=DROP1
// RUN: slm-opt %s -split-input-file --slm-prune-layers="count=1" | FileCheck %s --check-prefix=COUNT
// RUN: not slm-opt %s -split-input-file --slm-prune-layers="drop=5" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not slm-opt %s -split-input-file --slm-prune-layers="count=2" 2>&1 | FileCheck %s --check-prefix=ALL

// Two post-norm (BERT) blocks; block 0 changed the residual stream more on
// calibration data (importance 0.3 vs 0.1), so count=1 drops block 1.

// DROP1-LABEL: func.func @post_norm
// DROP1-COUNT-1: slm.attention
// DROP1-NOT: slm.attention
// DROP1: slm.linear {{.*}} -> tensor<1x3x8xf32>
// DROP1: slm.add
// DROP1: %[[OUT:.*]] = slm.layer_norm
// DROP1-NEXT: return %[[OUT]]

// COUNT-LABEL: func.func @post_norm
// COUNT: slm.attention {{.*}}slm.block_importance = 3.000000e-01
// COUNT-NOT: slm.attention

// RANGE: error: drop: block 5 does not exist (the model has 2 prunable blocks)
// ALL: error: cannot drop 2 of 2 prunable blocks: at least one must stay

func.func @post_norm(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %w = arith.constant dense<0.25> : tensor<4x4xf32>
  %b = arith.constant dense<0.5> : tensor<4xf32>
  %w1 = arith.constant dense<0.25> : tensor<8x4xf32>
  %w2 = arith.constant dense<0.125> : tensor<4x8xf32>
  %g = arith.constant dense<1.0> : tensor<4xf32>
  %q0 = slm.linear %x, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %k0 = slm.linear %x, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %v0 = slm.linear %x, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %a0 = slm.attention %q0, %k0, %v0 {num_heads = 2 : i64, slm.block_importance = 0.3 : f64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %o0 = slm.linear %a0, %w, %b : (tensor<1x3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %r0 = slm.add %x, %o0 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %n0 = slm.layer_norm %r0, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %h0 = slm.linear %n0, %w1 {activation = #slm.activation<gelu>} : (tensor<1x3x4xf32>, tensor<8x4xf32>) -> tensor<1x3x8xf32>
  %d0 = slm.linear %h0, %w2 : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
  %s0 = slm.add %n0, %d0 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %y0 = slm.layer_norm %s0, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %q1 = slm.linear %y0, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %k1 = slm.linear %y0, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %v1 = slm.linear %y0, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %a1 = slm.attention %q1, %k1, %v1 {num_heads = 2 : i64, slm.block_importance = 0.1 : f64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %o1 = slm.linear %a1, %w, %b : (tensor<1x3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %r1 = slm.add %y0, %o1 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %n1 = slm.layer_norm %r1, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %h1 = slm.linear %n1, %w1 {activation = #slm.activation<gelu>} : (tensor<1x3x4xf32>, tensor<8x4xf32>) -> tensor<1x3x8xf32>
  %d1 = slm.linear %h1, %w2 : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
  %s1 = slm.add %n1, %d1 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %y1 = slm.layer_norm %s1, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  return %y1 : tensor<1x3x4xf32>
}

// -----

// Two pre-norm (GPT-2) blocks and a final norm: dropping block 1 feeds
// block 0's residual output straight to the final norm.

// DROP1-LABEL: func.func @pre_norm
// DROP1-COUNT-1: slm.attention
// DROP1-NOT: slm.attention
// DROP1: slm.linear {{.*}} -> tensor<1x3x8xf32>
// DROP1-NEXT: slm.linear
// DROP1-NEXT: %[[S0:.*]] = slm.add
// DROP1-NEXT: %[[F:.*]] = slm.layer_norm %[[S0]]
// DROP1-NEXT: return %[[F]]

// COUNT-LABEL: func.func @pre_norm
// COUNT: slm.attention {{.*}}slm.block_importance = 2.000000e-01
// COUNT-NOT: slm.attention

func.func @pre_norm(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %w = arith.constant dense<0.25> : tensor<4x4xf32>
  %b = arith.constant dense<0.5> : tensor<4xf32>
  %w1 = arith.constant dense<0.25> : tensor<8x4xf32>
  %w2 = arith.constant dense<0.125> : tensor<4x8xf32>
  %g = arith.constant dense<1.0> : tensor<4xf32>
  %l0 = slm.layer_norm %x, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %q0 = slm.linear %l0, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %k0 = slm.linear %l0, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %v0 = slm.linear %l0, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %a0 = slm.attention %q0, %k0, %v0 {causal, num_heads = 2 : i64, slm.block_importance = 0.2 : f64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %o0 = slm.linear %a0, %w, %b : (tensor<1x3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %r0 = slm.add %x, %o0 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %m0 = slm.layer_norm %r0, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %h0 = slm.linear %m0, %w1 {activation = #slm.activation<gelu_tanh>} : (tensor<1x3x4xf32>, tensor<8x4xf32>) -> tensor<1x3x8xf32>
  %d0 = slm.linear %h0, %w2 : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
  %s0 = slm.add %r0, %d0 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %l1 = slm.layer_norm %s0, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %q1 = slm.linear %l1, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %k1 = slm.linear %l1, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %v1 = slm.linear %l1, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %a1 = slm.attention %q1, %k1, %v1 {causal, num_heads = 2 : i64, slm.block_importance = 0.05 : f64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %o1 = slm.linear %a1, %w, %b : (tensor<1x3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %r1 = slm.add %s0, %o1 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %m1 = slm.layer_norm %r1, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %h1 = slm.linear %m1, %w1 {activation = #slm.activation<gelu_tanh>} : (tensor<1x3x4xf32>, tensor<8x4xf32>) -> tensor<1x3x8xf32>
  %d1 = slm.linear %h1, %w2 : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
  %s1 = slm.add %r1, %d1 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %f = slm.layer_norm %s1, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  return %f : tensor<1x3x4xf32>
}
