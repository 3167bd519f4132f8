// RUN: slm-opt %s -split-input-file --slm-lower-fused-attention --canonicalize --cse | FileCheck %s

// Tests the kernel's structure for grouped-query attention (4 query heads
// on 2 key/value heads) in HF's layout with a padding mask: tiles of 32 rows
// when a key/value head has more than 16, else of 16. Each: one parallel
// loop over (batch, key/value head, tile), Q gathered once into Qt, whole
// blocks of keys (8 with two row vectors, 16 with one) with (max, sum)
// vectors carried, 16 FMA accumulators over the head width, the mask read
// as one value per key (it does not vary by row), exp of the online
// softmax, P V on 8 accumulators, then the tail block, and the rows written
// as Ot gathered per lane. Nothing Sq x Skv exists.
// CHECK-LABEL: func @gqa_padding_mask
// CHECK-NOT: slm.fused_attention
// CHECK: %[[MANY:.+]] = arith.cmpi ugt, %{{.+}}, %c16 : index
// CHECK: scf.if %[[MANY]] {
// CHECK: scf.parallel (%{{.+}}, %{{.+}}, %{{.+}}) = (%c0, %c0, %c0) to (%{{.+}}, %c2, %{{.+}}) step (%c1, %c1, %c1)
// CHECK-DAG: memref.alloca() : memref<2048xf32>
// CHECK: scf.for
// CHECK-COUNT-2: vector.gather {{.*}} into vector<16xf32>
// CHECK: %{{.+}}:4 = scf.for %{{.+}} = %c0 to %{{.+}} step %c8 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %{{.+}}:16 = scf.for %{{.+}} = %c0 to %c64 step %c1 iter_args
// CHECK-COUNT-16: vector.fma
// CHECK: scf.yield
// CHECK-NOT: vector.gather
// CHECK: math.exp
// CHECK: scf.for %{{.+}} = %c0 to %c64 step %c4
// CHECK-COUNT-64: vector.fma
// CHECK: scf.if
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c1
// CHECK: vector.gather {{.*}} into vector<16xf32>
// CHECK: } else {
// CHECK: scf.parallel
// CHECK-DAG: memref.alloca() : memref<1024xf32>
// CHECK: %{{.+}}:2 = scf.for %{{.+}} = %c0 to %{{.+}} step %c16 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>)
// CHECK: %{{.+}}:16 = scf.for %{{.+}} = %c0 to %c64 step %c1 iter_args
// CHECK-COUNT-16: vector.fma
// CHECK: scf.for %{{.+}} = %c0 to %c64 step %c8
// CHECK-COUNT-128: vector.fma
// CHECK-NOT: memref.alloc(
func.func @gqa_padding_mask(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xf32>, %v: memref<?x2x?x64xf32>, %m: memref<?x1x1x?xf32>, %out: memref<?x?x256xf32>) {
  slm.fused_attention %q, %k, %v mask %m outs %out {num_heads = 4 : i64, scale = 0.125 : f64, seq_dims = array<i64: 2, 2, 2>} : (memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>, memref<?x1x1x?xf32>, memref<?x?x256xf32>) -> ()
  return
}

// -----

// Tests a mask that varies by row: gathered per lane for every key.
// CHECK-LABEL: func @row_mask
// CHECK: %{{.+}}:16 = scf.for
// CHECK-COUNT-16: vector.gather
// CHECK: math.exp
func.func @row_mask(%q: memref<?x?x2x8xf32>, %k: memref<?x?x2x8xf32>, %v: memref<?x?x2x8xf32>, %m: memref<?x1x?x?xf32>, %out: memref<?x?x16xf32>) {
  slm.fused_attention %q, %k, %v mask %m outs %out {causal, num_heads = 2 : i64, scale = 0.35 : f64, seq_dims = array<i64: 1, 1, 1>} : (memref<?x?x2x8xf32>, memref<?x?x2x8xf32>, memref<?x?x2x8xf32>, memref<?x1x?x?xf32>, memref<?x?x16xf32>) -> ()
  return
}

// -----

// Tests an operand whose head width is strided: copied to a contiguous
// buffer first, freed after.
// CHECK-LABEL: func @strided_width
// CHECK: %[[BUF:.+]] = memref.alloc({{.*}}) : memref<?x?x2x8xf32>
// CHECK: linalg.copy ins(%arg0 : memref<?x?x2x8xf32, strided<[?, ?, ?, 2]>>) outs(%[[BUF]] : memref<?x?x2x8xf32>)
// CHECK: scf.parallel
// CHECK: memref.dealloc %[[BUF]]
func.func @strided_width(%q: memref<?x?x2x8xf32, strided<[?, ?, ?, 2]>>, %k: memref<?x?x2x8xf32>, %v: memref<?x?x2x8xf32>, %out: memref<?x?x16xf32>) {
  slm.fused_attention %q, %k, %v outs %out {num_heads = 2 : i64, scale = 0.35 : f64, seq_dims = array<i64: 1, 1, 1>} : (memref<?x?x2x8xf32, strided<[?, ?, ?, 2]>>, memref<?x?x2x8xf32>, memref<?x?x2x8xf32>, memref<?x?x16xf32>) -> ()
  return
}

// -----

// Tests a packed batch: sequences from the offsets (the longest sets the
// tiles per sequence), each task's rows and keys from its sequence's
// bounds, tiles past a sequence's rows skipped.
// CHECK-LABEL: func @packed
// CHECK-SAME: %[[OFF:[^:]+]]: memref<?xindex>
// CHECK: %[[LONGEST:.+]] = scf.for {{.*}} iter_args
// CHECK: memref.load %[[OFF]]
// CHECK: arith.maxsi
// CHECK: scf.parallel
// CHECK: %[[START:.+]] = memref.load %[[OFF]]
// CHECK: %[[END:.+]] = memref.load %[[OFF]]
// CHECK: %[[LEN:.+]] = arith.subi %[[END]], %[[START]]
// CHECK: scf.if
// CHECK: math.exp
func.func @packed(%q: memref<1x?x2x8xf32>, %off: memref<?xindex>, %out: memref<1x?x16xf32>) {
  slm.fused_attention %q, %q, %q offsets %off outs %out {causal, num_heads = 2 : i64, scale = 0.35 : f64, seq_dims = array<i64: 1, 1, 1>} : (memref<1x?x2x8xf32>, memref<1x?x2x8xf32>, memref<1x?x2x8xf32>, memref<?xindex>, memref<1x?x16xf32>) -> ()
  return
}

// -----

// Tests importance sums: partial sums [batch, kv heads, groups, keys]
// zero-filled, tasks over at most 4 groups of tiles each looping over its
// tiles, a second pass per tile over the keys (exp of the scores with the
// final maxima, times 1 / sum, reduced over the rows) accumulating into the
// task's own row, then the rows summed per batch item into importance.
// CHECK-LABEL: func @importance
// CHECK-SAME: %[[IMP:[^:]+]]: memref<?x?xf32>
// CHECK: %[[PARTIAL:.+]] = memref.alloc(%{{.+}}) : memref<?xf32>
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[PARTIAL]] : memref<?xf32>)
// CHECK: %[[GROUPS:.+]] = arith.minsi %{{.+}}, %c4 : index
// CHECK: scf.parallel (%{{.+}}, %{{.+}}, %[[G:.+]]) = (%c0, %c0, %c0) to (%{{.+}}, %c2, %[[GROUPS]])
// CHECK: scf.for %{{.+}} = %[[G]] to %{{.+}} step %[[GROUPS]]
// CHECK: math.exp
// CHECK: vector.reduction <add>
// CHECK: memref.store %{{.+}}, %[[PARTIAL]]
// CHECK: scf.parallel
// CHECK: memref.load %[[PARTIAL]]
// CHECK: memref.store
// CHECK: memref.dealloc %[[PARTIAL]]
func.func @importance(%q: memref<?x?x2x8xf32>, %m: memref<?x1x1x?xf32>, %out: memref<?x?x16xf32>, %imp: memref<?x?xf32>) {
  slm.fused_attention %q, %q, %q mask %m outs %out importance %imp {num_heads = 2 : i64, scale = 0.35 : f64, seq_dims = array<i64: 1, 1, 1>} : (memref<?x?x2x8xf32>, memref<?x?x2x8xf32>, memref<?x?x2x8xf32>, memref<?x1x1x?xf32>, memref<?x?x16xf32>, memref<?x?xf32>) -> ()
  return
}
