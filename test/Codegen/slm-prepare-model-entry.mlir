// RUN: slm-opt %s -split-input-file --slm-prepare-model-entry -verify-diagnostics | FileCheck %s
// RUN: slm-opt %s -split-input-file --slm-prepare-model-entry="entry=other lowered-name=run" | FileCheck %s --check-prefix=NAMED

// Tests that the entry gets its ABI name, a C interface and read-only
// inputs, and that other functions are left alone.
// CHECK-LABEL: func.func @slm_model_main
// CHECK-SAME: bufferization.writable = false
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @other
// CHECK-NOT: llvm.emit_c_interface
// NAMED-LABEL: func.func @main
// NAMED-NOT: llvm.emit_c_interface
// NAMED-LABEL: func.func @run
// NAMED-SAME: attributes {llvm.emit_c_interface}
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  return %x : tensor<2x4xf32>
}
func.func @other(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  return %x : tensor<2x4xf32>
}

// -----

// Tests that a module without the entry is left as it is.
// CHECK-LABEL: func.func @helper
// CHECK-NOT: llvm.emit_c_interface
func.func @helper(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  return %x : tensor<2x4xf32>
}

// -----

// Tests that renaming onto an existing symbol is an error.
// expected-error @+1 {{cannot rename the entry to 'slm_model_main': the module already has that symbol}}
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  return %x : tensor<2x4xf32>
}
func.func @slm_model_main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  return %x : tensor<2x4xf32>
}
