// RUN: slm-opt %s --slm-fuse-elementwise | FileCheck %s
// RUN: slm-opt %s --slm-fuse-elementwise="no-fuse-into-contractions=false" | FileCheck %s --check-prefix=UPSTREAM

#id = affine_map<(d0, d1) -> (d0, d1)>
#t = affine_map<(d0, d1) -> (d1, d0)>

// Tests that a transpose feeding a matmul stays a separate op (the matmul
// keeps reading a [k, n] operand), while the exp and the scaling after the
// matmul become one op. Upstream's rule folds the transpose into the matmul.
// CHECK-LABEL: func @scores
// CHECK: %[[T:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK: %[[S:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%{{.+}}, %[[T]] : tensor<4x8xf32>, tensor<8x4xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[S]] : tensor<4x4xf32>)
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK-NOT: linalg.generic
// UPSTREAM-LABEL: func @scores
// UPSTREAM: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// UPSTREAM-SAME: ins(%{{.+}}, %{{.+}} : tensor<4x8xf32>, tensor<4x8xf32>)
func.func @scores(%q: tensor<4x8xf32>, %k: tensor<4x8xf32>) -> tensor<4x4xf32> {
  %e0 = tensor.empty() : tensor<8x4xf32>
  %kt = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]}
      ins(%k : tensor<4x8xf32>) outs(%e0 : tensor<8x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<4x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (k, n)>,
                                        affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %kt : tensor<4x8xf32>, tensor<8x4xf32>) outs(%acc : tensor<4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %a: f32):
    %p = arith.mulf %x, %y : f32
    %r = arith.addf %a, %p : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  %e2 = tensor.empty() : tensor<4x4xf32>
  %x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<4x4xf32>) outs(%e2 : tensor<4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = math.exp %in : f32
    linalg.yield %v : f32
  } -> tensor<4x4xf32>
  %two = arith.constant 2.0 : f32
  %e3 = tensor.empty() : tensor<4x4xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x4xf32>) outs(%e3 : tensor<4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = arith.mulf %in, %two : f32
    linalg.yield %v : f32
  } -> tensor<4x4xf32>
  return %y : tensor<4x4xf32>
}

// Tests that a fill two reductions accumulate into becomes one fill each.
// CHECK-LABEL: func @shared_fill
// CHECK-DAG: %[[F1:.+]] = linalg.fill
// CHECK-DAG: %[[F2:.+]] = linalg.fill
// CHECK-DAG: linalg.generic {{.*}} outs(%[[F1]] : tensor<4x1xf32>)
// CHECK-DAG: linalg.generic {{.*}} outs(%[[F2]] : tensor<4x1xf32>)
func.func @shared_fill(%x: tensor<4x8xf32>) -> (tensor<4x1xf32>, tensor<4x1xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x1xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x1xf32>) -> tensor<4x1xf32>
  %s = linalg.generic {indexing_maps = [#id, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x8xf32>) outs(%f : tensor<4x1xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %v = arith.addf %acc, %in : f32
    linalg.yield %v : f32
  } -> tensor<4x1xf32>
  %q = linalg.generic {indexing_maps = [#id, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x8xf32>) outs(%f : tensor<4x1xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.mulf %in, %in : f32
    %v = arith.addf %acc, %m : f32
    linalg.yield %v : f32
  } -> tensor<4x1xf32>
  return %s, %q : tensor<4x1xf32>, tensor<4x1xf32>
}

// Tests head splits: a transpose feeding the left-hand side folds into the
// contraction's indexing, and so does one feeding the right-hand side that
// keeps the output columns innermost (P V with V in [s, h, d] order); the
// contraction then reads both in place.
// CHECK-LABEL: func @head_split
// CHECK-NOT: linalg.transpose
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #{{.+}}, #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%{{.+}}, %{{.+}} : tensor<4x2x8xf32>, tensor<8x2x6xf32>)
// CHECK-NOT: linalg.generic
func.func @head_split(%q: tensor<4x2x8xf32>, %v: tensor<8x2x6xf32>) -> tensor<2x4x6xf32> {
  %e0 = tensor.empty() : tensor<2x4x8xf32>
  %qt = linalg.transpose ins(%q : tensor<4x2x8xf32>) outs(%e0 : tensor<2x4x8xf32>) permutation = [1, 0, 2]
  %e1 = tensor.empty() : tensor<2x8x6xf32>
  %vt = linalg.transpose ins(%v : tensor<8x2x6xf32>) outs(%e1 : tensor<2x8x6xf32>) permutation = [1, 0, 2]
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<2x4x6xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x4x6xf32>) -> tensor<2x4x6xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(h, m, n, k) -> (h, m, k)>,
                                        affine_map<(h, m, n, k) -> (h, k, n)>,
                                        affine_map<(h, m, n, k) -> (h, m, n)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%qt, %vt : tensor<2x4x8xf32>, tensor<2x8x6xf32>) outs(%acc : tensor<2x4x6xf32>) {
  ^bb0(%x: f32, %y: f32, %a: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %a, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x4x6xf32>
  return %r : tensor<2x4x6xf32>
}
