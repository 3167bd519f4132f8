// RUN: slm-opt %s --slm-raise-quantized-matmul --split-input-file | FileCheck %s

// quantize_dynamic as the importer spells it out: DynamicQuantizeLinear of
// %x (per-tensor range, scale, zero point, uint8 codes), MatMulInteger
// against int8 codes, Cast, Mul by x_scale * w_scale. It becomes a W8A8
// linear layer on %x: the [K, N] codes transposed to [N, K] with the weight
// scale per output channel, the input quantized per tensor as it runs.
// CHECK-LABEL: func.func @dynamic
// CHECK-DAG: %[[CODES:.+]] = arith.constant dense<{{\[\[}}1, 3, 5, 7], [2, 4, 6, -8]]> : tensor<2x4xi8>
// CHECK-DAG: %[[SCALES:.+]] = arith.constant dense<2.500000e-01> : tensor<2x1xf32>
// CHECK: %[[W:.+]] = slm.dequantize_weight <int8> %[[CODES]], %[[SCALES]] : (tensor<2x4xi8>, tensor<2x1xf32>) -> tensor<2x4xf32>
// CHECK: %[[Y:.+]] = slm.linear %arg0, %[[W]] {input_quant = #slm.input_quant<per_tensor>} : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
// CHECK: return %[[Y]]
func.func @dynamic(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %c0 = arith.constant dense<0.0> : tensor<f32>
  %c1 = arith.constant dense<1.0> : tensor<f32>
  %c255 = arith.constant dense<255.0> : tensor<f32>
  %ws = arith.constant dense<0.25> : tensor<f32>
  %w = arith.constant dense<[[1, 2], [3, 4], [5, 6], [7, -8]]> : tensor<4x2xi8>
  %hi0 = slm.reduce <max> %x axes [0, 1] : tensor<?x4xf32> -> tensor<f32>
  %hi = slm.max %hi0, %c0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %lo0 = slm.reduce <min> %x axes [0, 1] : tensor<?x4xf32> -> tensor<f32>
  %lo = slm.min %lo0, %c0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %range = slm.sub %hi, %lo : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %s0 = slm.div %range, %c255 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %empty = slm.compare <eq> %s0, %c0 : (tensor<f32>, tensor<f32>) -> tensor<i1>
  %s = slm.select %empty, %c1, %s0 : (tensor<i1>, tensor<f32>, tensor<f32>) -> tensor<f32>
  %r = slm.div %lo, %s : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %nr = slm.sub %c0, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %zr = math.roundeven %nr : tensor<f32>
  %zc0 = slm.max %zr, %c0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %zc = slm.min %zc0, %c255 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %zc_nan = slm.compare <ne> %zc, %zc : (tensor<f32>, tensor<f32>) -> tensor<i1>
  %zc_ok = slm.select %zc_nan, %c255, %zc : (tensor<i1>, tensor<f32>, tensor<f32>) -> tensor<f32>
  %z = arith.fptoui %zc_ok : tensor<f32> to tensor<i8>
  %xs = slm.div %x, %s : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %xr = math.roundeven %xs : tensor<?x4xf32>
  %zf = arith.uitofp %z : tensor<i8> to tensor<f32>
  %xz = slm.add %xr, %zf : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q0 = slm.max %xz, %c0 : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q1 = slm.min %q0, %c255 : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q1_nan = slm.compare <ne> %q1, %q1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xi1>
  %q1_ok = slm.select %q1_nan, %c0, %q1 : (tensor<?x4xi1>, tensor<f32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %q = arith.fptoui %q1_ok : tensor<?x4xf32> to tensor<?x4xi8>
  %sw = slm.mul %s, %ws : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %qi = arith.extui %q : tensor<?x4xi8> to tensor<?x4xi32>
  %wi = arith.extsi %w : tensor<4x2xi8> to tensor<4x2xi32>
  %zi = arith.extui %z : tensor<i8> to tensor<i32>
  %a = slm.sub %qi, %zi : (tensor<?x4xi32>, tensor<i32>) -> tensor<?x4xi32>
  %m = slm.matmul %a, %wi : (tensor<?x4xi32>, tensor<4x2xi32>) -> tensor<?x2xi32>
  %f = arith.sitofp %m : tensor<?x2xi32> to tensor<?x2xf32>
  %y = slm.mul %f, %sw : (tensor<?x2xf32>, tensor<f32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// The scale is not DynamicQuantizeLinear's (the range is divided by 127):
// nothing changes.
// CHECK-LABEL: func.func @not_dynamic
// CHECK-NOT: slm.linear
// CHECK: slm.matmul
func.func @not_dynamic(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %c0 = arith.constant dense<0.0> : tensor<f32>
  %c1 = arith.constant dense<1.0> : tensor<f32>
  %c127 = arith.constant dense<127.0> : tensor<f32>
  %c255 = arith.constant dense<255.0> : tensor<f32>
  %ws = arith.constant dense<0.25> : tensor<f32>
  %w = arith.constant dense<[[1, 2], [3, 4], [5, 6], [7, -8]]> : tensor<4x2xi8>
  %hi0 = slm.reduce <max> %x axes [0, 1] : tensor<?x4xf32> -> tensor<f32>
  %hi = slm.max %hi0, %c0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %lo0 = slm.reduce <min> %x axes [0, 1] : tensor<?x4xf32> -> tensor<f32>
  %lo = slm.min %lo0, %c0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %range = slm.sub %hi, %lo : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %s0 = slm.div %range, %c127 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %empty = slm.compare <eq> %s0, %c0 : (tensor<f32>, tensor<f32>) -> tensor<i1>
  %s = slm.select %empty, %c1, %s0 : (tensor<i1>, tensor<f32>, tensor<f32>) -> tensor<f32>
  %r = slm.div %lo, %s : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %nr = slm.sub %c0, %r : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %zr = math.roundeven %nr : tensor<f32>
  %zc0 = slm.max %zr, %c0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %zc = slm.min %zc0, %c255 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %zc_nan = slm.compare <ne> %zc, %zc : (tensor<f32>, tensor<f32>) -> tensor<i1>
  %zc_ok = slm.select %zc_nan, %c255, %zc : (tensor<i1>, tensor<f32>, tensor<f32>) -> tensor<f32>
  %z = arith.fptoui %zc_ok : tensor<f32> to tensor<i8>
  %xs = slm.div %x, %s : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %xr = math.roundeven %xs : tensor<?x4xf32>
  %zf = arith.uitofp %z : tensor<i8> to tensor<f32>
  %xz = slm.add %xr, %zf : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q0 = slm.max %xz, %c0 : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q1 = slm.min %q0, %c255 : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q1_nan = slm.compare <ne> %q1, %q1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xi1>
  %q1_ok = slm.select %q1_nan, %c0, %q1 : (tensor<?x4xi1>, tensor<f32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %q = arith.fptoui %q1_ok : tensor<?x4xf32> to tensor<?x4xi8>
  %sw = slm.mul %s, %ws : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %qi = arith.extui %q : tensor<?x4xi8> to tensor<?x4xi32>
  %wi = arith.extsi %w : tensor<4x2xi8> to tensor<4x2xi32>
  %zi = arith.extui %z : tensor<i8> to tensor<i32>
  %a = slm.sub %qi, %zi : (tensor<?x4xi32>, tensor<i32>) -> tensor<?x4xi32>
  %m = slm.matmul %a, %wi : (tensor<?x4xi32>, tensor<4x2xi32>) -> tensor<?x2xi32>
  %f = arith.sitofp %m : tensor<?x2xi32> to tensor<?x2xf32>
  %y = slm.mul %f, %sw : (tensor<?x2xf32>, tensor<f32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// QDQ: a DequantizeLinear'd int8 weight (per-column scales) becomes an int8
// weight; the input's QuantizeLinear/DequantizeLinear pair (scale 0.5,
// zero point 3) becomes fixed input quantization of %x.
// CHECK-LABEL: func.func @qdq
// CHECK: %[[W:.+]] = slm.dequantize_weight <int8> %{{.+}}, %{{.+}} : (tensor<2x4xi8>, tensor<2x1xf32>) -> tensor<2x4xf32>
// CHECK: slm.linear %arg0, %[[W]] {input_quant = #slm.input_quant<fixed>, input_scale = 5.000000e-01 : f32, input_zero_point = 3 : i32}
// A weight alone (the input is not fake-quantized): an int8 weight only.
// CHECK-LABEL: func.func @qdq_weight_only
// CHECK: %[[W2:.+]] = slm.dequantize_weight <int8>
// CHECK: slm.linear %arg0, %[[W2]] : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
func.func @qdq(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %c0 = arith.constant dense<0.0> : tensor<f32>
  %c255 = arith.constant dense<255.0> : tensor<f32>
  %s = arith.constant dense<0.5> : tensor<f32>
  %zp = arith.constant dense<3.0> : tensor<f32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %w = arith.constant dense<[[1, 2], [3, 4], [5, 6], [7, -8]]> : tensor<4x2xi8>
  %xs = slm.div %x, %s : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %xr = math.roundeven %xs : tensor<?x4xf32>
  %xz = slm.add %xr, %zp : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q0 = slm.max %xz, %c0 : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q1 = slm.min %q0, %c255 : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %q1_nan = slm.compare <ne> %q1, %q1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xi1>
  %q1_ok = slm.select %q1_nan, %c0, %q1 : (tensor<?x4xi1>, tensor<f32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %q = arith.fptoui %q1_ok : tensor<?x4xf32> to tensor<?x4xi8>
  %qf = arith.uitofp %q : tensor<?x4xi8> to tensor<?x4xf32>
  %qz = slm.sub %qf, %zp : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %dx = slm.mul %qz, %s : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %wf = arith.sitofp %w : tensor<4x2xi8> to tensor<4x2xf32>
  %dw = slm.mul %wf, %ws : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = slm.matmul %dx, %dw : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
func.func @qdq_weight_only(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %w = arith.constant dense<[[1, 2], [3, 4], [5, 6], [7, -8]]> : tensor<4x2xi8>
  %wf = arith.sitofp %w : tensor<4x2xi8> to tensor<4x2xf32>
  %dw = slm.mul %wf, %ws : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = slm.matmul %x, %dw : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
