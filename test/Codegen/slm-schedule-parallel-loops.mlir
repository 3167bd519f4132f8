// RUN: slm-opt %s --slm-schedule-parallel-loops | FileCheck %s
// RUN: slm-opt %s --slm-schedule-parallel-loops=chunk-work=0 | FileCheck %s --check-prefix=NOWORK
// RUN: slm-opt %s --slm-schedule-parallel-loops="schedule=guided chunk=4" | FileCheck %s --check-prefix=GUIDED
// RUN: slm-opt %s --slm-schedule-parallel-loops=schedule=static | FileCheck %s --check-prefix=STATIC
// RUN: not slm-opt %s --slm-schedule-parallel-loops=schedule=fast 2>&1 | FileCheck %s --check-prefix=BAD

// Every worksharing loop gets the schedule (a chunk of 1 by default, more
// iterations when each holds less than chunk-work = 32768 estimated
// operations: a lone store takes 16384 at a time); one nested in another
// keeps its own (it runs on one thread) and makes its parent's work
// unknown (one at a time); static removes the schedule a loop had.

// CHECK-LABEL: func.func @loops
// CHECK: %[[MANY:.*]] = llvm.mlir.constant(16384 : i64) : i64
// CHECK-NEXT: omp.wsloop schedule(dynamic = %[[MANY]] : i64) {
// CHECK: %[[ONE2:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK-NEXT: omp.wsloop schedule(dynamic = %[[ONE2]] : i64) {
// CHECK: omp.parallel {
// CHECK-NEXT: omp.wsloop {
// GUIDED: %[[FOUR:.*]] = llvm.mlir.constant(4 : i64) : i64
// GUIDED-NEXT: omp.wsloop schedule(guided = %[[FOUR]] : i64) {
// STATIC-NOT: schedule
// BAD: unknown schedule 'fast' (expected static, dynamic, guided or runtime)
func.func @loops(%n: index, %a: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : i64
  %f = arith.constant 1.0 : f32
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %f, %a[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel {
    omp.wsloop schedule(static = %c8 : i64) {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        omp.parallel {
          omp.wsloop {
            omp.loop_nest (%j) : index = (%c0) to (%n) step (%c1) {
              memref.store %f, %a[%j] : memref<?xf32>
              omp.yield
            }
          }
          omp.terminator
        }
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// A row of 32 loads, adds and stores is 130 operations: 253 rows at a time;
// a row of 16384 is more than chunk-work: one at a time. chunk-work=0: one.
// CHECK-LABEL: func.func @rows
// CHECK: %[[ROWS:.*]] = llvm.mlir.constant(253 : i64) : i64
// CHECK-NEXT: omp.wsloop schedule(dynamic = %[[ROWS]] : i64) {
// CHECK: %[[ONEROW:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK-NEXT: omp.wsloop schedule(dynamic = %[[ONEROW]] : i64) {
// NOWORK-LABEL: func.func @rows
// NOWORK-NOT: constant(253
// NOWORK: llvm.mlir.constant(1 : i64) : i64
// NOWORK-NEXT: omp.wsloop schedule(dynamic
func.func @rows(%n: index, %a: memref<?x16384xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c16384 = arith.constant 16384 : index
  %f = arith.constant 1.0 : f32
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        scf.for %j = %c0 to %c32 step %c1 {
          %v = memref.load %a[%i, %j] : memref<?x16384xf32>
          %s = arith.addf %v, %f : f32
          memref.store %s, %a[%i, %j] : memref<?x16384xf32>
        }
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        scf.for %j = %c0 to %c16384 step %c1 {
          %v = memref.load %a[%i, %j] : memref<?x16384xf32>
          %s = arith.addf %v, %f : f32
          memref.store %s, %a[%i, %j] : memref<?x16384xf32>
        }
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
