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

#endif // SLM_IR_SLMATTRS_TD
