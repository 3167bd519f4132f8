// A BERT-style encoder block in the slm dialect, as the ONNX importer raises
// it: attention with a padding mask, residual + LayerNorm, and a GELU FFN.
// Shapes are those of all-MiniLM-L6-v2 (hidden 384, 12 heads, FFN 1536);
// batch and sequence stay dynamic. Weights are splat constants here: real
// models carry dense_resource blobs.
//
//   slm-opt examples/encoder_block.mlir --slm-raise --slm-optimize --slm-model-stats
func.func @encoder_block(%x: tensor<?x?x384xf32>, %mask: tensor<?x1x1x?xi1>) -> tensor<?x?x384xf32> {
  %wq = arith.constant dense<0.02> : tensor<384x384xf32>
  %wk = arith.constant dense<0.03> : tensor<384x384xf32>
  %wv = arith.constant dense<0.04> : tensor<384x384xf32>
  %wo = arith.constant dense<0.05> : tensor<384x384xf32>
  %b = arith.constant dense<0.0> : tensor<384xf32>
  %gamma = arith.constant dense<1.0> : tensor<384xf32>
  %beta = arith.constant dense<0.0> : tensor<384xf32>
  %w1 = arith.constant dense<0.01> : tensor<1536x384xf32>
  %b1 = arith.constant dense<0.1> : tensor<1536xf32>
  %w2 = arith.constant dense<0.01> : tensor<384x1536xf32>
  %b2 = arith.constant dense<0.1> : tensor<384xf32>

  %q = slm.linear %x, %wq, %b : (tensor<?x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
  %k = slm.linear %x, %wk, %b : (tensor<?x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
  %v = slm.linear %x, %wv, %b : (tensor<?x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
  %ctx = slm.attention %q, %k, %v, %mask {num_heads = 12 : i64}
      : (tensor<?x?x384xf32>, tensor<?x?x384xf32>, tensor<?x?x384xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x384xf32>
  %o = slm.linear %ctx, %wo, %b : (tensor<?x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
  %r1 = slm.add %x, %o : (tensor<?x?x384xf32>, tensor<?x?x384xf32>) -> tensor<?x?x384xf32>
  %n1 = slm.layer_norm %r1, %gamma, %beta {epsilon = 1.0e-12 : f64}
      : (tensor<?x?x384xf32>, tensor<384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>

  %h = slm.linear %n1, %w1, %b1 : (tensor<?x?x384xf32>, tensor<1536x384xf32>, tensor<1536xf32>) -> tensor<?x?x1536xf32>
  %g = slm.gelu %h : tensor<?x?x1536xf32>
  %f = slm.linear %g, %w2, %b2 : (tensor<?x?x1536xf32>, tensor<384x1536xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
  %r2 = slm.add %n1, %f : (tensor<?x?x384xf32>, tensor<?x?x384xf32>) -> tensor<?x?x384xf32>
  %n2 = slm.layer_norm %r2, %gamma, %beta {epsilon = 1.0e-12 : f64}
      : (tensor<?x?x384xf32>, tensor<384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
  return %n2 : tensor<?x?x384xf32>
}
