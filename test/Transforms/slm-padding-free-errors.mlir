// RUN: slm-opt %s -split-input-file --slm-padding-free -verify-diagnostics

// Tests that a model without a key-padding mask is left as it is, with a
// warning.
// expected-warning @+1 {{padding-free: no attention has a key-padding mask made from a model input; the model is unchanged}}
func.func @no_mask(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                   %m: tensor<?x?xi64> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x?x32xf32> {
  %a = slm.attention %x, %x, %x {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return %a : tensor<?x?x32xf32>
}

// -----

// Tests that an attention on the token stream without the key-padding
// mask (it would read pads) is an error, even where another has it.
func.func @unmasked(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                    %m: tensor<?x?xi1> {slm.dim_names = ["batch", "sequence"], slm.name = "attention_mask"}) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %m, %c0 : tensor<?x?xi1>
  %s = tensor.dim %m, %c1 : tensor<?x?xi1>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %m4 = slm.reshape %m, %shape : (tensor<?x?xi1>, tensor<4xindex>) -> tensor<?x1x1x?xi1>
  %a = slm.attention %x, %x, %x, %m4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  // expected-error @+1 {{padding-free: this attention reads the token stream but has no mask, so it does not use the key-padding mask made from input 'attention_mask': its results would depend on pad tokens}}
  %a2 = slm.attention %a, %a, %a {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return %a2 : tensor<?x?x32xf32>
}

// -----

// Tests that readers mixing positions are errors: a linear layer with one
// dynamic input scale for the whole tensor (pads would change it) and a
// sum over positions of values the mask does not zero.
func.func @per_tensor(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                      %m: tensor<?x?xi1> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %w = arith.constant dense<0.5> : tensor<32x32xf32>
  %b = tensor.dim %m, %c0 : tensor<?x?xi1>
  %s = tensor.dim %m, %c1 : tensor<?x?xi1>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %m4 = slm.reshape %m, %shape : (tensor<?x?xi1>, tensor<4xindex>) -> tensor<?x1x1x?xi1>
  // expected-note @+1 {{the token value it reads}}
  %a = slm.attention %x, %x, %x, %m4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  // expected-error @+1 {{padding-free: 'slm.linear' reads the token stream across positions or in a way this pass does not follow}}
  %y = slm.linear %a, %w {input_quant = #slm.input_quant<per_tensor>} : (tensor<?x?x32xf32>, tensor<32x32xf32>) -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}

// -----

func.func @unmasked_sum(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                        %m: tensor<?x?xi1> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %m, %c0 : tensor<?x?xi1>
  %s = tensor.dim %m, %c1 : tensor<?x?xi1>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %m4 = slm.reshape %m, %shape : (tensor<?x?xi1>, tensor<4xindex>) -> tensor<?x1x1x?xi1>
  // expected-note @+1 {{the token value it reads}}
  %a = slm.attention %x, %x, %x, %m4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  // expected-error @+1 {{padding-free: 'slm.reduce' reads the token stream across positions}}
  %sum = slm.reduce <sum> %a axes [1] : tensor<?x?x32xf32> -> tensor<?x32xf32>
  return %sum : tensor<?x32xf32>
}
