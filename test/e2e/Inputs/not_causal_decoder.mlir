// A decoder-shaped model for --kv-cache whose mask varies by query but hides
// nothing (test/e2e/kv-cache-not-causal.test): it is not causal.
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids", slm.dim_names = ["batch", "sequence"]}) -> (tensor<?x?x16xf32> {slm.name = "logits"}) {
  %c1 = arith.constant 1 : index
  %table = arith.constant dense<[[0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.3, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.3, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.3, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.3, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]]> : tensor<16x8xf32>
  %wk = arith.constant dense<0.2> : tensor<8x8xf32>
  %wv = arith.constant dense<0.3> : tensor<8x8xf32>
  %wo = arith.constant dense<0.4> : tensor<16x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %mask = tensor.generate %s, %s {
  ^bb0(%i: index, %j: index):
    %z = arith.constant 0.0 : f32
    tensor.yield %z : f32
  } : tensor<?x?xf32>
  %k = slm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %v = slm.linear %x, %wv : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %a = slm.attention %x, %k, %v, %mask {num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?xf32>) -> tensor<?x?x8xf32>
  %l = slm.linear %a, %wo : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}
