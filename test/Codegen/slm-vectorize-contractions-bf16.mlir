// RUN: slm-opt %s --slm-vectorize-contractions="bf16=true" --canonicalize | FileCheck %s
// RUN: slm-opt %s --slm-vectorize-contractions --canonicalize 2>&1 | FileCheck %s --check-prefix=EMU

// A bf16 linear layer's contraction on buffers (declared bf16_dot, as
// --convert-slm-to-linalg writes it for precision = bf16): [rows, k/2, 2]
// x [panels, k/2, 32, 2] -> [rows, panels, 32] f32, after a broadcast of
// the bias. With AVX512-BF16: one 64-byte load of B per 16 columns and pair
// of k, the row's two bf16 of A broadcast as one 32-bit word, one vdpbf16ps
// per row and 16 columns; the accumulators start from C (the bias) and no
// linalg op is left.
// CHECK-LABEL: func @bf16
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: vector.load %{{.+}} : memref<2x4x64xbf16>, vector<32xbf16>
// CHECK: vector.load %{{.+}} : memref<?x4x2xbf16>, vector<2xbf16>
// CHECK: vector.bitcast %{{.+}} : vector<2xbf16> to vector<1xi32>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"(%{{.+}}, %{{.+}}, %{{.+}}) : (vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
// CHECK: vector.store %{{.+}}, %arg2[{{.+}}] : memref<?x2x32xf32>, vector<16xf32>
// CHECK-NOT: linalg.generic
// Without it: each B vector's 32-bit lanes give the even k (shifted up 16)
// and the odd k (masked) as f32, and the row's two values, widened, feed
// two FMAs; the pass warns once that this is no faster than f32.
// EMU: warning: 1 bf16 contraction(s) run on f32 FMAs, no faster than f32: the target has no AVX512-BF16
// EMU-LABEL: func @bf16
// EMU: scf.for
// EMU: vector.bitcast %{{.+}} : vector<32xbf16> to vector<16xi32>
// EMU: arith.shli %{{.+}}, %{{.+}} : vector<16xi32>
// EMU: arith.andi %{{.+}}, %{{.+}} : vector<16xi32>
// EMU: arith.extf %{{.+}} : vector<2xbf16> to vector<2xf32>
// EMU: vector.fma
// EMU: vector.fma
// EMU-NOT: avx512bf16
// EMU-NOT: linalg.generic
func.func @bf16(%a: memref<?x4x2xbf16>, %b: memref<2x4x32x2xbf16>, %c: memref<?x2x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, p, j, kq, kr) -> (m, kq, kr)>,
                                   affine_map<(m, p, j, kq, kr) -> (p, kq, j, kr)>,
                                   affine_map<(m, p, j, kq, kr) -> (m, p, j)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"],
                  slm.contraction = #slm.contraction<kind = bf16_dot, panel = 32>}
      ins(%a, %b : memref<?x4x2xbf16>, memref<2x4x32x2xbf16>) outs(%c : memref<?x2x32xf32>) {
  ^bb0(%x: bf16, %w: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %wf = arith.extf %w : bf16 to f32
    %p = arith.mulf %xf, %wf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  return
}
