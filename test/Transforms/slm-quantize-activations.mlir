// RUN: slm-opt %s --slm-quantize-activations --split-input-file | FileCheck %s
// RUN: slm-opt %s --slm-quantize-activations="max-noise=0.02" --split-input-file 2>&1 | FileCheck %s --check-prefix=NOISE
// RUN: not slm-opt %s --slm-quantize-activations="max-noise=-1" --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// An int8 per-channel symmetric weight: the input is quantized per token.
// CHECK-LABEL: func.func @int8_channel
// CHECK: slm.linear %{{.*}}, %{{.*}} {input_quant = #slm.input_quant<per_token>}
// BAD: error: max-noise must be >= 0 (0: no limit)
func.func @int8_channel(%x: tensor<?x8xf32>) -> tensor<?x2xf32> {
  %c = arith.constant dense<[[1, 2, 3, 4, 5, 6, 7, 8], [-1, -2, -3, -4, -5, -6, -7, -8]]> : tensor<2x8xi8>
  %s = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %w = slm.dequantize_weight <int8> %c, %s : (tensor<2x8xi8>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y = slm.linear %x, %w : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// f32 weights, int8 groups, zero points and int4 codes are not W8A8's
// weights; in_features that are not a multiple of 4 do not fill the 4-byte
// dot products: all stay f32 inputs.
// CHECK-LABEL: func.func @not_eligible
// CHECK-NOT: input_quant
// CHECK: return
func.func @not_eligible(%x: tensor<?x8xf32>, %x6: tensor<?x6xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>) {
  %f = arith.constant dense<1.0> : tensor<2x8xf32>
  %y0 = slm.linear %x, %f : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  %c = arith.constant dense<3> : tensor<2x8xi8>
  %g = arith.constant dense<0.5> : tensor<2x2xf32>
  %w1 = slm.dequantize_weight <int8> %c, %g group_size 4 : (tensor<2x8xi8>, tensor<2x2xf32>) -> tensor<2x8xf32>
  %y1 = slm.linear %x, %w1 : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  %s = arith.constant dense<0.5> : tensor<2x1xf32>
  %z = arith.constant dense<1> : tensor<2x1xi8>
  %w2 = slm.dequantize_weight <int8> %c, %s zero_points %z : (tensor<2x8xi8>, tensor<2x1xf32>, tensor<2x1xi8>) -> tensor<2x8xf32>
  %y2 = slm.linear %x, %w2 : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  %c4 = arith.constant dense<3> : tensor<2x4xi8>
  %w3 = slm.dequantize_weight <int4> %c4, %s : (tensor<2x4xi8>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y3 = slm.linear %x, %w3 : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  %c6 = arith.constant dense<3> : tensor<2x6xi8>
  %w4 = slm.dequantize_weight <int8> %c6, %s : (tensor<2x6xi8>, tensor<2x1xf32>) -> tensor<2x6xf32>
  %y4 = slm.linear %x6, %w4 : (tensor<?x6xf32>, tensor<2x6xf32>) -> tensor<?x2xf32>
  return %y0, %y1, %y2, %y3, %y4 : tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

// Calibration statistics: channel 0 has mean 0 and variance 100 next to
// seven channels of variance 0.01. A row's range is then about
// 8 * 10 = 80 (mean +- 4 sigma), the rounding step 80 / 255, its noise
// 0.0906 (step / sqrt(12)) against an RMS of sqrt((100 + 7 * 0.01) / 8) =
// 3.5368: 0.0256 of the RMS. The second layer's channels all have variance
// 1: range 8, noise 0.00906 against RMS 1.
// With max-noise 0.02 the first stays f32 (int8 weights only).
// NOISE: remark: input stays f32: calibration predicts quantization noise 0.0256 of its RMS (max-noise 0.02)
// NOISE-LABEL: func.func @sensitivity
// NOISE: %[[Y0:.*]] = slm.linear %{{.*}}, %{{.*}} {slm.input_stats
// NOISE: %[[Y1:.*]] = slm.linear %{{.*}}, %{{.*}} {input_quant = #slm.input_quant<per_token>, slm.input_stats
func.func @sensitivity(%x: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %c = arith.constant dense<[[1, 2, 3, 4, 5, 6, 7, 8], [-1, -2, -3, -4, -5, -6, -7, -8]]> : tensor<2x8xi8>
  %s = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %w = slm.dequantize_weight <int8> %c, %s : (tensor<2x8xi8>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y0 = slm.linear %x, %w {slm.input_stats = {count = 100 : i64, mean = array<f32: 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0>, variance = array<f32: 100.0, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01>}} : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  %y1 = slm.linear %x, %w {slm.input_stats = {count = 100 : i64, mean = array<f32: 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0>, variance = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>}} : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  return %y0, %y1 : tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

// Static schemes: one scale and zero point from the calibrated range
// {min, max, 0.01% quantile, 99.99% quantile} = {-2, 6, -1, 4}, widened to
// contain 0. minmax: scale 8/255 = 0.0313725, zero point round(2 / scale) =
// 64; percentile: scale 5/255 = 0.0196078, zero point round(1 / scale) = 51.
// A layer without a range is quantized per token, with a remark.
// RUN: slm-opt %s --slm-quantize-activations="scheme=minmax" --split-input-file 2>&1 | FileCheck %s --check-prefix=MINMAX
// RUN: slm-opt %s --slm-quantize-activations="scheme=percentile" --split-input-file 2>&1 | FileCheck %s --check-prefix=PCT
// RUN: not slm-opt %s --slm-quantize-activations="scheme=median" --split-input-file 2>&1 | FileCheck %s --check-prefix=SCHEME
// MINMAX: remark: no calibrated input range ('slm.input_stats' with 'range'): quantized per token instead
// MINMAX-LABEL: func.func @static_scales
// MINMAX: input_quant = #slm.input_quant<fixed>, input_scale = 0.0313725{{[0-9]*}} : f32, input_zero_point = 64 : i32
// MINMAX: input_quant = #slm.input_quant<per_token>
// PCT-LABEL: func.func @static_scales
// PCT: input_quant = #slm.input_quant<fixed>, input_scale = 0.0196078{{[0-9]*}} : f32, input_zero_point = 51 : i32
// SCHEME: error: unknown scheme 'median' (expected per-token, minmax or percentile)
func.func @static_scales(%x: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %c = arith.constant dense<[[1, 2, 3, 4, 5, 6, 7, 8], [-1, -2, -3, -4, -5, -6, -7, -8]]> : tensor<2x8xi8>
  %s = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %w = slm.dequantize_weight <int8> %c, %s : (tensor<2x8xi8>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y0 = slm.linear %x, %w {slm.input_stats = {count = 100 : i64, mean = array<f32: 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0>, variance = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>, range = array<f32: -2.0, 6.0, -1.0, 4.0>}} : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  %y1 = slm.linear %x, %w : (tensor<?x8xf32>, tensor<2x8xf32>) -> tensor<?x2xf32>
  return %y0, %y1 : tensor<?x2xf32>, tensor<?x2xf32>
}
