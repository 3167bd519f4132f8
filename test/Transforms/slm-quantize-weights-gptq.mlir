// RUN: slm-opt %s --slm-quantize-weights="kind=int4 group-size=4 method=gptq" --split-input-file --verify-diagnostics | FileCheck %s
// RUN: not slm-opt %s --slm-quantize-weights="kind=int4 method=optimal" 2>&1 | FileCheck %s --check-prefix=METHOD

// GPTQ (--slm-quantize-weights method=gptq) reads the input's calibrated
// mean and covariance (E[x x^T] = covariance + mean mean^T) and writes the
// same storage format as round-to-nearest: codes, group scales. (Its error
// reduction is tested in test/unit/WeightQuantTest.cpp.)
// CHECK-LABEL: func.func @gptq
// CHECK: slm.dequantize_weight <int4> %{{.*}}, %{{.*}} group_size 4 : (tensor<2x4xi8>, tensor<2x2xf32>) -> tensor<2x8xf32>
// METHOD: error: unknown method 'optimal' (expected rtn or gptq)
func.func @gptq(%x: tensor<?x8xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<[[0.9, -0.4, 0.3, 0.05, -0.7, 0.2, 0.1, -0.3], [0.1, 0.2, -0.3, 0.4, -0.5, 0.6, -0.7, 0.8]]> : tensor<2x8xf32>
  %y = slm.linear %x, %w {slm.input_stats = {count = 100 : i64,
      mean = array<f32: 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0>,
      variance = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>,
      covariance = dense<[[1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.5, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.5, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 1.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 1.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0]]> : tensor<8x8xf32>}}
      : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Without calibration statistics GPTQ has nothing to fit.
func.func @no_stats(%x: tensor<?x8xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<0.5> : tensor<2x8xf32>
  // expected-error @+1 {{gptq needs the input's calibrated covariance ('slm.input_stats' with 'covariance'): give slmc --calibration DIR}}
  %y = slm.linear %x, %w : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
