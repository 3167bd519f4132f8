// RUN: slm-opt %s -split-input-file --slm-vectorize-contractions --canonicalize -verify-diagnostics | FileCheck %s
// RUN: slm-opt %s -split-input-file --slm-vectorize-contractions="mr=4 nr=16 prefetch-distance=0" --canonicalize | FileCheck %s --check-prefix=SMALL
// RUN: not slm-opt %s --slm-vectorize-contractions="nr=20" 2>&1 | FileCheck %s --check-prefix=BADOPT
// RUN: slm-opt %s -split-input-file --slm-vectorize-contractions="report=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT

// BADOPT: need mr >= 1, nr a multiple of 16

// Tests a matmul with static columns (a multiple of the tile): one parallel
// loop over row blocks and column blocks; an 8x32 register tile (16
// accumulators, unmasked) over the whole reduction, then the remaining rows
// one at a time. The zero fill right before is folded: the accumulators
// start at zero and C is only written.
// CHECK-LABEL: func @matmul
// CHECK-SAME: (%[[A:.+]]: memref<?x64xf32>, %[[B:.+]]: memref<64x128xf32>, %[[C:.+]]: memref<?x128xf32>)
// CHECK-DAG: %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-NOT: linalg.fill
// CHECK: scf.parallel (%{{.+}}) =
// CHECK: scf.for %[[N0:.+]] = %c0 to %c128 step %c32
// CHECK: scf.for %[[M0:.+]] = %{{.+}} to %{{.+}} step %c8
// CHECK: scf.for %[[K:.+]] = %c0 to %c64 step %c1 iter_args(%{{.+}} = %[[ZERO]], {{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.load %[[B]][%[[K]], %[[N0]]] : memref<64x128xf32>, vector<16xf32>
// CHECK: vector.load %[[B]][%[[K]], %{{.+}}] : memref<64x128xf32>, vector<16xf32>
// CHECK: %[[AHEAD:.+]] = arith.addi %[[K]], %c16
// CHECK: memref.prefetch %[[B]][%[[AHEAD]], %[[N0]]], read, locality<3>, data
// CHECK: memref.load %[[A]][%[[M0]], %[[K]]] : memref<?x64xf32>
// CHECK-COUNT-16: vector.fma
// CHECK: scf.yield
// CHECK-COUNT-16: vector.store %{{.+}}, %[[C]]
// CHECK-NOT: vector.maskedstore
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c1
// CHECK-COUNT-2: vector.fma
// CHECK-NOT: linalg.generic
// SMALL-LABEL: func @matmul
// SMALL-NOT: memref.prefetch
// SMALL: step %c4
// SMALL-COUNT-4: vector.fma
func.func @matmul(%a: memref<?x64xf32>, %b: memref<64x128xf32>, %c: memref<?x128xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x128xf32>)
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                   affine_map<(m, n, k) -> (k, n)>,
                                   affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<?x64xf32>, memref<64x128xf32>) outs(%c : memref<?x128xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests attention's scores: batch and head dimensions are outer parallel
// loops, the key length (columns) is dynamic, so B and C are read and
// written with masks; C's old contents are the accumulators' start.
// CHECK-LABEL: func @scores
// CHECK: scf.parallel (%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) =
// CHECK: vector.create_mask %{{.+}} : vector<16xi1>
// CHECK: vector.maskedload %{{.+}} : memref<?x2x?x?xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK: vector.maskedload %{{.+}} : memref<?x2x8x?xf32>
// CHECK: vector.fma
// CHECK: vector.maskedstore
func.func @scores(%q: memref<?x2x?x8xf32>, %kt: memref<?x2x8x?xf32>, %s: memref<?x2x?x?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, h, m, n, k) -> (b, h, m, k)>,
                                   affine_map<(b, h, m, n, k) -> (b, h, k, n)>,
                                   affine_map<(b, h, m, n, k) -> (b, h, m, n)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %kt : memref<?x2x?x8xf32>, memref<?x2x8x?xf32>) outs(%s : memref<?x2x?x?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Tests a packed linear layer: the panel index is an outer parallel loop,
// the bias broadcast right before is folded (its [panel, column] vectors
// start the accumulators), and the weight is read in contiguous panels.
// CHECK-LABEL: func @packed_linear
// CHECK-SAME: %[[BIAS:[^:]+]]: memref<4x32xf32>
// CHECK-NOT: linalg.generic
// CHECK: scf.parallel
// CHECK: vector.load %[[BIAS]]
// CHECK: vector.load %{{.+}} : memref<4x16x32xf32>, vector<16xf32>
// CHECK: vector.fma
func.func @packed_linear(%x: memref<?x16xf32>, %w: memref<4x16x32xf32>, %bias: memref<4x32xf32>, %y: memref<?x4x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, p, j) -> (p, j)>,
                                   affine_map<(m, p, j) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%bias : memref<4x32xf32>) outs(%y : memref<?x4x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [affine_map<(m, p, j, k) -> (m, k)>,
                                   affine_map<(m, p, j, k) -> (p, k, j)>,
                                   affine_map<(m, p, j, k) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x16xf32>, memref<4x16x32xf32>) outs(%y : memref<?x4x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests what stays: B contiguous along the reduction (a transposed weight),
// integer elements, and tensors (before bufferization); with report=true
// each says why.
// REPORT: remark: contraction left as loops: B is not contiguous along the output columns
// REPORT: remark: contraction left as loops: not f32 buffers
// REPORT: remark: contraction left as loops: not on buffers
// REPORT-NOT: remark
// CHECK-LABEL: func @left_alone
// CHECK-NOT: vector.fma
// CHECK-COUNT-3: linalg.generic
func.func @left_alone(%a: memref<?x8xf32>, %bt: memref<16x8xf32>, %c: memref<?x16xf32>,
                      %ai: memref<?x8xi32>, %bi: memref<8x16xi32>, %ci: memref<?x16xi32>,
                      %at: tensor<?x8xf32>, %btt: tensor<8x16xf32>, %ct: tensor<?x16xf32>) -> tensor<?x16xf32> {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                   affine_map<(m, n, k) -> (n, k)>,
                                   affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %bt : memref<?x8xf32>, memref<16x8xf32>) outs(%c : memref<?x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                   affine_map<(m, n, k) -> (k, n)>,
                                   affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ai, %bi : memref<?x8xi32>, memref<8x16xi32>) outs(%ci : memref<?x16xi32>) {
  ^bb0(%x: i32, %y: i32, %acc: i32):
    %p = arith.muli %x, %y : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (k, n)>,
                                        affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%at, %btt : tensor<?x8xf32>, tensor<8x16xf32>) outs(%ct : tensor<?x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}
