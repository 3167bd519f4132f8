// RUN: slm-opt %s --slm-quantize-weights | FileCheck %s
// RUN: slm-opt %s --slm-quantize-weights="kind=int4 group-size=2 symmetric=false" | FileCheck %s --check-prefix=INT4
// RUN: slm-opt %s --slm-quantize-weights="kind=nf4 group-size=2" | FileCheck %s --check-prefix=NF4
// RUN: not slm-opt %s --slm-quantize-weights="kind=int3" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: slm-opt %s --slm-quantize-weights="kind=int4 group-size=8" 2>&1 >/dev/null | FileCheck %s --check-prefix=SPLIT

// Per-channel symmetric int8: row 0 has |max| 1.27 -> scale 0.01, codes
// w / 0.01; row 1 is all zero -> scale 1, codes 0.
// CHECK-LABEL: func.func @linear
// CHECK-DAG: %[[C:.*]] = arith.constant dense<{{\[\[}}127, -50, 0, 25], [0, 0, 0, 0]]> : tensor<2x4xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<{{\[\[}}0.00999999977], [1.000000e+00]]> : tensor<2x1xf32>
// CHECK: %[[W:.*]] = slm.dequantize_weight <int8> %[[C]], %[[S]] : (tensor<2x4xi8>, tensor<2x1xf32>) -> tensor<2x4xf32>
// CHECK: slm.linear %arg0, %[[W]], %{{.*}} : (tensor<3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<3x2xf32>

// INT4-LABEL: func.func @linear
// INT4: slm.dequantize_weight <int4> %{{.*}}, %{{.*}} zero_points %{{.*}} group_size 2 : (tensor<2x2xi8>, tensor<2x2xf32>, tensor<2x2xi8>) -> tensor<2x4xf32>
// NF4-LABEL: func.func @linear
// NF4: slm.dequantize_weight <nf4> %{{.*}}, %{{.*}} group_size 2 : (tensor<2x2xi8>, tensor<2x2xf32>) -> tensor<2x4xf32>
// BAD: error: unknown quantization kind 'int3' (expected int8, int4 or nf4)
// Layers whose input features do not split into the groups stay f32, said
// once for the module, with a group size that splits them.
// SPLIT: warning: 3 of 3 linear layers stay f32: their input features (4) do not split into groups of 8 (--quant-group-size=4 splits them)
func.func @linear(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.27, -0.5, 0.0, 0.25], [0.0, 0.0, 0.0, 0.0]]> : tensor<2x4xf32>
  %b = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %y = slm.linear %x, %w, %b : (tensor<3x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// A weight that is not a constant is left alone.
// CHECK-LABEL: func.func @dynamic_weight
// CHECK-NOT: slm.dequantize_weight
func.func @dynamic_weight(%x: tensor<3x4xf32>, %w: tensor<2x4xf32>) -> tensor<3x2xf32> {
  %y = slm.linear %x, %w : (tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// A token embedding tied to the LM head (two constants with the same
// elements, as exporters write them): the gather reads the head's
// quantized weight, placed before both, and no f32 table is left; a table
// with other elements stays.
// CHECK-LABEL: func.func @tied_embedding
// CHECK: %[[W:.*]] = slm.dequantize_weight <int8>
// CHECK-NEXT: %[[E:.*]] = slm.gather %[[W]][%arg0] axis 0
// CHECK: slm.linear %[[E]], %[[W]]
// CHECK-LABEL: func.func @untied_embedding
// CHECK: slm.gather %{{.*}}[%arg0] axis 0 : (tensor<2x4xf32>
// CHECK: slm.dequantize_weight
func.func @tied_embedding(%ids: tensor<3xi64>) -> tensor<3x2xf32> {
  %table = arith.constant dense<[[0.5, -1.0, 0.25, 2.0], [1.5, 0.75, -0.5, 1.0]]> : tensor<2x4xf32>
  %head = arith.constant dense<[[0.5, -1.0, 0.25, 2.0], [1.5, 0.75, -0.5, 1.0]]> : tensor<2x4xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<2x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %y = slm.linear %x, %head : (tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

func.func @untied_embedding(%ids: tensor<3xi64>) -> tensor<3x2xf32> {
  %table = arith.constant dense<[[0.5, -1.0, 0.25, 2.0], [1.5, 0.75, -0.5, 3.0]]> : tensor<2x4xf32>
  %head = arith.constant dense<[[0.5, -1.0, 0.25, 2.0], [1.5, 0.75, -0.5, 1.0]]> : tensor<2x4xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<2x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %y = slm.linear %x, %head : (tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
