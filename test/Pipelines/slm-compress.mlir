// RUN: slm-opt %S/../slmc/Inputs/two-blocks.mlir --slm-compress="quantize=int8" | FileCheck %s --check-prefix=INT8
// RUN: slm-opt %S/../slmc/Inputs/two-blocks.mlir --slm-compress="prune-heads=0.5 prune-method=magnitude" | FileCheck %s --check-prefix=HEADS
// RUN: slm-opt %S/../slmc/Inputs/two-blocks.mlir --slm-compress | FileCheck %s --check-prefix=NONE
// RUN: not slm-opt %S/../slmc/Inputs/two-blocks.mlir --slm-compress="quantize=int3" 2>&1 | FileCheck %s --check-prefix=BAD

// Tests that the compress phase pipeline prunes and quantizes with the
// options slmc declares (here without calibration: magnitude scores), and
// does nothing by default.

// INT8: slm.dequantize_weight
// HEADS: slm.attention {{.*}}num_heads = 1
// HEADS-NOT: num_heads = 2
// NONE-NOT: slm.dequantize_weight
// NONE: num_heads = 2
// BAD: Cannot find option named 'int3'
