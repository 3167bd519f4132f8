// RUN: slm-opt %s --slm-prune-ffn="ratio=0.5" --slm-prune-heads="ratio=0.5" --mlir-print-op-on-diagnostic=false 2>&1 | FileCheck %s

// Pruning asked for where the model has nothing to prune warns, with the
// reason for each candidate it passed over, and leaves the model as it is.
// CHECK: warning: FFN pruning found no feed-forward network whose neurons can be removed; nothing pruned
// CHECK: warning: head pruning found no attention whose heads can be removed; nothing pruned
// CHECK: note: slm.attention at {{.*}}: query, key and value are not constant-weight linear layers used only by the attention
// CHECK: slm.linear {{.*}} -> tensor<2x8xf32>
// CHECK: slm.attention {{.*}}num_heads = 2
func.func @nothing(%x: tensor<2x4xf32>, %q: tensor<1x4x4xf32>) -> (tensor<2x4xf32>, tensor<1x4x4xf32>) {
  %w1 = arith.constant dense<1.0> : tensor<8x4xf32>
  %w2 = arith.constant dense<1.0> : tensor<4x8xf32>
  %h = slm.linear %x, %w1 : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %y = slm.linear %h, %w2 : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %a = slm.attention %q, %q, %q {num_heads = 2 : i64} : (tensor<1x4x4xf32>, tensor<1x4x4xf32>, tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
  return %y, %a : tensor<2x4xf32>, tensor<1x4x4xf32>
}
