// RUN: slm-opt %s -split-input-file --slm-fuse-linear-activation | FileCheck %s

// Tests that an erf GELU after a linear becomes its epilogue.
// CHECK-LABEL: func @gelu
// CHECK-NEXT: %[[Y:.+]] = slm.linear %{{.*}}, %{{.*}}, %{{.*}} {activation = #slm.activation<gelu>}
// CHECK-NEXT: return %[[Y]]
func.func @gelu(%x: tensor<?x768xf32>, %w: tensor<3072x768xf32>, %b: tensor<3072xf32>) -> tensor<?x3072xf32> {
  %h = slm.linear %x, %w, %b : (tensor<?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x3072xf32>
  %g = slm.gelu %h : tensor<?x3072xf32>
  return %g : tensor<?x3072xf32>
}

// -----

// Tests that the tanh form keeps its approximation.
// CHECK-LABEL: func @gelu_tanh
// CHECK: slm.linear {{.*}} {activation = #slm.activation<gelu_tanh>}
// CHECK-NOT: slm.gelu
func.func @gelu_tanh(%x: tensor<?x768xf32>, %w: tensor<3072x768xf32>) -> tensor<?x3072xf32> {
  %h = slm.linear %x, %w : (tensor<?x768xf32>, tensor<3072x768xf32>) -> tensor<?x3072xf32>
  %g = slm.gelu %h approximate <tanh> : tensor<?x3072xf32>
  return %g : tensor<?x3072xf32>
}

// -----

// Tests that ReLU spelled as max against zero fuses, in either operand order.
// CHECK-LABEL: func @relu
// CHECK: slm.linear {{.*}} {activation = #slm.activation<relu>}
// CHECK: slm.linear {{.*}} {activation = #slm.activation<relu>}
// CHECK-NOT: slm.max
func.func @relu(%x: tensor<?x512xf32>, %w: tensor<2048x512xf32>) -> (tensor<?x2048xf32>, tensor<?x2048xf32>) {
  %zero = arith.constant dense<0.0> : tensor<f32>
  %h = slm.linear %x, %w : (tensor<?x512xf32>, tensor<2048x512xf32>) -> tensor<?x2048xf32>
  %r = slm.max %h, %zero : (tensor<?x2048xf32>, tensor<f32>) -> tensor<?x2048xf32>
  %h2 = slm.linear %x, %w : (tensor<?x512xf32>, tensor<2048x512xf32>) -> tensor<?x2048xf32>
  %r2 = slm.max %zero, %h2 : (tensor<f32>, tensor<?x2048xf32>) -> tensor<?x2048xf32>
  return %r, %r2 : tensor<?x2048xf32>, tensor<?x2048xf32>
}

// -----

// Tests that a linear whose result is used elsewhere too is left alone: the
// other user needs the value before the activation.
// CHECK-LABEL: func @other_use
// CHECK: %[[H:.+]] = slm.linear
// CHECK-NOT: activation
// CHECK: slm.gelu %[[H]]
func.func @other_use(%x: tensor<?x768xf32>, %w: tensor<3072x768xf32>) -> (tensor<?x3072xf32>, tensor<?x3072xf32>) {
  %h = slm.linear %x, %w : (tensor<?x768xf32>, tensor<3072x768xf32>) -> tensor<?x3072xf32>
  %g = slm.gelu %h : tensor<?x3072xf32>
  return %g, %h : tensor<?x3072xf32>, tensor<?x3072xf32>
}

// -----

// Tests that a second activation does not stack on an existing epilogue, and
// that max against a non-zero constant is not a ReLU.
// CHECK-LABEL: func @no_stacking
// CHECK: slm.linear {{.*}} {activation = #slm.activation<gelu>}
// CHECK: slm.gelu
// CHECK: slm.max
func.func @no_stacking(%x: tensor<?x768xf32>, %w: tensor<3072x768xf32>) -> (tensor<?x3072xf32>, tensor<?x3072xf32>) {
  %h = slm.linear %x, %w {activation = #slm.activation<gelu>} : (tensor<?x768xf32>, tensor<3072x768xf32>) -> tensor<?x3072xf32>
  %g = slm.gelu %h : tensor<?x3072xf32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %h2 = slm.linear %x, %w : (tensor<?x768xf32>, tensor<3072x768xf32>) -> tensor<?x3072xf32>
  %m = slm.max %h2, %one : (tensor<?x3072xf32>, tensor<f32>) -> tensor<?x3072xf32>
  return %g, %m : tensor<?x3072xf32>, tensor<?x3072xf32>
}

// -----

// Tests that a max that broadcasts the linear's result is not fused.
// CHECK-LABEL: func @relu_broadcast
// CHECK: slm.max
func.func @relu_broadcast(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) -> tensor<2x4x16xf32> {
  %zero = arith.constant dense<0.0> : tensor<2x1x1xf32>
  %h = slm.linear %x, %w : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  %r = slm.max %h, %zero : (tensor<4x16xf32>, tensor<2x1x1xf32>) -> tensor<2x4x16xf32>
  return %r : tensor<2x4x16xf32>
}
