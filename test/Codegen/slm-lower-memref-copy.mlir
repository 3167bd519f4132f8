// RUN: slm-opt %s -split-input-file --slm-lower-memref-copy | FileCheck %s

// Tests that a copy contiguous along its last dimension becomes vector
// loads and stores: a parallel loop over the other dimensions, whole
// vectors along the last, no tail for a static multiple of 16.
// CHECK-LABEL: func @contiguous
// CHECK-NOT: memref.copy
// CHECK: scf.parallel (%[[I:.+]], %[[J:.+]]) = (%c0{{.*}}, %c0{{.*}}) to
// CHECK: scf.for %[[K:.+]] = %c0{{.*}} to %{{.+}} step %c16
// CHECK: %[[V:.+]] = vector.load %arg0[%[[I]], %[[J]], %[[K]]] : memref<?x?x64xf32>, vector<16xf32>
// CHECK: vector.store %[[V]], %arg1[%[[I]], %[[J]], %[[K]]] : memref<?x?x64xf32, strided<[?, 64, 1]>>, vector<16xf32>
// CHECK-NOT: scf.if
// CHECK-NOT: linalg.generic
func.func @contiguous(%a: memref<?x?x64xf32>, %b: memref<?x?x64xf32, strided<[?, 64, 1]>>) {
  memref.copy %a, %b : memref<?x?x64xf32> to memref<?x?x64xf32, strided<[?, 64, 1]>>
  return
}

// -----

// Tests a dynamic last extent: whole vectors, then one masked.
// CHECK-LABEL: func @dynamic_last
// CHECK: scf.parallel
// CHECK: scf.for {{.*}} step %c16
// CHECK: vector.load {{.*}} vector<16xf32>
// CHECK: scf.if
// CHECK: vector.create_mask
// CHECK: vector.maskedload
// CHECK: vector.maskedstore
func.func @dynamic_last(%a: memref<?x?xf32>, %b: memref<?x?xf32>) {
  memref.copy %a, %b : memref<?x?xf32> to memref<?x?xf32>
  return
}

// -----

// Tests a short static last extent (vectors of that width) and i64 (8
// lanes per 512 bits); rank 1 runs in parallel over blocks of the vector.
// CHECK-LABEL: func @short_and_wide
// CHECK: vector.load {{.*}} : memref<?x4xf32>, vector<4xf32>
// CHECK: scf.parallel (%{{.+}}) = (%c0{{.*}}) to (%{{.+}}) step (%c8)
// CHECK: vector.maskedload {{.*}} : memref<?xi64>, vector<8xi1>, vector<8xi64> into vector<8xi64>
func.func @short_and_wide(%a: memref<?x4xf32>, %b: memref<?x4xf32>, %c: memref<?xi64>, %d: memref<?xi64>) {
  memref.copy %a, %b : memref<?x4xf32> to memref<?x4xf32>
  memref.copy %c, %d : memref<?xi64> to memref<?xi64>
  return
}

// -----

// Tests that a copy strided along its last dimension (or of i1) becomes a
// linalg copy (then loops), not a call into MLIR's runtime library.
// CHECK-LABEL: func @strided
// CHECK-NOT: memref.copy
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.+}} : memref<?x4xf32, strided<[8, 2]>>) outs(%{{.+}} : memref<?x4xf32>)
// CHECK: linalg.yield
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.+}} : memref<?xi1>) outs(%{{.+}} : memref<?xi1>)
func.func @strided(%a: memref<?x4xf32, strided<[8, 2]>>, %b: memref<?x4xf32>, %c: memref<?xi1>, %d: memref<?xi1>) {
  memref.copy %a, %b : memref<?x4xf32, strided<[8, 2]>> to memref<?x4xf32>
  memref.copy %c, %d : memref<?xi1> to memref<?xi1>
  return
}
