//===- SLMAttrs.td - slm enums and attributes --------------*- tablegen -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_IR_SLMATTRS_TD
#define SLM_IR_SLMATTRS_TD

include "mlir/IR/EnumAttr.td"
include "slm/IR/SLMDialect.td"

def SLM_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "how GELU is computed", [
  I32EnumAttrCase<"none", 0>,
  I32EnumAttrCase<"tanh", 1>
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::slm";
}
def SLM_GeluApproximationAttr : EnumAttr<SLM_Dialect, SLM_GeluApproximation,
                                         "gelu_approximation"> {
  let assemblyFormat = "`<` $value `>`";
}

def SLM_Activation : I32EnumAttr<"Activation",
    "activation fused into a linear layer's epilogue", [
  I32EnumAttrCase<"none", 0>,
  I32EnumAttrCase<"gelu", 1>,
  I32EnumAttrCase<"gelu_tanh", 2>,
  I32EnumAttrCase<"relu", 3>
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::slm";
}
def SLM_ActivationAttr : EnumAttr<SLM_Dialect, SLM_Activation, "activation"> {
  let assemblyFormat = "`<` $value `>`";
}

def SLM_InputQuant : I32EnumAttr<"InputQuant",
    "how a linear layer quantizes its input (W8A8)", [
  // The input stays f32.
  I32EnumAttrCase<"none", 0>,
  // Each row (token) is quantized to uint8 when the layer runs, with its own
  // scale and zero point from the row's [min, max] (min <= 0 <= max).
  I32EnumAttrCase<"per_token", 1>,
  // One scale and zero point for the whole input, fixed at compile time
  // (from calibration): `input_scale`, `input_zero_point`.
  I32EnumAttrCase<"fixed", 2>,
  // One scale and zero point for the whole input from its [min, max] as
  // the layer runs: ONNX DynamicQuantizeLinear (what ONNX Runtime's
  // quantize_dynamic puts before MatMulInteger).
  I32EnumAttrCase<"per_tensor", 3>
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::slm";
}
def SLM_InputQuantAttr : EnumAttr<SLM_Dialect, SLM_InputQuant, "input_quant"> {
  let assemblyFormat = "`<` $value `>`";
}

def SLM_Precision : I32EnumAttr<"Precision",
    "the arithmetic a linear layer's products use", [
  // f32 inputs, weights and sums.
  I32EnumAttrCase<"f32", 0>,
  // The input and the weight rounded to bfloat16 (to nearest, ties to
  // even), their products summed in f32 (AVX512-BF16's vdpbf16ps).
  I32EnumAttrCase<"bf16", 1>
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::slm";
}
def SLM_PrecisionAttr : EnumAttr<SLM_Dialect, SLM_Precision, "precision"> {
  let assemblyFormat = "`<` $value `>`";
}

def SLM_ReduceKind : I32EnumAttr<"ReduceKind", "reduction combiner", [
  I32EnumAttrCase<"sum", 0>,
  I32EnumAttrCase<"mean", 1>,
  I32EnumAttrCase<"max", 2>,
  I32EnumAttrCase<"min", 3>
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::slm";
}
def SLM_ReduceKindAttr : EnumAttr<SLM_Dialect, SLM_ReduceKind, "reduce_kind"> {
  let assemblyFormat = "`<` $value `>`";
}

def SLM_ComparePredicate : I32EnumAttr<"ComparePredicate",
    "elementwise comparison", [
  I32EnumAttrCase<"eq", 0>,
  I32EnumAttrCase<"ne", 1>,
  I32EnumAttrCase<"lt", 2>,
  I32EnumAttrCase<"le", 3>,
  I32EnumAttrCase<"gt", 4>,
  I32EnumAttrCase<"ge", 5>
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::slm";
}
def SLM_ComparePredicateAttr : EnumAttr<SLM_Dialect, SLM_ComparePredicate,
                                        "compare_predicate"> {
  let assemblyFormat = "`<` $value `>`";
}

def SLM_WeightQuantKind : I32EnumAttr<"WeightQuantKind",
    "storage code of a quantized weight", [
  // Signed 8-bit integer codes, one byte each.
  I32EnumAttrCase<"int8", 0>,
  // Signed 4-bit integer codes in [-8, 7] (unsigned [0, 15] with zero points),
  // two per byte, low nibble first.
  I32EnumAttrCase<"int4", 1>,
  // 4-bit NormalFloat (QLoRA): a code indexes a fixed 16-entry table of
  // normal-distribution quantiles in [-1, 1]; two per byte, low nibble first.
  I32EnumAttrCase<"nf4", 2>
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::slm";
}
def SLM_WeightQuantKindAttr : EnumAttr<SLM_Dialect, SLM_WeightQuantKind,
                                       "weight_quant"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// The kernel contract: what a lowered contraction computes
//===----------------------------------------------------------------------===//

def SLM_ContractionKind : I32EnumAttr<"ContractionKind",
    "what a contraction declared by #slm.contraction computes", [
  // C += A * B, all f32.
  I32EnumAttrCase<"f32", 0>,
  // C += A * (sitofp(codes) * scales): int8 weight codes scaled per column.
  I32EnumAttrCase<"int8_weight", 1>,
  // C += extui(A) * extsi(B) in i32: uint8 input codes by int8 weight codes,
  // four consecutive k per step (W8A8).
  I32EnumAttrCase<"u8s8_dot", 2>,
  // C += A * (u * scales + offsets), u the 4-bit code of the k (two per byte).
  I32EnumAttrCase<"int4", 3>,
  // C += A * (NF4[u] * scales), u the 4-bit code of the k (two per byte).
  I32EnumAttrCase<"nf4", 4>,
  // C += extf(A) * extf(B) in f32: bfloat16 inputs by bfloat16 weights, two
  // consecutive k per step (--precision=bf16).
  I32EnumAttrCase<"bf16_dot", 5>
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::slm";
}

def SLM_ContractionAttr : AttrDef<SLM_Dialect, "Contraction"> {
  let mnemonic = "contraction";
  let summary = "What a lowered linalg.generic contraction computes, for the GEMM kernels";
  let description = [{
    The contract between the lowering that writes a contraction
    (`--convert-slm-to-linalg`) and the pass that gives it a kernel
    (`--slm-vectorize-contractions`). It is attached to the `linalg.generic`
    as the discardable attribute `slm.contraction`; the kernel pass plans
    from it (kind, operand roles, layout) instead of recognising the body,
    and a declared contraction that it cannot plan is an error, never a
    silent fallback to loops.

    `kind` fixes the roles of the operands, the element types and the body:

    | kind | ins | outs | reductions | body |
    |---|---|---|---|---|
    | `f32` | A f32, B f32 | C f32 | 1 (k) | `C + A * B` |
    | `int8_weight` | A f32, codes i8, scales f32 | C f32 | 1 (k) | `C + A * (sitofp(codes) * scales)` |
    | `u8s8_dot` | A i8 (as uint8), B i8 | C i32 | 2 (k/4, 4) | `C + extui(A) * extsi(B)` |
    | `int4` | A f32, codes i8, scales f32, offsets f32 | C f32 | 3 (k/g, g/2, 2) | `C + A * (u * scales + offsets)` |
    | `nf4` | A f32, codes i8, scales f32 | C f32 | 3 (k/g, g/2, 2) | `C + A * (NF4[u] * scales)` |
    | `bf16_dot` | A bf16, B bf16 | C f32 | 2 (k/2, 2) | `C + extf(A) * extf(B)` |

    with `u = (codes >> 4 * kl) & 15`, `kl` the innermost loop (two codes
    per byte, low nibble first) and NF4's table a 16-entry constant the body
    reads. `panel` is the width P of the column panels B is packed in
    (`[N/P, K, P]`; W8A8 `[N/P, K/4, P, 4]`; bf16 `[N/P, K/2, P, 2]`; 4-bit
    `[N/P, K/g, g/2, P]`),
    0 when B is an activation read in place (`f32` only); `group` is the
    4-bit codes' group size g along K (0 for the other kinds).

    The verifier checks what holds through the whole pipeline, on tensors
    and buffers: the op is a `linalg.generic`, its operand count, element
    types and number of reductions are those of the kind. The kernel pass
    checks the rest (the body, the layout against `panel` and `group`).

    ```mlir
    linalg.generic {indexing_maps = [...], iterator_types = [...],
                    slm.contraction = #slm.contraction<kind = nf4, panel = 32, group = 64>}
        ins(%a, %codes, %scales : tensor<?x2x32x2xf32>, tensor<3x2x32x32xi8>, tensor<3x2x32xf32>)
        outs(%c : tensor<?x3x32xf32>) { ... }
    ```
  }];
  let parameters = (ins
    EnumParameter<SLM_ContractionKind>:$kind,
    DefaultValuedParameter<"int64_t", "0">:$panel,
    DefaultValuedParameter<"int64_t", "0">:$group
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The name of the discardable attribute that holds the declaration.
    static constexpr ::llvm::StringLiteral getAttrName() {
      return ::llvm::StringLiteral("slm.contraction");
    }
    /// Operands of `ins` the kind has: A, B (or the codes), then the
    /// scales and offsets where the kind has them.
    unsigned getNumInputs() const;
    /// Reduction loops of the kind's contraction.
    unsigned getNumReductions() const;
    /// Whether input 2 holds per-column scales.
    bool hasScales() const;
    /// Whether input 3 holds per-column offsets (int4).
    bool hasOffsets() const;
    /// Whether the weight operand holds 4-bit codes (int4, nf4).
    bool isFourBit() const;
    /// Checks the declaration against `op` (see the description): the
    /// verifier of the `slm.contraction` attribute.
    ::mlir::LogicalResult verifyOn(::mlir::Operation *op) const;
  }];
}

#endif // SLM_IR_SLMATTRS_TD
