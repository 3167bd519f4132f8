// RUN: slm-opt %s -split-input-file --convert-slm-to-linalg -verify-diagnostics | FileCheck %s

// Tests a broadcasting add: the [8] operand is read along the last loop,
// the dynamic extent comes from the full operand.
// CHECK-DAG: #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @add
// CHECK-SAME: (%[[X:.+]]: tensor<?x8xf32>, %[[B:.+]]: tensor<8xf32>)
// CHECK: %[[D:.+]] = tensor.dim %[[X]], %{{.+}}
// CHECK: %[[E:.+]] = tensor.empty(%[[D]]) : tensor<?x8xf32>
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ROW]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[B]] : tensor<?x8xf32>, tensor<8xf32>) outs(%[[E]] : tensor<?x8xf32>)
// CHECK: arith.addf
func.func @add(%x: tensor<?x8xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = slm.add %x, %b : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Tests a static extent of 1 broadcast against a larger one (index 0).
// CHECK-DAG: #[[ZERO:.+]] = affine_map<(d0, d1) -> (0, d1)>
// CHECK-LABEL: func @stretch
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[ZERO]], #{{.+}}]
func.func @stretch(%x: tensor<4x8xf32>, %m: tensor<1x8xf32>) -> tensor<4x8xf32> {
  %0 = slm.mul %x, %m : (tensor<4x8xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests a linear layer: the bias fills the accumulator, the contraction
// reads the weight as [out, in], and the ReLU epilogue follows.
// CHECK-DAG: #[[X:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[W:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[O:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func @linear
// CHECK: %[[INIT:.+]] = linalg.generic {{.*}} ins(%{{.+}} : tensor<3xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[O]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%[[INIT]] : tensor<?x3xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.maximumf
func.func @linear(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>, %b: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = slm.linear %x, %w, %b {activation = #slm.activation<relu>} : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

// Tests a keep-dims mean: a sum, then a division by the element count (16,
// folded to a constant).
// CHECK-LABEL: func @mean
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: arith.addf
// CHECK: arith.divf
func.func @mean(%x: tensor<?x16xf32>) -> tensor<?x1xf32> {
  %0 = slm.reduce <mean> %x axes [1] keep_dims : tensor<?x16xf32> -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

// Tests a gather: indices are normalized and clamped, data read with
// tensor.extract.
// CHECK-LABEL: func @gather
// CHECK: linalg.generic
// CHECK: arith.index_cast
// CHECK: cf.assert %{{.*}}, "{{.*}}Gather{{.*}}: index out of range"
// CHECK: arith.select
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: tensor.extract
func.func @gather(%t: tensor<10x4xf32>, %ids: tensor<?xi64>) -> tensor<?x4xf32> {
  %0 = slm.gather %t[%ids] axis 0 : (tensor<10x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

// Tests that ops without a lowering are named in an error.
func.func @unsupported(%h: tensor<1x8x4xf32>, %i: tensor<1x8xf32>) -> tensor<1x?x4xf32> {
  // expected-error @+1 {{code generation does not support 'slm.prune_tokens' yet}}
  %r, %k = slm.prune_tokens %h, %i {top_k = 2 : i64} : (tensor<1x8x4xf32>, tensor<1x8xf32>) -> (tensor<1x?x4xf32>, tensor<1x?xi64>)
  return %r : tensor<1x?x4xf32>
}
