// RUN: slm-opt %s -split-input-file --convert-slm-to-linalg | FileCheck %s
// RUN: not slm-opt %s -split-input-file --convert-slm-to-linalg="pack-weights=0" 2>/dev/null | FileCheck %s --check-prefix=UNPACKED
// RUN: not slm-opt %s -split-input-file --convert-slm-to-linalg="pack-weights=0" 2>&1 >/dev/null | FileCheck %s --check-prefix=UNPACKED-ERR

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
