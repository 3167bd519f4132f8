// A matrix product big enough for parallel loops (test/slmc/phases.test).
func.func @main(%x: tensor<256x256xf32>) -> tensor<256x512xf32> {
  %w = arith.constant dense<0.01> : tensor<256x512xf32>
  %y = slm.matmul %x, %w : (tensor<256x256xf32>, tensor<256x512xf32>) -> tensor<256x512xf32>
  %g = slm.gelu %y : tensor<256x512xf32>
  return %g : tensor<256x512xf32>
}
