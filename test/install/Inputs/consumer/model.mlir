// y = relu(x W^T + b), with W and b below; x is [batch, 4].
func.func @main(%x: tensor<?x4xf32> {slm.name = "x"}) -> (tensor<?x2xf32> {slm.name = "y"}) {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]> : tensor<2x4xf32>
  %b = arith.constant dense<[0.25, 1.0]> : tensor<2xf32>
  %y = slm.linear %x, %w, %b {activation = #slm.activation<relu>} : (tensor<?x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
