// RUN: slmc %s --emit=mlir | FileCheck %s
// RUN: slmc %s --emit=mlir --fuse-linear-activation=false | FileCheck %s --check-prefix=NOFUSE
// RUN: slmc %s -o %t.mlir && FileCheck %s < %t.mlir
// RUN: slmc %s --mlir-print-ir-after-all -o /dev/null 2>&1 | FileCheck %s --check-prefix=DEBUG

// Tests that slmc runs the optimization pipeline: the zero bias is dropped,
// the GELU fused, and each fusion can be switched off.

// CHECK-LABEL: func @ffn
// CHECK: slm.linear %{{.*}}, %{{.*}} {activation = #slm.activation<gelu>}
// CHECK-NOT: slm.gelu
// NOFUSE: slm.linear
// NOFUSE-NOT: activation
// NOFUSE: slm.gelu
// DEBUG: IR Dump After Canonicalizer
// DEBUG: IR Dump After SLMFuseLinearActivation
func.func @ffn(%x: tensor<?x384xf32>) -> tensor<?x1536xf32> {
  %w = arith.constant dense<0.01> : tensor<1536x384xf32>
  %b = arith.constant dense<0.0> : tensor<1536xf32>
  %h = slm.linear %x, %w, %b : (tensor<?x384xf32>, tensor<1536x384xf32>, tensor<1536xf32>) -> tensor<?x1536xf32>
  %g = slm.gelu %h : tensor<?x1536xf32>
  return %g : tensor<?x1536xf32>
}
