// RUN: slm-opt %s -split-input-file --convert-slm-to-linalg | FileCheck %s
// RUN: not slm-opt %s -split-input-file --convert-slm-to-linalg="pack-weights=0" 2>/dev/null | FileCheck %s --check-prefix=UNPACKED
// RUN: not slm-opt %s -split-input-file --convert-slm-to-linalg="pack-weights=0" 2>&1 >/dev/null | FileCheck %s --check-prefix=UNPACKED-ERR
// RUN: slm-opt %s -split-input-file --convert-slm-to-linalg --canonicalize --cse 2>/dev/null | FileCheck %s --check-prefix=TIED

// Tests weight packing: a constant [40, 4] weight becomes two panels of 32
// columns, [2, 4, 32], the second zero-padded; the contraction runs over
// (row, panel, column, k) into [?, 2, 32], which is reshaped to [?, 64] and
// sliced to the 40 real columns. The bias is padded the same way.
// CHECK-DAG: #[[X:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
// CHECK-DAG: #[[O:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func @packed
// CHECK-DAG: %[[WP:.+]] = arith.constant dense<{{.+}}> : tensor<2x4x32xf32>
// CHECK-DAG: %[[BP:.+]] = arith.constant dense<{{.+}}> : tensor<2x32xf32>
// CHECK: %[[INIT:.+]] = linalg.generic {{.*}} ins(%[[BP]] : tensor<2x32xf32>)
// CHECK: %[[Y:.+]] = linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[O]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%{{.+}}, %[[WP]] : tensor<?x4xf32>, tensor<2x4x32xf32>) outs(%[[INIT]] : tensor<?x2x32xf32>)
// CHECK-SAME: attrs = {slm.contraction = #slm.contraction<kind = f32, panel = 32>}
// CHECK: %[[C:.+]] = tensor.collapse_shape %[[Y]] {{\[\[}}0], [1, 2]] : tensor<?x2x32xf32> into tensor<?x64xf32>
// CHECK: %[[S:.+]] = tensor.extract_slice %[[C]][0, 0] [%{{.+}}, 40] [1, 1] : tensor<?x64xf32> to tensor<?x40xf32>
// CHECK: return %[[S]]
// Unpacked ([N, K]: B along the reduction), no kernel reads it: no
// declaration.
// UNPACKED-LABEL: func @packed
// UNPACKED-NOT: tensor<2x4x32xf32>
// UNPACKED-NOT: slm.contraction
// UNPACKED: iterator_types = ["parallel", "parallel", "reduction"]
func.func @packed(%x: tensor<?x4xf32>) -> tensor<?x40xf32> {
  %w = arith.constant dense<1.5> : tensor<40x4xf32>
  %b = arith.constant dense<0.5> : tensor<40xf32>
  %0 = slm.linear %x, %w, %b : (tensor<?x4xf32>, tensor<40x4xf32>, tensor<40xf32>) -> tensor<?x40xf32>
  return %0 : tensor<?x40xf32>
}

// -----

// Tests the panel layout itself: element [p, k, j] is W[32p + j, k]. Row n
// of this weight is (n, 100 + n), so panel 0 column j is (j, 100 + j).
// CHECK-LABEL: func @layout
// CHECK: arith.constant dense<{{\[\[\[}}0.000000e+00, 1.000000e+00, 2.000000e+00
// CHECK-SAME: [1.000000e+02, 1.010000e+02, 1.020000e+02
// CHECK-SAME: tensor<1x2x32xf32>
func.func @layout(%x: tensor<?x2xf32>) -> tensor<?x32xf32> {
  %w = arith.constant dense<[[0.0, 100.0], [1.0, 101.0], [2.0, 102.0], [3.0, 103.0], [4.0, 104.0], [5.0, 105.0], [6.0, 106.0], [7.0, 107.0], [8.0, 108.0], [9.0, 109.0], [10.0, 110.0], [11.0, 111.0], [12.0, 112.0], [13.0, 113.0], [14.0, 114.0], [15.0, 115.0], [16.0, 116.0], [17.0, 117.0], [18.0, 118.0], [19.0, 119.0], [20.0, 120.0], [21.0, 121.0], [22.0, 122.0], [23.0, 123.0], [24.0, 124.0], [25.0, 125.0], [26.0, 126.0], [27.0, 127.0], [28.0, 128.0], [29.0, 129.0], [30.0, 130.0], [31.0, 131.0]]> : tensor<32x2xf32>
  %0 = slm.linear %x, %w : (tensor<?x2xf32>, tensor<32x2xf32>) -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// Tests that a weight computed at run time is not packed.
// CHECK-LABEL: func @runtime_weight
// CHECK-NOT: tensor.collapse_shape
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
func.func @runtime_weight(%x: tensor<?x4xf32>, %w: tensor<8x4xf32>) -> tensor<?x8xf32> {
  %0 = slm.linear %x, %w : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// int8 weight-only (per-channel scales): the codes are packed like f32
// weights ([2, 4, 32] i8, zero-padded), and the contraction reads them with
// the scale panels as a third input, `out + x * (sitofp(q) * s)`; the bias
// starts the accumulators as for f32 weights, nothing follows.
// CHECK-LABEL: func @int8
// CHECK-DAG: %[[CP:.+]] = arith.constant dense<{{.+}}> : tensor<2x4x32xi8>
// CHECK-DAG: %[[SP:.+]] = arith.constant dense<{{.+}}> : tensor<2x32xf32>
// CHECK-DAG: arith.constant dense<2.000000e+00> : tensor<2x32xf32>
// CHECK: %[[Y:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[CP]], %[[SP]] : tensor<?x4xf32>, tensor<2x4x32xi8>, tensor<2x32xf32>)
// CHECK-SAME: attrs = {slm.contraction = #slm.contraction<kind = int8_weight, panel = 32>}
// CHECK: %[[W:.+]] = arith.sitofp %{{.+}} : i8 to f32
// CHECK: arith.mulf %[[W]], %{{.+}} : f32
// CHECK: tensor.collapse_shape %[[Y]]
// CHECK-NOT: slm.dequantize_weight
// Unpacked weights have no int8 path: the op is reported.
// UNPACKED-ERR: error: code generation does not support 'slm.dequantize_weight' yet
func.func @int8(%x: tensor<?x4xf32>) -> tensor<?x40xf32> {
  %codes = arith.constant dense<3> : tensor<40x4xi8>
  %scales = arith.constant dense<0.5> : tensor<40x1xf32>
  %b = arith.constant dense<2.0> : tensor<40xf32>
  %w = slm.dequantize_weight <int8> %codes, %scales : (tensor<40x4xi8>, tensor<40x1xf32>) -> tensor<40x4xf32>
  %y = slm.linear %x, %w, %b : (tensor<?x4xf32>, tensor<40x4xf32>, tensor<40xf32>) -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}

// -----

// W8A8 (input quantized per token): the row range [min(x, 0), max(x, 0)]
// in one reduction, the scale, zero point and 1/scale per row, the uint8
// codes on [rows, k] and reshaped to [rows, k/4, 4]; the weight codes in
// dot-product order [panels, k/4, 32, 4] with their column sums; the
// integer contraction (two reductions) into int32, then the epilogue
// s_x * s_w * (acc - z_x * colsum) + bias.
// CHECK-LABEL: func @w8a8
// CHECK-DAG: %[[CODES:.+]] = arith.constant dense<{{.+}}> : tensor<2x2x32x4xi8>
// CHECK-DAG: %[[COLSUM:.+]] = arith.constant dense<{{.+}}> : tensor<2x32xi32>
// CHECK: %[[RANGE:.+]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: %[[P:.+]]:3 = linalg.generic {{.*}} ins(%[[RANGE]]#0, %[[RANGE]]#1
// CHECK: math.roundeven
// CHECK: %[[Q:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[P]]#2, %[[P]]#1 : tensor<?x8xf32>, tensor<?xf32>, tensor<?xi32>) outs(%{{.+}} : tensor<?x8xi8>)
// CHECK: arith.trunci %{{.+}} : i32 to i8
// CHECK: %[[QUADS:.+]] = tensor.expand_shape %[[Q]] {{\[\[}}0], [1, 2]] output_shape [%{{.+}}, 2, 4] : tensor<?x8xi8> into tensor<?x2x4xi8>
// CHECK: %[[ACC:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[QUADS]], %[[CODES]] : tensor<?x2x4xi8>, tensor<2x2x32x4xi8>) outs(%{{.+}} : tensor<?x2x32xi32>)
// CHECK-SAME: attrs = {slm.contraction = #slm.contraction<kind = u8s8_dot, panel = 32>}
// CHECK: arith.extui %{{.+}} : i8 to i32
// CHECK: arith.extsi %{{.+}} : i8 to i32
// CHECK: linalg.generic {{.*}} ins(%[[ACC]], %{{.+}}, %[[COLSUM]], %[[P]]#0, %[[P]]#1, %{{.+}} : tensor<?x2x32xi32>, tensor<2x32xf32>, tensor<2x32xi32>, tensor<?xf32>, tensor<?xi32>, tensor<2x32xf32>)
// CHECK: arith.subi
// CHECK: arith.sitofp %{{.+}} : i32 to f32
// CHECK-NOT: slm.linear
func.func @w8a8(%x: tensor<?x8xf32>) -> tensor<?x40xf32> {
  %c = arith.constant dense<"0x0102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F80102030405060708F1F2F3F4F5F6F7F8"> : tensor<40x8xi8>
  %scales = arith.constant dense<0.5> : tensor<40x1xf32>
  %b = arith.constant dense<2.0> : tensor<40xf32>
  %w = slm.dequantize_weight <int8> %c, %scales : (tensor<40x8xi8>, tensor<40x1xf32>) -> tensor<40x8xf32>
  %y = slm.linear %x, %w, %b {input_quant = #slm.input_quant<per_token>} : (tensor<?x8xf32>, tensor<40x8xf32>, tensor<40xf32>) -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}

// -----

// An input whose in_features is dynamic (a reshape folded only at run
// time) is checked against the weight's 4 at run time and cast to it, so
// the packed kernel contracts over a static K.
// CHECK-LABEL: func @dynamic_in_features
// CHECK-SAME: (%[[X:.+]]: tensor<?x?xf32>)
// CHECK: %[[K:.+]] = tensor.dim %[[X]], %c1
// CHECK: %[[OK:.+]] = arith.cmpi eq, %[[K]], %c4
// CHECK: cf.assert %[[OK]], "the input's last extent differs from the weight's in_features (4)"
// CHECK: %[[XS:.+]] = tensor.cast %[[X]] : tensor<?x?xf32> to tensor<?x4xf32>
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[XS]], %{{.+}} : tensor<?x4xf32>, tensor<1x4x32xf32>)
// UNPACKED-LABEL: func @dynamic_in_features
func.func @dynamic_in_features(%x: tensor<?x?xf32>) -> tensor<?x8xf32> {
  %w = arith.constant dense<1.5> : tensor<8x4xf32>
  %y = slm.linear %x, %w : (tensor<?x?xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A tied embedding: the gather table and the LM head's weight are two
// constants with the same elements (as exporters write a shared weight).
// The gather reads the head's packed panels [2, 4, 32] (row v at
// [v / 32, :, v % 32]) and the [40, 4] table is gone; an untied table is
// gathered as before.
// TIED-LABEL: func @tied_embedding
// TIED-NOT: tensor<40x4xf32>
// TIED: %[[WP:.+]] = arith.constant dense<{{.+}}> : tensor<2x4x32xf32>
// TIED-NOT: arith.constant {{.*}} : tensor<2x4x32xf32>
// TIED: linalg.generic
// TIED: %[[P:.+]] = arith.divui %{{.+}}, %c32
// TIED: %[[J:.+]] = arith.remui %{{.+}}, %c32
// TIED: tensor.extract %[[WP]][%[[P]], %{{.+}}, %[[J]]] : tensor<2x4x32xf32>
// TIED: linalg.generic {{.*}} ins(%{{.+}}, %[[WP]] :
// TIED-LABEL: func @untied_embedding
// TIED: arith.constant dense<{{.+}}> : tensor<40x4xf32>
// TIED: tensor.extract %{{.+}}[%{{.+}}, %{{.+}}] : tensor<40x4xf32>
func.func @tied_embedding(%ids: tensor<?xi64>) -> tensor<?x40xf32> {
  %table = arith.constant dense<[[-7.00, -6.75, -6.50, -6.25], [-6.00, -5.75, -5.50, -5.25], [-5.00, -4.75, -4.50, -4.25], [-4.00, -3.75, -3.50, -3.25], [-3.00, -2.75, -2.50, -2.25], [-2.00, -1.75, -1.50, -1.25], [-1.00, -0.75, -0.50, -0.25], [0.00, 0.25, 0.50, 0.75], [1.00, 1.25, 1.50, 1.75], [2.00, 2.25, 2.50, 2.75], [3.00, 3.25, 3.50, 3.75], [4.00, 4.25, 4.50, 4.75], [5.00, 5.25, 5.50, 5.75], [6.00, 6.25, 6.50, 6.75], [7.00, 7.25, 7.50, 7.75], [8.00, 8.25, 8.50, 8.75], [9.00, 9.25, 9.50, 9.75], [10.00, 10.25, 10.50, 10.75], [11.00, 11.25, 11.50, 11.75], [12.00, 12.25, 12.50, 12.75], [13.00, 13.25, 13.50, 13.75], [14.00, 14.25, 14.50, 14.75], [15.00, 15.25, 15.50, 15.75], [16.00, 16.25, 16.50, 16.75], [17.00, 17.25, 17.50, 17.75], [18.00, 18.25, 18.50, 18.75], [19.00, 19.25, 19.50, 19.75], [20.00, 20.25, 20.50, 20.75], [21.00, 21.25, 21.50, 21.75], [22.00, 22.25, 22.50, 22.75], [23.00, 23.25, 23.50, 23.75], [24.00, 24.25, 24.50, 24.75], [25.00, 25.25, 25.50, 25.75], [26.00, 26.25, 26.50, 26.75], [27.00, 27.25, 27.50, 27.75], [28.00, 28.25, 28.50, 28.75], [29.00, 29.25, 29.50, 29.75], [30.00, 30.25, 30.50, 30.75], [31.00, 31.25, 31.50, 31.75], [32.00, 32.25, 32.50, 32.75]]> : tensor<40x4xf32>
  %head = arith.constant dense<[[-7.00, -6.75, -6.50, -6.25], [-6.00, -5.75, -5.50, -5.25], [-5.00, -4.75, -4.50, -4.25], [-4.00, -3.75, -3.50, -3.25], [-3.00, -2.75, -2.50, -2.25], [-2.00, -1.75, -1.50, -1.25], [-1.00, -0.75, -0.50, -0.25], [0.00, 0.25, 0.50, 0.75], [1.00, 1.25, 1.50, 1.75], [2.00, 2.25, 2.50, 2.75], [3.00, 3.25, 3.50, 3.75], [4.00, 4.25, 4.50, 4.75], [5.00, 5.25, 5.50, 5.75], [6.00, 6.25, 6.50, 6.75], [7.00, 7.25, 7.50, 7.75], [8.00, 8.25, 8.50, 8.75], [9.00, 9.25, 9.50, 9.75], [10.00, 10.25, 10.50, 10.75], [11.00, 11.25, 11.50, 11.75], [12.00, 12.25, 12.50, 12.75], [13.00, 13.25, 13.50, 13.75], [14.00, 14.25, 14.50, 14.75], [15.00, 15.25, 15.50, 15.75], [16.00, 16.25, 16.50, 16.75], [17.00, 17.25, 17.50, 17.75], [18.00, 18.25, 18.50, 18.75], [19.00, 19.25, 19.50, 19.75], [20.00, 20.25, 20.50, 20.75], [21.00, 21.25, 21.50, 21.75], [22.00, 22.25, 22.50, 22.75], [23.00, 23.25, 23.50, 23.75], [24.00, 24.25, 24.50, 24.75], [25.00, 25.25, 25.50, 25.75], [26.00, 26.25, 26.50, 26.75], [27.00, 27.25, 27.50, 27.75], [28.00, 28.25, 28.50, 28.75], [29.00, 29.25, 29.50, 29.75], [30.00, 30.25, 30.50, 30.75], [31.00, 31.25, 31.50, 31.75], [32.00, 32.25, 32.50, 32.75]]> : tensor<40x4xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<40x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
  %y = slm.linear %x, %head : (tensor<?x4xf32>, tensor<40x4xf32>) -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}

func.func @untied_embedding(%ids: tensor<?xi64>) -> tensor<?x40xf32> {
  %table = arith.constant dense<[[0.00, 0.50, 1.00, 1.50], [2.00, 2.50, 3.00, 3.50], [4.00, 4.50, 5.00, 5.50], [6.00, 6.50, 7.00, 7.50], [8.00, 8.50, 9.00, 9.50], [10.00, 10.50, 11.00, 11.50], [12.00, 12.50, 13.00, 13.50], [14.00, 14.50, 15.00, 15.50], [16.00, 16.50, 17.00, 17.50], [18.00, 18.50, 19.00, 19.50], [20.00, 20.50, 21.00, 21.50], [22.00, 22.50, 23.00, 23.50], [24.00, 24.50, 25.00, 25.50], [26.00, 26.50, 27.00, 27.50], [28.00, 28.50, 29.00, 29.50], [30.00, 30.50, 31.00, 31.50], [32.00, 32.50, 33.00, 33.50], [34.00, 34.50, 35.00, 35.50], [36.00, 36.50, 37.00, 37.50], [38.00, 38.50, 39.00, 39.50], [40.00, 40.50, 41.00, 41.50], [42.00, 42.50, 43.00, 43.50], [44.00, 44.50, 45.00, 45.50], [46.00, 46.50, 47.00, 47.50], [48.00, 48.50, 49.00, 49.50], [50.00, 50.50, 51.00, 51.50], [52.00, 52.50, 53.00, 53.50], [54.00, 54.50, 55.00, 55.50], [56.00, 56.50, 57.00, 57.50], [58.00, 58.50, 59.00, 59.50], [60.00, 60.50, 61.00, 61.50], [62.00, 62.50, 63.00, 63.50], [64.00, 64.50, 65.00, 65.50], [66.00, 66.50, 67.00, 67.50], [68.00, 68.50, 69.00, 69.50], [70.00, 70.50, 71.00, 71.50], [72.00, 72.50, 73.00, 73.50], [74.00, 74.50, 75.00, 75.50], [76.00, 76.50, 77.00, 77.50], [78.00, 78.50, 79.00, 79.50]]> : tensor<40x4xf32>
  %head = arith.constant dense<[[-7.00, -6.75, -6.50, -6.25], [-6.00, -5.75, -5.50, -5.25], [-5.00, -4.75, -4.50, -4.25], [-4.00, -3.75, -3.50, -3.25], [-3.00, -2.75, -2.50, -2.25], [-2.00, -1.75, -1.50, -1.25], [-1.00, -0.75, -0.50, -0.25], [0.00, 0.25, 0.50, 0.75], [1.00, 1.25, 1.50, 1.75], [2.00, 2.25, 2.50, 2.75], [3.00, 3.25, 3.50, 3.75], [4.00, 4.25, 4.50, 4.75], [5.00, 5.25, 5.50, 5.75], [6.00, 6.25, 6.50, 6.75], [7.00, 7.25, 7.50, 7.75], [8.00, 8.25, 8.50, 8.75], [9.00, 9.25, 9.50, 9.75], [10.00, 10.25, 10.50, 10.75], [11.00, 11.25, 11.50, 11.75], [12.00, 12.25, 12.50, 12.75], [13.00, 13.25, 13.50, 13.75], [14.00, 14.25, 14.50, 14.75], [15.00, 15.25, 15.50, 15.75], [16.00, 16.25, 16.50, 16.75], [17.00, 17.25, 17.50, 17.75], [18.00, 18.25, 18.50, 18.75], [19.00, 19.25, 19.50, 19.75], [20.00, 20.25, 20.50, 20.75], [21.00, 21.25, 21.50, 21.75], [22.00, 22.25, 22.50, 22.75], [23.00, 23.25, 23.50, 23.75], [24.00, 24.25, 24.50, 24.75], [25.00, 25.25, 25.50, 25.75], [26.00, 26.25, 26.50, 26.75], [27.00, 27.25, 27.50, 27.75], [28.00, 28.25, 28.50, 28.75], [29.00, 29.25, 29.50, 29.75], [30.00, 30.25, 30.50, 30.75], [31.00, 31.25, 31.50, 31.75], [32.00, 32.25, 32.50, 32.75]]> : tensor<40x4xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<40x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
  %y = slm.linear %x, %head : (tensor<?x4xf32>, tensor<40x4xf32>) -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}
