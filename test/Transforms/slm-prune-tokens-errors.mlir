// RUN: slm-opt %s -split-input-file --slm-prune-tokens="keep=0.5" -verify-diagnostics
// RUN: not slm-opt %s -split-input-file --slm-prune-tokens="keep=1.5" 2>&1 | FileCheck %s --check-prefix=BADKEEP
// RUN: not slm-opt %s -split-input-file --slm-prune-tokens="keep=0.5 min-tokens=0" 2>&1 | FileCheck %s --check-prefix=BADMIN

// BADKEEP: slm-prune-tokens: keep must be in (0, 1] (got 1.5)
// BADMIN: min-tokens >= 1 (got 0)

// Tests that token pruning without a key-padding mask is an error (it runs
// on the padding-free token stream).
// expected-error @+1 {{prune-tokens: no attention has a key-padding mask made from a model input (attention_mask); token pruning runs on the padding-free token stream, which needs one}}
func.func @no_mask(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                   %m: tensor<?x?xi64> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x?x32xf32> {
  %a = slm.attention %x, %x, %x {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return %a : tensor<?x?x32xf32>
}

// -----

// Tests that a schedule starting after the model's last attention warns
// (nothing is pruned; start defaults to 1, the model has one attention).
// expected-warning @+1 {{prune-tokens: start = 1 but the model has 1 attentions on the token stream; nothing is pruned}}
func.func @late_start(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                      %m: tensor<?x?xi1> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %m, %c0 : tensor<?x?xi1>
  %s = tensor.dim %m, %c1 : tensor<?x?xi1>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %m4 = slm.reshape %m, %shape : (tensor<?x?xi1>, tensor<4xindex>) -> tensor<?x1x1x?xi1>
  %a = slm.attention %x, %x, %x, %m4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  return %a : tensor<?x?x32xf32>
}

// -----

// Tests that an attention on the token stream that cannot run packed (its
// keys and values are not token values: cross-attention to a memory) is an
// error: it would read pruned tokens as zeros.
func.func @unpacked(%x: tensor<?x?x32xf32> {slm.dim_names = ["batch", "sequence", ""]},
                    %mem: tensor<?x?x32xf32> {slm.dim_names = ["batch", "memory", ""]},
                    %m: tensor<?x?xi1> {slm.dim_names = ["batch", "sequence"]}) -> tensor<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %m, %c0 : tensor<?x?xi1>
  %s = tensor.dim %m, %c1 : tensor<?x?xi1>
  %shape = tensor.from_elements %b, %c1, %c1, %s : tensor<4xindex>
  %m4 = slm.reshape %m, %shape : (tensor<?x?xi1>, tensor<4xindex>) -> tensor<?x1x1x?xi1>
  %a = slm.attention %x, %x, %x, %m4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  // expected-error @+1 {{prune-tokens: this attention reads the token stream but cannot run on it packed}}
  %a2 = slm.attention %a, %mem, %mem, %m4 {num_heads = 4 : i64}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xi1>) -> tensor<?x?x32xf32>
  return %a2 : tensor<?x?x32xf32>
}
