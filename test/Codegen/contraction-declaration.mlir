// RUN: slm-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// Tests that a declared contraction round-trips: the declaration prints
// with the defaulted parameters (panel, group) left out.
// CHECK-LABEL: func @declared
// CHECK: slm.contraction = #slm.contraction<kind = f32>
// CHECK: slm.contraction = #slm.contraction<kind = nf4, panel = 32, group = 4>
func.func @declared(%a: memref<?x8xf32>, %b: memref<8x16xf32>, %c: memref<?x16xf32>,
                    %x: memref<?x2x2x2xf32>, %w: memref<1x2x2x32xi8>, %s: memref<1x2x32xf32>,
                    %y: memref<?x1x32xf32>, %t: memref<16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                   affine_map<(m, n, k) -> (k, n)>,
                                   affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"],
                  slm.contraction = #slm.contraction<kind = f32, panel = 0>}
      ins(%a, %b : memref<?x8xf32>, memref<8x16xf32>) outs(%c : memref<?x16xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %0 = arith.mulf %p, %q : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(m, p, j, kg, kb, kl) -> (m, kg, kb, kl)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (p, kg, kb, j)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (p, kg, j)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"],
                  slm.contraction = #slm.contraction<kind = nf4, panel = 32, group = 4>}
      ins(%x, %w, %s : memref<?x2x2x2xf32>, memref<1x2x2x32xi8>, memref<1x2x32xf32>) outs(%y : memref<?x1x32xf32>) {
  ^bb0(%in: f32, %byte: i8, %scale: f32, %acc: f32):
    %kl = linalg.index 5 : index
    %c4 = arith.constant 4 : index
    %sh = arith.muli %kl, %c4 : index
    %shift = arith.index_cast %sh : index to i8
    %r = arith.shrui %byte, %shift : i8
    %c15 = arith.constant 15 : i8
    %u = arith.andi %r, %c15 : i8
    %i = arith.index_castui %u : i8 to index
    %level = memref.load %t[%i] : memref<16xf32>
    %wt = arith.mulf %level, %scale : f32
    %0 = arith.mulf %in, %wt : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

func.func @wrong_inputs(%a: memref<?x8xf32>, %b: memref<8x16xi8>, %c: memref<?x16xf32>) {
  // expected-error @below {{declared #slm.contraction<kind = int8_weight, panel = 16>: expects 3 inputs and 1 output, has 2 and 1}}
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                   affine_map<(m, n, k) -> (k, n)>,
                                   affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"],
                  slm.contraction = #slm.contraction<kind = int8_weight, panel = 16>}
      ins(%a, %b : memref<?x8xf32>, memref<8x16xi8>) outs(%c : memref<?x16xf32>) {
  ^bb0(%p: f32, %q: i8, %acc: f32):
    %w = arith.sitofp %q : i8 to f32
    %0 = arith.mulf %p, %w : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

func.func @wrong_element_type(%a: tensor<?x8xf32>, %b: tensor<8x16xi8>, %c: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @below {{declared #slm.contraction<kind = f32>: B must have elements of 'f32', has 'i8'}}
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (k, n)>,
                                        affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"],
                       slm.contraction = #slm.contraction<kind = f32>}
      ins(%a, %b : tensor<?x8xf32>, tensor<8x16xi8>) outs(%c : tensor<?x16xf32>) {
  ^bb0(%p: f32, %q: i8, %acc: f32):
    %w = arith.sitofp %q : i8 to f32
    %0 = arith.mulf %p, %w : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  } -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

func.func @wrong_reductions(%a: memref<?x2x4xi8>, %b: memref<1x8x32xi8>, %c: memref<?x1x32xi32>) {
  // expected-error @below {{declared #slm.contraction<kind = u8s8_dot, panel = 32>: expects 2 reduction loops, has 1}}
  linalg.generic {indexing_maps = [affine_map<(m, p, j, k) -> (m, k, k)>,
                                   affine_map<(m, p, j, k) -> (p, k, j)>,
                                   affine_map<(m, p, j, k) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"],
                  slm.contraction = #slm.contraction<kind = u8s8_dot, panel = 32>}
      ins(%a, %b : memref<?x2x4xi8>, memref<1x8x32xi8>) outs(%c : memref<?x1x32xi32>) {
  ^bb0(%p: i8, %q: i8, %acc: i32):
    %0 = arith.extui %p : i8 to i32
    %1 = arith.extsi %q : i8 to i32
    %2 = arith.muli %0, %1 : i32
    %3 = arith.addi %acc, %2 : i32
    linalg.yield %3 : i32
  }
  return
}

// -----

func.func @bf16_types(%a: memref<?x2x2xf32>, %b: memref<1x2x32x2xbf16>, %c: memref<?x1x32xf32>) {
  // expected-error @below {{declared #slm.contraction<kind = bf16_dot, panel = 32>: A must have elements of 'bf16', has 'f32'}}
  linalg.generic {indexing_maps = [affine_map<(m, p, j, kq, kr) -> (m, kq, kr)>,
                                   affine_map<(m, p, j, kq, kr) -> (p, kq, j, kr)>,
                                   affine_map<(m, p, j, kq, kr) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"],
                  slm.contraction = #slm.contraction<kind = bf16_dot, panel = 32>}
      ins(%a, %b : memref<?x2x2xf32>, memref<1x2x32x2xbf16>) outs(%c : memref<?x1x32xf32>) {
  ^bb0(%p: f32, %q: bf16, %acc: f32):
    %1 = arith.extf %q : bf16 to f32
    %2 = arith.mulf %p, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

func.func @not_generic(%c: memref<?x16xf32>) {
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{'slm.contraction' is only valid on linalg.generic}}
  linalg.fill {slm.contraction = #slm.contraction<kind = f32>} ins(%zero : f32) outs(%c : memref<?x16xf32>)
  return
}

// -----

func.func @not_a_declaration(%c: memref<?x16xf32>) {
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{'slm.contraction' must be a #slm.contraction attribute}}
  linalg.fill {slm.contraction = 1 : i64} ins(%zero : f32) outs(%c : memref<?x16xf32>)
  return
}

// -----

// expected-error @below {{kind int4 needs an even group size > 0, got 0}}
func.func private @no_group() attributes {d = #slm.contraction<kind = int4, panel = 32>}

// -----

// expected-error @below {{group is only meaningful for 4-bit kinds, got 32 for f32}}
func.func private @group_on_f32() attributes {d = #slm.contraction<kind = f32, group = 32>}

// -----

// expected-error @below {{kind int8_weight reads packed weights: panel must be > 0}}
func.func private @unpacked_codes() attributes {d = #slm.contraction<kind = int8_weight>}

// -----

// expected-error @below {{panel must be >= 0, got -32}}
func.func private @negative_panel() attributes {d = #slm.contraction<kind = f32, panel = -32>}
