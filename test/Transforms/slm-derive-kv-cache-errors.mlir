// RUN: slm-opt %s --split-input-file --slm-derive-kv-cache --verify-diagnostics

// Without a mask or `causal`, every position sees every other: a cache of
// such a model would be wrong.
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"}) -> tensor<?x?x8xf32> {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %w = arith.constant dense<0.5> : tensor<8x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %k = slm.linear %x, %w : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %v = slm.linear %x, %w : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  // expected-error @+1 {{--kv-cache: attends every position with no mask: the model is not a causal decoder}}
  %a = slm.attention %x, %k, %v {num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return %a : tensor<?x?x8xf32>
}

// -----

// A mean over the positions mixes them outside an attention.
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"}) -> tensor<?x1x8xf32> {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %w = arith.constant dense<0.5> : tensor<8x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %k = slm.linear %x, %w : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %v = slm.linear %x, %w : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %a = slm.attention %x, %k, %v {causal, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  // expected-error @+1 {{--kv-cache: reduces over positions}}
  %m = slm.reduce <mean> %a axes [1] keep_dims : tensor<?x?x8xf32> -> tensor<?x1x8xf32>
  return %m : tensor<?x1x8xf32>
}

// -----

// A model exported with a cache keeps it.
// expected-error @+1 {{--kv-cache: the model already takes a cache ('past_key_values.0.key'); it is used as it is, without --kv-cache}}
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"}, %past: tensor<?x?x8xf32> {slm.name = "past_key_values.0.key"}) -> tensor<?x?x8xf32> {
  return %past : tensor<?x?x8xf32>
}

// -----

// An encoder without attention has no keys and values to cache.
// expected-error @+1 {{--kv-cache: the model has no attention raised to slm.attention to cache keys and values for (slmc --report says why raising left one)}}
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"}) -> tensor<?x?x8xf32> {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %x : tensor<?x?x8xf32>
}

// -----

// A fixed sequence length cannot grow.
// expected-error @+1 {{--kv-cache: the model needs an input_ids input [batch, sequence] with a dynamic sequence length}}
func.func @main(%ids: tensor<1x8xi64> {slm.name = "input_ids"}) -> tensor<1x8x8xf32> {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<1x8xi64>) -> tensor<1x8x8xf32>
  %a = slm.attention %x, %x, %x {causal, num_heads = 2 : i64} : (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>) -> tensor<1x8x8xf32>
  return %a : tensor<1x8x8xf32>
}

// -----

// One activation scale for the whole input (ORT's quantize_dynamic) depends
// on every position: over the new positions alone it would differ.
func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"}) -> tensor<?x?x8xf32> {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %w = arith.constant dense<0.5> : tensor<8x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  // expected-error @+1 {{--kv-cache: quantizes its input with one scale for all positions (DynamicQuantizeLinear, as ORT's quantize_dynamic writes): over the new positions alone the scale would differ; compile without --kv-cache, or from the float model with --quantize=w8a8 (per-token scales)}}
  %k = slm.linear %x, %w {input_quant = #slm.input_quant<per_tensor>} : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %v = slm.linear %x, %w : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %a = slm.attention %x, %k, %v {causal, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return %a : tensor<?x?x8xf32>
}
