// RUN: slm-opt %s --slm-model-stats -o /dev/null | FileCheck %s
// RUN: slm-opt %s --slm-model-stats=json=true -o /dev/null | FileCheck %s --check-prefix=JSON

// Tests that the stats count ops, describe each linear's storage, and total
// parameters and bytes: stored 6400 (table) + 4096 (w1) + 256 (b1) + 512 +
// 128 + 32 (int4 codes, scales, zero points) = 11424; dense fp32 6400 + 4096
// + 256 + 16*64*4 = 14848; parameters 1600 + 1024 + 64 + 1024 = 3712.

// CHECK-LABEL: slm model stats: @encoder
// CHECK-NEXT: ops: slm.dequantize_weight 1, slm.embedding 1, slm.gelu 1, slm.linear 2
// CHECK-NEXT: linear  weight 64x16{{ +}}dense f32{{ +}}MACs/row 1024
// CHECK-NEXT: linear  weight 16x64{{ +}}int4 g32 asym{{ +}}MACs/row 1024
// CHECK-NEXT: parameters 3712  stored bytes 11424  dense bytes 14848  ratio 1.30

// JSON: "dense_bytes": 14848
// JSON: "function": "encoder"
// JSON: "in_features": 16
// JSON: "storage": "dense f32"
// JSON: "storage": "int4 g32 asym"
// JSON: "slm.linear": 2
// JSON: "parameters": 3712
// JSON: "stored_bytes": 11424

func.func @encoder(%ids: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
  %table = arith.constant dense<0.25> : tensor<100x16xf32>
  %w1 = arith.constant dense<0.5> : tensor<64x16xf32>
  %b1 = arith.constant dense<0.1> : tensor<64xf32>
  %codes = arith.constant dense<3> : tensor<16x32xi8>
  %scales = arith.constant dense<0.01> : tensor<16x2xf32>
  %zp = arith.constant dense<8> : tensor<16x2xi8>
  %e = slm.embedding %table[%ids] : (tensor<100x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
  %h = slm.linear %e, %w1, %b1 : (tensor<?x?x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %g = slm.gelu %h : tensor<?x?x64xf32>
  %w2 = slm.dequantize_weight <int4> %codes, %scales zero_points %zp group_size 32 : (tensor<16x32xi8>, tensor<16x2xf32>, tensor<16x2xi8>) -> tensor<16x64xf32>
  %o = slm.linear %g, %w2 : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32>
  return %o : tensor<?x?x16xf32>
}

// Declarations have no body to report on.
// CHECK-NOT: @external
func.func private @external(tensor<4xf32>) -> tensor<4xf32>
