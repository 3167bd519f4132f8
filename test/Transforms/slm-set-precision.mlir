// RUN: slm-opt %s --slm-set-precision 2>&1 | FileCheck %s
// RUN: slm-opt %s --slm-set-precision --slm-set-precision=precision=f32 | FileCheck %s --check-prefix=F32
// RUN: not slm-opt %s --slm-set-precision=precision=fp8 2>&1 | FileCheck %s --check-prefix=BAD

// A float constant weight with an even in_features computes in bf16; a
// quantized weight, a W8A8 layer, a computed weight and an odd in_features
// (with a warning naming it) stay f32. precision=f32 takes it back.
// CHECK: warning: kept in f32: bf16 products need an even in_features, this layer has 3
// CHECK-LABEL: func @linears
// CHECK: slm.linear %arg0, %{{.+}}, %{{.+}} {precision = #slm.precision<bf16>} : (tensor<?x4xf32>, tensor<8x4xf32>, tensor<8xf32>)
// CHECK: slm.linear %arg0, %{{.+}} : (tensor<?x4xf32>, tensor<8x4xf32>)
// CHECK: slm.linear %arg0, %{{.+}} {input_quant = #slm.input_quant<per_token>} : (tensor<?x4xf32>, tensor<8x4xf32>)
// CHECK: slm.linear %arg0, %arg1 : (tensor<?x4xf32>, tensor<8x4xf32>)
// CHECK: slm.linear %arg2, %{{.+}} : (tensor<?x3xf32>, tensor<8x3xf32>)
// F32-LABEL: func @linears
// F32-NOT: precision
// BAD: error: slm-set-precision: precision must be bf16 or f32, not 'fp8'
func.func @linears(%x: tensor<?x4xf32>, %w_in: tensor<8x4xf32>, %x3: tensor<?x3xf32>)
    -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %w = arith.constant dense<0.5> : tensor<8x4xf32>
  %b = arith.constant dense<0.25> : tensor<8xf32>
  %dense = slm.linear %x, %w, %b : (tensor<?x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %codes = arith.constant dense<3> : tensor<8x4xi8>
  %scales = arith.constant dense<0.1> : tensor<8x1xf32>
  %q = slm.dequantize_weight <int8> %codes, %scales : (tensor<8x4xi8>, tensor<8x1xf32>) -> tensor<8x4xf32>
  %int8 = slm.linear %x, %q : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %w8a8 = slm.linear %x, %w {input_quant = #slm.input_quant<per_token>} : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %computed = slm.linear %x, %w_in : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %w3 = arith.constant dense<0.5> : tensor<8x3xf32>
  %odd = slm.linear %x3, %w3 : (tensor<?x3xf32>, tensor<8x3xf32>) -> tensor<?x8xf32>
  return %dense, %int8, %w8a8, %computed, %odd : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}
