// RUN: slm-opt %s --slm-prune-ffn="ratio=0.25 multiple=1" --canonicalize | FileCheck %s --check-prefix=MAG
// RUN: slm-opt %s --slm-prune-ffn="ratio=0.25 multiple=1 method=flap" --canonicalize | FileCheck %s --check-prefix=FLAP
// RUN: slm-opt %s --slm-prune-ffn="ratio=0.25" --canonicalize | FileCheck %s --check-prefix=MULTIPLE
// RUN: slm-opt %s --slm-prune-ffn="ratio=0.25 multiple=4" --canonicalize | FileCheck %s --check-prefix=ROUND

// Eight hidden neurons. By weight magnitude neurons 1 and 6 are the
// smallest (their up-projection rows and down-projection columns are 0.1);
// by the calibration statistics neurons 0 and 7 never vary (FLAP removes
// them and adds their mean output, 2 * 0.5 + 3 * 0.5 = 2.5, to the bias).

// MAG-LABEL: func.func @ffn
// MAG-DAG: arith.constant dense<[0.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 7.000000e+00]> : tensor<6xf32>
// MAG: %[[H:.*]] = slm.linear %arg0, {{.*}} {activation = #slm.activation<gelu>} : (tensor<2x4xf32>, tensor<6x4xf32>, tensor<6xf32>) -> tensor<2x6xf32>
// MAG: %[[Y:.*]] = slm.linear %[[H]], {{.*}} : (tensor<2x6xf32>, tensor<4x6xf32>{{.*}}) -> tensor<2x4xf32>
// MAG: slm.add %arg0, %[[Y]]

// FLAP-LABEL: func.func @ffn
// FLAP-DAG: arith.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00]> : tensor<6xf32>
// FLAP-DAG: arith.constant dense<2.500000e+00> : tensor<4xf32>
// FLAP: slm.linear {{.*}} -> tensor<2x6xf32>
// FLAP: slm.linear {{.*}} {slm.input_stats = {count = 4 : i64, mean = array<f32: 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00>, variance = array<f32: 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00>}} : (tensor<2x6xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<2x4xf32>

// With the default multiple of 32 a layer this small keeps its count
// unrounded; multiple=4 rounds the 6 kept neurons to 8 (nothing removed).
// MULTIPLE: slm.linear {{.*}} -> tensor<2x6xf32>
// ROUND: slm.linear {{.*}} -> tensor<2x8xf32>

func.func @ffn(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w1 = arith.constant dense<[[1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0],
                              [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0]]> : tensor<8x4xf32>
  %b1 = arith.constant dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]> : tensor<8xf32>
  %w2 = arith.constant dense<[[2.0, 0.1, 1.0, 1.0, 1.0, 1.0, 0.1, 3.0], [2.0, 0.1, 1.0, 1.0, 1.0, 1.0, 0.1, 3.0],
                              [2.0, 0.1, 1.0, 1.0, 1.0, 1.0, 0.1, 3.0], [2.0, 0.1, 1.0, 1.0, 1.0, 1.0, 0.1, 3.0]]> : tensor<4x8xf32>
  %h = slm.linear %x, %w1, %b1 {activation = #slm.activation<gelu>} : (tensor<2x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %y = slm.linear %h, %w2 {slm.input_stats = {count = 4 : i64, mean = array<f32: 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5>, variance = array<f32: 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0>}} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %r = slm.add %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}

// A separate slm.gelu between the projections is kept, narrowed.
// MAG-LABEL: func.func @separate_gelu
// MAG: %[[H:.*]] = slm.linear {{.*}} -> tensor<2x6xf32>
// MAG: %[[G:.*]] = slm.gelu %[[H]] : tensor<2x6xf32>
// MAG: slm.linear %[[G]]
func.func @separate_gelu(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w1 = arith.constant dense<1.0> : tensor<8x4xf32>
  %w2 = arith.constant dense<1.0> : tensor<4x8xf32>
  %h = slm.linear %x, %w1 : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %g = slm.gelu %h : tensor<2x8xf32>
  %y = slm.linear %g, %w2 {slm.input_stats = {count = 4 : i64, mean = array<f32: 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0>, variance = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0>}} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %r = slm.add %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}

// Not an FFN: no activation between the projections, or no residual add.
// MAG-LABEL: func.func @not_ffn
// MAG: slm.linear {{.*}} -> tensor<2x8xf32>
// MAG: slm.linear {{.*}} -> tensor<2x8xf32>
func.func @not_ffn(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %w1 = arith.constant dense<1.0> : tensor<8x4xf32>
  %w2 = arith.constant dense<1.0> : tensor<4x8xf32>
  %h = slm.linear %x, %w1 : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %y = slm.linear %h, %w2 : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %r = slm.add %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %h2 = slm.linear %x, %w1 {activation = #slm.activation<relu>} : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %y2 = slm.linear %h2, %w2 : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %r, %y2 : tensor<2x4xf32>, tensor<2x4xf32>
}

// Least-squares refit: neuron 1 is exactly half of neuron 0 on the
// calibration data (covariance [[1, 0.5], [0.5, 0.25]]), so after removing
// it (lowest variance) the down projection's column 0 absorbs it:
// W' = W S[:, 0] / (S[0, 0] + 1% ridge) = [1.5, 3] / 1.01.
// RUN: slm-opt %s --slm-prune-ffn="ratio=0.5 multiple=1 method=flap reconstruct=true" --canonicalize | FileCheck %s --check-prefix=LS
// LS-LABEL: func.func @refit
// LS: arith.constant dense<{{\[\[}}1.485148{{[0-9]*}}], [2.970297{{[0-9]*}}]]> : tensor<2x1xf32>
// LS: slm.linear {{.*}} : (tensor<3x1xf32>, tensor<2x1xf32>) -> tensor<3x2xf32>
func.func @refit(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w1 = arith.constant dense<[[1.0, 0.0], [0.5, 0.0]]> : tensor<2x2xf32>
  %w2 = arith.constant dense<[[1.0, 1.0], [2.0, 2.0]]> : tensor<2x2xf32>
  %h = slm.linear %x, %w1 {activation = #slm.activation<relu>} : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %y = slm.linear %h, %w2 {slm.input_stats = {count = 10 : i64, mean = array<f32: 0.0, 0.0>, variance = array<f32: 1.0, 0.25>, covariance = dense<[[1.0, 0.5], [0.5, 0.25]]> : tensor<2x2xf32>}} : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %r = slm.add %x, %y : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  return %r : tensor<3x2xf32>
}

// A gated FFN (SwiGLU as Llama exports it: the SiLU decomposed into
// exp/add/div/mul on the gate, times the up projection): neuron j is row j
// of gate and of up and column j of down. Neurons 2 and 5 have the
// smallest rows and columns; every op on the hidden path is narrowed.
// MAG-LABEL: func.func @swiglu
// The gate's rows kept: 0, 1, 3, 4, 6, 7 (scaled by 1..8).
// MAG-DAG: arith.constant dense<{{\[\[}}1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00], [2.000000e+00, {{.*}}], [4.000000e+00, {{.*}}], [5.000000e+00, {{.*}}], [7.000000e+00, {{.*}}], [8.000000e+00, {{.*}}]]> : tensor<6x4xf32>
// MAG: %[[G:.*]] = slm.linear %arg0, %{{.*}} : (tensor<2x4xf32>, tensor<6x4xf32>) -> tensor<2x6xf32>
// MAG: %[[N:.*]] = arith.negf %[[G]] : tensor<2x6xf32>
// MAG: %[[E:.*]] = math.exp %[[N]] : tensor<2x6xf32>
// MAG: %[[D:.*]] = slm.add %[[E]], %{{.*}} : (tensor<2x6xf32>, tensor<f32>) -> tensor<2x6xf32>
// MAG: %[[S:.*]] = slm.div %{{.*}}, %[[D]] : (tensor<f32>, tensor<2x6xf32>) -> tensor<2x6xf32>
// MAG: %[[A:.*]] = slm.mul %[[G]], %[[S]] : (tensor<2x6xf32>, tensor<2x6xf32>) -> tensor<2x6xf32>
// MAG: %[[U:.*]] = slm.linear %arg0, %{{.*}} : (tensor<2x4xf32>, tensor<6x4xf32>) -> tensor<2x6xf32>
// MAG: %[[H:.*]] = slm.mul %[[A]], %[[U]] : (tensor<2x6xf32>, tensor<2x6xf32>) -> tensor<2x6xf32>
// MAG: slm.linear %[[H]], %{{.*}} : (tensor<2x6xf32>, tensor<4x6xf32>) -> tensor<2x4xf32>
// A product whose other factor is read outside the FFN is not a unit.
// MAG-LABEL: func.func @swiglu_shared
// MAG: slm.linear {{.*}} -> tensor<2x8xf32>
// MAG: slm.linear {{.*}} -> tensor<2x8xf32>
func.func @swiglu(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %wg = arith.constant dense<[[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0], [0.1, 0.1, 0.1, 0.1], [4.0, 4.0, 4.0, 4.0],
                              [5.0, 5.0, 5.0, 5.0], [0.1, 0.1, 0.1, 0.1], [7.0, 7.0, 7.0, 7.0], [8.0, 8.0, 8.0, 8.0]]> : tensor<8x4xf32>
  %wu = arith.constant dense<[[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0],
                              [1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]> : tensor<8x4xf32>
  %wd = arith.constant dense<[[1.0, 1.0, 0.1, 1.0, 1.0, 0.1, 1.0, 1.0], [1.0, 1.0, 0.1, 1.0, 1.0, 0.1, 1.0, 1.0],
                              [1.0, 1.0, 0.1, 1.0, 1.0, 0.1, 1.0, 1.0], [1.0, 1.0, 0.1, 1.0, 1.0, 0.1, 1.0, 1.0]]> : tensor<4x8xf32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %g = slm.linear %x, %wg : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %n = arith.negf %g : tensor<2x8xf32>
  %e = math.exp %n : tensor<2x8xf32>
  %d = slm.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %s = slm.div %one, %d : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %a = slm.mul %g, %s : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %u = slm.linear %x, %wu : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %h = slm.mul %a, %u : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = slm.linear %h, %wd {slm.input_stats = {count = 4 : i64, mean = array<f32: 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0>, variance = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0>}} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %r = slm.add %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}

func.func @swiglu_shared(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x8xf32>) {
  %wg = arith.constant dense<1.0> : tensor<8x4xf32>
  %wu = arith.constant dense<2.0> : tensor<8x4xf32>
  %wd = arith.constant dense<1.0> : tensor<4x8xf32>
  %g = slm.linear %x, %wg : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %u = slm.linear %x, %wu : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
  %h = slm.mul %g, %u : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = slm.linear %h, %wd : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %r = slm.add %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r, %u : tensor<2x4xf32>, tensor<2x8xf32>
}
