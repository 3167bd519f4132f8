// RUN: slm-opt %s --slm-approximate-math | FileCheck %s

// Tests that erf, exp and tanh (scalar and vector) become arithmetic: no
// math op is left to turn into a libm call.
// CHECK-LABEL: func @gelu_parts
// CHECK-NOT: math.erf
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK: arith.mulf
// CHECK: return
func.func @gelu_parts(%x: f32, %v: vector<16xf32>) -> (f32, f32, vector<16xf32>) {
  %e = math.erf %x : f32
  %x2 = math.exp %x : f32
  %t = math.tanh %v : vector<16xf32>
  return %e, %x2, %t : f32, f32, vector<16xf32>
}
