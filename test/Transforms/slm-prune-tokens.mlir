// RUN: slm-opt %s -split-input-file --slm-prune-tokens="keep=0.5 start=0" --canonicalize --cse | FileCheck %s
// RUN: slm-opt %s -split-input-file --slm-prune-tokens="keep=0.5 start=1" --canonicalize --cse | FileCheck %s --check-prefix=START1
// RUN: slm-opt %s -split-input-file --slm-prune-tokens="keep=0.5 start=0 skip=1" --canonicalize --cse 2>&1 | FileCheck %s --check-prefix=SKIP

// Tests the cascade on two layers: each fused attention on the packed
// stream also writes its importance sums; after each (start 0) the
// cumulative importance ranks every sequence's tokens (a rank loop over the
// sequence's tokens, leading ones at +inf), k = ceil(0.5 n) in millionths,
// the kept rows make the next packing (offsets, inverse), and every value
// read later (the attention's output, the residual input, the cumulative
// importance) is gathered at the kept rows. The second attention runs on
// the next packing's offsets; the result is scattered back by the last
// packing's inverse.
// CHECK-LABEL: func @two_layers
// CHECK: %[[A:.+]]:2 = slm.fused_attention %{{.+}} offsets %[[OFF0:[^ ]+]] outs %{{.+}} importance %{{.+}} : ({{.*}}tensor<1x?xf32>) -> (tensor<1x?x32xf32>, tensor<1x?xf32>)
// CHECK: %[[IMP:.+]] = slm.reshape %[[A]]#1
// CHECK: %[[CUT:.+]]:5 = scf.for
// CHECK: arith.muli %{{.+}}, %c500000_i64 : i64
// CHECK: scf.for
// CHECK: tensor.extract %[[IMP]]
// CHECK: arith.cmpf ogt
// CHECK: %[[OFF1:.+]] = tensor.insert %[[CUT]]#3 into %[[CUT]]#2
// CHECK: %[[KEPT:.+]] = tensor.extract_slice %[[CUT]]#1[0] [%[[CUT]]#3] [1]
// CHECK: %[[INV1:.+]] = scf.for
// CHECK: slm.gather %{{.+}}[%[[KEPT]]] axis 0 : (tensor<?x32xf32>, tensor<?xindex>) -> tensor<?x32xf32>
// CHECK: slm.linear
// CHECK: %[[X1:.+]] = slm.gather %{{.+}}[%[[KEPT]]] axis 0 : (tensor<?x32xf32>, tensor<?xindex>) -> tensor<?x32xf32>
// CHECK: %[[R:.+]] = slm.add %{{.+}}, %[[X1]]
// CHECK: %[[A2:.+]]:2 = slm.fused_attention %{{.+}} offsets %[[OFF1]] outs
// CHECK: %[[IMP2:.+]] = slm.reshape %[[A2]]#1
// CHECK: %[[CUM:.+]] = slm.gather %[[IMP]][%[[KEPT]]] axis 0 : (tensor<?xf32>, tensor<?xindex>) -> tensor<?xf32>
// CHECK: slm.add %[[CUM]], %[[IMP2]] : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
// CHECK: %[[CUT2:.+]]:5 = scf.for
// CHECK: %[[KEPT2:.+]] = tensor.extract_slice %[[CUT2]]#1
// CHECK: %[[INV2:.+]] = scf.for {{.*}} iter_args(%{{.+}} = %[[INV1]])
// CHECK: slm.gather %[[R]][%[[KEPT2]]] axis 0
// CHECK: %[[INV2D:.+]] = slm.reshape %[[INV2]]
// CHECK: %[[OUT:.+]] = slm.gather %{{.+}}[%[[INV2D]]] axis 0 : (tensor<?x32xf32>, tensor<?x?xindex>) -> tensor<?x?x32xf32>
// CHECK: return %[[OUT]]

// With skip, the stream after the last layer is not found here (the
// second attention's output is the result): a warning, and dropping.
// SKIP: warning: prune-tokens: the residual stream after the last layer was not found: token outputs are 0 at pruned positions

// With start 1: the first attention's importance is summed, only the
// second prunes.
// START1-LABEL: func @two_layers
// START1: slm.fused_attention {{.*}} importance
// START1-NOT: arith.cmpf ogt
// START1: slm.fused_attention {{.*}} importance
// START1: slm.add
// START1: arith.cmpf ogt
// START1-NOT: slm.fused_attention
// START1: return
func.func @two_layers(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                      %m: tensor<?x?xi64> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %w = arith.constant dense<0.5> : tensor<32x32xf32>
  %zero = arith.constant dense<0> : tensor<i64>
  %b = tensor.dim %m, %c0 : tensor<?x?xi64>
  %s = tensor.dim %m, %c1 : tensor<?x?xi64>
  %keep = slm.compare <ne> %m, %zero : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x?xi1>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %keep4 = slm.reshape %keep, %shape : (tensor<?x?xi1>, tensor<4xindex>) -> tensor<?x1x1x?xi1>
  %a = slm.attention %x, %x, %x, %keep4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  %y = slm.linear %a, %w : (tensor<?x?x32xf32>, tensor<32x32xf32>) -> tensor<?x?x32xf32>
  %r = slm.add %y, %x : (tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  %a2 = slm.attention %r, %r, %r, %keep4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  %o = slm.add %a2, %r : (tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return %o : tensor<?x?x32xf32>
}

// -----

// Tests skip (pruned tokens skip the remaining layers) on a post-LN layer:
// the cut keeps the residual stream entering the layer (%x, the older
// operand of the residual add after the attention); where the stream
// leaves the last layer (two residual adds on, each normalized) the
// candidates are stacked (the cut's stream rows, then the layer output's)
// and every token's last one is gathered back into packing 0, whose
// inverse scatters the result.
// SKIP-LABEL: func @post_ln
// SKIP: %[[PASS1:.+]]:4 = scf.for
// SKIP: %[[X:.+]] = slm.gather %{{.+}}[%{{.+}}] axis 0 : (tensor<?x32xf32>, tensor<?xindex>) -> tensor<?x32xf32>
// SKIP: slm.fused_attention {{.*}} importance
// SKIP: %[[CUT:.+]]:5 = scf.for
// SKIP: %[[ROWS0:.+]] = tensor.extract_slice %[[CUT]]#4
// SKIP: slm.layer_norm
// SKIP: %[[OUT:.+]] = slm.layer_norm
// SKIP: %[[S0:.+]] = tensor.insert_slice %[[X]] into
// SKIP: %[[IDX0:.+]] = scf.for
// SKIP: %[[S1:.+]] = tensor.insert_slice %[[OUT]] into %[[S0]]
// SKIP: %[[IDX1:.+]] = scf.for {{.*}} iter_args(%{{.+}} = %[[IDX0]])
// SKIP: tensor.extract %[[ROWS0]]
// SKIP: %[[MERGED:.+]] = slm.gather %[[S1]][%[[IDX1]]] axis 0 : (tensor<?x32xf32>, tensor<?xindex>) -> tensor<?x32xf32>
// SKIP: tensor.insert_slice %[[MERGED]]
// SKIP: slm.reshape %[[PASS1]]#1
// SKIP: return
func.func @post_ln(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                   %m: tensor<?x?xi64> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %w = arith.constant dense<0.5> : tensor<32x32xf32>
  %g = arith.constant dense<1.0> : tensor<32xf32>
  %zero = arith.constant dense<0> : tensor<i64>
  %b = tensor.dim %m, %c0 : tensor<?x?xi64>
  %s = tensor.dim %m, %c1 : tensor<?x?xi64>
  %keep = slm.compare <ne> %m, %zero : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x?xi1>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %keep4 = slm.reshape %keep, %shape : (tensor<?x?xi1>, tensor<4xindex>) -> tensor<?x1x1x?xi1>
  %a = slm.attention %x, %x, %x, %keep4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  %o = slm.linear %a, %w : (tensor<?x?x32xf32>, tensor<32x32xf32>) -> tensor<?x?x32xf32>
  %r1 = slm.add %o, %x : (tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  %h = slm.layer_norm %r1, %g : (tensor<?x?x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  %f = slm.linear %h, %w : (tensor<?x?x32xf32>, tensor<32x32xf32>) -> tensor<?x?x32xf32>
  %r2 = slm.add %h, %f : (tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  %y = slm.layer_norm %r2, %g : (tensor<?x?x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}
