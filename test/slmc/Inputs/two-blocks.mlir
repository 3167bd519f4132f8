// Two post-norm transformer blocks (hidden 4, 2 heads, FFN 8) with
// constant weights: input for the compression flags of slmc.
func.func @main(%x: tensor<1x3x4xf32> {slm.name = "x"}) -> (tensor<1x3x4xf32> {slm.name = "y"}) {
  %w = arith.constant dense<[[0.3, -0.2, 0.1, 0.4], [0.2, 0.1, -0.3, 0.2], [-0.1, 0.4, 0.2, 0.1], [0.3, 0.2, 0.1, -0.4]]> : tensor<4x4xf32>
  %wk = arith.constant dense<[[0.1, 0.2, -0.3, 0.1], [0.4, -0.1, 0.2, 0.3], [0.2, 0.3, 0.1, -0.2], [-0.3, 0.1, 0.4, 0.2]]> : tensor<4x4xf32>
  %wv = arith.constant dense<[[0.2, 0.1, 0.4, -0.1], [-0.2, 0.3, 0.1, 0.2], [0.1, -0.4, 0.3, 0.2], [0.3, 0.2, -0.1, 0.1]]> : tensor<4x4xf32>
  %b = arith.constant dense<0.5> : tensor<4xf32>
  %w1 = arith.constant dense<0.25> : tensor<8x4xf32>
  %w2 = arith.constant dense<0.125> : tensor<4x8xf32>
  %g = arith.constant dense<1.0> : tensor<4xf32>
  %q0 = slm.linear %x, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %k0 = slm.linear %x, %wk : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %v0 = slm.linear %x, %wv : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %a0 = slm.attention %q0, %k0, %v0 {num_heads = 2 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %o0 = slm.linear %a0, %w, %b : (tensor<1x3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %r0 = slm.add %x, %o0 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %n0 = slm.layer_norm %r0, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %h0 = slm.linear %n0, %w1 {activation = #slm.activation<gelu>} : (tensor<1x3x4xf32>, tensor<8x4xf32>) -> tensor<1x3x8xf32>
  %d0 = slm.linear %h0, %w2 : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
  %s0 = slm.add %n0, %d0 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %y0 = slm.layer_norm %s0, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %q1 = slm.linear %y0, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %k1 = slm.linear %y0, %wk : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %v1 = slm.linear %y0, %wv : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %a1 = slm.attention %q1, %k1, %v1 {num_heads = 2 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %o1 = slm.linear %a1, %w, %b : (tensor<1x3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %r1 = slm.add %y0, %o1 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %n1 = slm.layer_norm %r1, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %h1 = slm.linear %n1, %w1 {activation = #slm.activation<gelu>} : (tensor<1x3x4xf32>, tensor<8x4xf32>) -> tensor<1x3x8xf32>
  %d1 = slm.linear %h1, %w2 : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
  %s1 = slm.add %n1, %d1 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %y1 = slm.layer_norm %s1, %g, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<1x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  return %y1 : tensor<1x3x4xf32>
}
