// RUN: slm-opt %s -split-input-file --slm-lower-run-time-checks -verify-diagnostics | FileCheck %s

// Tests that each cf.assert becomes a compare-and-swap of its message into
// the failure slot (a new trailing argument of the entry), in nested regions
// too, with one constant per distinct message, and that the run goes on.
// CHECK-DAG: llvm.mlir.global private constant @[[M0:slm_check_message_[0-9]+]]("'g' (Gather): index out of range\00")
// CHECK-DAG: llvm.mlir.global private constant @[[M1:slm_check_message_[0-9]+]]("second\00")
// CHECK-LABEL: func.func @slm_model_main
// CHECK-SAME: %[[I:[a-z0-9]+]]: index, %[[SLOT:[a-z0-9]+]]: !llvm.ptr {slm.failure_slot})
// CHECK: %[[OK:.*]] = arith.cmpi ult, %[[I]]
// CHECK: %[[BAD:.*]] = arith.xori %[[OK]], %{{.*}} : i1
// CHECK: scf.if %[[BAD]] {
// CHECK:   %[[MSG:.*]] = llvm.mlir.addressof @[[M0]] : !llvm.ptr
// CHECK:   %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK:   llvm.cmpxchg %[[SLOT]], %[[NULL]], %[[MSG]] monotonic monotonic
// CHECK: }
// CHECK: scf.for
// CHECK:   scf.if
// CHECK:     llvm.mlir.addressof @[[M0]]
// CHECK:   scf.if
// CHECK:     llvm.mlir.addressof @[[M1]]
// CHECK-NOT: cf.assert
// CHECK: return
func.func @slm_model_main(%x: tensor<4xf32>, %i: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %ok = arith.cmpi ult, %i, %c4 : index
  cf.assert %ok, "'g' (Gather): index out of range"
  scf.for %j = %c0 to %c4 step %c1 {
    %in = arith.cmpi ult, %j, %i : index
    cf.assert %in, "'g' (Gather): index out of range"
    cf.assert %in, "second"
  }
  %last = arith.minui %i, %c4 : index
  %v = tensor.extract %x[%last] : tensor<4xf32>
  return %v : f32
}

// -----

// Tests that a module without checks is left as it is (no slot argument).
// CHECK-LABEL: func.func @slm_model_main
// CHECK-SAME: (%{{.*}}: tensor<4xf32>) -> tensor<4xf32>
func.func @slm_model_main(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

func.func @slm_model_main(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func @helper(%ok: i1) {
  // expected-error @below {{run-time checks outside the model's entry function are not supported}}
  cf.assert %ok, "elsewhere"
  return
}
