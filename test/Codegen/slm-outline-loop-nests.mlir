// RUN: slm-opt %s --slm-outline-loop-nests --split-input-file | FileCheck %s

// Three loops: the first two differ only in their buffer and share one
// function; the third multiplies by another constant and gets its own.
// Constants are recomputed in the outlined bodies (the bounds stay known),
// buffers are arguments.
// CHECK-LABEL: func.func @shared
// CHECK-NOT: scf.for
// CHECK: call @shared_nest0(%arg0) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @shared_nest0(%arg1) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @shared_nest2(%arg1) : (memref<8xf32>) -> ()
// CHECK-NEXT: return
// CHECK: func.func private @shared_nest0(%[[A:.*]]: memref<8xf32>) attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"]}
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2.0{{.*}} : f32
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %[[C8]]
// CHECK: %[[X:.*]] = memref.load %[[A]][%[[I]]]
// CHECK: arith.mulf %[[X]], %[[TWO]]
// CHECK: func.func private @shared_nest2(
// CHECK: arith.constant 3.0
// CHECK-NOT: func.func private @shared_nest1
func.func @shared(%a: memref<8xf32>, %b: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %two = arith.constant 2.0 : f32
  %three = arith.constant 3.0 : f32
  scf.for %i = %c0 to %c8 step %c1 {
    %x = memref.load %a[%i] : memref<8xf32>
    %y = arith.mulf %x, %two : f32
    memref.store %y, %a[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %x = memref.load %b[%i] : memref<8xf32>
    %y = arith.mulf %x, %two : f32
    memref.store %y, %b[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %x = memref.load %b[%i] : memref<8xf32>
    %y = arith.mulf %x, %three : f32
    memref.store %y, %b[%i] : memref<8xf32>
  }
  return
}

// -----

// The scf.if between a parallel nest and its sequential copy moves as one;
// its results are the function's; dynamic sizes and the condition are
// arguments. An scf.if without a loop stays.
// CHECK-LABEL: func.func @results
// CHECK: %[[R:.*]] = memref.alloc
// CHECK: %[[P:.*]] = arith.cmpi
// CHECK: %[[S:.*]] = call @results_nest0(%[[R]], %arg0, %[[P]]) : (memref<?xf32>, index, i1) -> memref<?xf32>
// CHECK: scf.if %[[P]] {
// CHECK-NEXT: memref.dealloc
// CHECK: return %[[S]]
// CHECK: func.func private @results_nest0(
// CHECK: scf.if
// CHECK: scf.parallel
// CHECK: scf.for
func.func @results(%n: index) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %two = arith.constant 2.0 : f32
  %r = memref.alloc(%n) : memref<?xf32>
  %p = arith.cmpi sgt, %n, %c8 : index
  %s = scf.if %p -> memref<?xf32> {
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      memref.store %two, %r[%i] : memref<?xf32>
    }
    scf.yield %r : memref<?xf32>
  } else {
    scf.for %i = %c0 to %n step %c1 {
      memref.store %two, %r[%i] : memref<?xf32>
    }
    scf.yield %r : memref<?xf32>
  }
  %extra = memref.alloc() : memref<4xf32>
  scf.if %p {
    memref.dealloc %extra : memref<4xf32>
  }
  return %s : memref<?xf32>
}

// -----

// A weight's memref.get_global is an argument (the same nest on two
// weights is one function), not recomputed.
// CHECK-LABEL: func.func @weights
// CHECK: %[[W0:.*]] = memref.get_global @w0
// CHECK: %[[W1:.*]] = memref.get_global @w1
// CHECK: call @weights_nest0(%[[W0]], %arg0)
// CHECK: call @weights_nest0(%[[W1]], %arg0)
// CHECK-NOT: func.func private @weights_nest1
memref.global "private" constant @w0 : memref<4xf32> = dense<1.0>
memref.global "private" constant @w1 : memref<4xf32> = dense<2.0>
func.func @weights(%out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %w0 = memref.get_global @w0 : memref<4xf32>
  %w1 = memref.get_global @w1 : memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %x = memref.load %w0[%i] : memref<4xf32>
    memref.store %x, %out[%i] : memref<4xf32>
  }
  scf.for %i = %c0 to %c4 step %c1 {
    %x = memref.load %w1[%i] : memref<4xf32>
    memref.store %x, %out[%i] : memref<4xf32>
  }
  return
}
