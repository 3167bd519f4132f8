// RUN: slm-opt %s --slm-promote-accumulators | FileCheck %s

// Tests a row sum: the accumulator element is loaded once before the loop,
// carried in a register, and stored once after it.
// CHECK-LABEL: func @row_sum
// CHECK: %[[ACC:.+]] = memref.alloc
// CHECK: scf.for %[[I:.+]] =
// CHECK: %[[A0:.+]] = memref.load %[[ACC]][%[[I]]]
// CHECK: %[[R:.+]] = scf.for %{{.+}} = {{.+}} iter_args(%[[A:.+]] = %[[A0]]) -> (f32)
// CHECK-NOT: memref.load %[[ACC]]
// CHECK: %[[S:.+]] = arith.addf %[[A]], %{{.+}} fastmath<reassoc>
// CHECK-NOT: memref.store
// CHECK: scf.yield %[[S]]
// CHECK: memref.store %[[R]], %[[ACC]][%[[I]]]
func.func @row_sum(%in: memref<?x?xf32>, %m: index, %n: index) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %acc = memref.alloc(%m) : memref<?xf32>
  scf.for %i = %c0 to %m step %c1 {
    scf.for %j = %c0 to %n step %c1 {
      %x = memref.load %in[%i, %j] : memref<?x?xf32>
      %a = memref.load %acc[%i] : memref<?xf32>
      %s = arith.addf %a, %x fastmath<reassoc> : f32
      memref.store %s, %acc[%i] : memref<?xf32>
    }
  }
  return %acc : memref<?xf32>
}

// Tests what stays: an accumulator that is a function argument (it may
// alias the input), indices that change in the loop, and a buffer that the
// loop also reads elsewhere.
// CHECK-LABEL: func @left_alone
// CHECK-NOT: iter_args
func.func @left_alone(%in: memref<?x?xf32>, %arg_acc: memref<?xf32>, %m: index, %n: index) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %j = %c0 to %n step %c1 {
    %x = memref.load %in[%c0, %j] : memref<?x?xf32>
    %a = memref.load %arg_acc[%c0] : memref<?xf32>
    %s = arith.addf %a, %x : f32
    memref.store %s, %arg_acc[%c0] : memref<?xf32>
  }
  %acc = memref.alloc(%n) : memref<?xf32>
  scf.for %j = %c0 to %n step %c1 {
    %a = memref.load %acc[%j] : memref<?xf32>
    %s = arith.addf %a, %a : f32
    memref.store %s, %acc[%j] : memref<?xf32>
  }
  scf.for %j = %c0 to %n step %c1 {
    %a = memref.load %acc[%c0] : memref<?xf32>
    %b = memref.load %acc[%j] : memref<?xf32>
    %s = arith.addf %a, %b : f32
    memref.store %s, %acc[%c0] : memref<?xf32>
  }
  return %acc : memref<?xf32>
}
