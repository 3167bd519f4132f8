// RUN: slm-opt %s -split-input-file --slm-prune-heads="ratio=0.5" 2>/dev/null | FileCheck %s
// RUN: slm-opt %s -split-input-file --slm-prune-heads="ratio=0.5" 2>&1 >/dev/null | FileCheck %s --check-prefix=WARN

// Grouped-query attention as HF's Llama-family exports write it: 4 query
// heads of width 2 read 2 key/value heads (query head h reads h / 2); Q and
// K are split into heads and rotated (x * cos + rotate_half(x) * cos, the
// table broadcast over heads), K and V repeated (repeat_kv: reshape to
// [B, 2, 1, S, D], broadcast to [B, 2, 2, S, D], reshape to [B, 4, S, D]),
// and merged back for the attention. Key/value head 0's weights (and its
// query heads' rows of Q and columns of the output) are 0.1, head 1's 1.0:
// pruning half the groups removes key/value head 0 with query heads 0 and 1,
// and every op on the way narrows (shape operands and slice sizes too).

// CHECK-LABEL: func.func @gqa_rotary
// CHECK-SAME: (%[[X:.*]]: tensor<?x3x8xf32>, %[[COS:.*]]: tensor<1x1x3x2xf32>, %[[B:.*]]: index)
// CHECK: %[[WQ:.*]] = arith.constant dense<1.000000e+00> : tensor<4x8xf32>
// CHECK: %[[Q:.*]] = slm.linear %[[X]], %[[WQ]] : {{.*}} -> tensor<?x3x4xf32>
// CHECK: %[[WK:.*]] = arith.constant dense<1.000000e+00> : tensor<2x8xf32>
// CHECK: %[[K:.*]] = slm.linear %[[X]], %[[WK]] : {{.*}} -> tensor<?x3x2xf32>
// CHECK: %[[WV:.*]] = arith.constant dense<1.000000e+00> : tensor<2x8xf32>
// CHECK: slm.linear %[[X]], %[[WV]] : {{.*}} -> tensor<?x3x2xf32>
// CHECK: slm.reshape %[[Q]] : (tensor<?x3x4xf32>) -> tensor<?x3x2x2xf32>
// CHECK: tensor.extract_slice {{.*}} [%{{.*}}, 2, 3, 1] [1, 1, 1, 1] : tensor<?x2x3x2xf32> to tensor<?x2x3x1xf32>
// CHECK: tensor.extract_slice {{.*}} [%{{.*}}, 2, 3, 1] [1, 1, 1, 1] : tensor<?x2x3x2xf32> to tensor<?x2x3x1xf32>
// CHECK: tensor.concat dim(3) {{.*}} -> tensor<?x2x3x2xf32>
// CHECK: slm.reshape %[[K]] : (tensor<?x3x2xf32>) -> tensor<?x3x1x2xf32>
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: %[[SHAPE:.*]] = tensor.from_elements %[[B]], %[[ONE]], %{{.*}}, %{{.*}}, %{{.*}} : tensor<5xindex>
// CHECK: slm.broadcast_to %{{.*}}, %[[SHAPE]] : (tensor<?x1x1x3x2xf32>, tensor<5xindex>) -> tensor<?x1x2x3x2xf32>
// CHECK: slm.reshape %{{.*}} : (tensor<?x1x2x3x2xf32>) -> tensor<?x2x3x2xf32>
// CHECK: %[[A:.*]] = slm.attention {{.*}} {num_heads = 2 : i64, scale = 0.70710678118654746 : f64} : (tensor<?x3x4xf32>, tensor<?x3x4xf32>, tensor<?x3x4xf32>) -> tensor<?x3x4xf32>
// CHECK: %[[WO:.*]] = arith.constant dense<1.000000e+00> : tensor<8x4xf32>
// CHECK: slm.linear %[[A]], %[[WO]] : (tensor<?x3x4xf32>, tensor<8x4xf32>) -> tensor<?x3x8xf32>
func.func @gqa_rotary(%x: tensor<?x3x8xf32>, %cos: tensor<1x1x3x2xf32>, %b: index) -> tensor<?x3x8xf32> {
  %wq = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %wk = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<4x8xf32>
  %wv = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<4x8xf32>
  %wo = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %q = slm.linear %x, %wq : (tensor<?x3x8xf32>, tensor<8x8xf32>) -> tensor<?x3x8xf32>
  %k = slm.linear %x, %wk : (tensor<?x3x8xf32>, tensor<4x8xf32>) -> tensor<?x3x4xf32>
  %v = slm.linear %x, %wv : (tensor<?x3x8xf32>, tensor<4x8xf32>) -> tensor<?x3x4xf32>
  %q4 = slm.reshape %q : (tensor<?x3x8xf32>) -> tensor<?x3x4x2xf32>
  %qt = slm.transpose %q4 [0, 2, 1, 3] : tensor<?x3x4x2xf32> -> tensor<?x4x3x2xf32>
  %qc = slm.mul %qt, %cos : (tensor<?x4x3x2xf32>, tensor<1x1x3x2xf32>) -> tensor<?x4x3x2xf32>
  %bq = tensor.dim %qt, %c0 : tensor<?x4x3x2xf32>
  %lo = tensor.extract_slice %qt[0, 0, 0, 0] [%bq, 4, 3, 1] [1, 1, 1, 1] : tensor<?x4x3x2xf32> to tensor<?x4x3x1xf32>
  %hi = tensor.extract_slice %qt[0, 0, 0, 1] [%bq, 4, 3, 1] [1, 1, 1, 1] : tensor<?x4x3x2xf32> to tensor<?x4x3x1xf32>
  %nhi = arith.negf %hi : tensor<?x4x3x1xf32>
  %rot = tensor.concat dim(3) %nhi, %lo : (tensor<?x4x3x1xf32>, tensor<?x4x3x1xf32>) -> tensor<?x4x3x2xf32>
  %rs = slm.mul %rot, %cos : (tensor<?x4x3x2xf32>, tensor<1x1x3x2xf32>) -> tensor<?x4x3x2xf32>
  %qr = slm.add %qc, %rs : (tensor<?x4x3x2xf32>, tensor<?x4x3x2xf32>) -> tensor<?x4x3x2xf32>
  %qb = slm.transpose %qr [0, 2, 1, 3] : tensor<?x4x3x2xf32> -> tensor<?x3x4x2xf32>
  %qm = slm.reshape %qb : (tensor<?x3x4x2xf32>) -> tensor<?x3x8xf32>
  %k4 = slm.reshape %k : (tensor<?x3x4xf32>) -> tensor<?x3x2x2xf32>
  %kt = slm.transpose %k4 [0, 2, 1, 3] : tensor<?x3x2x2xf32> -> tensor<?x2x3x2xf32>
  %kc = slm.mul %kt, %cos : (tensor<?x2x3x2xf32>, tensor<1x1x3x2xf32>) -> tensor<?x2x3x2xf32>
  %k5 = slm.reshape %kc : (tensor<?x2x3x2xf32>) -> tensor<?x2x1x3x2xf32>
  %shape = tensor.from_elements %b, %c2, %c2, %c3, %c2 : tensor<5xindex>
  %kb = slm.broadcast_to %k5, %shape : (tensor<?x2x1x3x2xf32>, tensor<5xindex>) -> tensor<?x2x2x3x2xf32>
  %kr = slm.reshape %kb : (tensor<?x2x2x3x2xf32>) -> tensor<?x4x3x2xf32>
  %kbt = slm.transpose %kr [0, 2, 1, 3] : tensor<?x4x3x2xf32> -> tensor<?x3x4x2xf32>
  %km = slm.reshape %kbt : (tensor<?x3x4x2xf32>) -> tensor<?x3x8xf32>
  %v4 = slm.reshape %v : (tensor<?x3x4xf32>) -> tensor<?x3x2x2xf32>
  %vt = slm.transpose %v4 [0, 2, 1, 3] : tensor<?x3x2x2xf32> -> tensor<?x2x3x2xf32>
  %v5 = slm.reshape %vt : (tensor<?x2x3x2xf32>) -> tensor<?x2x1x3x2xf32>
  %vb = slm.broadcast_to %v5, %shape : (tensor<?x2x1x3x2xf32>, tensor<5xindex>) -> tensor<?x2x2x3x2xf32>
  %vr = slm.reshape %vb : (tensor<?x2x2x3x2xf32>) -> tensor<?x4x3x2xf32>
  %vbt = slm.transpose %vr [0, 2, 1, 3] : tensor<?x4x3x2xf32> -> tensor<?x3x4x2xf32>
  %vm = slm.reshape %vbt : (tensor<?x3x4x2xf32>) -> tensor<?x3x8xf32>
  %a = slm.attention %qm, %km, %vm {num_heads = 4 : i64} : (tensor<?x3x8xf32>, tensor<?x3x8xf32>, tensor<?x3x8xf32>) -> tensor<?x3x8xf32>
  %o = slm.linear %a, %wo : (tensor<?x3x8xf32>, tensor<8x8xf32>) -> tensor<?x3x8xf32>
  return %o : tensor<?x3x8xf32>
}

// -----

// A rotary table that differs per head ([1, 4, S, D]) would have to be
// narrowed too: the attention is left whole, and the warning says why.

// WARN: warning: head pruning found no attention whose heads can be removed
// WARN: note: slm.attention at {{.*}}: the heads cannot be followed: slm.mul has an operand that differs per head
// CHECK-LABEL: func.func @per_head_table
// CHECK: slm.attention {{.*}} {num_heads = 4 : i64}
func.func @per_head_table(%x: tensor<1x3x8xf32>, %t: tensor<1x4x3x2xf32>) -> tensor<1x3x8xf32> {
  %wq = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %wo = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %q = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %k = slm.linear %x, %wo : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %v = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %q4 = slm.reshape %q : (tensor<1x3x8xf32>) -> tensor<1x3x4x2xf32>
  %qt = slm.transpose %q4 [0, 2, 1, 3] : tensor<1x3x4x2xf32> -> tensor<1x4x3x2xf32>
  %qc = slm.mul %qt, %t : (tensor<1x4x3x2xf32>, tensor<1x4x3x2xf32>) -> tensor<1x4x3x2xf32>
  %qb = slm.transpose %qc [0, 2, 1, 3] : tensor<1x4x3x2xf32> -> tensor<1x3x4x2xf32>
  %qm = slm.reshape %qb : (tensor<1x3x4x2xf32>) -> tensor<1x3x8xf32>
  %a = slm.attention %qm, %k, %v {num_heads = 4 : i64} : (tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> tensor<1x3x8xf32>
  %o = slm.linear %a, %wo : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  return %o : tensor<1x3x8xf32>
}

// -----

// A key/value cache the model takes as an input (exported with
// past_key_values) holds every head: the attention is left whole.

// WARN: warning: head pruning found no attention whose heads can be removed
// WARN: note: slm.attention at {{.*}}: the heads cannot be followed: tensor.concat appends to a model input: a key/value cache the model takes or returns holds every head (compile the model exported without a cache, with --kv-cache)
// CHECK-LABEL: func.func @exported_cache
// CHECK: slm.attention {{.*}} {num_heads = 4 : i64}
func.func @exported_cache(%x: tensor<1x3x8xf32>, %y: tensor<1x5x8xf32>, %past: tensor<1x2x2x2xf32>) -> tensor<1x3x8xf32> {
  %wq = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %wk = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<4x8xf32>
  %wo = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %q = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %k = slm.linear %x, %wk : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
  %v = slm.linear %y, %wk : (tensor<1x5x8xf32>, tensor<4x8xf32>) -> tensor<1x5x4xf32>
  %k4 = slm.reshape %k : (tensor<1x3x4xf32>) -> tensor<1x3x2x2xf32>
  %kt = slm.transpose %k4 [0, 2, 1, 3] : tensor<1x3x2x2xf32> -> tensor<1x2x3x2xf32>
  %kc = tensor.concat dim(2) %past, %kt : (tensor<1x2x2x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x5x2xf32>
  %k5 = slm.reshape %kc : (tensor<1x2x5x2xf32>) -> tensor<1x2x1x5x2xf32>
  %kb = slm.broadcast_to %k5 : (tensor<1x2x1x5x2xf32>) -> tensor<1x2x2x5x2xf32>
  %kr = slm.reshape %kb : (tensor<1x2x2x5x2xf32>) -> tensor<1x4x5x2xf32>
  %kbt = slm.transpose %kr [0, 2, 1, 3] : tensor<1x4x5x2xf32> -> tensor<1x5x4x2xf32>
  %km = slm.reshape %kbt : (tensor<1x5x4x2xf32>) -> tensor<1x5x8xf32>
  %v4 = slm.reshape %v : (tensor<1x5x4xf32>) -> tensor<1x5x2x2xf32>
  %vt = slm.transpose %v4 [0, 2, 1, 3] : tensor<1x5x2x2xf32> -> tensor<1x2x5x2xf32>
  %v5 = slm.reshape %vt : (tensor<1x2x5x2xf32>) -> tensor<1x2x1x5x2xf32>
  %vb = slm.broadcast_to %v5 : (tensor<1x2x1x5x2xf32>) -> tensor<1x2x2x5x2xf32>
  %vr = slm.reshape %vb : (tensor<1x2x2x5x2xf32>) -> tensor<1x4x5x2xf32>
  %vbt = slm.transpose %vr [0, 2, 1, 3] : tensor<1x4x5x2xf32> -> tensor<1x5x4x2xf32>
  %vm = slm.reshape %vbt : (tensor<1x5x4x2xf32>) -> tensor<1x5x8xf32>
  %a = slm.attention %q, %km, %vm {num_heads = 4 : i64} : (tensor<1x3x8xf32>, tensor<1x5x8xf32>, tensor<1x5x8xf32>) -> tensor<1x3x8xf32>
  %o = slm.linear %a, %wo : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  return %o : tensor<1x3x8xf32>
}

// -----

// A per-head position bias (T5's relative attention bias: a [B, H, Sq, Skv]
// mask) keeps the kept heads' slices, in order. Heads 0 and 1 (0.1) go,
// here as one run: heads 2 and 3 of the bias are sliced out.

// CHECK-LABEL: func.func @per_head_bias
// CHECK-SAME: %[[BIAS:[^:]*]]: tensor<1x4x3x3xf32>
// CHECK: %[[KEPT:.*]] = tensor.extract_slice %[[BIAS]][0, 2, 0, 0] [1, 2, 3, 3] [1, 1, 1, 1] : tensor<1x4x3x3xf32> to tensor<1x2x3x3xf32>
// CHECK: slm.attention {{.*}}, %[[KEPT]] {num_heads = 2 : i64
func.func @per_head_bias(%x: tensor<1x3x8xf32>, %bias: tensor<1x4x3x3xf32>) -> tensor<1x3x8xf32> {
  %wq = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %wo = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %q = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %k = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %v = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %a = slm.attention %q, %k, %v, %bias {num_heads = 4 : i64} : (tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x4x3x3xf32>) -> tensor<1x3x8xf32>
  %o = slm.linear %a, %wo : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  return %o : tensor<1x3x8xf32>
}

// -----

// A mask whose heads extent the type leaves dynamic (OPT's) is taken as one
// mask for every head, and the run checks that it is.

// CHECK-LABEL: func.func @dynamic_mask_heads
// CHECK-SAME: %[[MASK:[^:]*]]: tensor<?x?x?x?xf32>
// CHECK: %[[H:.*]] = tensor.dim %[[MASK]], %{{.*}} : tensor<?x?x?x?xf32>
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[H]], %{{.*}} : index
// CHECK: cf.assert %[[ONE]], "an attention whose heads were pruned got a mask that differs per head"
// CHECK: slm.attention {{.*}}, %[[MASK]] {num_heads = 2 : i64
func.func @dynamic_mask_heads(%x: tensor<1x3x8xf32>, %mask: tensor<?x?x?x?xf32>) -> tensor<1x3x8xf32> {
  %wq = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %wo = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %q = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %k = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %v = slm.linear %x, %wq : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  %a = slm.attention %q, %k, %v, %mask {num_heads = 4 : i64} : (tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<?x?x?x?xf32>) -> tensor<1x3x8xf32>
  %o = slm.linear %a, %wo : (tensor<1x3x8xf32>, tensor<8x8xf32>) -> tensor<1x3x8xf32>
  return %o : tensor<1x3x8xf32>
}

// -----

// What raising leaves of a decomposed attention may still read a projection
// for its extents only (here a head split whose result only a tensor.dim
// reads): it gets an empty tensor of the unpruned type, so the extents it
// gives do not change.

// CHECK-LABEL: func.func @shape_read
// CHECK: %[[Q:.*]] = slm.linear {{.*}} -> tensor<?x3x4xf32>
// CHECK: %[[EMPTY:.*]] = tensor.empty(%{{.*}}) : tensor<?x3x8xf32>
// CHECK: %[[SPLIT:.*]] = slm.reshape %[[EMPTY]] : (tensor<?x3x8xf32>) -> tensor<?x3x4x2xf32>
// CHECK: tensor.dim %[[SPLIT]]
// CHECK: slm.attention %[[Q]], {{.*}} {num_heads = 2 : i64
func.func @shape_read(%x: tensor<?x3x8xf32>) -> (tensor<?x3x8xf32>, index) {
  %c0 = arith.constant 0 : index
  %wq = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %wo = arith.constant dense<[[0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0]]> : tensor<8x8xf32>
  %q = slm.linear %x, %wq : (tensor<?x3x8xf32>, tensor<8x8xf32>) -> tensor<?x3x8xf32>
  %k = slm.linear %x, %wq : (tensor<?x3x8xf32>, tensor<8x8xf32>) -> tensor<?x3x8xf32>
  %v = slm.linear %x, %wq : (tensor<?x3x8xf32>, tensor<8x8xf32>) -> tensor<?x3x8xf32>
  %split = slm.reshape %q : (tensor<?x3x8xf32>) -> tensor<?x3x4x2xf32>
  %b = tensor.dim %split, %c0 : tensor<?x3x4x2xf32>
  %a = slm.attention %q, %k, %v {num_heads = 4 : i64} : (tensor<?x3x8xf32>, tensor<?x3x8xf32>, tensor<?x3x8xf32>) -> tensor<?x3x8xf32>
  %o = slm.linear %a, %wo : (tensor<?x3x8xf32>, tensor<8x8xf32>) -> tensor<?x3x8xf32>
  return %o, %b : tensor<?x3x8xf32>, index
}
