// RUN: slm-opt %s --slm-schedule-parallel-loops | FileCheck %s
// RUN: slm-opt %s --slm-schedule-parallel-loops="schedule=guided chunk=4" | FileCheck %s --check-prefix=GUIDED
// RUN: slm-opt %s --slm-schedule-parallel-loops=schedule=static | FileCheck %s --check-prefix=STATIC
// RUN: not slm-opt %s --slm-schedule-parallel-loops=schedule=fast 2>&1 | FileCheck %s --check-prefix=BAD

// Every worksharing loop gets the schedule (a chunk of 1 by default); one
// nested in another keeps its own (it runs on one thread); static removes
// the schedule a loop had.

// CHECK-LABEL: func.func @loops
// CHECK: %[[ONE:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK-NEXT: omp.wsloop schedule(dynamic = %[[ONE]] : i64) {
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
