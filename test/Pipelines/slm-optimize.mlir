// RUN: slm-opt %s --slm-optimize | FileCheck %s
// RUN: slm-opt %s --slm-optimize=fuse-linear-activation=false | FileCheck %s --check-prefix=NOFUSE

// Tests that the optimize phase pipeline fuses the GELU into the linear
// layer, and that the fusion can be switched off by its declared option.

// CHECK-LABEL: func @ffn
// CHECK: slm.linear %{{.*}}, %{{.*}} {activation = #slm.activation<gelu>}
// CHECK-NOT: slm.gelu
// NOFUSE: slm.linear
// NOFUSE-NOT: activation
// NOFUSE: slm.gelu
func.func @ffn(%x: tensor<?x16xf32>) -> tensor<?x32xf32> {
  %w = arith.constant dense<0.01> : tensor<32x16xf32>
  %h = slm.linear %x, %w : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
  %g = slm.gelu %h : tensor<?x32xf32>
  return %g : tensor<?x32xf32>
}
