// The runtime tests' model: y = relu(x W^T + b) + z, with x and z sharing
// the dynamic "batch" extent.
func.func @main(%x: tensor<?x4xf32> {slm.name = "x", slm.dim_names = ["batch", ""]},
                %z: tensor<?x2xf32> {slm.name = "z", slm.dim_names = ["batch", ""]})
    -> (tensor<?x2xf32> {slm.name = "y"}) {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]]> : tensor<2x4xf32>
  %b = arith.constant dense<[0.25, -1.0]> : tensor<2xf32>
  %h = slm.linear %x, %w, %b {activation = #slm.activation<relu>} : (tensor<?x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %y = slm.add %h, %z : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
