// RUN: slm-opt %s -split-input-file --slm-padding-free --canonicalize --cse | FileCheck %s

// Tests the packing of an encoder: the token ids are gathered at the real
// tokens, the embedding, the position table ([1, S, 32]: gathered by each
// token's position) and the projection run on [T, 32], the attention is a
// fused attention over the packed sequences (offsets), and the result is
// scattered back to [B, S, 32] (row 0 of [0; y] for pads).
// CHECK-LABEL: func @encoder
// CHECK-SAME: (%[[IDS:[^:]+]]: tensor<?x?xi64> {{.*}}, %[[M:[^:]+]]: tensor<?x?xi64> {{.*}}, %[[TABLE:[^:]+]]: tensor<100x32xf32>, %[[POS:[^:]+]]: tensor<1x?x32xf32>)
// CHECK: %[[PASS1:.+]]:4 = scf.for
// CHECK: tensor.extract %[[M]]
// CHECK: %[[OFFSETS:.+]] = tensor.insert %[[PASS1]]#2 into %[[PASS1]]#0
// CHECK: cf.assert %[[PASS1]]#3, "padding-free: the attention mask must hold only 0 and 1"
// CHECK: %[[PASS2:.+]]:3 = scf.for
// CHECK: %[[FLATIDS:.+]] = slm.reshape %[[IDS]]
// CHECK: %[[TIDS:.+]] = slm.gather %[[FLATIDS]][%[[PASS2]]#0] axis 0 : (tensor<?xi64>, tensor<?xindex>) -> tensor<?xi64>
// CHECK: %[[E:.+]] = slm.gather %[[TABLE]][%[[TIDS]]] axis 0 : (tensor<100x32xf32>, tensor<?xi64>) -> tensor<?x32xf32>
// CHECK: %[[FLATPOS:.+]] = slm.reshape %[[POS]]
// CHECK: %[[TPOS:.+]] = slm.gather %[[FLATPOS]][%[[PASS2]]#1] axis 0 : (tensor<?x32xf32>, tensor<?xindex>) -> tensor<?x32xf32>
// CHECK: %[[X:.+]] = slm.add %[[E]], %[[TPOS]] : (tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
// CHECK: %[[Q:.+]] = slm.linear %[[X]], %{{.+}} : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
// CHECK: %[[Q4:.+]] = slm.reshape %[[Q]], %{{.+}} : (tensor<?x32xf32>, tensor<4xindex>) -> tensor<1x?x4x8xf32>
// CHECK: %[[A:.+]] = slm.fused_attention %[[Q4]], %[[Q4]], %[[Q4]] offsets %[[OFFSETS]] outs
// CHECK-SAME: seq_dims = array<i64: 1, 1, 1>
// CHECK-NOT: slm.attention
// CHECK: %[[A2:.+]] = slm.reshape %[[A]], %{{.+}} : (tensor<1x?x32xf32>, tensor<2xindex>) -> tensor<?x32xf32>
// CHECK: %[[ROWS:.+]] = tensor.insert_slice %[[A2]] into %{{.+}}[1, 0]
// CHECK: %[[INV:.+]] = slm.reshape %[[PASS1]]#1, %{{.+}} : (tensor<?xindex>, tensor<2xindex>) -> tensor<?x?xindex>
// CHECK: %[[OUT:.+]] = slm.gather %[[ROWS]][%[[INV]]] axis 0 : (tensor<?x32xf32>, tensor<?x?xindex>) -> tensor<?x?x32xf32>
// CHECK: return %[[OUT]]
func.func @encoder(%ids: tensor<?x?xi64> {slm.dim_names = ["batch", "sequence"], slm.name = "input_ids"},
                   %m: tensor<?x?xi64> {slm.dim_names = ["batch", "sequence"], slm.name = "attention_mask"},
                   %table: tensor<100x32xf32>, %pos: tensor<1x?x32xf32>) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %w = arith.constant dense<0.5> : tensor<32x32xf32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %lowest = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %e = slm.gather %table[%ids] axis 0 : (tensor<100x32xf32>, tensor<?x?xi64>) -> tensor<?x?x32xf32>
  %x = slm.add %e, %pos : (tensor<?x?x32xf32>, tensor<1x?x32xf32>) -> tensor<?x?x32xf32>
  %q = slm.linear %x, %w : (tensor<?x?x32xf32>, tensor<32x32xf32>) -> tensor<?x?x32xf32>
  %b = tensor.dim %m, %c0 : tensor<?x?xi64>
  %s = tensor.dim %m, %c1 : tensor<?x?xi64>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %m4 = slm.reshape %m, %shape : (tensor<?x?xi64>, tensor<4xindex>) -> tensor<?x1x1x?xi64>
  %mf = arith.sitofp %m4 : tensor<?x1x1x?xi64> to tensor<?x1x1x?xf32>
  %inv = slm.sub %one, %mf : (tensor<f32>, tensor<?x1x1x?xf32>) -> tensor<?x1x1x?xf32>
  %bias = slm.mul %inv, %lowest : (tensor<?x1x1x?xf32>, tensor<f32>) -> tensor<?x1x1x?xf32>
  %a = slm.attention %q, %q, %q, %bias {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xf32>) -> tensor<?x?x32xf32>
  return %a : tensor<?x?x32xf32>
}

// -----

// Tests a boolean mask (true keeps) and masked mean pooling: the hidden
// states times the mask stay packed; the sum over positions reads them
// scattered back (pads 0, as the mask made them in the padded model).
// CHECK-LABEL: func @pooling
// CHECK: slm.fused_attention {{.*}} offsets
// CHECK: %[[H:.+]] = slm.mul %{{.+}}, %{{.+}} : (tensor<?x32xf32>, tensor<?x1xf32>) -> tensor<?x32xf32>
// CHECK: %[[ROWS:.+]] = tensor.insert_slice %[[H]]
// CHECK: %[[BACK:.+]] = slm.gather %[[ROWS]]
// CHECK: slm.reduce <sum> %[[BACK]] axes [1] : tensor<?x?x32xf32> -> tensor<?x32xf32>
func.func @pooling(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                   %m: tensor<?x?xi64> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant dense<0> : tensor<i64>
  %b = tensor.dim %m, %c0 : tensor<?x?xi64>
  %s = tensor.dim %m, %c1 : tensor<?x?xi64>
  %keep = slm.compare <ne> %m, %zero : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x?xi1>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %keep4 = slm.reshape %keep, %shape : (tensor<?x?xi1>, tensor<4xindex>) -> tensor<?x1x1x?xi1>
  %a = slm.attention %x, %x, %x, %keep4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  %shape3 = tensor.from_elements %b, %s, %c1 : tensor<3xindex>
  %m3 = slm.reshape %m, %shape3 : (tensor<?x?xi64>, tensor<3xindex>) -> tensor<?x?x1xi64>
  %mf = arith.sitofp %m3 : tensor<?x?x1xi64> to tensor<?x?x1xf32>
  %h = slm.mul %a, %mf : (tensor<?x?x32xf32>, tensor<?x?x1xf32>) -> tensor<?x?x32xf32>
  %sum = slm.reduce <sum> %h axes [1] : tensor<?x?x32xf32> -> tensor<?x32xf32>
  return %sum : tensor<?x32xf32>
}
