//===- Passes.td - slm transformation passes ---------------*- tablegen -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_TRANSFORMS_PASSES_TD
#define SLM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SLMFuseLinearActivation : Pass<"slm-fuse-linear-activation"> {
  let summary = "Fuse an activation that follows a linear layer into its epilogue";
  let description = [{
    An `slm.gelu` (either form) or a ReLU spelled `slm.max(x, 0)` whose
    input is an `slm.linear` without an epilogue, and the linear's only use,
    becomes the linear's `activation`. Code generation then applies it to the
    accumulator tile while it is in registers instead of in a second pass
    over memory.

    Before:
    ```mlir
    %h = slm.linear %x, %w, %b : (tensor<?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x3072xf32>
    %g = slm.gelu %h : tensor<?x3072xf32>
    ```
    After:
    ```mlir
    %g = slm.linear %x, %w, %b {activation = #slm.activation<gelu>}
        : (tensor<?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x3072xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect"];
}

def SLMMergeLinears : Pass<"slm-merge-linears"> {
  let summary = "Merge linear layers that read the same input into one GEMM";
  let description = [{
    Attention's query, key and value projections (and the gate and up
    projections of gated FFNs) are linear layers that read the same input.
    When their weights are constants with the same input width, the same
    activation, and constant or no biases, they become one `slm.linear`
    over the weights stacked by rows, and each former result is a slice of
    its columns. One GEMM reads the input once, starts its threads once,
    and has more columns to share among them.

    Before:
    ```mlir
    %q = slm.linear %x, %wq, %bq : (tensor<?x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
    %k = slm.linear %x, %wk, %bk : (tensor<?x?x384xf32>, tensor<384x384xf32>, tensor<384xf32>) -> tensor<?x?x384xf32>
    ```
    After:
    ```mlir
    %qk = slm.linear %x, %wqk, %bqk : (tensor<?x?x384xf32>, tensor<768x384xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %q = tensor.extract_slice %qk[0, 0, 0] [%b, %s, 384] [1, 1, 1] : tensor<?x?x768xf32> to tensor<?x?x384xf32>
    %k = tensor.extract_slice %qk[0, 0, 384] [%b, %s, 384] [1, 1, 1] : tensor<?x?x768xf32> to tensor<?x?x384xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def SLMSetPrecision : Pass<"slm-set-precision"> {
  let summary = "Compute linear layers' products in bfloat16";
  let description = [{
    With `precision=bf16`, every `slm.linear` whose weight is a float
    constant (not quantized, pruned to sparse or computed), whose input is
    not quantized (W8A8) and whose `in_features` is even gets `precision =
    #slm.precision<bf16>`: its input and weight are rounded to bfloat16 and
    their products summed in f32 (AVX512-BF16's `vdpbf16ps`; f32 FMAs on
    CPUs without it). Weights are stored in bf16, half their f32 bytes.
    Other layers, attention's products and everything else stay f32; an
    odd `in_features` is left f32 with a warning. `precision=f32` removes
    the attribute.

    Before:
    ```mlir
    %y = slm.linear %x, %w, %b : (tensor<?x?x384xf32>, tensor<1536x384xf32>, tensor<1536xf32>) -> tensor<?x?x1536xf32>
    ```
    After:
    ```mlir
    %y = slm.linear %x, %w, %b {precision = #slm.precision<bf16>}
        : (tensor<?x?x384xf32>, tensor<1536x384xf32>, tensor<1536xf32>) -> tensor<?x?x1536xf32>
    ```
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"bf16\"",
           "The products' precision: bf16 or f32">,
  ];
}

def SLMModelStats : Pass<"slm-model-stats", "::mlir::ModuleOp"> {
  let summary = "Print the model's layers, parameters, weight bytes and MACs";
  let description = [{
    Reads the IR without changing it and prints, per function: how many of
    each slm op, every `slm.linear` with its weight shape, storage form
    (dense, quantized, sparse) and multiply-accumulates per input row, and
    totals: parameters (logical weight elements), weight bytes as stored and
    as dense fp32-equivalent, and the compression ratio. Weight bytes count
    every tensor constant; a compressed weight op counts its stored operands.

    Before:
    ```mlir
    func.func @encoder(%ids: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
      %e = slm.embedding %table[%ids] : (tensor<100x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
      %h = slm.linear %e, %w1, %b1 : (tensor<?x?x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
      %g = slm.gelu %h : tensor<?x?x64xf32>
      %w2 = slm.dequantize_weight <int4> %codes, %scales zero_points %zp group_size 32
          : (tensor<16x32xi8>, tensor<16x2xf32>, tensor<16x2xi8>) -> tensor<16x64xf32>
      %o = slm.linear %g, %w2 : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32>
      return %o : tensor<?x?x16xf32>
    }
    ```
    After (IR unchanged), printed on stdout:
    ```text
    slm model stats: @encoder
      ops: slm.dequantize_weight 1, slm.embedding 1, slm.gelu 1, slm.linear 2
      linear  weight 64x16       dense f32        MACs/row 1024
      linear  weight 16x64       int4 g32 asym    MACs/row 1024
      parameters 3712  stored bytes 11424  dense bytes 14848  ratio 1.30
    ```
    With `json=true` the same data is printed as one JSON object per
    function, for scripts.
  }];
  let options = [
    Option<"json", "json", "bool", /*default=*/"false",
           "Print JSON instead of text">
  ];
}

def SLMRaiseLinear : Pass<"slm-raise-linear"> {
  let summary = "Raise matmuls by constant weights (plus bias adds) to slm.linear";
  let description = [{
    `slm.matmul %x, %W` with a constant `[K, N]` weight (or the transpose of
    one, as `Gemm` with `transB` imports) becomes `slm.linear` with the
    weight stored `[N, K]` (the transpose of a constant folds); a following
    `slm.add` of a `[N]` constant becomes its bias.

    Before:
    ```mlir
    %y = slm.matmul %x, %w : (tensor<?x?x64xf32>, tensor<64x256xf32>) -> tensor<?x?x256xf32>
    %z = slm.add %y, %b : (tensor<?x?x256xf32>, tensor<256xf32>) -> tensor<?x?x256xf32>
    ```
    After:
    ```mlir
    %z = slm.linear %x, %wt, %b : (tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<256xf32>) -> tensor<?x?x256xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect"];
}

def SLMRaiseLayerNorm : Pass<"slm-raise-layer-norm"> {
  let summary = "Raise the spelled-out LayerNorm to slm.layer_norm";
  let description = [{
    Matches `(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps)` over the
    trailing axes (also `* rsqrt(..)`, `d * d` for the square), with an
    optional constant scale and shift in either operand order: what PyTorch
    exports below opset 17.

    Before:
    ```mlir
    %m = slm.reduce <mean> %x axes [-1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
    %d = slm.sub %x, %m : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
    %p = slm.pow %d, %two : (tensor<?x64xf32>, tensor<f32>) -> tensor<?x64xf32>
    %v = slm.reduce <mean> %p axes [-1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
    %e = slm.add %v, %eps : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
    %s = math.sqrt %e : tensor<?x1xf32>
    %n = slm.div %d, %s : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
    %g = slm.mul %n, %gamma : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    %y = slm.add %g, %beta : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
    After:
    ```mlir
    %y = slm.layer_norm %x, %gamma, %beta {epsilon = 1.0e-05 : f64, axis = 1 : i64}
        : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect"];
}

def SLMRaiseGelu : Pass<"slm-raise-gelu"> {
  let summary = "Raise spelled-out GELUs (erf and tanh forms) to slm.gelu";
  let description = [{
    `x * 0.5 * (1 + erf(x / sqrt(2)))` and
    `x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))`, with the
    products in any order and association, `x / sqrt(2)` or
    `x * (1/sqrt(2))`, `pow(x, 3)` or `x * x * x`.

    Before:
    ```mlir
    %s = slm.div %x, %sqrt2 : (tensor<?x128xf32>, tensor<f32>) -> tensor<?x128xf32>
    %e = math.erf %s : tensor<?x128xf32>
    %a = slm.add %e, %one : (tensor<?x128xf32>, tensor<f32>) -> tensor<?x128xf32>
    %m = slm.mul %x, %a : (tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x128xf32>
    %g = slm.mul %m, %half : (tensor<?x128xf32>, tensor<f32>) -> tensor<?x128xf32>
    ```
    After:
    ```mlir
    %g = slm.gelu %x : tensor<?x128xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect"];
}

def SLMRaiseAttention : Pass<"slm-raise-attention"> {
  let summary = "Raise scaled dot-product attention subgraphs to slm.attention";
  let description = [{
    Finds `softmax(scale * Q K^T + mask) V` with the head split and merge
    wherever the exporter put them: batch-first (`[B, S, E] -> [B, H, S, D]`,
    as HF models), or sequence-first with batch and heads merged
    (`[S, B, E] -> [B*H, S, D]`, as `nn.MultiheadAttention`); scale by Mul
    or Div on Q, K or the scores; an additive mask, a select (ONNX Where)
    mask in either branch order, or none. Fused QKV projections (one
    linear, then slices) and separate ones both work. A select mask that is
    a slice of a constant lower-triangular buffer becomes `causal`.

    Dimensions are labelled with the atoms they are made of (the outer
    dimensions of each projection, heads, head width); labels are pushed
    through transposes and reshapes, where dynamic extents are compared as
    products of tensor dimensions.

    Before (HF style, with the mask omitted):
    ```mlir
    %qh = slm.reshape %q, %s4 : (tensor<?x?x64xf32>, tensor<4xindex>) -> tensor<?x?x4x16xf32>
    %qt = slm.transpose %qh [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
    %kh = slm.reshape %k, %s4 : (tensor<?x?x64xf32>, tensor<4xindex>) -> tensor<?x?x4x16xf32>
    %kt = slm.transpose %kh [0, 2, 3, 1] : tensor<?x?x4x16xf32> -> tensor<?x4x16x?xf32>
    %vh = slm.reshape %v, %s4 : (tensor<?x?x64xf32>, tensor<4xindex>) -> tensor<?x?x4x16xf32>
    %vt = slm.transpose %vh [0, 2, 1, 3] : tensor<?x?x4x16xf32> -> tensor<?x4x?x16xf32>
    %s = slm.matmul %qt, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
    %ss = slm.div %s, %four : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
    %p = slm.softmax %ss axis 3 : tensor<?x4x?x?xf32>
    %c = slm.matmul %p, %vt : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
    %ct = slm.transpose %c [0, 2, 1, 3] : tensor<?x4x?x16xf32> -> tensor<?x?x4x16xf32>
    %o = slm.reshape %ct, %s3 : (tensor<?x?x4x16xf32>, tensor<3xindex>) -> tensor<?x?x64xf32>
    ```
    After:
    ```mlir
    %o = slm.attention %q, %k, %v {num_heads = 4 : i64}
        : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SLMFuseAttention : Pass<"slm-fuse-attention"> {
  let summary = "Turn slm.attention into slm.fused_attention, reading Q, K and V in their producers' layout";
  let description = [{
    Each f32 attention with static head widths becomes one
    `slm.fused_attention` (whose kernel `--slm-lower-fused-attention`
    emits). The merge of heads in front of the attention is looked
    through: `reshape(transpose(z [B, H, S, D], [0, 2, 1, 3]))` hands the
    kernel `z`, a reshape of `[B, S, H, D]` hands it that; grouped-query
    attention's head repeat (`reshape(broadcast_to(u [B, Hkv, 1, T, D]))`)
    hands it `u` viewed as `[B, Hkv, T, D]`, so the repeated keys and
    values are never built. An i1 mask becomes an additive one (0 or the
    lowest finite value), a mask of rank < 4 gets leading unit dimensions,
    and extents the IR does not prove equal (a dynamic mask extent and the
    one it must match, batch and positions through the repeat) are checked
    at run time. Other attentions stay for the decomposition.

    Before:
    ```mlir
    %t = slm.transpose %z [0, 2, 1, 3] : tensor<?x4x?x8xf32> -> tensor<?x?x4x8xf32>
    %q = slm.reshape %t, %shape : (tensor<?x?x4x8xf32>, tensor<3xindex>) -> tensor<?x?x32xf32>
    %a = slm.attention %q, %k, %v {causal, num_heads = 4 : i64}
        : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
    ```
    After:
    ```mlir
    %a = slm.fused_attention %z, %k4, %v4 outs %init
        {causal, num_heads = 4 : i64, scale = 0.35355339059327373 : f64, seq_dims = array<i64: 2, 1, 1>}
        : (tensor<?x4x?x8xf32>, tensor<?x?x4x8xf32>, tensor<?x?x4x8xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SLMPaddingFree : Pass<"slm-padding-free", "::mlir::ModuleOp"> {
  let summary = "Compute on real tokens only: pack the batch by its attention mask, attend per sequence";
  let description = [{
    Where a model's attentions use a key-padding mask made from an input `m`
    (`[B, S]` of 0 and 1; found by evaluating the mask's computation at
    m = 0 and m = 1), the real tokens are packed into `[T, ...]` at the
    entry (loops over `m` give each sequence's offset and each token's
    position), and every token-wise op on them runs on `[T, ...]`:
    elementwise ops, GELU, softmax, normalizations and reductions over
    trailing dimensions, linear layers, reshapes and transposes that keep
    the batch and sequence dimensions, embedding gathers. Inputs whose
    first two dimensions are `m`'s (by the importer's dimension names) are
    the token stream's sources; an operand indexed by position (a position
    table `[1, S, H]`) is gathered at the tokens' positions. Attentions
    become `slm.fused_attention` with `offsets` (each sequence attends
    within itself). Where a token value leaves the packed region (a
    pooling, the results), it is scattered back to `[B, S, ...]` with 0 at
    pad positions; real positions hold what the padded model computes. `m`
    holding anything but 0 and 1 fails at run time; an attention that reads
    the token stream with any other mask is an error (it would read pads).

    Before:
    ```mlir
    %e = slm.gather %table[%ids] axis 0 : (tensor<100x32xf32>, tensor<?x?xi64>) -> tensor<?x?x32xf32>
    %q = slm.linear %e, %wq : (tensor<?x?x32xf32>, tensor<32x32xf32>) -> tensor<?x?x32xf32>
    %a = slm.attention %q, %q, %q, %mask {num_heads = 4 : i64}
        : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x1x1x?xf32>) -> tensor<?x?x32xf32>
    return %a : tensor<?x?x32xf32>
    ```
    After (the index loops left out):
    ```mlir
    %ids_t = slm.gather %ids_flat[%token_index] axis 0 : (tensor<?xi64>, tensor<?xindex>) -> tensor<?xi64>
    %e_t = slm.gather %table[%ids_t] axis 0 : (tensor<100x32xf32>, tensor<?xi64>) -> tensor<?x32xf32>
    %q_t = slm.linear %e_t, %wq : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
    %a_t = slm.fused_attention %q4, %q4, %q4 offsets %offsets outs %init
        {num_heads = 4 : i64, scale = 0.35355339059327373 : f64, seq_dims = array<i64: 1, 1, 1>}
        : (tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<?xindex>, tensor<1x?x32xf32>) -> tensor<1x?x32xf32>
    %a = slm.gather %rows[%inverse] axis 0 : (tensor<?x32xf32>, tensor<?x?xindex>) -> tensor<?x?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect", "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SLMPruneTokens : Pass<"slm-prune-tokens", "::mlir::ModuleOp"> {
  let summary = "Run-time cascade token pruning (SpAtten) on the padding-free token stream";
  let description = [{
    Everything `--slm-padding-free` does, and after each attention from
    number `start` on (0-based), every sequence keeps only its most
    important tokens for the rest of the model: `k = min(n, max(ceil(keep *
    n), min-tokens, leading))` of its current `n`, the first `leading`
    always (a `[CLS]` token), the others ranked by their cumulative
    importance (the attention probability each received, summed over heads,
    query rows and every attention so far: `slm.fused_attention`'s
    importance sums), ties to the earlier position, kept in their order.
    Pruned tokens stay pruned (a cascade: the sequence shrinks layer by
    layer). By default they are dropped: token outputs hold 0 at pruned
    positions (as at pads), and what the model computes from the mask after
    a cut sees them as padding (a masked mean averages the kept tokens).
    With `skip`, they skip the remaining layers instead: the residual
    stream entering the layer where a token was pruned is its state, and
    after the last layer every token's last state is gathered back, so
    outputs and poolings see all tokens (a warning, and dropping, where the
    residual stream is not found).

    Before (`--slm-prune-tokens="keep=0.5 start=0"`):
    ```mlir
    %a = slm.attention %q, %k, %v, %mask {num_heads = 4 : i64} : ...
    %o = slm.linear %a, %wo : ...
    ```
    After (the index loops left out):
    ```mlir
    %a_t, %imp = slm.fused_attention %q4, %k4, %v4 offsets %offsets outs %init importance %i0 {...}
        : (..., tensor<1x?xf32>) -> (tensor<1x?x32xf32>, tensor<1x?xf32>)
    // per sequence: rank the tokens by %imp, keep ceil(0.5 n): rows %kept,
    // the next packing's %offsets1 and %inverse1
    %a_k = slm.gather %a_t2[%kept] axis 0 : (tensor<?x32xf32>, tensor<?xindex>) -> tensor<?x32xf32>
    %o_k = slm.linear %a_k, %wo : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
    ```
  }];
  let options = [
    Option<"keep", "keep", "double", /*default=*/"1.0",
           "The share of each sequence's tokens kept at each step, in (0, 1]">,
    Option<"start", "start", "int64_t", /*default=*/"1",
           "The first attention (0-based) after which tokens are pruned">,
    Option<"leading", "leading", "int64_t", /*default=*/"1",
           "Leading tokens of each sequence never pruned ([CLS])">,
    Option<"minTokens", "min-tokens", "int64_t", /*default=*/"1",
           "The fewest tokens a sequence is cut to">,
    Option<"skip", "skip", "bool", /*default=*/"false",
           "Pruned tokens skip the remaining layers (their last state "
           "reaches the outputs and poolings) instead of being dropped">,
  ];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect", "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SLMDecomposeTransformerOps : Pass<"slm-decompose-transformer-ops"> {
  let summary = "Spell attention, normalizations, GELU, softmax and embedding out in tensor-level ops";
  let description = [{
    How transformer-level ops reach code generation: each one except
    `slm.linear` (which `--convert-slm-to-linalg` lowers itself) becomes
    tensor-level slm ops (`reshape`, `transpose`, `matmul`, `reduce`,
    elementwise, `gather`) and `math` ops, which `--convert-slm-to-linalg`
    lowers. Attention splits the heads, multiplies
    by the scale, applies the mask (a masked score becomes the lowest finite
    value) and the causal limit `j <= i + (Skv - Sq)`, and merges the heads.

    Before:
    ```mlir
    %y = slm.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f64}
        : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
    After:
    ```mlir
    %m = slm.reduce <mean> %x axes [1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
    %d = slm.sub %x, %m : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
    %dd = slm.mul %d, %d : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
    %v = slm.reduce <mean> %dd axes [1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
    %ve = slm.add %v, %eps : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
    %r = math.rsqrt %ve : tensor<?x1xf32>
    %n = slm.mul %d, %r : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
    %s = slm.mul %n, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    %y = slm.add %s, %b : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::slm::SLMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"];
}


//===----------------------------------------------------------------------===//
// Structured pruning
//===----------------------------------------------------------------------===//

def SLMPruneHeads : Pass<"slm-prune-heads", "::mlir::ModuleOp"> {
  let summary = "Remove the least important attention heads from the weights";
  let description = [{
    For every attention whose Q, K, V and output projections are
    constant-weight `slm.linear` ops (see ModelStructure.h), scores each
    head and removes the lowest-scoring `ratio` of them (rounded to the
    nearest head; at least `min-heads` stay): the head's rows of the Q, K,
    V weights and biases and its columns of the output projection go, and
    `num_heads` drops. Every GEMM around the attention gets narrower; the
    attention's scale is written out so it stays `1/sqrt(head dim)`. A
    fused Q/K/V projection read through three slices (GPT-2's `c_attn`) is
    first split into three linear layers.

    The projections may reach the attention through head-carrying ops
    (head splits and merges, transposes, rotary embeddings, the repeat of
    grouped key/value heads, per-head norms; ModelStructure.h's
    HeadCarrier): those are narrowed with the heads, their shape operands
    and slice sizes rewritten. Under grouped-query attention the unit is a
    key/value head with its group of query heads (query head `h` reads
    key/value head `h / (num_heads / kv_heads)`): a group's score sums its
    query heads' and its key/value rows', and whole groups go.

    Scores (`method`), summed over the head's channels `c` of the output
    projection `W_o` (input X = the attention's output):
    - `magnitude`: squared norms of the head's weights (rows of Q, K, V,
      columns of W_o); needs nothing but the weights.
    - `wanda`: `sum_i |W_o[i, c]| * rms(X_c)` (Wanda's |W| * ||X||).
    - `flap`: `var(X_c) * ||W_o[:, c]||^2` (FLAP's fluctuation metric).
    The activation-aware methods read `slm.input_stats` (channel mean and
    variance over calibration tokens) that `slmc --calibration DIR` puts on
    the output projection. With statistics and `bias-compensation`, the
    removed channels' mean contribution `W_o[:, c] * mean(X_c)` is added to
    the output projection's bias (FLAP).

    With `reconstruct` and a channel covariance in the statistics, the
    output projection is refit on the kept channels by least squares:
    `W' = W S[:, k] S[k, k]^-1`, `b' = b + W mu - W' mu_k` (the best linear
    stand-in for the removed channels over the calibration distribution;
    bias compensation is its special case).

    `allocation=uniform` prunes the same share in every layer;
    `allocation=global` ranks all heads of the model by their scores
    standardized per layer (FLAP) and removes the same total number where
    they score lowest.

    Before (2 heads of 2):
    ```mlir
    %q = slm.linear %x, %wq, %bq : (tensor<1x4x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x4x4xf32>
    %k = slm.linear %x, %wk, %bk : (...) -> tensor<1x4x4xf32>
    %v = slm.linear %x, %wv, %bv : (...) -> tensor<1x4x4xf32>
    %a = slm.attention %q, %k, %v {num_heads = 2 : i64} : (...) -> tensor<1x4x4xf32>
    %o = slm.linear %a, %wo, %bo : (tensor<1x4x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<1x4x4xf32>
    ```
    After `--slm-prune-heads="ratio=0.5"`:
    ```mlir
    %q = slm.linear %x, %wq2, %bq2 : (tensor<1x4x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
    ...
    %a = slm.attention %q, %k, %v {num_heads = 1 : i64, scale = 0.7071 : f64} : (...) -> tensor<1x4x2xf32>
    %o = slm.linear %a, %wo2, %bo : (tensor<1x4x2xf32>, tensor<4x2xf32>, tensor<4xf32>) -> tensor<1x4x4xf32>
    ```
  }];
  let options = [
    Option<"ratio", "ratio", "double", /*default=*/"0.0",
           "Share of heads to remove, in [0, 1)">,
    Option<"method_", "method", "std::string", /*default=*/"\"magnitude\"",
           "Importance score: magnitude, wanda or flap">,
    Option<"allocation", "allocation", "std::string", /*default=*/"\"uniform\"",
           "uniform (same share per layer) or global (one budget, FLAP's "
           "standardized scores)">,
    Option<"biasCompensation", "bias-compensation", "bool", /*default=*/"true",
           "Fold removed channels' mean output into the bias (needs "
           "calibration statistics)">,
    Option<"minHeads", "min-heads", "int64_t", /*default=*/"1",
           "Heads every attention keeps">,
    Option<"reconstructWeights", "reconstruct", "bool", /*default=*/"false",
           "Refit the consuming projection on the kept channels by least "
           "squares (needs the covariance in slm.input_stats)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SLMPruneFFN : Pass<"slm-prune-ffn", "::mlir::ModuleOp"> {
  let summary = "Remove the least important feed-forward neurons from the weights";
  let description = [{
    For every feed-forward network (constant-weight up projection, GELU or
    ReLU fused or as `slm.gelu`, constant-weight down projection back to
    the residual stream), scores each hidden neuron `j` and removes the
    lowest `ratio` of them: row `j` of the up projection's weight and bias
    and column `j` of the down projection. The kept count is rounded to a
    multiple of `multiple` (default 32: the GEMM kernels' panel width), so
    no padded panel columns are computed.

    Scores (`method`, X = the down projection's input, W = its weight):
    `magnitude` = `||W_up[j, :]||^2 + ||W[:, j]||^2`;
    `wanda` = `sum_i |W[i, j]| * rms(X_j)`;
    `flap` = `var(X_j) * ||W[:, j]||^2`; statistics and bias compensation
    as in `--slm-prune-heads`, `allocation` likewise.

    Before:
    ```mlir
    %h = slm.linear %x, %w1, %b1 {activation = #slm.activation<gelu>} : (tensor<?x8xf32>, tensor<32x8xf32>, tensor<32xf32>) -> tensor<?x32xf32>
    %y = slm.linear %h, %w2, %b2 : (tensor<?x32xf32>, tensor<8x32xf32>, tensor<8xf32>) -> tensor<?x8xf32>
    %r = slm.add %x, %y : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
    ```
    After `--slm-prune-ffn="ratio=0.25 multiple=1"`:
    ```mlir
    %h = slm.linear %x, %w1p, %b1p {activation = #slm.activation<gelu>} : (tensor<?x8xf32>, tensor<24x8xf32>, tensor<24xf32>) -> tensor<?x24xf32>
    %y = slm.linear %h, %w2p, %b2 : (tensor<?x24xf32>, tensor<8x24xf32>, tensor<8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let options = [
    Option<"ratio", "ratio", "double", /*default=*/"0.0",
           "Share of neurons to remove, in [0, 1)">,
    Option<"method_", "method", "std::string", /*default=*/"\"magnitude\"",
           "Importance score: magnitude, wanda or flap">,
    Option<"allocation", "allocation", "std::string", /*default=*/"\"uniform\"",
           "uniform (same share per layer) or global (one budget, FLAP's "
           "standardized scores)">,
    Option<"biasCompensation", "bias-compensation", "bool", /*default=*/"true",
           "Fold removed neurons' mean output into the bias (needs "
           "calibration statistics)">,
    Option<"multiple", "multiple", "int64_t", /*default=*/"32",
           "Round each layer's kept neurons to a multiple of this">,
    Option<"reconstructWeights", "reconstruct", "bool", /*default=*/"false",
           "Refit the consuming projection on the kept channels by least "
           "squares (needs the covariance in slm.input_stats)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SLMPruneLayers : Pass<"slm-prune-layers", "::mlir::ModuleOp"> {
  let summary = "Drop whole transformer blocks that change the residual stream least";
  let description = [{
    Finds the residual blocks (one attention and one feed-forward sub-layer
    on the residual stream, pre- or post-norm) and replaces the `count`
    least important by the identity: the block's output is replaced by its
    input and its ops are erased. A block's importance is
    `slm.block_importance` on its attention op: 1 minus the mean cosine
    similarity of the residual stream before and after the block over the
    calibration tokens, measured by `slmc --calibration DIR`.
    `drop=i,j` names the blocks (0-based, program order) instead.

    Before (two post-norm blocks, abridged; block 1 is the same on `%y0`):
    ```mlir
    // Block 0: %x -> %y0.
    %q0 = slm.linear %x, %wq0 : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
    ...
    %a0 = slm.attention %q0, %k0, %v0 {num_heads = 2 : i64, slm.block_importance = 3.0e-01 : f64} : (...) -> tensor<1x3x4xf32>
    %o0 = slm.linear %a0, %wo0, %bo0 : (...) -> tensor<1x3x4xf32>
    %r0 = slm.add %x, %o0 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
    %n0 = slm.layer_norm %r0, %g0, %b0 {axis = 2 : i64} : (...) -> tensor<1x3x4xf32>
    %h0 = slm.linear %n0, %wu0 {activation = #slm.activation<gelu>} : (tensor<1x3x4xf32>, tensor<8x4xf32>) -> tensor<1x3x8xf32>
    %d0 = slm.linear %h0, %wd0 : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
    %s0 = slm.add %n0, %d0 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
    %y0 = slm.layer_norm %s0, %g1, %b1 {axis = 2 : i64} : (...) -> tensor<1x3x4xf32>
    // Block 1: %y0 -> %y1, importance 1.0e-01.
    %q1 = slm.linear %y0, %wq1 : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
    ...
    %y1 = slm.layer_norm %s1, %g3, %b3 {axis = 2 : i64} : (...) -> tensor<1x3x4xf32>
    return %y1 : tensor<1x3x4xf32>
    ```
    After `--slm-prune-layers="count=1"` (or `drop=1`), block 1's ops are
    gone:
    ```mlir
    // Block 0 as before.
    ...
    %y0 = slm.layer_norm %s0, %g1, %b1 {axis = 2 : i64} : (...) -> tensor<1x3x4xf32>
    return %y0 : tensor<1x3x4xf32>
    ```
  }];
  let options = [
    Option<"count", "count", "int64_t", /*default=*/"0",
           "Number of blocks to drop, least important first">,
    ListOption<"drop", "drop", "int64_t",
               "Indices of the blocks to drop (instead of count)">
  ];
}

def SLMDeriveKVCache : Pass<"slm-derive-kv-cache", "::mlir::ModuleOp"> {
  let summary = "Give a causal decoder exported without a KV cache one";
  let description = [{
    The entry function of a decoder exported without a cache (inputs
    `input_ids [B, S]`, optionally `attention_mask [B, S]` and other
    per-position inputs; every attention reading keys and values computed
    from the tokens) becomes the cached form Hugging Face and Optimum
    export: `input_ids [B, n]` holds only the new tokens,
    `attention_mask [B, P + n]` every position, and each attention gets
    inputs `past_key_values.<i>.key/value` (the P cached positions) and
    outputs `present.<i>.key/value` (all P + n). The runtime's generator
    drives it like an exported cache: the whole prompt with P = 0, then
    one token per step.

    The function computes the original's result on the whole sequence,
    restricted to the new rows: ops that read the tokens run on the n new
    rows; position tables and masks (which do not) are computed for all
    P + n positions and cut to the last n rows where they meet the tokens;
    each attention reads the cached keys and values joined with the new
    ones. The cache holds each key and value in its smallest form on the
    way to the attention (before grouped-query attention repeats heads).
    An op that mixes positions other than an attention, or that these
    rules do not cover, is an error naming it. Causality makes the cache
    valid: an attention with a mask gets a run-time check that each query
    sees no later key (the model fails with a message otherwise); one
    with neither a mask nor `causal` is an error.

    Before (one layer, abridged):
    ```mlir
    func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"},
                    %mask: tensor<?x1x?x?xf32>) -> tensor<?x?x64xf32> {
      %x = slm.gather %table[%ids] axis 0 : (tensor<64x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
      %q = slm.linear %x, %wq : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
      %k = slm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
      %v = slm.linear %x, %wv : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
      %a = slm.attention %q, %k, %v {causal, num_heads = 2 : i64} : (...) -> tensor<?x?x8xf32>
      %l = slm.linear %a, %wo : (tensor<?x?x8xf32>, tensor<64x8xf32>) -> tensor<?x?x64xf32>
      return %l : tensor<?x?x64xf32>
    }
    ```
    After:
    ```mlir
    func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"},
                    %pk: tensor<?x?x8xf32> {slm.name = "past_key_values.0.key"},
                    %pv: tensor<?x?x8xf32> {slm.name = "past_key_values.0.value"})
        -> (tensor<?x?x64xf32>, tensor<?x?x8xf32> {slm.name = "present.0.key"},
            tensor<?x?x8xf32> {slm.name = "present.0.value"}) {
      %x = slm.gather %table[%ids] axis 0 : ...          // the n new rows
      %k = slm.linear %x, %wk : ...
      %kf = tensor.concat dim(1) %pk, %k : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
      ...
      %a = slm.attention %q, %kf, %vf {causal, num_heads = 2 : i64} : ...
      return %l, %kf, %vf : ...
    }
    ```
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect"];
}

def SLMKVCacheDType : Pass<"slm-kv-cache-dtype", "::mlir::ModuleOp"> {
  let summary = "Store a decoder's KV cache in f16 or int8";
  let description = [{
    Rewrites the KV cache of the entry function, exported with the model
    or derived by `--slm-derive-kv-cache` (the two have one form: each
    cache input `past_key_values.<i>.key` (or `past.<i>...`) is joined with
    the new rows by a `tensor.concat` along its positions, and the join is
    the matching output `present.<i>.key` and what the attention reads).
    With `dtype=f16` the inputs and outputs hold the keys and values rounded
    to f16 (half the memory); with `dtype=int8`, int8 codes with one f32
    scale per position and head (`max |x| / 127` over the head's elements,
    `code = round(x / scale)`; a quarter of the memory plus the scales), in
    inputs and outputs `past_key_values.<i>.key_scale` /
    `present.<i>.key_scale` next to the codes. The new rows are stored in
    that form, and everything that read the join reads it back as f32, the
    new rows included: a step reads the same keys and values whether a
    position came with the prompt or was decoded later. A scale per
    position keeps appending cheap (no earlier position is quantized
    again). The head width comes from the attention the cache feeds (for a
    [batch, heads, positions, head_dim] cache, its last axis); a cache in
    another form, or none, is an error naming it.

    Before (one layer's key, abridged):
    ```mlir
    func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"},
                    %pk: tensor<?x?x8xf32> {slm.name = "past_key_values.0.key"}, ...)
        -> (tensor<?x?x16xf32>, tensor<?x?x8xf32> {slm.name = "present.0.key"}, ...) {
      %k = slm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
      %kf = tensor.concat dim(1) %pk, %k : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
      %a = slm.attention %q, %kf, %vf {causal, num_heads = 2 : i64} : ...
      return %l, %kf, ... : ...
    }
    ```
    After, with `dtype=int8`:
    ```mlir
    func.func @main(%ids: tensor<?x?xi64> {slm.name = "input_ids"},
                    %pk: tensor<?x?x8xi8> {slm.name = "past_key_values.0.key"},
                    %pks: tensor<?x?x2xf32> {slm.name = "past_key_values.0.key_scale"}, ...)
        -> (tensor<?x?x16xf32>, tensor<?x?x8xi8> {slm.name = "present.0.key"},
            tensor<?x?x2xf32> {slm.name = "present.0.key_scale"}, ...) {
      %k = slm.linear %x, %wk : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
      %g = tensor.expand_shape %k [[0], [1], [2, 3]] ... into tensor<?x?x2x4xf32>
      %m = slm.reduce <max> %abs axes [3] keep_dims : tensor<?x?x2x4xf32> -> tensor<?x?x2x1xf32>
      ...
      %c = arith.fptosi %r : tensor<?x?x2x4xf32> to tensor<?x?x2x4xi8>
      %kc = tensor.concat dim(1) %pk, %codes : (tensor<?x?x8xi8>, tensor<?x?x8xi8>) -> tensor<?x?x8xi8>
      %ks = tensor.concat dim(1) %pks, %scales : (tensor<?x?x2xf32>, tensor<?x?x2xf32>) -> tensor<?x?x2xf32>
      // code * scale, each group's scale broadcast along it
      %kd = linalg.generic ... ins(%kcs, %ks : tensor<?x?x2x4xi8>, tensor<?x?x2xf32>) ... -> tensor<?x?x2x4xf32>
      %kf = tensor.collapse_shape %kd [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
      %a = slm.attention %q, %kf, %vf {causal, num_heads = 2 : i64} : ...
      return %l, %kc, %ks, ... : ...
    }
    ```
  }];
  let options = [
    Option<"dtype", "dtype", "std::string", /*default=*/"\"f16\"",
           "What the cache holds: f16 (rounded) or int8 (codes with a scale "
           "per position and head)">,
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::cf::ControlFlowDialect"];
}

def SLMExposeCalibrationProbes
    : Pass<"slm-expose-calibration-probes", "::mlir::ModuleOp"> {
  let summary = "Return the values that calibration measures as extra results";
  let description = [{
    Appends to the function's results, named `slm.probe.N`: the input of
    every attention output projection and of every FFN down projection
    (their channel statistics drive activation-aware pruning and bias
    compensation), then the input and output of every residual block
    (block importance for layer pruning). slmc compiles the result, runs it
    on the calibration data and writes the statistics back onto the
    original IR (`slm.input_stats`, `slm.block_importance`); the compiled
    code computes every activation, nothing is interpreted.

    With `all-linears=true`, the inputs of every other linear layer with a
    constant or compressed weight follow, each value once (W8A8's
    per-layer sensitivity and static activation ranges).

    Before (one post-norm block, abridged):
    ```mlir
    func.func @block(%x: tensor<1x3x4xf32>) -> (tensor<1x3x4xf32> {slm.name = "y"}) {
      ...
      %a = slm.attention %q, %k, %v {num_heads = 2 : i64} : (...) -> tensor<1x3x4xf32>
      %o = slm.linear %a, %wo, %bo : (...) -> tensor<1x3x4xf32>
      ...
      %h = slm.linear %n, %wu {activation = #slm.activation<gelu>} : (tensor<1x3x4xf32>, tensor<8x4xf32>) -> tensor<1x3x8xf32>
      %d = slm.linear %h, %wd : (tensor<1x3x8xf32>, tensor<4x8xf32>) -> tensor<1x3x4xf32>
      ...
      %y = slm.layer_norm %s, %g1, %b1 {axis = 2 : i64} : (...) -> tensor<1x3x4xf32>
      return %y : tensor<1x3x4xf32>
    }
    ```
    After:
    ```mlir
    func.func @block(%x: tensor<1x3x4xf32>) -> (tensor<1x3x4xf32> {slm.name = "y"},
        tensor<1x3x4xf32> {slm.name = "slm.probe.0"}, tensor<1x3x8xf32> {slm.name = "slm.probe.1"},
        tensor<1x3x4xf32> {slm.name = "slm.probe.2"}, tensor<1x3x4xf32> {slm.name = "slm.probe.3"}) {
      ...
      return %y, %a, %h, %x, %y : tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>
    }
    ```
  }];
  let options = [
    Option<"allLinears", "all-linears", "bool", /*default=*/"false",
           "Also probe the inputs of every other linear layer">
  ];
}


def SLMQuantizeWeights : Pass<"slm-quantize-weights", "::mlir::ModuleOp"> {
  let summary = "Weight-only quantization of linear layers (int8 per channel, int4/NF4 groups)";
  let description = [{
    Every `slm.linear` whose weight is an f32 constant gets the weight as
    `slm.dequantize_weight` of stored codes and scales instead:
    `kind=int8` (one byte per weight), `int4` or `nf4` (two per byte);
    `group-size=0` is one scale per output channel, else one per group of
    that many input features; `symmetric=false` adds zero points (not for
    nf4). Code generation decodes all of them inside the GEMM's inner loop
    (the f32 weight is never materialized). 4-bit group scales are chosen
    among clipped ranges (1, 0.95, ..., 0.6 of the group's range) by the
    squared error, weighted per column by the input's calibrated energy
    E[x^2] when the linear carries `slm.input_stats`. `method=gptq` instead
    quantizes columns in order and feeds each one's error forward through
    the inverse of the input's second moment (GPTQ; needs the calibrated
    covariance).

    Before:
    ```mlir
    %w = arith.constant dense<...> : tensor<64x32xf32>
    %y = slm.linear %x, %w : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    ```
    After `--slm-quantize-weights="kind=int8"`:
    ```mlir
    %codes = arith.constant dense<...> : tensor<64x32xi8>
    %scales = arith.constant dense<...> : tensor<64x1xf32>
    %w = slm.dequantize_weight <int8> %codes, %scales : (tensor<64x32xi8>, tensor<64x1xf32>) -> tensor<64x32xf32>
    %y = slm.linear %x, %w : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"kind", "kind", "std::string", /*default=*/"\"int8\"",
           "Code: int8, int4 or nf4">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "Input features per scale (0: one scale per output channel)">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"true",
           "Symmetric codes (no zero points)">,
    Option<"method", "method", "std::string", /*default=*/"\"rtn\"",
           "rtn: round to nearest, 4-bit group scales chosen among clipped "
           "ranges by squared error (weighted by the input's calibrated "
           "energy when slm.input_stats is there); gptq: GPTQ error "
           "feedback through the calibrated input covariance">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SLMQuantizeActivations : Pass<"slm-quantize-activations", "::mlir::ModuleOp"> {
  let summary = "W8A8: quantize the inputs of int8-weight linear layers to uint8";
  let description = [{
    Every `slm.linear` whose weight is `slm.dequantize_weight <int8>` with
    one scale per output channel and no zero points (what
    `--slm-quantize-weights="kind=int8"` makes), and whose `in_features` is
    a multiple of 4, gets `input_quant = per_token`: as the layer runs each
    input row is quantized to uint8 with its own scale and zero point, the
    product is computed on integers (int32 sums of uint8 x int8 products,
    AVX-512 VNNI `vpdpbusd`) and scaled back to f32 once per output.

    With `max-noise=R` (> 0), a layer whose calibration statistics
    (`slm.input_stats`, from slmc's `--calibration`) predict per-token
    rounding noise above `R` times the input's RMS keeps f32 inputs (int8
    weights only); a remark names it. Layers without statistics are
    quantized.

    `scheme=minmax|percentile` quantizes with one fixed scale and zero
    point per layer instead (`input_quant = fixed`), from the calibrated
    range of the layer's input (`range` in `slm.input_stats`, measured by
    slmc's `--calibration` over every linear input): its [min, max], or its
    0.01% and 99.99% quantiles (outliers clip). No range: per token, with a
    remark.

    Before:
    ```mlir
    %w = slm.dequantize_weight <int8> %codes, %scales : (tensor<64x32xi8>, tensor<64x1xf32>) -> tensor<64x32xf32>
    %y = slm.linear %x, %w : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    ```
    After `--slm-quantize-activations`:
    ```mlir
    %w = slm.dequantize_weight <int8> %codes, %scales : (tensor<64x32xi8>, tensor<64x1xf32>) -> tensor<64x32xf32>
    %y = slm.linear %x, %w {input_quant = #slm.input_quant<per_token>} : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"maxNoise", "max-noise", "double", /*default=*/"0.0",
           "Largest predicted quantization noise (relative to the input's "
           "RMS) a layer's input may get; noisier layers stay f32 "
           "(0: quantize every eligible layer)">,
    Option<"scheme", "scheme", "std::string", /*default=*/"\"per-token\"",
           "per-token (dynamic, per row), minmax or percentile (static, "
           "from the calibrated input range)">
  ];
}

def SLMRaiseQuantizedMatMul : Pass<"slm-raise-quantized-matmul"> {
  let summary = "Pre-quantized ONNX (quantize_dynamic, QDQ) to W8A8 / int8 linear layers";
  let description = [{
    The importer spells ONNX's quantized ops out in slm arithmetic with
    their exact semantics. This pass recognizes the forms ONNX Runtime's
    quantization tools write and turns them into the representation slm's
    own `--slm-quantize-weights` / `--slm-quantize-activations` make, so they
    compile to the same kernels:

    * `DynamicQuantizeLinear(x)` -> `MatMulInteger(., W)` -> `Cast` ->
      `Mul(x_scale * w_scale)` (`quantize_dynamic`): `slm.linear x,
      dequantize_weight <int8>(W^T, w_scale) {input_quant = per_tensor}`,
      i.e. the same uint8 x int8 integer GEMM (VNNI) with ONNX's per-tensor
      dynamic activation quantization;
    * `MatMul(X, DequantizeLinear(W))` with int8 `W` (QDQ): an int8 weight;
      when `X` is `DequantizeLinear(QuantizeLinear(x))` with constant
      uint8 parameters, `{input_quant = fixed}` with that scale and zero
      point (static activation quantization).

    Weights must be symmetric (zero point 0) with one scale per tensor or per
    output column; every constant in the pattern is checked. Other forms
    are left alone and still compile (as plain loops).

    Before (quantize_dynamic, as imported; `%q`, `%s`, `%z` are
    DynamicQuantizeLinear of `%x`):
    ```mlir
    %a = slm.sub %qi, %zi : (tensor<?x64xi32>, tensor<i32>) -> tensor<?x64xi32>
    %w = arith.extsi %codes : tensor<64x128xi8> to tensor<64x128xi32>
    %m = slm.matmul %a, %w : (tensor<?x64xi32>, tensor<64x128xi32>) -> tensor<?x128xi32>
    %f = arith.sitofp %m : tensor<?x128xi32> to tensor<?x128xf32>
    %sw = slm.mul %s, %wscale : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %y = slm.mul %f, %sw : (tensor<?x128xf32>, tensor<f32>) -> tensor<?x128xf32>
    ```
    After:
    ```mlir
    %dq = slm.dequantize_weight <int8> %codesT, %scales : (tensor<128x64xi8>, tensor<128x1xf32>) -> tensor<128x64xf32>
    %y = slm.linear %x, %dq {input_quant = #slm.input_quant<per_tensor>} : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // SLM_TRANSFORMS_PASSES_TD
