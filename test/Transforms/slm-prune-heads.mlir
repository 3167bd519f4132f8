// RUN: slm-opt %s -split-input-file --slm-prune-heads="ratio=0.5" --canonicalize | FileCheck %s --check-prefix=MAG
// RUN: not slm-opt %s -split-input-file --slm-prune-heads="ratio=0.5 method=wanda" --canonicalize 2>%t.err | FileCheck %s --check-prefix=WANDA
// RUN: FileCheck %s --check-prefix=NOSTATS < %t.err
// RUN: not slm-opt %s -split-input-file --slm-prune-heads="ratio=0.5 method=flap bias-compensation=false" --canonicalize 2>/dev/null | FileCheck %s --check-prefix=NOCOMP
// RUN: slm-opt %s -split-input-file --slm-prune-heads="ratio=0.0" | FileCheck %s --check-prefix=NONE
// RUN: not slm-opt %s -split-input-file --slm-prune-heads="ratio=0.5 method=taylor" 2>&1 | FileCheck %s --check-prefix=BADMETHOD
// RUN: not slm-opt %s -split-input-file --slm-prune-heads="ratio=1.0" 2>&1 | FileCheck %s --check-prefix=BADRATIO

// Two heads of width 2. Q, K, V are the identity; the output projection's
// columns for head 1 (channels 2, 3) are twice those of head 0, so by
// magnitude head 0 goes. The calibration statistics say head 1's output
// barely varies, so the activation-aware methods remove head 1 and fold
// its mean output (channel means 0.01 and 0.02) into the bias.

// MAG-LABEL: func.func @attention
// MAG-DAG: %[[WO:.*]] = arith.constant dense<1.000000e+00> : tensor<4x2xf32>
// MAG-DAG: %[[BO:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
// MAG-DAG: arith.constant dense<{{\[\[}}0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00], [0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00]]> : tensor<2x4xf32>
// MAG: slm.linear %arg0, %{{.*}} : (tensor<1x4x4xf32>, tensor<2x4xf32>) -> tensor<1x4x2xf32>
// MAG: %[[A:.*]] = slm.attention {{.*}} {num_heads = 1 : i64, scale = 0.70710678118654746 : f64} : {{.*}} -> tensor<1x4x2xf32>
// MAG: slm.linear %[[A]], %[[WO]], %[[BO]] {{.*}}: (tensor<1x4x2xf32>, tensor<4x2xf32>, tensor<4xf32>) -> tensor<1x4x4xf32>

// WANDA-LABEL: func.func @attention
// WANDA-DAG: %[[WO:.*]] = arith.constant dense<5.000000e-01> : tensor<4x2xf32>
// WANDA-DAG: %[[BO:.*]] = arith.constant dense<[1.030000e+00, 2.030000e+00, 3.030000e+00, 4.030000e+00]> : tensor<4xf32>
// WANDA-DAG: arith.constant dense<{{\[\[}}1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00], [0.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<2x4xf32>
// WANDA: %[[A:.*]] = slm.attention {{.*}} {num_heads = 1 : i64, scale = 0.70710678118654746 : f64}
// WANDA: slm.linear %[[A]], %[[WO]], %[[BO]] {slm.input_stats = {count = 16 : i64, mean = array<f32: 0.000000e+00, 0.000000e+00>, variance = array<f32: 1.000000e+00, 1.000000e+00>}} : (tensor<1x4x2xf32>, tensor<4x2xf32>, tensor<4xf32>) -> tensor<1x4x4xf32>

// NOCOMP-LABEL: func.func @attention
// NOCOMP-DAG: %[[BO:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
// NOCOMP: slm.attention {{.*}} {num_heads = 1 : i64

// NONE-LABEL: func.func @attention
// NONE: slm.attention {{.*}} {num_heads = 2 : i64}

// BADMETHOD: unknown pruning method 'taylor' (expected magnitude, wanda or flap)
// BADRATIO: pruning ratio must be in [0, 1), not 1

func.func @attention(%x: tensor<1x4x4xf32>) -> tensor<1x4x4xf32> {
  %eye = arith.constant dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]> : tensor<4x4xf32>
  %wo = arith.constant dense<[[0.5, 0.5, 1.0, 1.0], [0.5, 0.5, 1.0, 1.0], [0.5, 0.5, 1.0, 1.0], [0.5, 0.5, 1.0, 1.0]]> : tensor<4x4xf32>
  %bo = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %q = slm.linear %x, %eye : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  %k = slm.linear %x, %eye : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  %v = slm.linear %x, %eye : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  %a = slm.attention %q, %k, %v {num_heads = 2 : i64} : (tensor<1x4x4xf32>, tensor<1x4x4xf32>, tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
  %o = slm.linear %a, %wo, %bo {slm.input_stats = {count = 16 : i64, mean = array<f32: 0.0, 0.0, 0.01, 0.02>, variance = array<f32: 1.0, 1.0, 1.0e-4, 1.0e-4>}} : (tensor<1x4x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x4x4xf32>
  return %o : tensor<1x4x4xf32>
}

// -----

// Activation-aware scores need calibration statistics.
// NOSTATS: error: activation-aware pruning needs calibration statistics
func.func @no_stats(%x: tensor<1x4x4xf32>) -> tensor<1x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<4x4xf32>
  %q = slm.linear %x, %w : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  %k = slm.linear %x, %w : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  %v = slm.linear %x, %w : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  %a = slm.attention %q, %k, %v {num_heads = 2 : i64} : (tensor<1x4x4xf32>, tensor<1x4x4xf32>, tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
  %o = slm.linear %a, %w : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  return %o : tensor<1x4x4xf32>
}

// -----

// Q and K from one shared projection: not a prunable unit, left alone.
// MAG-LABEL: func.func @shared_projection
// MAG: slm.attention {{.*}} {num_heads = 2 : i64}
func.func @shared_projection(%x: tensor<1x4x4xf32>) -> tensor<1x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<4x4xf32>
  %q = slm.linear %x, %w : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  %v = slm.linear %x, %w : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  %a = slm.attention %q, %q, %v {num_heads = 2 : i64} : (tensor<1x4x4xf32>, tensor<1x4x4xf32>, tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
  %o = slm.linear %a, %w : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
  return %o : tensor<1x4x4xf32>
}

// -----

// A fused Q/K/V projection read through three slices (GPT-2's c_attn) is
// split into three projections over its row blocks, then pruned.
// MAG-LABEL: func.func @fused_qkv
// MAG-NOT: tensor.extract_slice
// MAG-COUNT-3: slm.linear %arg0, %{{.*}} : (tensor<?x4x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<?x4x2xf32>
// MAG: slm.attention {{.*}} {causal, num_heads = 1 : i64, scale = 0.70710678118654746 : f64}
func.func @fused_qkv(%x: tensor<?x4x4xf32>) -> tensor<?x4x4xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.5],
                             [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.5],
                             [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.5]]> : tensor<12x4xf32>
  %b = arith.constant dense<0.5> : tensor<12xf32>
  %wo = arith.constant dense<1.0> : tensor<4x4xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %qkv = slm.linear %x, %w, %b : (tensor<?x4x4xf32>, tensor<12x4xf32>, tensor<12xf32>) -> tensor<?x4x12xf32>
  %d0 = tensor.dim %qkv, %c0 : tensor<?x4x12xf32>
  %q = tensor.extract_slice %qkv[0, 0, 0] [%d0, 4, 4] [1, 1, 1] : tensor<?x4x12xf32> to tensor<?x4x4xf32>
  %k = tensor.extract_slice %qkv[0, 0, 4] [%d0, 4, 4] [1, 1, 1] : tensor<?x4x12xf32> to tensor<?x4x4xf32>
  %v = tensor.extract_slice %qkv[0, 0, 8] [%d0, 4, 4] [1, 1, 1] : tensor<?x4x12xf32> to tensor<?x4x4xf32>
  %a = slm.attention %q, %k, %v {causal, num_heads = 2 : i64} : (tensor<?x4x4xf32>, tensor<?x4x4xf32>, tensor<?x4x4xf32>) -> tensor<?x4x4xf32>
  %o = slm.linear %a, %wo : (tensor<?x4x4xf32>, tensor<4x4xf32>) -> tensor<?x4x4xf32>
  return %o : tensor<?x4x4xf32>
}
