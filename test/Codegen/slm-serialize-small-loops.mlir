// RUN: slm-opt %s --slm-serialize-small-loops="min-work=4096" --split-input-file | FileCheck %s

// The body is an inner loop of 768 x 4 operations (load, multiply, store,
// yield) plus the loop and the terminator: 3074. Four rows (12296) are above
// min-work 4096 and stay parallel; one row becomes sequential loops.
// CHECK-LABEL: func.func @static_sizes
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK-NOT: scf.parallel
// CHECK: scf.for %{{.*}} = %c0 to %c1
// CHECK: scf.for %{{.*}} = %c0 to %c768
func.func @static_sizes(%a: memref<4x768xf32>, %b: memref<1x768xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c768 = arith.constant 768 : index
  %two = arith.constant 2.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %j = %c0 to %c768 step %c1 {
      %x = memref.load %a[%i, %j] : memref<4x768xf32>
      %y = arith.mulf %x, %two : f32
      memref.store %y, %a[%i, %j] : memref<4x768xf32>
    }
  }
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    scf.for %j = %c0 to %c768 step %c1 {
      %x = memref.load %b[%i, %j] : memref<1x768xf32>
      %y = arith.mulf %x, %two : f32
      memref.store %y, %b[%i, %j] : memref<1x768xf32>
    }
  }
  return
}

// -----

// A dynamic row count: the choice is made at run time, rows * 3074 >= 4096
// runs the parallel nest, else a sequential copy.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK: %[[N:.*]] = arith.ceildivsi
// CHECK: %[[WORK:.*]] = arith.muli %[[N]], %c3074
// CHECK: %[[BIG:.*]] = arith.cmpi sge, %[[WORK]], %c4096
// CHECK: scf.if %[[BIG]] {
// CHECK-NEXT: scf.parallel
// CHECK: } else {
// CHECK-NEXT: scf.for
// CHECK: scf.for
func.func @dynamic_rows(%a: memref<?x768xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c768 = arith.constant 768 : index
  %two = arith.constant 2.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.for %j = %c0 to %c768 step %c1 {
      %x = memref.load %a[%i, %j] : memref<?x768xf32>
      %y = arith.mulf %x, %two : f32
      memref.store %y, %a[%i, %j] : memref<?x768xf32>
    }
  }
  return
}

// -----

// An inner loop of unknown length counts as min-work: stays parallel.
// CHECK-LABEL: func.func @unknown_inner
// CHECK: scf.parallel
func.func @unknown_inner(%a: memref<?x?xf32>, %m: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %two = arith.constant 2.0 : f32
  scf.parallel (%i) = (%c0) to (%c2) step (%c1) {
    scf.for %j = %c0 to %m step %c1 {
      %x = memref.load %a[%i, %j] : memref<?x?xf32>
      %y = arith.mulf %x, %two : f32
      memref.store %y, %a[%i, %j] : memref<?x?xf32>
    }
  }
  return
}
