// RUN: slm-opt %s --slm-vectorize-contractions="vnni=true" --canonicalize | FileCheck %s
// RUN: slm-opt %s --slm-vectorize-contractions="avx2=true" --canonicalize | FileCheck %s --check-prefix=AVX2
// RUN: slm-opt %s --slm-vectorize-contractions="report=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOVNNI

// W8A8's uint8 x int8 contraction on buffers (declared u8s8_dot, as
// --convert-slm-to-linalg writes it), [rows, k/4, 4] x [panels,
// k/4, 32, 4] -> [rows, panels, 32] int32, after a zero fill and before its
// dequantizing epilogue. With VNNI: one 64-byte load of B per 16 columns and
// quad of k, A's four bytes broadcast, one vpdpbusd per row and 16 columns;
// the fill is folded (the accumulators start at zero), and the epilogue is
// applied to the accumulators in registers and stored to its own output:
// no linalg op is left and C is never written.
// CHECK-LABEL: func @w8a8
// CHECK-NOT: linalg.fill
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: vector.load %{{.+}} : memref<2x4x128xi8>, vector<64xi8>
// CHECK: vector.load %{{.+}} : memref<?x4x4xi8>, vector<4xi8>
// CHECK: vector.bitcast %{{.+}} : vector<4xi8> to vector<1xi32>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.+}}, %{{.+}}, %{{.+}}) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// CHECK: arith.sitofp %{{.+}} : vector<16xi32> to vector<16xf32>
// CHECK: vector.store %{{.+}}, %arg5[{{.+}}] : memref<?x2x32xf32>, vector<16xf32>
// CHECK-NOT: vector.store %{{.+}}, %arg2
// CHECK-NOT: linalg.generic
// With AVX2 and no VNNI: B's 64 bytes per 16 columns widened to int16,
// A's four bytes widened and repeated over 16 lanes, four vpmaddwd per row
// and 16 columns into 8-lane partial sums, whose even and odd lanes are
// added after the reduction loop; the epilogue in registers as above.
// AVX2-LABEL: func @w8a8
// AVX2-NOT: linalg.fill
// AVX2: scf.for
// AVX2: arith.extsi %{{.+}} : vector<64xi8> to vector<64xi16>
// AVX2: arith.extui %{{.+}} : vector<4xi8> to vector<4xi16>
// AVX2: vector.bitcast %{{.+}} : vector<4xi16> to vector<1xi64>
// AVX2-COUNT-4: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%{{.+}}, %{{.+}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// AVX2: scf.yield
// AVX2: vector.shuffle %{{.+}}, %{{.+}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] : vector<16xi32>, vector<16xi32>
// AVX2: vector.shuffle %{{.+}}, %{{.+}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31] : vector<16xi32>, vector<16xi32>
// AVX2: arith.sitofp %{{.+}} : vector<16xi32> to vector<16xf32>
// AVX2-NOT: vector.store %{{.+}}, %arg2
// AVX2-NOT: avx512
// AVX2-NOT: linalg.generic
// Without either (the default) it stays loops, says why under report=true
// and warns once.
// NOVNNI: remark: integer contraction left as loops: the target has neither AVX-512 VNNI nor AVX2
// NOVNNI: warning: 1 uint8 x int8 contraction(s) (W8A8) run as plain loops
func.func @w8a8(%a: memref<?x4x4xi8>, %b: memref<2x4x32x4xi8>, %c: memref<?x2x32xi32>,
                %s: memref<?xf32>, %ws: memref<2x32xf32>, %out: memref<?x2x32xf32>) {
  %zero = arith.constant 0 : i32
  linalg.fill ins(%zero : i32) outs(%c : memref<?x2x32xi32>)
  linalg.generic {indexing_maps = [affine_map<(m, p, j, kq, kr) -> (m, kq, kr)>,
                                   affine_map<(m, p, j, kq, kr) -> (p, kq, j, kr)>,
                                   affine_map<(m, p, j, kq, kr) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"],
                  slm.contraction = #slm.contraction<kind = u8s8_dot, panel = 32>}
      ins(%a, %b : memref<?x4x4xi8>, memref<2x4x32x4xi8>) outs(%c : memref<?x2x32xi32>) {
  ^bb0(%x: i8, %w: i8, %acc: i32):
    %xu = arith.extui %x : i8 to i32
    %ws8 = arith.extsi %w : i8 to i32
    %p = arith.muli %xu, %ws8 : i32
    %sum = arith.addi %acc, %p : i32
    linalg.yield %sum : i32
  }
  linalg.generic {indexing_maps = [affine_map<(m, p, j) -> (m, p, j)>,
                                   affine_map<(m, p, j) -> (p, j)>,
                                   affine_map<(m, p, j) -> (m)>,
                                   affine_map<(m, p, j) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c, %ws, %s : memref<?x2x32xi32>, memref<2x32xf32>, memref<?xf32>) outs(%out : memref<?x2x32xf32>) {
  ^bb0(%acc: i32, %wscale: f32, %xscale: f32, %o: f32):
    %f = arith.sitofp %acc : i32 to f32
    %scale = arith.mulf %xscale, %wscale : f32
    %y = arith.mulf %f, %scale : f32
    linalg.yield %y : f32
  }
  return
}
