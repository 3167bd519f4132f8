//===- SLMOps.td - slm operations --------------------------*- tablegen -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_IR_SLMOPS_TD
#define SLM_IR_SLMOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "slm/IR/SLMDialect.td"
include "slm/IR/SLMAttrs.td"
include "slm/IR/SLMInterfaces.td"

class SLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<SLM_Dialect, mnemonic, traits>;

def SLM_FloatTensor : RankedTensorOf<[AnyFloat]>;
def SLM_IntTensor : RankedTensorOf<[AnySignlessInteger]>;
def SLM_IndexTensor : RankedTensorOf<[AnySignlessInteger, Index]>;
def SLM_AnyTensor : RankedTensorOf<[AnyType]>;
def SLM_NumericTensor : RankedTensorOf<[AnyFloat, AnySignlessInteger]>;

//===----------------------------------------------------------------------===//
// Tensor-level ops
//===----------------------------------------------------------------------===//

class SLM_BroadcastBinaryOp<string mnemonic, string what,
                            list<Trait> traits = []>
    : SLM_Op<mnemonic, !listconcat(traits, [Pure])> {
  let summary = "elementwise " # what # " with numpy broadcasting";
  let description = [{
    Computes `result = lhs }] # what # [{ rhs` elementwise. Shapes broadcast as
    in numpy and ONNX: trailing dimensions are aligned, a dimension of size 1
    stretches. Both operands and the result have one element type.

    ```mlir
    %r = slm.}] # mnemonic # [{ %a, %b : (tensor<?x128x768xf32>, tensor<768xf32>) -> tensor<?x128x768xf32>
    ```
  }];
  let arguments = (ins SLM_AnyTensor:$lhs, SLM_AnyTensor:$rhs);
  let results = (outs SLM_AnyTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def SLM_AddOp : SLM_BroadcastBinaryOp<"add", "+", [Commutative]>;
def SLM_SubOp : SLM_BroadcastBinaryOp<"sub", "-">;
def SLM_MulOp : SLM_BroadcastBinaryOp<"mul", "*", [Commutative]>;
def SLM_DivOp : SLM_BroadcastBinaryOp<"div", "/">;
def SLM_PowOp : SLM_BroadcastBinaryOp<"pow", "to the power of">;
def SLM_MaxOp : SLM_BroadcastBinaryOp<"max", "maximum", [Commutative]>;
def SLM_MinOp : SLM_BroadcastBinaryOp<"min", "minimum", [Commutative]>;

def SLM_CompareOp : SLM_Op<"compare", [Pure]> {
  let summary = "elementwise comparison with numpy broadcasting";
  let description = [{
    Compares two tensors of one element type elementwise (broadcasting as
    `slm.add` does) and yields an `i1` tensor. Integer comparisons are signed.

    ```mlir
    %m = slm.compare <eq> %ids, %pad : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x?xi1>
    ```
  }];
  let arguments = (ins SLM_ComparePredicateAttr:$predicate,
                       SLM_AnyTensor:$lhs, SLM_AnyTensor:$rhs);
  let results = (outs RankedTensorOf<[I1]>:$result);
  let assemblyFormat = [{
    $predicate $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SLM_SelectOp : SLM_Op<"select", [Pure]> {
  let summary = "elementwise choice with numpy broadcasting (ONNX Where)";
  let description = [{
    `result = condition ? true_value : false_value`, with all three operands
    broadcast against each other.

    ```mlir
    %r = slm.select %mask, %scores, %neg_inf : (tensor<1x1x?x?xi1>, tensor<?x12x?x?xf32>, tensor<f32>) -> tensor<?x12x?x?xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I1]>:$condition,
                       SLM_AnyTensor:$true_value, SLM_AnyTensor:$false_value);
  let results = (outs SLM_AnyTensor:$result);
  let assemblyFormat = [{
    $condition `,` $true_value `,` $false_value attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def SLM_MatMulOp : SLM_Op<"matmul", [Pure]> {
  let summary = "batched matrix product with broadcast batch dimensions";
  let description = [{
    numpy `matmul` on operands of rank 2 or more: the last two dimensions are
    multiplied (`[.., M, K] x [.., K, N] -> [.., M, N]`) and the leading batch
    dimensions broadcast. Weight products are raised to `slm.linear`; this op
    remains for activation-by-activation products. Integer operands
    (ONNX `MatMulInteger`, widened to i32 first) multiply and accumulate
    exactly in their type.

    ```mlir
    %s = slm.matmul %q, %kt : (tensor<?x12x?x64xf32>, tensor<?x12x64x?xf32>) -> tensor<?x12x?x?xf32>
    ```
  }];
  let arguments = (ins SLM_NumericTensor:$lhs, SLM_NumericTensor:$rhs);
  let results = (outs SLM_NumericTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SLM_TransposeOp : SLM_Op<"transpose", [Pure]> {
  let summary = "permutes dimensions";
  let description = [{
    `result.shape[i] = input.shape[permutation[i]]`.

    ```mlir
    %t = slm.transpose %x [0, 2, 1, 3] : tensor<?x?x12x64xf32> -> tensor<?x12x?x64xf32>
    ```
    Folds away when the permutation is the identity; two transposes in a row
    compose into one.
  }];
  let arguments = (ins SLM_AnyTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs SLM_AnyTensor:$result);
  let assemblyFormat = [{
    $input $permutation attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def SLM_ReshapeOp : SLM_Op<"reshape", [Pure]> {
  let summary = "reinterprets a tensor with another shape";
  let description = [{
    Row-major reshape to the result type. When the result has more than one
    dynamic dimension the target extents come from the optional `shape`
    operand (a 1-D tensor of `index` with one entry per result dimension);
    with at most one dynamic dimension it is inferred from the element count.

    ```mlir
    %h = slm.reshape %x : (tensor<?x128x768xf32>) -> tensor<?x128x12x64xf32>
    %g = slm.reshape %x, %shape : (tensor<?x?x768xf32>, tensor<4xindex>) -> tensor<?x?x12x64xf32>
    ```
    A reshape to its own static type folds away; a reshape of a reshape
    reshapes the original once.
  }];
  let arguments = (ins SLM_AnyTensor:$input,
                       Optional<RankedTensorOf<[Index]>>:$shape);
  let results = (outs SLM_AnyTensor:$result);
  let assemblyFormat = [{
    $input (`,` $shape^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def SLM_ReduceOp : SLM_Op<"reduce", [Pure]> {
  let summary = "reduces over a set of axes (sum, mean, max, min)";
  let description = [{
    Reduces `input` over `axes` (negative axes count from the end). With
    `keep_dims` the reduced dimensions stay as size 1.

    ```mlir
    %m = slm.reduce <mean> %x axes [-1] keep_dims : tensor<?x?x768xf32> -> tensor<?x?x1xf32>
    ```
  }];
  let arguments = (ins SLM_ReduceKindAttr:$kind, SLM_AnyTensor:$input,
                       DenseI64ArrayAttr:$axes, UnitAttr:$keep_dims);
  let results = (outs SLM_AnyTensor:$result);
  let assemblyFormat = [{
    $kind $input `axes` $axes (`keep_dims` $keep_dims^)? attr-dict `:`
    type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def SLM_GatherOp : SLM_Op<"gather", [Pure]> {
  let summary = "gathers slices along one axis (ONNX Gather)";
  let description = [{
    `result = data[..., indices, ...]` along `axis`:
    `result.shape = data.shape[:axis] + indices.shape + data.shape[axis+1:]`.
    Negative indices count from the end of the axis.

    ```mlir
    %r = slm.gather %data[%idx] axis 1 : (tensor<4x10x8xf32>, tensor<3xi64>) -> tensor<4x3x8xf32>
    ```
  }];
  let arguments = (ins SLM_AnyTensor:$data, SLM_IndexTensor:$indices,
                       I64Attr:$axis);
  let results = (outs SLM_AnyTensor:$result);
  let assemblyFormat = [{
    $data `[` $indices `]` `axis` $axis attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SLM_BroadcastToOp : SLM_Op<"broadcast_to", [Pure]> {
  let summary = "broadcasts a tensor to a larger shape (ONNX Expand)";
  let description = [{
    Stretches `input` to the result shape under numpy rules. Dynamic result
    extents come from the optional `shape` operand. A broadcast to the
    input's own static type folds away.

    ```mlir
    %b = slm.broadcast_to %mask : (tensor<1x1x128x128xi1>) -> tensor<8x12x128x128xi1>
    ```
  }];
  let arguments = (ins SLM_AnyTensor:$input,
                       Optional<RankedTensorOf<[Index]>>:$shape);
  let results = (outs SLM_AnyTensor:$result);
  let assemblyFormat = [{
    $input (`,` $shape^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Transformer-level ops
//===----------------------------------------------------------------------===//

def SLM_LinearOp : SLM_Op<"linear", [Pure]> {
  let summary = "fully connected layer: x * W^T + b, with an optional activation";
  let description = [{
    `result[..., n] = act(sum_k input[..., k] * weight[n, k] + bias[n])`.

    The weight is `[out_features, in_features]` (PyTorch's layout): one row
    per output channel, so per-channel scales, pruned output neurons and
    int4 groups along `in_features` are all rows or row segments. ONNX
    `MatMul`/`Gemm` weights are transposed once at import.

    The weight may come from an `arith.constant` or from a compressed-weight
    op (`slm.dequantize_weight`, `slm.sparse_weight`); code generation then
    decompresses inside the GEMM. `activation` is an epilogue fused by
    `--slm-fuse-linear-activation`.

    `input_quant` (set by `--slm-quantize-activations`, W8A8) quantizes the
    input to uint8 as the layer runs: `per_token` gives every row its own
    scale `s = (max - min) / 255` and zero point `z = round(-min / s)` over
    the row's `[min(x, 0), max(x, 0)]`; `per_tensor` does the same over the
    whole input (ONNX DynamicQuantizeLinear); `fixed` uses `input_scale` and
    `input_zero_point` for all rows. With an int8 per-channel weight the
    product then runs on integers (`sum (q_x - z) * q_w` in int32, AVX-512
    VNNI) and is scaled back once per output: `y = s * s_w * acc + b`.

    `precision = #slm.precision<bf16>` (set by `--slm-set-precision`) rounds
    the input and the weight to bfloat16 (to nearest, ties to even) and sums
    their products in f32: `result[..., n] = act(sum_k bf16(input[..., k]) *
    bf16(weight[n, k]) + bias[n])`, the bias and the result staying f32. It
    needs a float weight, no input quantization and an even `in_features`
    (the products are taken two k at a time).

    ```mlir
    %y = slm.linear %x, %w, %b {activation = #slm.activation<gelu>}
        : (tensor<?x?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x?x3072xf32>
    ```
    A bias that is a splat zero constant is dropped by canonicalization.
  }];
  let arguments = (ins SLM_FloatTensor:$input, SLM_FloatTensor:$weight,
                       Optional<SLM_FloatTensor>:$bias,
                       DefaultValuedAttr<SLM_ActivationAttr,
                           "::mlir::slm::Activation::none">:$activation,
                       DefaultValuedAttr<SLM_InputQuantAttr,
                           "::mlir::slm::InputQuant::none">:$input_quant,
                       OptionalAttr<F32Attr>:$input_scale,
                       OptionalAttr<I32Attr>:$input_zero_point,
                       DefaultValuedAttr<SLM_PrecisionAttr,
                           "::mlir::slm::Precision::f32">:$precision);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$weight, CArg<"::mlir::Value", "{}">:$bias,
                   CArg<"::mlir::slm::Activation",
                        "::mlir::slm::Activation::none">:$activation), [{
      build($_builder, $_state, result, input, weight, bias, activation,
            ::mlir::slm::InputQuant::none, ::mlir::FloatAttr(),
            ::mlir::IntegerAttr(), ::mlir::slm::Precision::f32);
    }]>
  ];
  let extraClassDeclaration = [{
    /// Number of output features (rows of the weight).
    int64_t getOutFeatures() { return getWeight().getType().getDimSize(0); }
    /// Number of input features (columns of the weight).
    int64_t getInFeatures() { return getWeight().getType().getDimSize(1); }
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def SLM_AttentionOp : SLM_Op<"attention", [Pure]> {
  let summary = "multi-head scaled dot-product attention";
  let description = [{
    Heads are kept merged in the last dimension:
    `query: [B, Sq, H*Dk]`, `key: [B, Skv, H*Dk]`, `value: [B, Skv, H*Dv]`,
    `result: [B, Sq, H*Dv]` with `H = num_heads`. Per head `h`:

    ```
    scores = scale * Q_h K_h^T (+ mask)      [B, Sq, Skv]
    result_h = softmax(scores, axis=-1) V_h
    ```

    `scale` defaults to `1/sqrt(Dk)`. `causal` masks key positions after the
    query position. The optional `mask` broadcasts to `[B, H, Sq, Skv]`: an
    `i1` mask keeps `true` positions, a float mask is added to the scores.
    Keeping heads merged means the importer's split/merge transposes
    disappear, and pruning a head is removing a slice of columns.

    ```mlir
    %ctx = slm.attention %q, %k, %v, %mask {num_heads = 12 : i64}
        : (tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x1x1x?xf32>) -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins SLM_FloatTensor:$query, SLM_FloatTensor:$key,
                       SLM_FloatTensor:$value,
                       Optional<SLM_AnyTensor>:$mask,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       OptionalAttr<F64Attr>:$scale,
                       UnitAttr:$causal);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`,` $mask^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Per-head width of queries and keys, or ShapedType::kDynamic.
    int64_t getQueryHeadDim();
    /// The scale applied to Q K^T: the attribute, or 1/sqrt(head dim).
    double getEffectiveScale();
  }];
  let hasVerifier = 1;
}

def SLM_F32TensorOrMemRef : AnyTypeOf<[RankedTensorOf<[F32]>, MemRefOf<[F32]>]>;

def SLM_IndexTensorOrMemRef : AnyTypeOf<[RankedTensorOf<[Index]>, MemRefOf<[Index]>]>;

def SLM_FusedAttentionOp : SLM_Op<"fused_attention", [
    AttrSizedOperandSegments, DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferizesToMemoryRead", "bufferizesToMemoryWrite",
         "getAliasingValues", "bufferize"]>]> {
  let summary = "attention in one kernel: no [Sq, Skv] buffer, heads read in place";
  let description = [{
    The code generation form of `slm.attention` (`--slm-fuse-attention`
    creates it, `--slm-lower-fused-attention` emits its kernel). Q, K and V
    are rank-4 in the layout their producer wrote: `seq_dims[i]` is the
    sequence dimension of operand `i` (1: `[B, S, heads, D]`, the merged
    heads viewed; 2: `[B, heads, S, D]`, the layout HF's attention writes
    and a KV cache holds); the other of dimensions 1 and 2 is the heads.
    Grouped-query attention reads key/value head `h / (num_heads /
    kv_heads)` for query head `h`: the repeated heads are never built. Per
    query head `h`, with `j` the key position and `i` the query position:

    ```
    s[i, j] = scale * Q_h[i] . K_h'[j] (+ mask[b, h, i, j])
    s[i, j] = lowest finite value        if causal and j > i + (Skv - Sq)
    result[b, i, h*Dv : (h+1)*Dv] = softmax_j(s[i, :]) V_h'
    ```

    exactly the arithmetic of the decomposition, evaluated with an online
    softmax over blocks of keys. `mask` is f32, rank 4, broadcasting to
    `[B, heads, Sq, Skv]` through static extents of 1 only. Destination
    style: on tensors it has one result tied to `init` (`[B, Sq,
    heads * Dv]`); on buffers it writes `init` and has none.

    With `offsets` (`--slm-padding-free`), the batch is packed: Q, K, V and
    `init` have batch 1 and hold the sequences one after another along the
    sequence dimension; sequence `b` is positions `[offsets[b],
    offsets[b + 1])` and attends only within itself (causal within itself
    too). `offsets` is non-decreasing, starts at 0 and ends at the packed
    length; there is no mask (padding is gone).

    With `importance` (a second destination, `[B, Skv]`; `[1, T]` for a
    packed batch), the op also writes each key's attention importance, the
    probability it receives summed over every query head and query row
    (SpAtten's token importance: `importance[b, j] = sum_h sum_i
    softmax_j(s[i, :])`), as a second result on tensors.

    ```mlir
    %r = slm.fused_attention %q, %k, %v mask %m outs %init
        {num_heads = 9 : i64, scale = 0.125 : f64, seq_dims = array<i64: 1, 2, 2>}
        : (tensor<?x?x9x64xf32>, tensor<?x3x?x64xf32>, tensor<?x3x?x64xf32>,
           tensor<?x1x?x?xf32>, tensor<?x?x576xf32>) -> tensor<?x?x576xf32>
    ```
  }];
  let arguments = (ins SLM_F32TensorOrMemRef:$query,
                       SLM_F32TensorOrMemRef:$key,
                       SLM_F32TensorOrMemRef:$value,
                       Optional<SLM_F32TensorOrMemRef>:$mask,
                       Optional<SLM_IndexTensorOrMemRef>:$offsets,
                       SLM_F32TensorOrMemRef:$init,
                       Optional<SLM_F32TensorOrMemRef>:$importance,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       F64Attr:$scale,
                       DenseI64ArrayAttr:$seq_dims,
                       UnitAttr:$causal);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$outputs);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` $mask^)? (`offsets` $offsets^)?
    `outs` $init (`importance` $importance^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// The key/value heads: the heads extent of `key`.
    int64_t getNumKVHeads();
    /// The heads dimension of operand `i` (0: query, 1: key, 2: value).
    int64_t getHeadsDim(unsigned i) { return 3 - getSeqDims()[i]; }
    /// The attention's result on tensors (none on buffers).
    ::mlir::Value getResult() {
      return getOutputs().empty() ? ::mlir::Value() : getOutputs()[0];
    }
    /// The importance result on tensors, if asked for.
    ::mlir::Value getImportanceResult() {
      return getOutputs().size() > 1 ? getOutputs()[1] : ::mlir::Value();
    }
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return ::mlir::MutableOperandRange(
          getOperation(), getInitMutable().getOperandNumber(),
          getImportance() ? 2 : 1);
    }
  }];
  let hasVerifier = 1;
}

def SLM_LayerNormOp : SLM_Op<"layer_norm", [Pure]> {
  let summary = "layer normalization over the trailing dimensions";
  let description = [{
    Normalizes over dimensions `[axis, rank)`:
    `(x - mean) / sqrt(var + epsilon) * gamma + beta`, with `gamma` and
    `beta` shaped like those trailing dimensions.

    ```mlir
    %n = slm.layer_norm %x, %gamma, %beta {epsilon = 1.0e-12 : f64}
        : (tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins SLM_FloatTensor:$input, SLM_FloatTensor:$gamma,
                       Optional<SLM_FloatTensor>:$beta,
                       DefaultValuedAttr<F64Attr, "1e-5">:$epsilon,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma (`,` $beta^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SLM_RMSNormOp : SLM_Op<"rms_norm", [Pure]> {
  let summary = "root-mean-square normalization over the last dimension";
  let description = [{
    `x / sqrt(mean(x^2, axis=-1) + epsilon) * gamma` (T5, Llama).

    ```mlir
    %n = slm.rms_norm %x, %gamma {epsilon = 1.0e-6 : f64}
        : (tensor<?x?x512xf32>, tensor<512xf32>) -> tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins SLM_FloatTensor:$input, SLM_FloatTensor:$gamma,
                       DefaultValuedAttr<F64Attr, "1e-6">:$epsilon);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def SLM_GeluOp : SLM_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    `approximate = none`: `0.5 x (1 + erf(x / sqrt(2)))`;
    `approximate = tanh`: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.

    ```mlir
    %g = slm.gelu %x approximate <tanh> : tensor<?x?x3072xf32>
    ```
  }];
  let arguments = (ins SLM_FloatTensor:$input,
                       DefaultValuedAttr<SLM_GeluApproximationAttr,
                           "::mlir::slm::GeluApproximation::none">:$approximate);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`approximate` $approximate^)? attr-dict `:` type($input)
  }];
}

def SLM_SoftmaxOp : SLM_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "softmax along one axis";
  let description = [{
    `exp(x - max(x)) / sum(exp(x - max(x)))` along `axis` (negative counts
    from the end).

    ```mlir
    %p = slm.softmax %s axis -1 : tensor<?x12x?x?xf32>
    ```
  }];
  let arguments = (ins SLM_FloatTensor:$input,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{ $input `axis` $axis attr-dict `:` type($input) }];
  let hasVerifier = 1;
}

def SLM_EmbeddingOp : SLM_Op<"embedding", [Pure]> {
  let summary = "embedding table lookup";
  let description = [{
    `result[..., :] = table[ids[...], :]` for a `[vocab, dim]` table:
    `result.shape = ids.shape + [dim]`. Ids out of `[0, vocab)` are a
    run-time error.

    ```mlir
    %e = slm.embedding %table[%ids] : (tensor<30522x768xf32>, tensor<?x?xi64>) -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins SLM_FloatTensor:$table, SLM_IntTensor:$ids);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Compressed weights
//===----------------------------------------------------------------------===//

def SLM_DequantizeWeightOp : SLM_Op<"dequantize_weight", [Pure,
    DeclareOpInterfaceMethods<SLM_CompressedWeightOpInterface>]> {
  let summary = "a quantized [out, in] weight: codes, scales and zero points";
  let description = [{
    Produces the dense `[N, K]` weight from stored codes. Groups run along
    `in_features`: `G = K / group_size` groups per row, or one group per row
    (per-channel) without `group_size`.

    | kind | `codes` | value of code `c` in row `n`, group `g` |
    |------|---------|-----------------------------------------|
    | int8 | `[N, K] i8` | `(c - zp[n, g]) * scales[n, g]` |
    | int4 | `[N, K/2] i8`, two per byte, low nibble first | `(c - zp[n, g]) * scales[n, g]`, `c` in [-8, 7], or [0, 15] with zero points |
    | nf4  | `[N, K/2] i8`, as int4 | `NF4[c] * scales[n, g]` |

    `scales` is `[N, G]` float; `zero_points` (asymmetric schemes, not nf4)
    is `[N, G]` i8. Code generation never materializes the f32 weight: the
    consumer's inner loop decodes codes in registers.

    ```mlir
    %w = slm.dequantize_weight <int4> %codes, %scales zero_points %zp group_size 128
        : (tensor<3072x384xi8>, tensor<3072x6xf32>, tensor<3072x6xi8>) -> tensor<3072x768xf32>
    %linear = slm.linear %x, %w : (tensor<?x?x768xf32>, tensor<3072x768xf32>) -> tensor<?x?x3072xf32>
    ```
  }];
  let arguments = (ins SLM_WeightQuantKindAttr:$kind,
                       RankedTensorOf<[I8]>:$codes,
                       SLM_FloatTensor:$scales,
                       Optional<RankedTensorOf<[I8]>>:$zero_points,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$group_size);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $codes `,` $scales (`zero_points` $zero_points^)?
    (`group_size` $group_size^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Bits per stored code: 8 or 4.
    unsigned getCodeBits();
  }];
  let hasVerifier = 1;
}

def SLM_SparseWeightOp : SLM_Op<"sparse_weight", [Pure,
    DeclareOpInterfaceMethods<SLM_CompressedWeightOpInterface>]> {
  let summary = "a block-sparse [out, in] weight in block-CSR form";
  let description = [{
    Produces the dense `[N, K]` weight from a block compressed sparse row
    (BSR) form with `[bn, bk] = block_shape` blocks: block row `r` holds
    blocks `row_offsets[r] .. row_offsets[r+1]`, block `i` sits at block
    column `col_indices[i]` with values `values[i]`. `block_shape = [1, 1]` is
    plain CSR. Absent blocks are zero.

    ```mlir
    %w = slm.sparse_weight %values, %cols, %offsets block_shape [16, 16]
        : (tensor<?x16x16xf32>, tensor<?xi32>, tensor<49xi32>) -> tensor<768x768xf32>
    ```
  }];
  let arguments = (ins TensorRankOf<[AnyFloat], [3]>:$values,
                       TensorRankOf<[I32, I64], [1]>:$col_indices,
                       TensorRankOf<[I32, I64], [1]>:$row_offsets,
                       DenseI64ArrayAttr:$block_shape);
  let results = (outs SLM_FloatTensor:$result);
  let assemblyFormat = [{
    $values `,` $col_indices `,` $row_offsets `block_shape` $block_shape
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Run-time token pruning
//===----------------------------------------------------------------------===//

def SLM_PruneTokensOp : SLM_Op<"prune_tokens", [Pure]> {
  let summary = "keeps the most important tokens of a sequence at run time";
  let description = [{
    SpAtten-style cascade token pruning point. Given hidden states
    `[B, S, D]` and a per-token importance `[B, S]` (for example the
    attention probability each token received, accumulated over heads and
    layers), keeps the `keep_leading` first tokens (e.g. `[CLS]`) and the most
    important of the rest, in their original order. How many: `top_k`
    tokens, or `ceil(keep_ratio * S)`; exactly one of the two is given.
    The second result holds the kept positions, so later layers can gather
    masks and position-dependent state.

    ```mlir
    %h, %kept = slm.prune_tokens %x, %importance {keep_ratio = 0.5 : f64, keep_leading = 1 : i64}
        : (tensor<?x?x768xf32>, tensor<?x?xf32>) -> (tensor<?x?x768xf32>, tensor<?x?xi64>)
    ```
  }];
  let arguments = (ins SLM_FloatTensor:$hidden, SLM_FloatTensor:$importance,
                       OptionalAttr<F64Attr>:$keep_ratio,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$top_k,
                       DefaultValuedAttr<I64Attr, "0">:$keep_leading);
  let results = (outs SLM_FloatTensor:$result,
                      RankedTensorOf<[I64]>:$kept_positions);
  let assemblyFormat = [{
    $hidden `,` $importance attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // SLM_IR_SLMOPS_TD
