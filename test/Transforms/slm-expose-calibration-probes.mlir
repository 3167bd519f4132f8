// RUN: slm-opt %s --slm-expose-calibration-probes | FileCheck %s
// RUN: slm-opt %s --slm-expose-calibration-probes="all-linears=true" | FileCheck %s --check-prefix=ALL

// One post-norm block: the probes are the output projection's input, the
// FFN down projection's input, and the block's input and output.

// CHECK-LABEL: func.func @block
// CHECK-SAME: -> (tensor<1x3x4xf32> {slm.name = "y"}, tensor<1x3x4xf32> {slm.name = "slm.probe.0"}, tensor<1x3x8xf32> {slm.name = "slm.probe.1"}, tensor<1x3x4xf32> {slm.name = "slm.probe.2"}, tensor<1x3x4xf32> {slm.name = "slm.probe.3"})
// CHECK: %[[A:.*]] = slm.attention
// CHECK: %[[H:.*]] = slm.linear {{.*}}activation = #slm.activation<gelu>
// CHECK: %[[Y:.*]] = slm.layer_norm
// CHECK: return %[[Y]], %[[A]], %[[H]], %arg0, %[[Y]]
// all-linears: then the other linear inputs, each once: Q/K/V's (%x) and
// the FFN up projection's (the first layer norm's output).
// ALL-LABEL: func.func @block
// ALL-SAME: tensor<1x3x4xf32> {slm.name = "slm.probe.4"}, tensor<1x3x4xf32> {slm.name = "slm.probe.5"})
// ALL: %[[N:.*]] = slm.layer_norm
// ALL: %[[Y2:.*]] = slm.layer_norm
// ALL: return %[[Y2]], %{{.*}}, %{{.*}}, %arg0, %[[Y2]], %arg0, %[[N]]
func.func @block(%x: tensor<1x3x4xf32>) -> (tensor<1x3x4xf32> {slm.name = "y"}) {
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
  return %y0 : tensor<1x3x4xf32>
}
