func.func @f(%x: tensor<2x4xf32>, %w: tensor<8x5xf32>) -> tensor<2x8xf32> {
  %y = slm.linear %x, %w : (tensor<2x4xf32>, tensor<8x5xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
