// RUN: slm-opt %s -split-input-file --slm-fuse-elementwise -verify-diagnostics | FileCheck %s
// RUN: slm-opt %s -split-input-file --slm-fuse-elementwise="no-fuse-into-contractions=false" -verify-diagnostics | FileCheck %s --check-prefix=UPSTREAM

// Tests that a declared contraction keeps its declaration when a copy (the
// head split of Q, a transpose) is folded into its indexing; with
// upstream's rule the exp fuses in too, and the contraction, which no
// longer computes C + A * B, loses it.
// CHECK-LABEL: func @head_split
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%{{.+}}, %{{.+}} : tensor<8x4xf32>, tensor<8x4xf32>)
// CHECK-SAME: attrs = {slm.contraction = #slm.contraction<kind = f32>}
// UPSTREAM-LABEL: func @head_split
// UPSTREAM: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// UPSTREAM-NOT: slm.contraction
// UPSTREAM: math.exp
// UPSTREAM: return
func.func @head_split(%q: tensor<8x4xf32>, %b: tensor<8x4xf32>) -> tensor<4x4xf32> {
  %e0 = tensor.empty() : tensor<8x4xf32>
  %ex = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%q : tensor<8x4xf32>) outs(%e0 : tensor<8x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = math.exp %in : f32
    linalg.yield %v : f32
  } -> tensor<8x4xf32>
  %e1 = tensor.empty() : tensor<4x8xf32>
  %qt = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%ex : tensor<8x4xf32>) outs(%e1 : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<4x8xf32>
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<4x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (k, n)>,
                                        affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"],
                       slm.contraction = #slm.contraction<kind = f32>}
      ins(%qt, %b : tensor<4x8xf32>, tensor<8x4xf32>) outs(%acc : tensor<4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %a: f32):
    %p = arith.mulf %x, %y : f32
    %r = arith.addf %a, %p : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  return %s : tensor<4x4xf32>
}

// -----

// Tests that upstream's folding of a splat operand (all scales equal) into
// the body, which drops the declaration, is said: the product then runs as
// plain loops.
// CHECK-LABEL: func @splat_scales
// CHECK-NOT: slm.contraction
func.func @splat_scales(%x: tensor<?x8xf32>, %w: tensor<1x8x32xi8>) -> tensor<?x1x32xf32> {
  %s = arith.constant dense<0.5> : tensor<1x32xf32>
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %d = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%d) : tensor<?x1x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<?x1x32xf32>) -> tensor<?x1x32xf32>
  // expected-warning @below {{declared #slm.contraction<kind = int8_weight, panel = 32> lost its declaration in fusion (a constant operand was folded into its body): it runs as plain loops}}
  %y = linalg.generic {indexing_maps = [affine_map<(m, p, j, k) -> (m, k)>,
                                        affine_map<(m, p, j, k) -> (p, k, j)>,
                                        affine_map<(m, p, j, k) -> (p, j)>,
                                        affine_map<(m, p, j, k) -> (m, p, j)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"],
                       slm.contraction = #slm.contraction<kind = int8_weight, panel = 32>}
      ins(%x, %w, %s : tensor<?x8xf32>, tensor<1x8x32xi8>, tensor<1x32xf32>) outs(%acc : tensor<?x1x32xf32>) {
  ^bb0(%a: f32, %q: i8, %scale: f32, %out: f32):
    %wide = arith.sitofp %q : i8 to f32
    %wt = arith.mulf %wide, %scale : f32
    %p = arith.mulf %a, %wt : f32
    %r = arith.addf %out, %p : f32
    linalg.yield %r : f32
  } -> tensor<?x1x32xf32>
  return %y : tensor<?x1x32xf32>
}
