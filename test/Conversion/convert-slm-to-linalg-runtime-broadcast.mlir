// RUN: slm-opt %s -split-input-file --convert-slm-to-linalg | FileCheck %s

// Tests numpy broadcasting of dynamic extents at run time: where two
// dynamic extents meet, the result extent is the one that is not 1, a
// cf.assert checks that they broadcast, and each operand that may be 1 is
// stretched behind an scf.if (kept as it is when its extents already
// match). Extents known to be equal (the same root) need none of it.

// Tests [?, ?] + [?, ?] from two different tensors.
// CHECK-LABEL: func @two_dynamic
// CHECK-SAME: (%[[A:.+]]: tensor<?x?xf32>, %[[B:.+]]: tensor<?x?xf32>)
// CHECK: cf.assert %{{.+}}, "dynamic extents do not broadcast"
// CHECK: %[[SA:.+]] = scf.if %{{.+}} -> (tensor<?x?xf32>) {
// CHECK: tensor.generate
// CHECK: arith.select
// CHECK: tensor.extract %[[A]]
// CHECK: } else {
// CHECK: scf.yield %[[A]] : tensor<?x?xf32>
// CHECK: %[[SB:.+]] = scf.if
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[SA]], %[[SB]] : tensor<?x?xf32>, tensor<?x?xf32>)
func.func @two_dynamic(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = slm.add %a, %b : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// Tests that extents with one root (x and x * x) broadcast without checks
// or copies: the fast path.
// CHECK-LABEL: func @same_root
// CHECK-NOT: cf.assert
// CHECK-NOT: scf.if
// CHECK: linalg.generic
// CHECK-NOT: scf.if
// CHECK: return
func.func @same_root(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %g = slm.mul %x, %x : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %0 = slm.add %x, %g : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// Tests a dynamic extent against a static one: it may be 1 (stretched) or
// must equal 4.
// CHECK-LABEL: func @dynamic_static
// CHECK-SAME: (%[[A:.+]]: tensor<?xf32>, %[[B:.+]]: tensor<4xf32>)
// CHECK: cf.assert
// CHECK: %[[SA:.+]] = scf.if
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[SA]], %[[B]] : tensor<?xf32>, tensor<4xf32>)
func.func @dynamic_static(%a: tensor<?xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = slm.add %a, %b : (tensor<?xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests a static 1 against a dynamic extent: read at index 0 by the map,
// no run-time work.
// CHECK-DAG: #[[ROW:.+]] = affine_map<(d0, d1) -> (0, d1)>
// CHECK-LABEL: func @static_one
// CHECK-NOT: scf.if
// CHECK-NOT: cf.assert
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[ROW]], #{{.+}}]
func.func @static_one(%a: tensor<?x8xf32>, %b: tensor<1x8xf32>) -> tensor<?x8xf32> {
  %0 = slm.mul %a, %b : (tensor<?x8xf32>, tensor<1x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Tests broadcast_to a run-time shape: a dynamic input extent is stretched
// at run time when it is 1.
// CHECK-LABEL: func @broadcast_to
// CHECK-SAME: (%[[X:.+]]: tensor<?xf32>, %[[S:.+]]: tensor<2xindex>)
// CHECK: %[[SX:.+]] = scf.if
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[SX]] : tensor<?xf32>)
func.func @broadcast_to(%x: tensor<?xf32>, %s: tensor<2xindex>) -> tensor<?x?xf32> {
  %0 = slm.broadcast_to %x, %s : (tensor<?xf32>, tensor<2xindex>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
