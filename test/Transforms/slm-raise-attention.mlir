// RUN: slm-opt %s -split-input-file --slm-raise-attention --canonicalize | FileCheck %s

// Tests the batch-first (HF) layout: heads split by reshape + transpose,
// scores divided by sqrt(8), an additive [B, 1, 1, S] mask. Q, K and V are
// arguments here, so their ONNX dimension names say that they share batch
// and sequence extents (in a model they share the projections' input).
// CHECK-LABEL: func @batch_first
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x?x32xf32> {{.*}}, %[[K:[^:]+]]: tensor<?x?x32xf32> {{.*}}, %[[V:[^:]+]]: tensor<?x?x32xf32> {{.*}}, %[[M:[^:]+]]: tensor<?x1x1x?xf32>)
// CHECK-NEXT: %[[O:.+]] = slm.attention %[[Q]], %[[K]], %[[V]], %[[M]] {num_heads = 4 : i64}
// CHECK-NEXT: return %[[O]]
func.func @batch_first(%q: tensor<?x?x32xf32> {slm.dim_names = ["batch", "seq", ""]},
                       %k: tensor<?x?x32xf32> {slm.dim_names = ["batch", "seq", ""]},
                       %v: tensor<?x?x32xf32> {slm.dim_names = ["batch", "seq", ""]},
                       %mask: tensor<?x1x1x?xf32>) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c32 = arith.constant 32 : index
  %scale = arith.constant dense<2.82842708> : tensor<f32>
  %b = tensor.dim %q, %c0 : tensor<?x?x32xf32>
  %s = tensor.dim %q, %c1 : tensor<?x?x32xf32>
  %split = tensor.from_elements %b, %s, %c4, %c8 : tensor<4xindex>
  %qh = slm.reshape %q, %split : (tensor<?x?x32xf32>, tensor<4xindex>) -> tensor<?x?x4x8xf32>
  %qt = slm.transpose %qh [0, 2, 1, 3] : tensor<?x?x4x8xf32> -> tensor<?x4x?x8xf32>
  %kh = slm.reshape %k, %split : (tensor<?x?x32xf32>, tensor<4xindex>) -> tensor<?x?x4x8xf32>
  %kt = slm.transpose %kh [0, 2, 3, 1] : tensor<?x?x4x8xf32> -> tensor<?x4x8x?xf32>
  %vh = slm.reshape %v, %split : (tensor<?x?x32xf32>, tensor<4xindex>) -> tensor<?x?x4x8xf32>
  %vt = slm.transpose %vh [0, 2, 1, 3] : tensor<?x?x4x8xf32> -> tensor<?x4x?x8xf32>
  %scores = slm.matmul %qt, %kt : (tensor<?x4x?x8xf32>, tensor<?x4x8x?xf32>) -> tensor<?x4x?x?xf32>
  %scaled = slm.div %scores, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %masked = slm.add %scaled, %mask : (tensor<?x4x?x?xf32>, tensor<?x1x1x?xf32>) -> tensor<?x4x?x?xf32>
  %p = slm.softmax %masked axis 3 : tensor<?x4x?x?xf32>
  %ctx = slm.matmul %p, %vt : (tensor<?x4x?x?xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  %ct = slm.transpose %ctx [0, 2, 1, 3] : tensor<?x4x?x8xf32> -> tensor<?x?x4x8xf32>
  %merge = tensor.from_elements %b, %s, %c32 : tensor<3xindex>
  %o = slm.reshape %ct, %merge : (tensor<?x?x4x8xf32>, tensor<3xindex>) -> tensor<?x?x32xf32>
  return %o : tensor<?x?x32xf32>
}

// -----

// Tests the sequence-first layout of nn.MultiheadAttention: [S, B, E] split
// into [S, B*H, D], batch and heads merged in one dimension, the scale on Q.
// Q, K and V become batch-first by a transpose, the result goes back.
// CHECK-LABEL: func @sequence_first
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x?x32xf32> {{.*}}, %[[K:[^:]+]]: tensor<?x?x32xf32> {{.*}}, %[[V:[^:]+]]: tensor<?x?x32xf32> {{.*}})
// CHECK-DAG: %[[QB:.+]] = slm.transpose %[[Q]] [1, 0, 2]
// CHECK-DAG: %[[KB:.+]] = slm.transpose %[[K]] [1, 0, 2]
// CHECK-DAG: %[[VB:.+]] = slm.transpose %[[V]] [1, 0, 2]
// CHECK: %[[O:.+]] = slm.attention %[[QB]], %[[KB]], %[[VB]] {num_heads = 4 : i64, scale = 2.500000e-01 : f64}
// CHECK: %[[T:.+]] = slm.transpose %[[O]] [1, 0, 2]
// CHECK: %[[R:.+]] = slm.reshape %[[T]] : (tensor<?x?x32xf32>) -> tensor<?x32xf32>
// CHECK: return %[[R]]
func.func @sequence_first(%q: tensor<?x?x32xf32> {slm.dim_names = ["seq", "batch", ""]},
                          %k: tensor<?x?x32xf32> {slm.dim_names = ["seq", "batch", ""]},
                          %v: tensor<?x?x32xf32> {slm.dim_names = ["seq", "batch", ""]}) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %scale = arith.constant dense<0.25> : tensor<f32>
  %s = tensor.dim %q, %c0 : tensor<?x?x32xf32>
  %b = tensor.dim %q, %c1 : tensor<?x?x32xf32>
  %bh = arith.muli %b, %c4 : index
  %split = tensor.from_elements %s, %bh, %c8 : tensor<3xindex>
  %qh = slm.reshape %q, %split : (tensor<?x?x32xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  %qt = slm.transpose %qh [1, 0, 2] : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %qs = slm.mul %qt, %scale : (tensor<?x?x8xf32>, tensor<f32>) -> tensor<?x?x8xf32>
  %kh = slm.reshape %k, %split : (tensor<?x?x32xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  %kt = slm.transpose %kh [1, 2, 0] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %vh = slm.reshape %v, %split : (tensor<?x?x32xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  %vt = slm.transpose %vh [1, 0, 2] : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %scores = slm.matmul %qs, %kt : (tensor<?x?x8xf32>, tensor<?x8x?xf32>) -> tensor<?x?x?xf32>
  %p = slm.softmax %scores axis 2 : tensor<?x?x?xf32>
  %ctx = slm.matmul %p, %vt : (tensor<?x?x?xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %ct = slm.transpose %ctx [1, 0, 2] : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %o = slm.reshape %ct : (tensor<?x?x8xf32>) -> tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}

// -----

// Tests that a Where mask cut from a constant lower-triangular buffer (GPT-2's
// `bias[:, :, :s, :s]`) becomes the causal flag; unscaled scores keep an
// explicit scale of 1.
// CHECK-LABEL: func @causal
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x?x8xf32> {{.*}}, %[[K:[^:]+]]: tensor<?x?x8xf32> {{.*}}, %[[V:[^:]+]]: tensor<?x?x8xf32> {{.*}})
// CHECK: %[[O:.+]] = slm.attention %[[Q]], %[[K]], %[[V]] {causal, num_heads = 2 : i64, scale = 1.000000e+00 : f64}
// CHECK-NOT: slm.select
func.func @causal(%q: tensor<?x?x8xf32> {slm.dim_names = ["batch", "seq", ""]},
                  %k: tensor<?x?x8xf32> {slm.dim_names = ["batch", "seq", ""]},
                  %v: tensor<?x?x8xf32> {slm.dim_names = ["batch", "seq", ""]}) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %tril = arith.constant dense<[[[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %neg = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %b = tensor.dim %q, %c0 : tensor<?x?x8xf32>
  %s = tensor.dim %q, %c1 : tensor<?x?x8xf32>
  %split = tensor.from_elements %b, %s, %c2, %c4 : tensor<4xindex>
  %qh = slm.reshape %q, %split : (tensor<?x?x8xf32>, tensor<4xindex>) -> tensor<?x?x2x4xf32>
  %qt = slm.transpose %qh [0, 2, 1, 3] : tensor<?x?x2x4xf32> -> tensor<?x2x?x4xf32>
  %kh = slm.reshape %k, %split : (tensor<?x?x8xf32>, tensor<4xindex>) -> tensor<?x?x2x4xf32>
  %kt = slm.transpose %kh [0, 2, 3, 1] : tensor<?x?x2x4xf32> -> tensor<?x2x4x?xf32>
  %vh = slm.reshape %v, %split : (tensor<?x?x8xf32>, tensor<4xindex>) -> tensor<?x?x2x4xf32>
  %vt = slm.transpose %vh [0, 2, 1, 3] : tensor<?x?x2x4xf32> -> tensor<?x2x?x4xf32>
  %scores = slm.matmul %qt, %kt : (tensor<?x2x?x4xf32>, tensor<?x2x4x?xf32>) -> tensor<?x2x?x?xf32>
  %keep = tensor.extract_slice %tril[0, 0, 0, 0] [1, 1, %s, %s] [1, 1, 1, 1] : tensor<1x1x4x4xi1> to tensor<1x1x?x?xi1>
  %masked = slm.select %keep, %scores, %neg : (tensor<1x1x?x?xi1>, tensor<?x2x?x?xf32>, tensor<f32>) -> tensor<?x2x?x?xf32>
  %p = slm.softmax %masked axis 3 : tensor<?x2x?x?xf32>
  %ctx = slm.matmul %p, %vt : (tensor<?x2x?x?xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %ct = slm.transpose %ctx [0, 2, 1, 3] : tensor<?x2x?x4xf32> -> tensor<?x?x2x4xf32>
  %merge = tensor.from_elements %b, %s, %c8 : tensor<3xindex>
  %o = slm.reshape %ct, %merge : (tensor<?x?x2x4xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  return %o : tensor<?x?x8xf32>
}

// -----

// Tests that a softmax whose probabilities are used twice is left alone.
// CHECK-LABEL: func @probabilities_used_twice
// CHECK: slm.softmax
// CHECK-NOT: slm.attention
func.func @probabilities_used_twice(%q: tensor<2x4x8xf32>, %kt: tensor<2x8x4xf32>, %v: tensor<2x4x8xf32>) -> (tensor<2x4x8xf32>, tensor<2x4x4xf32>) {
  %scores = slm.matmul %q, %kt : (tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<2x4x4xf32>
  %p = slm.softmax %scores axis 2 : tensor<2x4x4xf32>
  %ctx = slm.matmul %p, %v : (tensor<2x4x4xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %ctx, %p : tensor<2x4x8xf32>, tensor<2x4x4xf32>
}

// -----

// Tests OPT's form: merged [B*H, S, T] scores reshaped to a [B, H, S, T]
// view, a [B, 1, S, T] mask added there and the sum clamped to the lowest
// float, then reshaped back for the softmax. The mask is the attention's
// as it is (already [batch, heads, Sq, Skv]); the clamp goes (exp() of a
// clamped score is 0 either way).
// CHECK-LABEL: func @split_heads_view
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x?x32xf32> {{.*}}, %[[K:[^:]+]]: tensor<?x?x32xf32> {{.*}}, %[[V:[^:]+]]: tensor<?x?x32xf32> {{.*}}, %[[M:[^:]+]]: tensor<?x1x?x?xf32>
// CHECK: %[[O:.+]] = slm.attention %[[Q]], %[[K]], %[[V]], %[[M]] {num_heads = 4 : i64}
// CHECK-NOT: slm.softmax
// CHECK-NOT: slm.max
func.func @split_heads_view(%q: tensor<?x?x32xf32> {slm.dim_names = ["batch", "seq", ""]},
                            %k: tensor<?x?x32xf32> {slm.dim_names = ["batch", "seq", ""]},
                            %v: tensor<?x?x32xf32> {slm.dim_names = ["batch", "seq", ""]},
                            %mask: tensor<?x1x?x?xf32> {slm.dim_names = ["batch", "", "seq", "seq"]}) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c32 = arith.constant 32 : index
  %scale = arith.constant dense<0.353553385> : tensor<f32>
  %lowest = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %b = tensor.dim %q, %c0 : tensor<?x?x32xf32>
  %s = tensor.dim %q, %c1 : tensor<?x?x32xf32>
  %bh = arith.muli %b, %c4 : index
  %split = tensor.from_elements %b, %s, %c4, %c8 : tensor<4xindex>
  %merge = tensor.from_elements %bh, %s, %c8 : tensor<3xindex>
  %qs = slm.mul %q, %scale : (tensor<?x?x32xf32>, tensor<f32>) -> tensor<?x?x32xf32>
  %q4 = slm.reshape %qs, %split : (tensor<?x?x32xf32>, tensor<4xindex>) -> tensor<?x?x4x8xf32>
  %qt = slm.transpose %q4 [0, 2, 1, 3] : tensor<?x?x4x8xf32> -> tensor<?x4x?x8xf32>
  %q3 = slm.reshape %qt, %merge : (tensor<?x4x?x8xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  %k4 = slm.reshape %k, %split : (tensor<?x?x32xf32>, tensor<4xindex>) -> tensor<?x?x4x8xf32>
  %kt = slm.transpose %k4 [0, 2, 1, 3] : tensor<?x?x4x8xf32> -> tensor<?x4x?x8xf32>
  %k3 = slm.reshape %kt, %merge : (tensor<?x4x?x8xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  %kT = slm.transpose %k3 [0, 2, 1] : tensor<?x?x8xf32> -> tensor<?x8x?xf32>
  %v4 = slm.reshape %v, %split : (tensor<?x?x32xf32>, tensor<4xindex>) -> tensor<?x?x4x8xf32>
  %vt = slm.transpose %v4 [0, 2, 1, 3] : tensor<?x?x4x8xf32> -> tensor<?x4x?x8xf32>
  %v3 = slm.reshape %vt, %merge : (tensor<?x4x?x8xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  %scores = slm.matmul %q3, %kT : (tensor<?x?x8xf32>, tensor<?x8x?xf32>) -> tensor<?x?x?xf32>
  %view = tensor.from_elements %b, %c4, %s, %s : tensor<4xindex>
  %s4 = slm.reshape %scores, %view : (tensor<?x?x?xf32>, tensor<4xindex>) -> tensor<?x4x?x?xf32>
  %masked = slm.add %s4, %mask : (tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %clamped = slm.max %masked, %lowest : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %back = tensor.from_elements %bh, %s, %s : tensor<3xindex>
  %s3 = slm.reshape %clamped, %back : (tensor<?x4x?x?xf32>, tensor<3xindex>) -> tensor<?x?x?xf32>
  %p = slm.softmax %s3 axis 2 : tensor<?x?x?xf32>
  %ctx = slm.matmul %p, %v3 : (tensor<?x?x?xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %c4d = tensor.from_elements %b, %c4, %s, %c8 : tensor<4xindex>
  %ctx4 = slm.reshape %ctx, %c4d : (tensor<?x?x8xf32>, tensor<4xindex>) -> tensor<?x4x?x8xf32>
  %ct = slm.transpose %ctx4 [0, 2, 1, 3] : tensor<?x4x?x8xf32> -> tensor<?x?x4x8xf32>
  %out = tensor.from_elements %b, %s, %c32 : tensor<3xindex>
  %o = slm.reshape %ct, %out : (tensor<?x?x4x8xf32>, tensor<3xindex>) -> tensor<?x?x32xf32>
  return %o : tensor<?x?x32xf32>
}
