// RUN: slm-opt %s --slm-sequential-inner-loops | FileCheck %s

// Tests that a 3-D parallel nest keeps its two outer dimensions parallel
// and runs the innermost one as a sequential loop with the same body.
// CHECK-LABEL: func @copy
// CHECK: scf.parallel (%[[I:.+]], %[[J:.+]]) = (%c0, %c0) to (%[[D0:.+]], %c4) step (%c1, %c1)
// CHECK-NEXT: scf.for %[[K:.+]] = %c0 to %[[D2:.+]] step %c1
// CHECK-NEXT: %[[X:.+]] = memref.load %{{.+}}[%[[I]], %[[J]], %[[K]]]
// CHECK-NEXT: memref.store %[[X]], %{{.+}}[%[[I]], %[[J]], %[[K]]]
func.func @copy(%a: memref<?x4x?xf32>, %b: memref<?x4x?xf32>, %d0: index, %d2: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%d0, %c4, %d2) step (%c1, %c1, %c1) {
    %x = memref.load %a[%i, %j, %k] : memref<?x4x?xf32>
    memref.store %x, %b[%i, %j, %k] : memref<?x4x?xf32>
  }
  return
}

// Tests what stays: one-dimensional nests and nests with reductions.
// CHECK-LABEL: func @left_alone
// CHECK: scf.parallel (%{{.+}}) =
// CHECK-NOT: scf.for
// CHECK: scf.parallel (%{{.+}}, %{{.+}}) = {{.+}} init
// CHECK-NOT: scf.for
func.func @left_alone(%a: memref<?xf32>, %b: memref<?x?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.store %zero, %a[%i] : memref<?xf32>
  }
  %s = scf.parallel (%i, %j) = (%c0, %c0) to (%n, %n) step (%c1, %c1) init (%zero) -> f32 {
    %x = memref.load %b[%i, %j] : memref<?x?xf32>
    scf.reduce(%x : f32) {
    ^bb0(%l: f32, %r: f32):
      %t = arith.addf %l, %r : f32
      scf.reduce.return %t : f32
    }
  }
  return %s : f32
}
