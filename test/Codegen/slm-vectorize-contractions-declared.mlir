// RUN: slm-opt %s -split-input-file --slm-vectorize-contractions="vnni=true" --canonicalize -verify-diagnostics | FileCheck %s

// Contractions that declare what they compute (#slm.contraction, as
// --convert-slm-to-linalg writes them) get the kernel of their kind; one
// whose body or layout disagrees with its declaration is an error, never
// plain loops.

// Tests an f32 product with a broadcast batch operand ([1, 3, 16, N]): the
// declaration lets the f32 kernel read B at batch 0 (upstream's
// ContractionOpInterface, all an undeclared product has, rejects the
// constant index).
// CHECK-LABEL: func @f32_broadcast_batch
// CHECK: scf.parallel
// CHECK: vector.maskedload %{{.+}} : memref<1x3x16x?xf32>
// CHECK: vector.fma
// CHECK-NOT: linalg.generic
func.func @f32_broadcast_batch(%a: memref<?x3x?x16xf32>, %b: memref<1x3x16x?xf32>, %c: memref<?x3x?x?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, h, m, n, k) -> (b, h, m, k)>,
                                   affine_map<(b, h, m, n, k) -> (0, h, k, n)>,
                                   affine_map<(b, h, m, n, k) -> (b, h, m, n)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"],
                  slm.contraction = #slm.contraction<kind = f32>}
      ins(%a, %b : memref<?x3x?x16xf32>, memref<1x3x16x?xf32>) outs(%c : memref<?x3x?x?xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y fastmath<reassoc,contract> : f32
    %s = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests int8 weight-only: the codes are widened (sitofp) and scaled per
// column as B is loaded; the scales are loaded once per tile.
// CHECK-LABEL: func @int8_weight
// CHECK: scf.parallel
// CHECK: vector.load %{{.+}} : memref<2x32xf32>, vector<16xf32>
// CHECK: vector.load %{{.+}} : memref<2x8x32xi8>, vector<16xi8>
// CHECK: arith.sitofp %{{.+}} : vector<16xi8> to vector<16xf32>
// CHECK: vector.fma
// CHECK-NOT: linalg.generic
func.func @int8_weight(%x: memref<?x8xf32>, %w: memref<2x8x32xi8>, %s: memref<2x32xf32>, %y: memref<?x2x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, p, j, k) -> (m, k)>,
                                   affine_map<(m, p, j, k) -> (p, k, j)>,
                                   affine_map<(m, p, j, k) -> (p, j)>,
                                   affine_map<(m, p, j, k) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"],
                  slm.contraction = #slm.contraction<kind = int8_weight, panel = 32>}
      ins(%x, %w, %s : memref<?x8xf32>, memref<2x8x32xi8>, memref<2x32xf32>) outs(%y : memref<?x2x32xf32>) {
  ^bb0(%a: f32, %q: i8, %scale: f32, %acc: f32):
    %wide = arith.sitofp %q : i8 to f32
    %wt = arith.mulf %wide, %scale : f32
    %p = arith.mulf %a, %wt fastmath<reassoc,contract> : f32
    %r = arith.addf %acc, %p fastmath<reassoc,contract> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Tests NF4 weights in groups of 4: 16 bytes give two k's codes for 16
// columns, looked up with vpermps and scaled per group.
// CHECK-LABEL: func @nf4
// CHECK: scf.parallel
// CHECK: vector.load %{{.+}} : memref<1x2x2x32xi8>, vector<16xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: vector.fma
// CHECK-NOT: linalg.generic
func.func @nf4(%x: memref<?x2x2x2xf32>, %w: memref<1x2x2x32xi8>, %s: memref<1x2x32xf32>,
               %y: memref<?x1x32xf32>, %t: memref<16xf32>) {
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
    %0 = arith.mulf %in, %wt fastmath<reassoc,contract> : f32
    %1 = arith.addf %acc, %0 fastmath<reassoc,contract> : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// Tests a body that does not compute what it declares (a difference, not a
// product): an error, not plain loops.
func.func @f32_wrong_body(%a: memref<?x8xf32>, %b: memref<8x16xf32>, %c: memref<?x16xf32>) {
  // expected-error @below {{declared #slm.contraction<kind = f32> but its kernel cannot take it: the body does not compute C + A * B}}
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                   affine_map<(m, n, k) -> (k, n)>,
                                   affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"],
                  slm.contraction = #slm.contraction<kind = f32>}
      ins(%a, %b : memref<?x8xf32>, memref<8x16xf32>) outs(%c : memref<?x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.subf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests int8 codes whose scales the body does not apply.
func.func @int8_weight_unscaled(%x: memref<?x8xf32>, %w: memref<2x8x32xi8>, %s: memref<2x32xf32>, %y: memref<?x2x32xf32>) {
  // expected-error @below {{the body does not compute C + A * (sitofp(codes) * scales)}}
  linalg.generic {indexing_maps = [affine_map<(m, p, j, k) -> (m, k)>,
                                   affine_map<(m, p, j, k) -> (p, k, j)>,
                                   affine_map<(m, p, j, k) -> (p, j)>,
                                   affine_map<(m, p, j, k) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"],
                  slm.contraction = #slm.contraction<kind = int8_weight, panel = 32>}
      ins(%x, %w, %s : memref<?x8xf32>, memref<2x8x32xi8>, memref<2x32xf32>) outs(%y : memref<?x2x32xf32>) {
  ^bb0(%a: f32, %q: i8, %scale: f32, %acc: f32):
    %wide = arith.sitofp %q : i8 to f32
    %p = arith.mulf %a, %wide : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Tests a W8A8 product that reads A as signed: the VNNI kernel (uint8 x
// int8) would compute something else.
func.func @u8s8_signed_a(%a: memref<?x4x4xi8>, %b: memref<2x4x32x4xi8>, %c: memref<?x2x32xi32>) {
  // expected-error @below {{the body does not compute C + extui(A) * extsi(B)}}
  linalg.generic {indexing_maps = [affine_map<(m, p, j, kq, kr) -> (m, kq, kr)>,
                                   affine_map<(m, p, j, kq, kr) -> (p, kq, j, kr)>,
                                   affine_map<(m, p, j, kq, kr) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"],
                  slm.contraction = #slm.contraction<kind = u8s8_dot, panel = 32>}
      ins(%a, %b : memref<?x4x4xi8>, memref<2x4x32x4xi8>) outs(%c : memref<?x2x32xi32>) {
  ^bb0(%x: i8, %w: i8, %acc: i32):
    %xs = arith.extsi %x : i8 to i32
    %ws = arith.extsi %w : i8 to i32
    %p = arith.muli %xs, %ws : i32
    %sum = arith.addi %acc, %p : i32
    linalg.yield %sum : i32
  }
  return
}

// -----

// Tests 4-bit codes decoded high nibble first: the kernel decodes the low
// nibble for the first k of a byte.
func.func @int4_high_nibble_first(%x: memref<?x2x2x2xf32>, %w: memref<1x2x2x32xi8>, %s: memref<1x2x32xf32>,
                                  %o: memref<1x2x32xf32>, %y: memref<?x1x32xf32>) {
  // expected-error @below {{the body does not compute C + A * (((codes >> 4 * kl) & 15) * scales + offsets)}}
  linalg.generic {indexing_maps = [affine_map<(m, p, j, kg, kb, kl) -> (m, kg, kb, kl)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (p, kg, kb, j)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (p, kg, j)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (p, kg, j)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"],
                  slm.contraction = #slm.contraction<kind = int4, panel = 32, group = 4>}
      ins(%x, %w, %s, %o : memref<?x2x2x2xf32>, memref<1x2x2x32xi8>, memref<1x2x32xf32>, memref<1x2x32xf32>)
      outs(%y : memref<?x1x32xf32>) {
  ^bb0(%in: f32, %byte: i8, %scale: f32, %offset: f32, %acc: f32):
    %kl = linalg.index 5 : index
    %c1 = arith.constant 1 : index
    %hi = arith.subi %c1, %kl : index
    %c4 = arith.constant 4 : index
    %sh = arith.muli %hi, %c4 : index
    %shift = arith.index_cast %sh : index to i8
    %r = arith.shrui %byte, %shift : i8
    %c15 = arith.constant 15 : i8
    %u = arith.andi %r, %c15 : i8
    %f = arith.uitofp %u : i8 to f32
    %m = arith.mulf %f, %scale : f32
    %wt = arith.addf %m, %offset : f32
    %0 = arith.mulf %in, %wt : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// Tests a declared panel width that is not the layout's.
func.func @panel_mismatch(%x: memref<?x8xf32>, %w: memref<4x8x16xf32>, %y: memref<?x4x16xf32>) {
  // expected-error @below {{declared #slm.contraction<kind = f32, panel = 32> but its kernel cannot take it: it declares panels of 32 columns, its columns loop spans 16}}
  linalg.generic {indexing_maps = [affine_map<(m, p, j, k) -> (m, k)>,
                                   affine_map<(m, p, j, k) -> (p, k, j)>,
                                   affine_map<(m, p, j, k) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"],
                  slm.contraction = #slm.contraction<kind = f32, panel = 32>}
      ins(%x, %w : memref<?x8xf32>, memref<4x8x16xf32>) outs(%y : memref<?x4x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests a declared group size that is not the codes' (groups of 4 here).
func.func @group_mismatch(%x: memref<?x2x2x2xf32>, %w: memref<1x2x2x32xi8>, %s: memref<1x2x32xf32>,
                          %y: memref<?x1x32xf32>, %t: memref<16xf32>) {
  // expected-error @below {{it declares groups of 8 codes, the codes hold groups of 4}}
  linalg.generic {indexing_maps = [affine_map<(m, p, j, kg, kb, kl) -> (m, kg, kb, kl)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (p, kg, kb, j)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (p, kg, j)>,
                                   affine_map<(m, p, j, kg, kb, kl) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"],
                  slm.contraction = #slm.contraction<kind = nf4, panel = 32, group = 8>}
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

// Tests a declared contraction still on tensors: the kernels run on
// buffers (bufferize first).
func.func @on_tensors(%a: tensor<?x8xf32>, %b: tensor<8x16xf32>, %c: tensor<?x16xf32>) -> tensor<?x16xf32> {
  // expected-error @below {{declared #slm.contraction<kind = f32> but its kernel cannot take it: not on buffers}}
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                        affine_map<(m, n, k) -> (k, n)>,
                                        affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"],
                       slm.contraction = #slm.contraction<kind = f32>}
      ins(%a, %b : tensor<?x8xf32>, tensor<8x16xf32>) outs(%c : tensor<?x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}
