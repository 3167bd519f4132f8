// RUN: slm-opt %s --slm-lower-memref-copy | FileCheck %s

// Tests that a strided copy becomes a linalg copy (then loops), not a call
// into MLIR's runtime library.
// CHECK-LABEL: func @copy
// CHECK-NOT: memref.copy
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.+}} : memref<?x4xf32, strided<[8, 1]>>) outs(%{{.+}} : memref<?x4xf32>)
// CHECK: linalg.yield
func.func @copy(%a: memref<?x4xf32, strided<[8, 1]>>, %b: memref<?x4xf32>) {
  memref.copy %a, %b : memref<?x4xf32, strided<[8, 1]>> to memref<?x4xf32>
  return
}
