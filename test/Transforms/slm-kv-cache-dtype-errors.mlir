// RUN: slm-opt %s --split-input-file --slm-kv-cache-dtype=dtype=int8 --verify-diagnostics

// A model without a cache, and a cache input read by more than its join.
// expected-error @+1 {{--kv-cache-dtype: the model has no KV cache (inputs past_key_values.<i>.key/value): export it with one, or derive one with --kv-cache}}
func.func @nocache(%ids: tensor<?x?xi64> {slm.name = "input_ids"}) -> (tensor<?x?x8xf32> {slm.name = "logits"}) {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %x : tensor<?x?x8xf32>
}

// -----

// expected-error @+1 {{--kv-cache-dtype: cache input 'past_key_values.0.key' is read other than joined once with the new positions (tensor.concat along its positions)}}
func.func @other(%ids: tensor<?x?xi64> {slm.name = "input_ids"},
                 %pk: tensor<?x?x8xf32> {slm.name = "past_key_values.0.key"})
    -> (tensor<?x?x8xf32> {slm.name = "logits"}, tensor<?x?x8xf32> {slm.name = "present.0.key"}) {
  %table = arith.constant dense<0.5> : tensor<16x8xf32>
  %x = slm.gather %table[%ids] axis 0 : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %y = slm.add %pk, %pk : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %kf = tensor.concat dim(1) %pk, %x : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return %y, %kf : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}
