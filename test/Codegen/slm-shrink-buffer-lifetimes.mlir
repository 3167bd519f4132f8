// RUN: slm-opt %s --slm-shrink-buffer-lifetimes --split-input-file | FileCheck %s

// Tests two temporaries used one after the other: each is allocated just
// before its first use and freed just after its last, so they are never
// live together.
// CHECK-LABEL: func @sequence
// CHECK-NEXT: %[[A:.+]] = memref.alloc() : memref<64xf32>
// CHECK-NEXT: linalg.fill {{.*}} outs(%[[A]]
// CHECK-NEXT: linalg.copy ins(%[[A]]
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: %[[B:.+]] = memref.alloc() : memref<64xf32>
// CHECK-NEXT: linalg.fill {{.*}} outs(%[[B]]
// CHECK-NEXT: linalg.copy ins(%[[B]]
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: return
func.func @sequence(%x: f32, %out: memref<64xf32>, %out2: memref<64xf32>) {
  %a = memref.alloc() : memref<64xf32>
  %b = memref.alloc() : memref<64xf32>
  linalg.fill ins(%x : f32) outs(%a : memref<64xf32>)
  linalg.copy ins(%a : memref<64xf32>) outs(%out : memref<64xf32>)
  linalg.fill ins(%x : f32) outs(%b : memref<64xf32>)
  linalg.copy ins(%b : memref<64xf32>) outs(%out2 : memref<64xf32>)
  memref.dealloc %a : memref<64xf32>
  memref.dealloc %b : memref<64xf32>
  return
}

// -----

// Tests uses through views and inside loops: the last use is the loop that
// reads a reshaped subview, and the dealloc (of the base buffer the
// deallocation pipeline extracts from a view) follows that loop.
// CHECK-LABEL: func @views_and_loops
// CHECK: memref.alloc(%{{.+}}) : memref<?x8xf32>
// CHECK: scf.for
// CHECK: memref.collapse_shape
// CHECK: scf.parallel
// CHECK: memref.load
// CHECK: scf.reduce
// CHECK-NEXT: }
// CHECK-NEXT: %[[BASE:[a-z_]+]], %{{.+}} = memref.extract_strided_metadata
// CHECK-NEXT: memref.dealloc %[[BASE]]
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: return
func.func @views_and_loops(%n: index, %x: f32, %out: memref<?xf32>, %other: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc(%n) : memref<?x8xf32>
  %s = memref.subview %a[0, 0] [%n, 8] [1, 1] : memref<?x8xf32> to memref<?x8xf32, strided<[8, 1]>>
  scf.for %i = %c0 to %n step %c1 {
    memref.store %x, %a[%i, %c0] : memref<?x8xf32>
  }
  %flat = memref.collapse_shape %s [[0, 1]] : memref<?x8xf32, strided<[8, 1]>> into memref<?xf32, strided<[1]>>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %flat[%i] : memref<?xf32, strided<[1]>>
    memref.store %v, %out[%i] : memref<?xf32>
    scf.reduce
  }
  linalg.fill ins(%x : f32) outs(%other : memref<16xf32>)
  %base, %offset, %sizes:2, %strides:2 = memref.extract_strided_metadata %s : memref<?x8xf32, strided<[8, 1]>> -> memref<f32>, index, index, index, index, index
  memref.dealloc %base : memref<f32>
  return
}

// -----

// Tests a buffer that a loop may carry out through its results: the loop's
// result is a use too, read after the loop.
// CHECK-LABEL: func @loop_carried
// CHECK: scf.for
// CHECK: linalg.copy ins(%{{.+}} : memref<8xf32>) outs(%{{.+}} : memref<8xf32>)
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: return
func.func @loop_carried(%n: index, %x: f32, %out: memref<8xf32>, %other: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc() : memref<8xf32>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%it = %a) -> memref<8xf32> {
    linalg.fill ins(%x : f32) outs(%it : memref<8xf32>)
    scf.yield %it : memref<8xf32>
  }
  linalg.copy ins(%r : memref<8xf32>) outs(%out : memref<8xf32>)
  linalg.fill ins(%x : f32) outs(%other : memref<8xf32>)
  memref.dealloc %a : memref<8xf32>
  return
}

// -----

// Tests what stays: a buffer whose address is taken as an integer (its uses
// cannot be followed) keeps its dealloc at the end, and so does a buffer
// allocated in another block than its dealloc.
// CHECK-LABEL: func @out_of_sight
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: linalg.fill
// CHECK: scf.if
// CHECK: memref.dealloc
// CHECK: }
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: return
func.func @out_of_sight(%x: f32, %c: i1, %other: memref<8xf32>) -> index {
  %a = memref.alloc() : memref<8xf32>
  %p = memref.extract_aligned_pointer_as_index %a : memref<8xf32> -> index
  linalg.fill ins(%x : f32) outs(%other : memref<8xf32>)
  scf.if %c {
    %b = memref.alloc() : memref<8xf32>
    linalg.fill ins(%x : f32) outs(%b : memref<8xf32>)
    memref.dealloc %b : memref<8xf32>
  }
  memref.dealloc %a : memref<8xf32>
  return %p : index
}
