// RUN: slm-opt %s --slm-vectorize-contractions --canonicalize | FileCheck %s --check-prefixes=AVX512
// RUN: slm-opt %s --slm-vectorize-contractions="lookup=avx2" --canonicalize | FileCheck %s --check-prefixes=AVX2
// RUN: slm-opt %s --slm-vectorize-contractions="lookup=generic" --canonicalize | FileCheck %s --check-prefixes=GENERIC
// RUN: not slm-opt %s --slm-vectorize-contractions="lookup=neon" 2>&1 | FileCheck %s --check-prefix=BAD

// How the 4-bit kernel decodes 16 codes per target (the `lookup` option,
// which slmc sets from the target's features): NF4 through one AVX-512
// vpermps, two AVX2 vpermps per 8 codes and a blend on the code's bit 3,
// or a tree of 15 selects on the code's bits; int4's levels are the codes
// themselves, converted (AVX-512 keeps vpermps, off the conversion's port).

// BAD: lookup must be avx512, avx2 or generic, not 'neon'

// AVX512-LABEL: func @nf4
// AVX512: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// AVX512-NOT: llvm.x86.avx2
// AVX2-LABEL: func @nf4
// AVX2: vector.extract_strided_slice %{{.+}} {offsets = [0], sizes = [8], strides = [1]} : vector<16xi32> to vector<8xi32>
// AVX2-COUNT-2: llvm.call_intrinsic "llvm.x86.avx2.permps"
// AVX2: arith.cmpi uge
// AVX2: arith.select
// AVX2: vector.insert_strided_slice %{{.+}} {offsets = [0], strides = [1]} : vector<8xf32> into vector<16xf32>
// AVX2: vector.extract_strided_slice %{{.+}} {offsets = [8], sizes = [8], strides = [1]}
// AVX2-COUNT-2: llvm.call_intrinsic "llvm.x86.avx2.permps"
// AVX2: vector.insert_strided_slice %{{.+}} {offsets = [8], strides = [1]}
// AVX2-NOT: avx512
// GENERIC-LABEL: func @nf4
// GENERIC-NOT: llvm.call_intrinsic
// GENERIC-COUNT-15: arith.select
// GENERIC: vector.fma
// GENERIC-NOT: llvm.call_intrinsic
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

// AVX512-LABEL: func @int4
// AVX512: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// AVX2-LABEL: func @int4
// AVX2-NOT: llvm.call_intrinsic
// AVX2: arith.uitofp %{{.+}} : vector<16xi32> to vector<16xf32>
// AVX2-NOT: llvm.call_intrinsic
// GENERIC-LABEL: func @int4
// GENERIC-NOT: arith.select
// GENERIC: arith.uitofp %{{.+}} : vector<16xi32> to vector<16xf32>
// GENERIC-NOT: arith.select
func.func @int4(%x: memref<?x2x2x2xf32>, %w: memref<1x2x2x32xi8>, %s: memref<1x2x32xf32>,
                %o: memref<1x2x32xf32>, %y: memref<?x1x32xf32>) {
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
    %c4 = arith.constant 4 : index
    %sh = arith.muli %kl, %c4 : index
    %shift = arith.index_cast %sh : index to i8
    %r = arith.shrui %byte, %shift : i8
    %c15 = arith.constant 15 : i8
    %u = arith.andi %r, %c15 : i8
    %f = arith.uitofp %u : i8 to f32
    %m = arith.mulf %f, %scale : f32
    %wt = arith.addf %m, %offset : f32
    %0 = arith.mulf %in, %wt fastmath<reassoc,contract> : f32
    %1 = arith.addf %acc, %0 fastmath<reassoc,contract> : f32
    linalg.yield %1 : f32
  }
  return
}
