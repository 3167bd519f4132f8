// The generation tests' language model: a bigram table. The logits of
// every position are row `id` of the table, whose largest entry is at
// (3 * id + 1) % 8 (row 7 has two, at 2 and 6: greedy takes 2). The mask
// is taken, as Hugging Face exports take it, and unused.
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids", slm.dim_names = ["batch", "sequence"]},
                %mask: tensor<?x?xi64> {slm.name = "attention_mask", slm.dim_names = ["batch", "sequence"]})
    -> (tensor<?x?x8xf32> {slm.name = "logits"}) {
  %table = arith.constant dense<[
      [0.00, 2.00, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70],
      [0.00, 0.10, 0.20, 0.30, 2.00, 0.50, 0.60, 0.70],
      [0.00, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 2.00],
      [0.00, 0.10, 2.00, 0.30, 0.40, 0.50, 0.60, 0.70],
      [0.00, 0.10, 0.20, 0.30, 0.40, 2.00, 0.60, 0.70],
      [2.00, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70],
      [0.00, 0.10, 0.20, 2.00, 0.40, 0.50, 0.60, 0.70],
      [0.00, 0.10, 2.00, 0.30, 0.40, 0.50, 2.00, 0.70]]> : tensor<8x8xf32>
  %logits = slm.embedding %table[%ids] : (tensor<8x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %logits : tensor<?x?x8xf32>
}
