// RUN: slm-opt %s --split-input-file --slm-kv-cache-dtype=dtype=f16 --canonicalize | FileCheck %s --check-prefix=F16
// RUN: slm-opt %s --split-input-file --slm-kv-cache-dtype=dtype=int8 --canonicalize | FileCheck %s --check-prefix=INT8
// RUN: not slm-opt %s --split-input-file --slm-kv-cache-dtype=dtype=bf16 2>&1 | FileCheck %s --check-prefix=BAD

// A cache in the form a model exported with one has (and --kv-cache
// derives): each past input joined with the new rows; the join is the
// present output and what the attention reads.
// f16: the cache inputs and outputs are f16; the new rows are rounded before
// the join, and the attention reads all positions back as f32.
// F16-LABEL: func.func @main
// F16-SAME: %[[PK:[^:]*]]: tensor<?x?x8xf16> {slm.dim_names = ["batch", "past_sequence", ""], slm.name = "past_key_values.0.key"}
// F16-SAME: %[[PV:[^:]*]]: tensor<?x?x8xf16> {slm.name = "past_key_values.0.value"}
// F16-SAME: -> (tensor<?x?x16xf32> {slm.name = "logits"}, tensor<?x?x8xf16> {slm.name = "present.0.key"}, tensor<?x?x8xf16> {slm.name = "present.0.value"})
// F16: %[[KH:.*]] = arith.truncf %{{.*}} : tensor<?x?x8xf32> to tensor<?x?x8xf16>
// F16: %[[KC:.*]] = tensor.concat dim(1) %[[PK]], %[[KH]]
// F16: %[[KF:.*]] = arith.extf %[[KC]] : tensor<?x?x8xf16> to tensor<?x?x8xf32>
// F16: %[[VC:.*]] = tensor.concat dim(1) %[[PV]], %{{.*}} : (tensor<?x?x8xf16>, tensor<?x?x8xf16>)
// F16: %[[VF:.*]] = arith.extf %[[VC]]
// F16: slm.attention %{{.*}}, %[[KF]], %[[VF]] {causal, num_heads = 2 : i64}
// F16: return %{{.*}}, %[[KC]], %[[VC]]

// int8: codes, and a scale per position and head (2 heads of 4: scales
// [batch, positions, 2]) in an input and an output of their own, next to
// the codes'.
// INT8-LABEL: func.func @main
// INT8-SAME: %[[PK:[^:]*]]: tensor<?x?x8xi8> {{.*}}slm.name = "past_key_values.0.key"}
// INT8-SAME: %[[PKS:[^:]*]]: tensor<?x?x2xf32> {slm.dim_names = ["batch", "past_sequence", ""], slm.name = "past_key_values.0.key_scale"}
// INT8-SAME: %[[PV:[^:]*]]: tensor<?x?x8xi8> {slm.name = "past_key_values.0.value"}
// INT8-SAME: %[[PVS:[^:]*]]: tensor<?x?x2xf32> {slm.name = "past_key_values.0.value_scale"}
// INT8-SAME: -> (tensor<?x?x16xf32> {slm.name = "logits"}, tensor<?x?x8xi8> {slm.name = "present.0.key"}, tensor<?x?x2xf32> {slm.name = "present.0.key_scale"}, tensor<?x?x8xi8> {slm.name = "present.0.value"}, tensor<?x?x2xf32> {slm.name = "present.0.value_scale"})
// INT8: %[[KG:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] {{.*}} : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
// INT8: %[[ABS:.*]] = math.absf %[[KG]]
// INT8: %[[MAX:.*]] = slm.reduce <max> %[[ABS]] axes [3] keep_dims : tensor<?x?x2x4xf32> -> tensor<?x?x2x1xf32>
// INT8: %[[SCALE:.*]] = slm.div %[[MAX]], %{{.*}} : (tensor<?x?x2x1xf32>, tensor<f32>) -> tensor<?x?x2x1xf32>
// INT8: math.roundeven
// INT8: arith.fptosi %{{.*}} : tensor<?x?x2x4xf32> to tensor<?x?x2x4xi8>
// INT8: %[[KC:.*]] = tensor.concat dim(1) %[[PK]], %{{.*}} : (tensor<?x?x8xi8>, tensor<?x?x8xi8>) -> tensor<?x?x8xi8>
// INT8: %[[KS:.*]] = tensor.concat dim(1) %[[PKS]], %{{.*}} : (tensor<?x?x2xf32>, tensor<?x?x2xf32>) -> tensor<?x?x2xf32>
// INT8: tensor.expand_shape %[[KC]] {{\[\[}}0], [1], [2, 3]] {{.*}} : tensor<?x?x8xi8> into tensor<?x?x2x4xi8>
// INT8: linalg.generic {{.*}} ins(%{{.*}}, %[[KS]] : tensor<?x?x2x4xi8>, tensor<?x?x2xf32>)
// INT8: arith.sitofp %{{.*}} : i8 to f32
// INT8: arith.mulf
// INT8: %[[KF:.*]] = tensor.collapse_shape
// INT8: slm.attention %{{.*}}, %[[KF]], %{{.*}} {causal, num_heads = 2 : i64}
// INT8: return %{{.*}}, %[[KC]], %[[KS]], %{{.*}}, %{{.*}} :

// BAD: --slm-kv-cache-dtype: dtype must be f16 or int8, not 'bf16'
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"},
                %pk: tensor<?x?x8xf32> {slm.name = "past_key_values.0.key", slm.dim_names = ["batch", "past_sequence", ""]},
                %pv: tensor<?x?x8xf32> {slm.name = "past_key_values.0.value"})
    -> (tensor<?x?x16xf32> {slm.name = "logits"}, tensor<?x?x8xf32> {slm.name = "present.0.key"}, tensor<?x?x8xf32> {slm.name = "present.0.value"}) {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %wq = arith.constant dense<0.1> : tensor<8x8xf32>
  %wk = arith.constant dense<0.2> : tensor<8x8xf32>
  %wv = arith.constant dense<0.3> : tensor<8x8xf32>
  %wo = arith.constant dense<0.4> : tensor<16x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %q = slm.linear %x, %wq : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %k = slm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %v = slm.linear %x, %wv : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %kf = tensor.concat dim(1) %pk, %k : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %vf = tensor.concat dim(1) %pv, %v : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %a = slm.attention %q, %kf, %vf {causal, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %l = slm.linear %a, %wo : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %l, %kf, %vf : tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// -----

// Hugging Face's layout [batch, kv_heads, positions, head_dim] of a
// grouped-query attention: one scale per position and KV head
// ([batch, 1, positions, 1]); the heads are repeated after the cache; the
// shape query of the cache input reads the converted input.
// INT8-LABEL: func.func @gqa
// INT8-SAME: %[[PK:[^:]*]]: tensor<?x1x?x4xi8> {slm.name = "past_key_values.0.key"}
// INT8-SAME: tensor<?x1x?x1xf32> {slm.name = "past_key_values.0.key_scale"}
// INT8: tensor.dim %[[PK]], %{{.*}} : tensor<?x1x?x4xi8>
// INT8: slm.reduce <max> %{{.*}} axes [4] keep_dims : tensor<?x1x?x1x4xf32> -> tensor<?x1x?x1x1xf32>
// INT8: tensor.concat dim(2) %[[PK]], %{{.*}} : (tensor<?x1x?x4xi8>, tensor<?x1x?x4xi8>)
// INT8: slm.broadcast_to
// F16-LABEL: func.func @gqa
// F16-SAME: tensor<?x1x?x4xf16> {slm.name = "past_key_values.0.key"}
func.func @gqa(%ids: tensor<?x?xi64> {slm.name = "input_ids"},
               %pk: tensor<?x1x?x4xf32> {slm.name = "past_key_values.0.key"},
               %pv: tensor<?x?x8xf32> {slm.name = "past_key_values.0.value"})
    -> (tensor<?x?x16xf32> {slm.name = "logits"}, tensor<?x1x?x4xf32> {slm.name = "present.0.key"}, tensor<?x?x8xf32> {slm.name = "present.0.value"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %wq = arith.constant dense<0.1> : tensor<8x8xf32>
  %wk = arith.constant dense<0.2> : tensor<4x8xf32>
  %wv = arith.constant dense<0.3> : tensor<8x8xf32>
  %wo = arith.constant dense<0.4> : tensor<16x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %p = tensor.dim %pk, %c2 : tensor<?x1x?x4xf32>
  %t = arith.addi %p, %s : index
  %q = slm.linear %x, %wq : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %k = slm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<4x8xf32>) -> tensor<?x?x4xf32>
  %v = slm.linear %x, %wv : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %ks = tensor.from_elements %b, %c1, %s, %c4 : tensor<4xindex>
  %kh = slm.reshape %k, %ks : (tensor<?x?x4xf32>, tensor<4xindex>) -> tensor<?x1x?x4xf32>
  %kf = tensor.concat dim(2) %pk, %kh : (tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x1x?x4xf32>
  %vf = tensor.concat dim(1) %pv, %v : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %rs = tensor.from_elements %b, %c2, %t, %c4 : tensor<4xindex>
  %rep = slm.broadcast_to %kf, %rs : (tensor<?x1x?x4xf32>, tensor<4xindex>) -> tensor<?x2x?x4xf32>
  %kt = slm.transpose %rep [0, 2, 1, 3] : tensor<?x2x?x4xf32> -> tensor<?x?x2x4xf32>
  %ms = tensor.from_elements %b, %t, %c8 : tensor<3xindex>
  %km = slm.reshape %kt, %ms : (tensor<?x?x2x4xf32>, tensor<3xindex>) -> tensor<?x?x8xf32>
  %a = slm.attention %q, %km, %vf {causal, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %l = slm.linear %a, %wo : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %l, %kf, %vf : tensor<?x?x16xf32>, tensor<?x1x?x4xf32>, tensor<?x?x8xf32>
}

