// RUN: slm-opt %s -split-input-file -verify-diagnostics

// Tests that every slm verifier message fires, one case each.

// Tests that binary ops need one element type.
func.func @case0(%a: tensor<4xf32>, %b: tensor<4xi32>) {
  // expected-error @+1 {{'rhs' has element type 'i32' but 'lhs' has 'f32'}}
  %r = slm.add %a, %b : (tensor<4xf32>, tensor<4xi32>) -> tensor<4xf32>
  return
}

// -----

// Tests that the result keeps the operands' element type.
func.func @case1(%a: tensor<4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'result' has element type 'f16' but 'lhs' has 'f32'}}
  %r = slm.mul %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf16>
  return
}

// -----

// Tests that operand shapes must broadcast.
func.func @case2(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'rhs' ('tensor<4xf32>') does not broadcast with 'lhs': shapes 2x3 and 4}}
  %r = slm.sub %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

// Tests that the result has the broadcast shape.
func.func @case3(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{result shape 3x3 does not match the expected shape 2x3}}
  %r = slm.div %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3x3xf32>
  return
}

// -----

// Tests that compare operands need one element type.
func.func @case4(%a: tensor<4xi64>, %b: tensor<4xi32>) {
  // expected-error @+1 {{'rhs' has element type 'i32' but 'lhs' has 'i64'}}
  %r = slm.compare <eq> %a, %b : (tensor<4xi64>, tensor<4xi32>) -> tensor<4xi1>
  return
}

// -----

// Tests that compare broadcasts its operands.
func.func @case5(%a: tensor<4xi64>, %b: tensor<3xi64>) {
  // expected-error @+1 {{'rhs' ('tensor<3xi64>') does not broadcast with 'lhs': shapes 4 and 3}}
  %r = slm.compare <lt> %a, %b : (tensor<4xi64>, tensor<3xi64>) -> tensor<4xi1>
  return
}

// -----

// Tests that select's branches need one element type.
func.func @case6(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{'false_value' has element type 'f16' but 'true_value' has 'f32'}}
  %r = slm.select %c, %a, %b : (tensor<4xi1>, tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return
}

// -----

// Tests that select broadcasts all three operands.
func.func @case7(%c: tensor<5xi1>, %a: tensor<4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'true_value' ('tensor<4xf32>') does not broadcast with 'condition': shapes 5 and 4}}
  %r = slm.select %c, %a, %b : (tensor<5xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that matmul needs matrices on the left.
func.func @case8(%a: tensor<4xf32>, %b: tensor<4x4xf32>) {
  // expected-error @+1 {{'lhs' must have rank >= 2, got 'tensor<4xf32>'}}
  %r = slm.matmul %a, %b : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that matmul needs matrices on the right.
func.func @case9(%a: tensor<4x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'rhs' must have rank >= 2, got 'tensor<4xf32>'}}
  %r = slm.matmul %a, %b : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that matmul contraction extents must agree.
func.func @case10(%a: tensor<2x64xf32>, %b: tensor<32x8xf32>) {
  // expected-error @+1 {{contraction dimension mismatch: 'lhs' has K = 64 but 'rhs' has K = 32}}
  %r = slm.matmul %a, %b : (tensor<2x64xf32>, tensor<32x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that matmul batch dimensions broadcast.
func.func @case11(%a: tensor<3x2x4xf32>, %b: tensor<5x4x8xf32>) {
  // expected-error @+1 {{batch dimensions 3 and 5 do not broadcast}}
  %r = slm.matmul %a, %b : (tensor<3x2x4xf32>, tensor<5x4x8xf32>) -> tensor<3x2x8xf32>
  return
}

// -----

// Tests that matmul result is [batch, M, N].
func.func @case12(%a: tensor<3x2x4xf32>, %b: tensor<4x8xf32>) {
  // expected-error @+1 {{result shape 3x8x2 does not match the expected shape 3x2x8}}
  %r = slm.matmul %a, %b : (tensor<3x2x4xf32>, tensor<4x8xf32>) -> tensor<3x8x2xf32>
  return
}

// -----

// Tests that transpose needs one permutation entry per dimension.
func.func @case13(%a: tensor<2x3x4xf32>) {
  // expected-error @+1 {{permutation has 2 entries but 'input' has rank 3}}
  %r = slm.transpose %a [1, 0] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  return
}

// -----

// Tests that transpose needs a permutation.
func.func @case14(%a: tensor<2x3x4xf32>) {
  // expected-error @+1 {{permutation [0, 0, 1] is not a permutation of 0..2}}
  %r = slm.transpose %a [0, 0, 1] : tensor<2x3x4xf32> -> tensor<2x2x3xf32>
  return
}

// -----

// Tests that transpose result follows the permutation.
func.func @case15(%a: tensor<2x3x4xf32>) {
  // expected-error @+1 {{result shape 2x3x4 does not match the expected shape 4x2x3}}
  %r = slm.transpose %a [2, 0, 1] : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  return
}

// -----

// Tests that reshape's shape operand is 1-D.
func.func @case16(%a: tensor<?x4xf32>, %s: tensor<2x2xindex>) {
  // expected-error @+1 {{'shape' must be 1-D, got 'tensor<2x2xindex>'}}
  %r = slm.reshape %a, %s : (tensor<?x4xf32>, tensor<2x2xindex>) -> tensor<?x?xf32>
  return
}

// -----

// Tests that reshape's shape operand gives every result extent.
func.func @case17(%a: tensor<?x4xf32>, %s: tensor<3xindex>) {
  // expected-error @+1 {{'shape' has 3 entries but the result has rank 2}}
  %r = slm.reshape %a, %s : (tensor<?x4xf32>, tensor<3xindex>) -> tensor<?x?xf32>
  return
}

// -----

// Tests that two unknown extents need a shape operand.
func.func @case18(%a: tensor<?x4xf32>) {
  // expected-error @+1 {{result has 2 dynamic dimensions; a 'shape' operand must give them}}
  %r = slm.reshape %a : (tensor<?x4xf32>) -> tensor<?x?x2xf32>
  return
}

// -----

// Tests that static reshapes keep the element count.
func.func @case19(%a: tensor<3x4xf32>) {
  // expected-error @+1 {{cannot reshape 12 elements into 10}}
  %r = slm.reshape %a : (tensor<3x4xf32>) -> tensor<5x2xf32>
  return
}

// -----

// Tests that an inferred extent must divide the element count.
func.func @case20(%a: tensor<3x4xf32>) {
  // expected-error @+1 {{cannot reshape 12 elements into ?x5}}
  %r = slm.reshape %a : (tensor<3x4xf32>) -> tensor<?x5xf32>
  return
}

// -----

// Tests that reshape keeps the element type.
func.func @case21(%a: tensor<3x4xf32>) {
  // expected-error @+1 {{'result' has element type 'i32' but 'input' has 'f32'}}
  %r = slm.reshape %a : (tensor<3x4xf32>) -> tensor<12xi32>
  return
}

// -----

// Tests that broadcast_to follows numpy rules.
func.func @case22(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'input' ('tensor<2x3xf32>') does not broadcast to 4x3}}
  %r = slm.broadcast_to %a : (tensor<2x3xf32>) -> tensor<4x3xf32>
  return
}

// -----

// Tests that broadcast_to needs a shape operand for new dynamic extents.
func.func @case23(%a: tensor<1x3xf32>) {
  // expected-error @+1 {{result dimension 0 is dynamic and not given by 'input'; a 'shape' operand must give it}}
  %r = slm.broadcast_to %a : (tensor<1x3xf32>) -> tensor<?x3xf32>
  return
}

// -----

// Tests that reduce needs axes.
func.func @case24(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'axes' must name at least one dimension}}
  %r = slm.reduce <sum> %a axes [] : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

// Tests that reduce axes are in range.
func.func @case25(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for 'input' of rank 2}}
  %r = slm.reduce <max> %a axes [2] : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

// Tests that reduce axes are unique.
func.func @case26(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis -1 is given twice}}
  %r = slm.reduce <min> %a axes [1, -1] : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

// Tests that keep_dims keeps reduced dimensions as 1.
func.func @case27(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{result shape 2 does not match the expected shape 2x1}}
  %r = slm.reduce <mean> %a axes [1] keep_dims : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

// Tests that gather's axis is in range.
func.func @case28(%a: tensor<2x3xf32>, %i: tensor<4xi64>) {
  // expected-error @+1 {{axis 2 is out of range for 'data' of rank 2}}
  %r = slm.gather %a[%i] axis 2 : (tensor<2x3xf32>, tensor<4xi64>) -> tensor<2x4xf32>
  return
}

// -----

// Tests that gather splices the indices' shape into the data's.
func.func @case29(%a: tensor<2x3xf32>, %i: tensor<4x5xi64>) {
  // expected-error @+1 {{result shape 2x4 does not match the expected shape 2x4x5}}
  %r = slm.gather %a[%i] axis 1 : (tensor<2x3xf32>, tensor<4x5xi64>) -> tensor<2x4xf32>
  return
}

// -----

// Tests that softmax's axis is in range.
func.func @case30(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis -3 is out of range for 'input' of rank 2}}
  %r = slm.softmax %a axis -3 : tensor<2x3xf32>
  return
}

// -----

// Tests that linear needs a non-scalar input.
func.func @case31(%x: tensor<f32>, %w: tensor<4x4xf32>) {
  // expected-error @+1 {{'input' must have rank >= 1, got 'tensor<f32>'}}
  %r = slm.linear %x, %w : (tensor<f32>, tensor<4x4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that linear weights are [out, in].
func.func @case32(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'weight' must be 2-D [out_features, in_features], got 'tensor<4xf32>'}}
  %r = slm.linear %x, %w : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return
}

// -----

// Tests that linear weights keep the input's element type.
func.func @case33(%x: tensor<2x4xf32>, %w: tensor<8x4xf16>) {
  // expected-error @+1 {{'weight' has element type 'f16' but 'input' has 'f32'}}
  %r = slm.linear %x, %w : (tensor<2x4xf32>, tensor<8x4xf16>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that in_features match the input's last dimension.
func.func @case34(%x: tensor<2x768xf32>, %w: tensor<3072x512xf32>) {
  // expected-error @+1 {{'weight' has in_features = 512 but the last dimension of 'input' is 768}}
  %r = slm.linear %x, %w : (tensor<2x768xf32>, tensor<3072x512xf32>) -> tensor<2x3072xf32>
  return
}

// -----

// Tests that bf16 products need an even in_features.
func.func @bf16_odd(%x: tensor<2x7xf32>, %w: tensor<16x7xf32>) {
  // expected-error @+1 {{bf16 precision needs a static, even in_features (products are taken two k at a time), got 7}}
  %r = slm.linear %x, %w {precision = #slm.precision<bf16>} : (tensor<2x7xf32>, tensor<16x7xf32>) -> tensor<2x16xf32>
  return
}

// -----

// Tests that bf16 products and W8A8 exclude each other.
func.func @bf16_w8a8(%x: tensor<2x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{bf16 precision and input quantization exclude each other}}
  %r = slm.linear %x, %w {precision = #slm.precision<bf16>, input_quant = #slm.input_quant<per_token>} : (tensor<2x8xf32>, tensor<16x8xf32>) -> tensor<2x16xf32>
  return
}

// -----

// Tests that the bias has one entry per output feature.
func.func @case35(%x: tensor<2x4xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'bias' must be [8] (out_features), got 'tensor<4xf32>'}}
  %r = slm.linear %x, %w, %b : (tensor<2x4xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that the linear result replaces the last dimension.
func.func @case36(%x: tensor<2x4xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{result shape 2x4 does not match the expected shape 2x8}}
  %r = slm.linear %x, %w : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

// Tests that attention operands are [batch, seq, width].
func.func @case37(%q: tensor<8x768xf32>) {
  // expected-error @+1 {{'query' must be [batch, seq, heads * head_dim], got 'tensor<8x768xf32>'}}
  %r = slm.attention %q, %q, %q {num_heads = 12 : i64} : (tensor<8x768xf32>, tensor<8x768xf32>, tensor<8x768xf32>) -> tensor<8x768xf32>
  return
}

// -----

// Tests that heads divide the width.
func.func @case38(%q: tensor<1x8x770xf32>) {
  // expected-error @+1 {{'query' width 770 is not divisible by num_heads = 12}}
  %r = slm.attention %q, %q, %q {num_heads = 12 : i64} : (tensor<1x8x770xf32>, tensor<1x8x770xf32>, tensor<1x8x770xf32>) -> tensor<1x8x770xf32>
  return
}

// -----

// Tests that query and value widths are static.
func.func @case39(%q: tensor<1x8x?xf32>) {
  // expected-error @+1 {{'query' and 'value' widths must be static}}
  %r = slm.attention %q, %q, %q {num_heads = 12 : i64} : (tensor<1x8x?xf32>, tensor<1x8x?xf32>, tensor<1x8x?xf32>) -> tensor<1x8x?xf32>
  return
}

// -----

// Tests that keys are as wide as queries.
func.func @case40(%q: tensor<1x8x768xf32>, %k: tensor<1x8x384xf32>) {
  // expected-error @+1 {{'key' width 384 differs from 'query' width 768}}
  %r = slm.attention %q, %k, %q {num_heads = 12 : i64} : (tensor<1x8x768xf32>, tensor<1x8x384xf32>, tensor<1x8x768xf32>) -> tensor<1x8x768xf32>
  return
}

// -----

// Tests that attention batch sizes agree.
func.func @case41(%q: tensor<1x8x768xf32>, %k: tensor<2x8x768xf32>) {
  // expected-error @+1 {{'query', 'key' and 'value' batch sizes differ: 1, 2, 2}}
  %r = slm.attention %q, %k, %k {num_heads = 12 : i64} : (tensor<1x8x768xf32>, tensor<2x8x768xf32>, tensor<2x8x768xf32>) -> tensor<1x8x768xf32>
  return
}

// -----

// Tests that keys and values have the same positions.
func.func @case42(%q: tensor<1x8x768xf32>, %v: tensor<1x9x768xf32>) {
  // expected-error @+1 {{'key' has 8 positions but 'value' has 9}}
  %r = slm.attention %q, %q, %v {num_heads = 12 : i64} : (tensor<1x8x768xf32>, tensor<1x8x768xf32>, tensor<1x9x768xf32>) -> tensor<1x8x768xf32>
  return
}

// -----

// Tests that the attention scale is positive.
func.func @case43(%q: tensor<1x8x768xf32>) {
  // expected-error @+1 {{scale must be positive, got -1.000000e+00}}
  %r = slm.attention %q, %q, %q {num_heads = 12 : i64, scale = -1.0 : f64} : (tensor<1x8x768xf32>, tensor<1x8x768xf32>, tensor<1x8x768xf32>) -> tensor<1x8x768xf32>
  return
}

// -----

// Tests that masks are boolean or additive.
func.func @case44(%q: tensor<1x8x768xf32>, %m: tensor<1x8xi32>) {
  // expected-error @+1 {{'mask' must hold i1 (keep) or 'f32' (additive) values, got 'i32'}}
  %r = slm.attention %q, %q, %q, %m {num_heads = 12 : i64} : (tensor<1x8x768xf32>, tensor<1x8x768xf32>, tensor<1x8x768xf32>, tensor<1x8xi32>) -> tensor<1x8x768xf32>
  return
}

// -----

// Tests that masks broadcast to the score shape.
func.func @case45(%q: tensor<1x8x768xf32>, %m: tensor<1x7xi1>) {
  // expected-error @+1 {{'mask' ('tensor<1x7xi1>') does not broadcast to [batch, heads, query_seq, key_seq] = 1x12x8x8}}
  %r = slm.attention %q, %q, %q, %m {num_heads = 12 : i64} : (tensor<1x8x768xf32>, tensor<1x8x768xf32>, tensor<1x8x768xf32>, tensor<1x7xi1>) -> tensor<1x8x768xf32>
  return
}

// -----

// Tests that the attention result has the value's width.
func.func @case46(%q: tensor<1x8x768xf32>, %v: tensor<1x8x384xf32>) {
  // expected-error @+1 {{result shape 1x8x768 does not match the expected shape 1x8x384}}
  %r = slm.attention %q, %q, %v {num_heads = 12 : i64} : (tensor<1x8x768xf32>, tensor<1x8x768xf32>, tensor<1x8x384xf32>) -> tensor<1x8x768xf32>
  return
}

// -----

// Tests that layer_norm's axis is in range.
func.func @case47(%x: tensor<2x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{axis 2 is out of range for 'input' of rank 2}}
  %r = slm.layer_norm %x, %g {axis = 2 : i64} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that gamma has the normalized shape.
func.func @case48(%x: tensor<2x8xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{'gamma' must have the normalized shape 8, got 'tensor<4xf32>'}}
  %r = slm.layer_norm %x, %g : (tensor<2x8xf32>, tensor<4xf32>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that beta has the normalized shape.
func.func @case49(%x: tensor<2x8xf32>, %g: tensor<8xf32>, %b: tensor<2x8xf32>) {
  // expected-error @+1 {{'beta' must have the normalized shape 8, got 'tensor<2x8xf32>'}}
  %r = slm.layer_norm %x, %g, %b : (tensor<2x8xf32>, tensor<8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that layer_norm's epsilon is not negative.
func.func @case50(%x: tensor<2x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be >= 0}}
  %r = slm.layer_norm %x, %g {epsilon = -1.0 : f64} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that layer_norm keeps the input type.
func.func @case51(%x: tensor<2x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{result type 'tensor<?x8xf32>' differs from 'input' type 'tensor<2x8xf32>'}}
  %r = slm.layer_norm %x, %g : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

// Tests that rms_norm needs a non-scalar input.
func.func @case52(%x: tensor<f32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'input' must have rank >= 1}}
  %r = slm.rms_norm %x, %g : (tensor<f32>, tensor<8xf32>) -> tensor<f32>
  return
}

// -----

// Tests that rms_norm's gamma matches the last dimension.
func.func @case53(%x: tensor<2x8xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{'gamma' must be [8], got 'tensor<4xf32>'}}
  %r = slm.rms_norm %x, %g : (tensor<2x8xf32>, tensor<4xf32>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that rms_norm's epsilon is not negative.
func.func @case54(%x: tensor<2x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be >= 0}}
  %r = slm.rms_norm %x, %g {epsilon = -1.0 : f64} : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

// Tests that rms_norm keeps the input type.
func.func @case55(%x: tensor<2x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{result type 'tensor<2x?xf32>' differs from 'input' type 'tensor<2x8xf32>'}}
  %r = slm.rms_norm %x, %g : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x?xf32>
  return
}

// -----

// Tests that embedding tables are [vocab, dim].
func.func @case56(%t: tensor<10xf32>, %i: tensor<4xi64>) {
  // expected-error @+1 {{'table' must be 2-D [vocab, dim], got 'tensor<10xf32>'}}
  %r = slm.embedding %t[%i] : (tensor<10xf32>, tensor<4xi64>) -> tensor<4x1xf32>
  return
}

// -----

// Tests that embedding appends the row width.
func.func @case57(%t: tensor<10x8xf32>, %i: tensor<?x4xi64>) {
  // expected-error @+1 {{result shape ?x8 does not match the expected shape ?x4x8}}
  %r = slm.embedding %t[%i] : (tensor<10x8xf32>, tensor<?x4xi64>) -> tensor<?x8xf32>
  return
}

// -----

// Tests that quantized weights are static matrices.
func.func @case58(%c: tensor<8x4xi8>, %s: tensor<8x1xf32>) {
  // expected-error @+1 {{result must be a static 2-D [out, in] weight, got 'tensor<?x4xf32>'}}
  %w = slm.dequantize_weight <int8> %c, %s : (tensor<8x4xi8>, tensor<8x1xf32>) -> tensor<?x4xf32>
  return
}

// -----

// Tests that int4 codes pack two per byte.
func.func @case59(%c: tensor<8x64xi8>, %s: tensor<8x1xf32>) {
  // expected-error @+1 {{'codes' must be [8, 32] for a int4 weight of shape 8x64 (two codes per byte), got 'tensor<8x64xi8>'}}
  %w = slm.dequantize_weight <int4> %c, %s : (tensor<8x64xi8>, tensor<8x1xf32>) -> tensor<8x64xf32>
  return
}

// -----

// Tests that groups divide the row.
func.func @case60(%c: tensor<8x96xi8>, %s: tensor<8x1xf32>) {
  // expected-error @+1 {{group_size 64 does not divide in_features = 96}}
  %w = slm.dequantize_weight <int8> %c, %s group_size 64 : (tensor<8x96xi8>, tensor<8x1xf32>) -> tensor<8x96xf32>
  return
}

// -----

// Tests that one scale per row and group.
func.func @case61(%c: tensor<8x128xi8>, %s: tensor<8x1xf32>) {
  // expected-error @+1 {{'scales' must be [8, 4] (one per row and group), got 'tensor<8x1xf32>'}}
  %w = slm.dequantize_weight <int8> %c, %s group_size 32 : (tensor<8x128xi8>, tensor<8x1xf32>) -> tensor<8x128xf32>
  return
}

// -----

// Tests that the dense weight has the scales' element type.
func.func @case62(%c: tensor<8x128xi8>, %s: tensor<8x1xf16>) {
  // expected-error @+1 {{'result' has element type 'f32' but 'scales' has 'f16'}}
  %w = slm.dequantize_weight <int8> %c, %s : (tensor<8x128xi8>, tensor<8x1xf16>) -> tensor<8x128xf32>
  return
}

// -----

// Tests that nf4 has no zero points.
func.func @case63(%c: tensor<8x64xi8>, %s: tensor<8x1xf32>, %z: tensor<8x1xi8>) {
  // expected-error @+1 {{nf4 codes are symmetric and take no 'zero_points'}}
  %w = slm.dequantize_weight <nf4> %c, %s zero_points %z : (tensor<8x64xi8>, tensor<8x1xf32>, tensor<8x1xi8>) -> tensor<8x128xf32>
  return
}

// -----

// Tests that zero points are shaped like scales.
func.func @case64(%c: tensor<8x128xi8>, %s: tensor<8x2xf32>, %z: tensor<8x1xi8>) {
  // expected-error @+1 {{'zero_points' must be shaped like 'scales' [8, 2], got 'tensor<8x1xi8>'}}
  %w = slm.dequantize_weight <int8> %c, %s zero_points %z group_size 64 : (tensor<8x128xi8>, tensor<8x2xf32>, tensor<8x1xi8>) -> tensor<8x128xf32>
  return
}

// -----

// Tests that sparse weights are static matrices.
func.func @case65(%v: tensor<?x4x4xf32>, %c: tensor<?xi32>, %o: tensor<3xi32>) {
  // expected-error @+1 {{result must be a static 2-D [out, in] weight, got 'tensor<8x?xf32>'}}
  %w = slm.sparse_weight %v, %c, %o block_shape [4, 4] : (tensor<?x4x4xf32>, tensor<?xi32>, tensor<3xi32>) -> tensor<8x?xf32>
  return
}

// -----

// Tests that blocks have two positive extents.
func.func @case66(%v: tensor<?x4x4xf32>, %c: tensor<?xi32>, %o: tensor<3xi32>) {
  // expected-error @+1 {{block_shape must be two positive extents, got [4, 0]}}
  %w = slm.sparse_weight %v, %c, %o block_shape [4, 0] : (tensor<?x4x4xf32>, tensor<?xi32>, tensor<3xi32>) -> tensor<8x8xf32>
  return
}

// -----

// Tests that blocks tile the weight.
func.func @case67(%v: tensor<?x3x4xf32>, %c: tensor<?xi32>, %o: tensor<3xi32>) {
  // expected-error @+1 {{block_shape [3, 4] does not tile the weight 8x8}}
  %w = slm.sparse_weight %v, %c, %o block_shape [3, 4] : (tensor<?x3x4xf32>, tensor<?xi32>, tensor<3xi32>) -> tensor<8x8xf32>
  return
}

// -----

// Tests that values hold whole blocks.
func.func @case68(%v: tensor<?x4x2xf32>, %c: tensor<?xi32>, %o: tensor<3xi32>) {
  // expected-error @+1 {{'values' must be [nnz_blocks, 4, 4], got 'tensor<?x4x2xf32>'}}
  %w = slm.sparse_weight %v, %c, %o block_shape [4, 4] : (tensor<?x4x2xf32>, tensor<?xi32>, tensor<3xi32>) -> tensor<8x8xf32>
  return
}

// -----

// Tests that one column index per block.
func.func @case69(%v: tensor<3x4x4xf32>, %c: tensor<2xi32>, %o: tensor<3xi32>) {
  // expected-error @+1 {{'col_indices' has 2 entries but 'values' has 3 blocks}}
  %w = slm.sparse_weight %v, %c, %o block_shape [4, 4] : (tensor<3x4x4xf32>, tensor<2xi32>, tensor<3xi32>) -> tensor<8x8xf32>
  return
}

// -----

// Tests that one row offset per block row, plus one.
func.func @case70(%v: tensor<3x4x4xf32>, %c: tensor<3xi32>, %o: tensor<2xi32>) {
  // expected-error @+1 {{'row_offsets' must have 3 entries (block rows + 1), got 2}}
  %w = slm.sparse_weight %v, %c, %o block_shape [4, 4] : (tensor<3x4x4xf32>, tensor<3xi32>, tensor<2xi32>) -> tensor<8x8xf32>
  return
}

// -----

// Tests that token pruning needs a ratio or a count.
func.func @case71(%h: tensor<1x8x4xf32>, %i: tensor<1x8xf32>) {
  // expected-error @+1 {{needs exactly one of keep_ratio and top_k}}
  %r, %k = slm.prune_tokens %h, %i : (tensor<1x8x4xf32>, tensor<1x8xf32>) -> (tensor<1x?x4xf32>, tensor<1x?xi64>)
  return
}

// -----

// Tests that token pruning takes a ratio or a count, not both.
func.func @case72(%h: tensor<1x8x4xf32>, %i: tensor<1x8xf32>) {
  // expected-error @+1 {{needs exactly one of keep_ratio and top_k}}
  %r, %k = slm.prune_tokens %h, %i {keep_ratio = 0.5 : f64, top_k = 2 : i64} : (tensor<1x8x4xf32>, tensor<1x8xf32>) -> (tensor<1x?x4xf32>, tensor<1x?xi64>)
  return
}

// -----

// Tests that the keep ratio is a fraction.
func.func @case73(%h: tensor<1x8x4xf32>, %i: tensor<1x8xf32>) {
  // expected-error @+1 {{keep_ratio must be in (0, 1], got 1.500000e+00}}
  %r, %k = slm.prune_tokens %h, %i {keep_ratio = 1.5 : f64} : (tensor<1x8x4xf32>, tensor<1x8xf32>) -> (tensor<1x?x4xf32>, tensor<1x?xi64>)
  return
}

// -----

// Tests that keep_leading is not negative.
func.func @case74(%h: tensor<1x8x4xf32>, %i: tensor<1x8xf32>) {
  // expected-error @+1 {{keep_leading must be >= 0, got -1}}
  %r, %k = slm.prune_tokens %h, %i {top_k = 2 : i64, keep_leading = -1 : i64} : (tensor<1x8x4xf32>, tensor<1x8xf32>) -> (tensor<1x?x4xf32>, tensor<1x?xi64>)
  return
}

// -----

// Tests that hidden states are [batch, seq, dim].
func.func @case75(%h: tensor<8x4xf32>, %i: tensor<1x8xf32>) {
  // expected-error @+1 {{'hidden' must be [batch, seq, dim], got 'tensor<8x4xf32>'}}
  %r, %k = slm.prune_tokens %h, %i {top_k = 2 : i64} : (tensor<8x4xf32>, tensor<1x8xf32>) -> (tensor<1x?x4xf32>, tensor<1x?xi64>)
  return
}

// -----

// Tests that one importance score per token.
func.func @case76(%h: tensor<1x8x4xf32>, %i: tensor<1x7xf32>) {
  // expected-error @+1 {{'importance' must be [batch, seq] = [1, 8] (one score per token), got 'tensor<1x7xf32>'}}
  %r, %k = slm.prune_tokens %h, %i {top_k = 2 : i64} : (tensor<1x8x4xf32>, tensor<1x7xf32>) -> (tensor<1x?x4xf32>, tensor<1x?xi64>)
  return
}

// -----

// Tests that pruned states keep batch and width.
func.func @case77(%h: tensor<1x8x4xf32>, %i: tensor<1x8xf32>) {
  // expected-error @+1 {{result shape 1x?x8 does not match the expected shape 1x?x4}}
  %r, %k = slm.prune_tokens %h, %i {top_k = 2 : i64} : (tensor<1x8x4xf32>, tensor<1x8xf32>) -> (tensor<1x?x8xf32>, tensor<1x?xi64>)
  return
}

// -----

// Tests that kept positions match the pruned states.
func.func @case78(%h: tensor<1x8x4xf32>, %i: tensor<1x8xf32>) {
  // expected-error @+1 {{'kept_positions' must be [batch, kept_seq], got 'tensor<2x?xi64>'}}
  %r, %k = slm.prune_tokens %h, %i {top_k = 2 : i64} : (tensor<1x8x4xf32>, tensor<1x8xf32>) -> (tensor<1x?x4xf32>, tensor<2x?xi64>)
  return
}

// -----

// Tests that seq_dims hold 1 or 2.
func.func @case79(%q: tensor<1x4x2x8xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{seq_dims must hold 1 or 2 for each of query, key and value}}
  %r = slm.fused_attention %q, %q, %q outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 3, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that operands are all tensors or all buffers.
func.func @case80(%q: tensor<1x4x2x8xf32>, %o: memref<1x4x16xf32>) {
  // expected-error @+1 {{operands must be all tensors or all buffers}}
  %r = slm.fused_attention %q, %q, %q outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, memref<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that the op on tensors has a result.
func.func @case81(%q: tensor<1x4x2x8xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{on tensors has one result}}
  slm.fused_attention %q, %q, %q outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x16xf32>) -> ()
  return
}

// -----

// Tests that the result is typed as init.
func.func @case82(%q: tensor<1x4x2x8xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{result type must be the type of 'init'}}
  %r = slm.fused_attention %q, %q, %q outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x16xf32>) -> tensor<1x?x16xf32>
  return
}

// -----

// Tests that Q, K and V are rank 4.
func.func @case83(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x16xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{'key' must be rank 4, got 'tensor<1x4x16xf32>'}}
  %r = slm.fused_attention %q, %k, %q outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x16xf32>, tensor<1x4x2x8xf32>, tensor<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that the query has num_heads heads.
func.func @case84(%q: tensor<1x4x2x8xf32>, %o: tensor<1x4x32xf32>) {
  // expected-error @+1 {{'query' must have num_heads = 4 heads, got 2}}
  %r = slm.fused_attention %q, %q, %q outs %o {num_heads = 4 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x32xf32>) -> tensor<1x4x32xf32>
  return
}

// -----

// Tests that key/value heads divide the query heads.
func.func @case85(%q: tensor<1x4x4x8xf32>, %k: tensor<1x4x3x8xf32>, %o: tensor<1x4x32xf32>) {
  // expected-error @+1 {{'key' and 'value' must have the same static number of heads, dividing num_heads = 4; got 3 and 3}}
  %r = slm.fused_attention %q, %k, %k outs %o {num_heads = 4 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x4x8xf32>, tensor<1x4x3x8xf32>, tensor<1x4x3x8xf32>, tensor<1x4x32xf32>) -> tensor<1x4x32xf32>
  return
}

// -----

// Tests that head widths of Q and K agree.
func.func @case86(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x2x4xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{head widths must be static and equal for 'query' and 'key', got 8 and 4}}
  %r = slm.fused_attention %q, %k, %q outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x4xf32>, tensor<1x4x2x8xf32>, tensor<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that batch sizes agree.
func.func @case87(%q: tensor<1x4x2x8xf32>, %k: tensor<2x4x2x8xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{'query', 'key' and 'value' batch sizes differ}}
  %r = slm.fused_attention %q, %k, %k outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>, tensor<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that keys and values have as many positions.
func.func @case88(%q: tensor<1x4x2x8xf32>, %v: tensor<1x5x2x8xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{'key' has 4 positions but 'value' has 5}}
  %r = slm.fused_attention %q, %q, %v outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x5x2x8xf32>, tensor<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that the fused attention's scale is positive.
func.func @case89(%q: tensor<1x4x2x8xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{scale must be positive}}
  %r = slm.fused_attention %q, %q, %q outs %o {num_heads = 2 : i64, scale = 0.0 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that the fused attention's mask broadcasts to the scores.
func.func @case90(%q: tensor<1x4x2x8xf32>, %m: tensor<1x1x3x4xf32>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{'mask' ('tensor<1x1x3x4xf32>') does not broadcast to [batch, heads, query_seq, key_seq] = 1x2x4x4}}
  %r = slm.fused_attention %q, %q, %q mask %m outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x1x3x4xf32>, tensor<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that init is [batch, query_seq, heads * value width].
func.func @case91(%q: tensor<1x4x2x8xf32>, %o: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'init' must be [batch, query_seq, num_heads * value_head_dim] = [1, 4, 16], got 'tensor<1x4x8xf32>'}}
  %r = slm.fused_attention %q, %q, %q outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

// Tests that a packed batch (offsets) has no mask.
func.func @case92(%q: tensor<1x4x2x8xf32>, %m: tensor<1x1x1x4xf32>, %off: tensor<3xindex>, %o: tensor<1x4x16xf32>) {
  // expected-error @+1 {{a packed batch ('offsets') has no 'mask'}}
  %r = slm.fused_attention %q, %q, %q mask %m offsets %off outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x1x1x4xf32>, tensor<3xindex>, tensor<1x4x16xf32>) -> tensor<1x4x16xf32>
  return
}

// -----

// Tests that a packed batch's operands have batch 1.
func.func @case93(%q: tensor<2x4x2x8xf32>, %off: tensor<3xindex>, %o: tensor<2x4x16xf32>) {
  // expected-error @+1 {{with 'offsets', 'query' must have batch 1 (the packed sequences), got 'tensor<2x4x2x8xf32>'}}
  %r = slm.fused_attention %q, %q, %q offsets %off outs %o {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>, tensor<3xindex>, tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  return
}

// -----

// Tests that importance sums are [batch, key_seq].
func.func @case94(%q: tensor<2x4x2x8xf32>, %o: tensor<2x4x16xf32>, %i: tensor<2x3xf32>) {
  // expected-error @+1 {{'importance' must be [batch, key_seq] = [2, 4], got 'tensor<2x3xf32>'}}
  %r:2 = slm.fused_attention %q, %q, %q outs %o importance %i {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>, tensor<2x4x16xf32>, tensor<2x3xf32>) -> (tensor<2x4x16xf32>, tensor<2x3xf32>)
  return
}

// -----

// Tests that on tensors each destination has its result.
func.func @case95(%q: tensor<2x4x2x8xf32>, %o: tensor<2x4x16xf32>, %i: tensor<2x4xf32>) {
  // expected-error @+1 {{on tensors has one result per destination}}
  %r = slm.fused_attention %q, %q, %q outs %o importance %i {num_heads = 2 : i64, scale = 0.5 : f64, seq_dims = array<i64: 1, 1, 1>} : (tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>, tensor<2x4x16xf32>, tensor<2x4xf32>) -> tensor<2x4x16xf32>
  return
}
