// RUN: slm-opt %s --split-input-file --slm-derive-kv-cache --canonicalize | FileCheck %s

// A causal attention: the keys and values get cache inputs and outputs; the
// ops that read the tokens run on the new rows only.
// CHECK-LABEL: func.func @main
// CHECK-SAME: %[[IDS:[^:]*]]: tensor<?x?xi64> {slm.dim_names = ["batch", "sequence"], slm.name = "input_ids"}
// CHECK-SAME: %[[PK:[^:]*]]: tensor<?x?x8xf32> {slm.dim_names = ["batch", "past_sequence", ""], slm.name = "past_key_values.0.key"}
// CHECK-SAME: %[[PV:[^:]*]]: tensor<?x?x8xf32> {slm.dim_names = ["batch", "past_sequence", ""], slm.name = "past_key_values.0.value"}
// CHECK-SAME: -> (tensor<?x?x16xf32> {slm.name = "logits"}, tensor<?x?x8xf32> {slm.name = "present.0.key"}, tensor<?x?x8xf32> {slm.name = "present.0.value"})
// CHECK: cf.assert {{.*}}"--kv-cache: no new tokens (input_ids has 0 positions)"
// CHECK: cf.assert {{.*}}"--kv-cache: past_key_values.0.value holds a different number of positions than past_key_values.0.key"
// CHECK: %[[X:.*]] = slm.gather %{{.*}}[%[[IDS]]]
// CHECK: %[[Q:.*]] = slm.linear %[[X]]
// CHECK: %[[K:.*]] = slm.linear %[[X]]
// CHECK: %[[KF:.*]] = tensor.concat dim(1) %[[PK]], %[[K]]
// CHECK: %[[V:.*]] = slm.linear %[[X]]
// CHECK: %[[VF:.*]] = tensor.concat dim(1) %[[PV]], %[[V]]
// CHECK: %[[A:.*]] = slm.attention %[[Q]], %[[KF]], %[[VF]] {causal, num_heads = 2 : i64}
// CHECK: %[[L:.*]] = slm.linear %[[A]]
// CHECK: return %[[L]], %[[KF]], %[[VF]]
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids", slm.dim_names = ["batch", "sequence"]}) -> (tensor<?x?x16xf32> {slm.name = "logits"}) {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %wq = arith.constant dense<0.1> : tensor<8x8xf32>
  %wk = arith.constant dense<0.2> : tensor<8x8xf32>
  %wv = arith.constant dense<0.3> : tensor<8x8xf32>
  %wo = arith.constant dense<0.4> : tensor<16x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %q = slm.linear %x, %wq : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %k = slm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %v = slm.linear %x, %wv : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %a = slm.attention %q, %k, %v {causal, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %l = slm.linear %a, %wo : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}

// -----

// Grouped-query attention with a mask and a position table: the key is
// cached in [batch, kv_heads, positions, head_dim] before the heads are
// repeated (which then runs on every position); the position table (built
// for all P + n positions from the sequence length) and the mask are cut to
// their last n rows where they meet the tokens; the mask is checked for
// causality at run time; the mask input covers every position.
// CHECK-LABEL: func.func @main
// CHECK-SAME: {slm.dim_names = ["batch", "total_sequence"], slm.name = "attention_mask"}
// CHECK-SAME: %[[PK:[^:]*]]: tensor<?x1x?x4xf32> {slm.dim_names = ["batch", "", "past_sequence", ""], slm.name = "past_key_values.0.key"}
// CHECK-SAME: %[[PV:[^:]*]]: tensor<?x?x8xf32> {{.*}}slm.name = "past_key_values.0.value"
// CHECK: %[[N:.*]] = tensor.dim %{{.*}}, %c1 : tensor<?x?xi64>
// CHECK: %[[P:.*]] = tensor.dim %[[PK]], %c2
// CHECK: %[[T:.*]] = arith.addi %[[P]], %[[N]]
// CHECK: cf.assert {{.*}}"--kv-cache: attention_mask must cover the cached and the new positions"
// CHECK: %[[POS:.*]] = tensor.generate %[[T]]
// CHECK: %[[TABLE:.*]] = slm.gather %{{.*}}[%{{.*}}] axis 0 : (tensor<16x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
// CHECK: %[[OFF:.*]] = arith.subi %{{.*}}, %[[N]]
// CHECK: tensor.extract_slice %[[TABLE]][0, %{{.*}}, 0] [1, %{{.*}}, 8] [1, 1, 1]
// CHECK: %[[KH:.*]] = slm.reshape {{.*}} -> tensor<?x1x?x4xf32>
// CHECK: %[[KF:.*]] = tensor.concat dim(2) %[[PK]], %[[KH]]
// CHECK: %[[REP:.*]] = slm.broadcast_to %[[KF]]
// CHECK: "--kv-cache: an attention lets a position see later ones: the model is not a causal decoder, and a cache of it would be wrong"
// CHECK: %[[M:.*]] = tensor.extract_slice %{{.*}}[0, 0, %{{.*}}, 0] [%{{.*}}, 1, %{{.*}}, %{{.*}}] [1, 1, 1, 1] : tensor<?x1x?x?xf32> to tensor<?x1x?x?xf32>
// CHECK: slm.attention %{{.*}}, %{{.*}}, %{{.*}}, %[[M]] {num_heads = 2 : i64}
// CHECK: return {{.*}} : tensor<?x?x16xf32>, tensor<?x1x?x4xf32>, tensor<?x?x8xf32>
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids", slm.dim_names = ["batch", "sequence"]},
                %mask: tensor<?x?xi64> {slm.name = "attention_mask", slm.dim_names = ["batch", "sequence"]}) -> (tensor<?x?x16xf32> {slm.name = "logits"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %min = arith.constant dense<-3.4e38> : tensor<f32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %positions = arith.constant dense<0.25> : tensor<16x8xf32>
  %wq = arith.constant dense<0.1> : tensor<8x8xf32>
  %wk = arith.constant dense<0.2> : tensor<4x8xf32>
  %wv = arith.constant dense<0.3> : tensor<8x8xf32>
  %wo = arith.constant dense<0.4> : tensor<16x8xf32>
  %x0 = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  // Position embeddings from arange(sequence length).
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %arange = tensor.generate %s {
  ^bb0(%i: index):
    %i64 = arith.index_cast %i : index to i64
    tensor.yield %i64 : i64
  } : tensor<?xi64>
  %pos = slm.reshape %arange : (tensor<?xi64>) -> tensor<1x?xi64>
  %pe = slm.gather %positions[%pos] axis 0 : (tensor<16x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %x = slm.add %x0, %pe : (tensor<?x?x8xf32>, tensor<1x?x8xf32>) -> tensor<?x?x8xf32>
  // Causal mask [B, 1, S, S] from the sequence length and the padding.
  %t = tensor.dim %mask, %c1 : tensor<?x?xi64>
  %future = tensor.generate %s, %t {
  ^bb0(%i: index, %j: index):
    %gt = arith.cmpi ugt, %j, %i : index
    tensor.yield %gt : i1
  } : tensor<?x?xi1>
  %shape4 = tensor.from_elements %b, %c1, %c1, %t : tensor<4xindex>
  %m4 = slm.reshape %mask, %shape4 : (tensor<?x?xi64>, tensor<4xindex>) -> tensor<?x1x1x?xi64>
  %mf = arith.sitofp %m4 : tensor<?x1x1x?xi64> to tensor<?x1x1x?xf32>
  %padded = slm.compare <eq> %mf, %zero : (tensor<?x1x1x?xf32>, tensor<f32>) -> tensor<?x1x1x?xi1>
  %hide = slm.select %future, %min, %zero : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %additive = slm.select %padded, %min, %hide : (tensor<?x1x1x?xi1>, tensor<f32>, tensor<?x?xf32>) -> tensor<?x1x?x?xf32>
  %q = slm.linear %x, %wq : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %k = slm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<4x8xf32>) -> tensor<?x?x4xf32>
  %v = slm.linear %x, %wv : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  // One KV head repeated for two query heads.
  %ks = tensor.from_elements %b, %c1, %s, %c4 : tensor<4xindex>
  %kh = slm.reshape %k, %ks : (tensor<?x?x4xf32>, tensor<4xindex>) -> tensor<?x1x?x4xf32>
  %rs = tensor.from_elements %b, %c2, %s, %c4 : tensor<4xindex>
  %rep = slm.broadcast_to %kh, %rs : (tensor<?x1x?x4xf32>, tensor<4xindex>) -> tensor<?x2x?x4xf32>
  %kt = slm.transpose %rep [0, 2, 1, 3] : tensor<?x2x?x4xf32> -> tensor<?x?x2x4xf32>
  %c8 = arith.constant 8 : index
  %ms = tensor.from_elements %b, %s, %c8 : tensor<3xindex>
  %km = slm.reshape %kt, %ms : (tensor<?x?x2x4xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  %a = slm.attention %q, %km, %v, %additive {num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x1x?x?xf32>) -> tensor<?x?x8xf32>
  %l = slm.linear %a, %wo : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}
