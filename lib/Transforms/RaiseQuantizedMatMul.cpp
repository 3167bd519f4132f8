//===- RaiseQuantizedMatMul.cpp - Pre-quantized ONNX to W8A8/int8 ---------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// --slm-raise-quantized-matmul: the quantized forms ONNX Runtime's tools
// write, as the importer spells them out in slm arithmetic, become the
// representation slm's own quantization makes (and so the same kernels):
//
//  * DynamicQuantizeLinear(x) -> MatMulInteger(., W int8) -> Cast -> Mul by
//    x_scale * w_scale (quantize_dynamic): slm.linear x, dequantize_weight
//    <int8> {input_quant = per_tensor} (W8A8, VNNI);
//  * DequantizeLinear(W int8) -> MatMul (QDQ weights): slm.linear with an
//    int8 weight; when the input is itself a QuantizeLinear/DequantizeLinear
//    pair with constant parameters, {input_quant = fixed} with them.
//
// Every match checks the whole arithmetic, constants included; anything else
// is left as it is (and still runs, as plain integer or float loops).
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMOps.h"
#include "slm/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::slm {
#define GEN_PASS_DEF_SLMRAISEQUANTIZEDMATMUL
#include "slm/Transforms/Passes.h.inc"
} // namespace mlir::slm

using namespace mlir;
using namespace mlir::slm;

namespace {

/// The value of a splat float constant.
std::optional<double> splatFloat(Value v) {
  Attribute attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  if (auto splat = dyn_cast<SplatElementsAttr>(attr))
    if (isa<FloatType>(splat.getElementType()))
      return splat.getSplatValue<APFloat>().convertToDouble();
  if (auto dense = dyn_cast<DenseFPElementsAttr>(attr))
    if (dense.getNumElements() == 1)
      return (*dense.getValues<APFloat>().begin()).convertToDouble();
  return std::nullopt;
}

bool isFloat(Value v, double expected) {
  std::optional<double> value = splatFloat(v);
  return value && *value == expected;
}

/// `clamp(t, 0, 255)` as the importer writes it: slm.min(slm.max(t, 0), 255).
Value matchClamp255(Value v) {
  auto mn = v.getDefiningOp<MinOp>();
  if (!mn || !isFloat(mn.getRhs(), 255.0))
    return {};
  auto mx = mn.getLhs().getDefiningOp<MaxOp>();
  if (!mx || !isFloat(mx.getRhs(), 0.0))
    return {};
  return mx.getLhs();
}

/// `select(v != v, replacement, v)` as the importer writes it before a
/// float-to-integer cast (NaN becomes a defined code): returns v.
Value matchReplaceNaN(Value v, double replacement) {
  auto select = v.getDefiningOp<SelectOp>();
  auto isNaN = select ? select.getCondition().getDefiningOp<CompareOp>()
                      : CompareOp();
  if (!isNaN || isNaN.getPredicate() != ComparePredicate::ne ||
      isNaN.getLhs() != isNaN.getRhs() ||
      isNaN.getLhs() != select.getFalseValue() ||
      !isFloat(select.getTrueValue(), replacement))
    return {};
  return select.getFalseValue();
}

/// uint8 codes of `x`: fptoui(NaN -> 0 (clamp(roundeven(x / scale) + zp, 0,
/// 255))), zp
/// either a uitofp of an i8 value or an f32 constant. Returns x and sets
/// scale and zeroPoint (the i8 value, or the f32 constant).
Value matchQuantize(Value q, Value &scale, Value &zeroPoint) {
  auto toInt = q.getDefiningOp<arith::FPToUIOp>();
  Value t = toInt ? matchReplaceNaN(toInt.getIn(), 0.0) : Value();
  t = t ? matchClamp255(t) : Value();
  auto add = t ? t.getDefiningOp<AddOp>() : AddOp();
  if (!add)
    return {};
  auto round = add.getLhs().getDefiningOp<math::RoundEvenOp>();
  auto div = round ? round.getOperand().getDefiningOp<DivOp>() : DivOp();
  if (!div)
    return {};
  scale = div.getRhs();
  zeroPoint = add.getRhs();
  if (auto widen = zeroPoint.getDefiningOp<arith::UIToFPOp>())
    zeroPoint = widen.getIn();
  return div.getLhs();
}

/// Whether `scale` and `zeroPoint` are ONNX DynamicQuantizeLinear's of `x`.
bool isDynamicQuantization(Value x, Value scale, Value zeroPoint) {
  auto type = cast<RankedTensorType>(x.getType());
  auto wholeReduce = [&](Value v, ReduceKind kind) {
    auto r = v.getDefiningOp<ReduceOp>();
    return r && r.getInput() == x && r.getKind() == kind &&
           static_cast<int64_t>(r.getAxes().size()) == type.getRank();
  };
  // scale = select(range == 0, 1, range),
  // range = (max(reduce_max(x), 0) - min(reduce_min(x), 0)) / 255
  auto pick = scale.getDefiningOp<SelectOp>();
  auto empty = pick ? pick.getCondition().getDefiningOp<CompareOp>()
                    : CompareOp();
  if (!empty || empty.getPredicate() != ComparePredicate::eq ||
      empty.getLhs() != pick.getFalseValue() || !isFloat(empty.getRhs(), 0.0) ||
      !isFloat(pick.getTrueValue(), 1.0))
    return false;
  auto div = pick.getFalseValue().getDefiningOp<DivOp>();
  if (!div || !isFloat(div.getRhs(), 255.0))
    return false;
  auto sub = div.getLhs().getDefiningOp<SubOp>();
  if (!sub)
    return false;
  auto hi = sub.getLhs().getDefiningOp<MaxOp>();
  auto lo = sub.getRhs().getDefiningOp<MinOp>();
  if (!hi || !lo || !isFloat(hi.getRhs(), 0.0) || !isFloat(lo.getRhs(), 0.0) ||
      !wholeReduce(hi.getLhs(), ReduceKind::max) ||
      !wholeReduce(lo.getLhs(), ReduceKind::min))
    return false;
  // zero point = fptoui(NaN -> 255 (clamp(roundeven(0 - lo / scale), 0,
  // 255)))
  auto toInt = zeroPoint.getDefiningOp<arith::FPToUIOp>();
  Value t = toInt ? matchReplaceNaN(toInt.getIn(), 255.0) : Value();
  t = t ? matchClamp255(t) : Value();
  auto round = t ? t.getDefiningOp<math::RoundEvenOp>() : math::RoundEvenOp();
  auto neg = round ? round.getOperand().getDefiningOp<SubOp>() : SubOp();
  auto ratio = neg ? neg.getRhs().getDefiningOp<DivOp>() : DivOp();
  return ratio && isFloat(neg.getLhs(), 0.0) &&
         ratio.getLhs() == lo.getResult() && ratio.getRhs() == scale;
}

/// An int8 weight [K, N] (constant codes) with per-tensor or per-column
/// scales, as [N, K] codes and N scales; `codes` is the i8 constant.
struct Int8Weight {
  Attribute codes;
  std::vector<float> scales;
};

bool readScales(Value v, int64_t n, std::vector<float> &scales) {
  Attribute attr;
  if (!matchPattern(v, m_Constant(&attr)) || !readF32Constant(attr, scales))
    return false;
  if (scales.size() == 1)
    scales.assign(n, scales.front());
  return static_cast<int64_t>(scales.size()) == n &&
         llvm::all_of(scales,
                      [](float s) { return s > 0 && std::isfinite(s); });
}

/// A new `slm.dequantize_weight <int8>` of the [K, N] codes `w`, transposed.
Value buildWeight(PatternRewriter &rewriter, Location loc, Attribute w,
                  ArrayRef<float> scales) {
  auto type = cast<RankedTensorType>(cast<TypedAttr>(w).getType());
  const int64_t k = type.getDimSize(0), n = type.getDimSize(1);
  auto codesType = RankedTensorType::get({n, k}, type.getElementType());
  Attribute codes = transposeConstant(w, codesType, {1, 0});
  if (!codes)
    return {};
  Value codesValue =
      arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(codes));
  Value scalesValue = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(
          RankedTensorType::get({n, 1}, rewriter.getF32Type()), scales));
  return DequantizeWeightOp::create(
      rewriter, loc, RankedTensorType::get({n, k}, rewriter.getF32Type()),
      WeightQuantKind::int8, codesValue, scalesValue, Value(), IntegerAttr());
}

/// The constant int8 [K, N] matrix behind `v` = ext(W), or null.
Attribute int8Matrix(Value v) {
  Operation *ext = v.getDefiningOp();
  if (!ext || !isa<arith::ExtSIOp, arith::SIToFPOp>(ext))
    return {};
  Attribute attr;
  auto type = dyn_cast<RankedTensorType>(ext->getOperand(0).getType());
  if (!type || type.getRank() != 2 || !type.getElementType().isInteger(8) ||
      !matchPattern(ext->getOperand(0), m_Constant(&attr)))
    return {};
  return attr;
}

/// DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(x_scale * w_scale).
struct RaiseMatMulInteger : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    auto toFloat = op.getLhs().getDefiningOp<arith::SIToFPOp>();
    auto matmul =
        toFloat ? toFloat.getIn().getDefiningOp<MatMulOp>() : MatMulOp();
    if (!matmul || !matmul.getType().getElementType().isInteger(32))
      return failure();
    Attribute w = int8Matrix(matmul.getRhs());
    auto shifted = matmul.getLhs().getDefiningOp<SubOp>();
    if (!w || !shifted)
      return failure();
    auto q = shifted.getLhs().getDefiningOp<arith::ExtUIOp>();
    auto z = shifted.getRhs().getDefiningOp<arith::ExtUIOp>();
    if (!q || !z)
      return failure();
    Value scale, zeroPoint;
    Value x = matchQuantize(q.getIn(), scale, zeroPoint);
    if (!x || zeroPoint != z.getIn() ||
        !isDynamicQuantization(x, scale, zeroPoint))
      return failure();
    // The result's scale: x_scale * w_scale.
    auto product = op.getRhs().getDefiningOp<MulOp>();
    if (!product || product.getLhs() != scale)
      return failure();
    auto xType = cast<RankedTensorType>(x.getType());
    const int64_t k = xType.getShape().back();
    const int64_t n =
        cast<RankedTensorType>(cast<TypedAttr>(w).getType()).getDimSize(1);
    std::vector<float> scales;
    if (k % 4 != 0 || !readScales(product.getRhs(), n, scales))
      return failure();
    Value weight = buildWeight(rewriter, op.getLoc(), w, scales);
    if (!weight)
      return failure();
    auto linear =
        LinearOp::create(rewriter, op.getLoc(), op.getType(), x, weight);
    linear.setInputQuant(InputQuant::per_tensor);
    rewriter.replaceOp(op, linear.getResult());
    return success();
  }
};

/// MatMul(X, DequantizeLinear(W int8)), X optionally DequantizeLinear(
/// QuantizeLinear(x)) with constant parameters.
struct RaiseQDQMatMul : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().getElementType().isF32())
      return failure();
    auto dq = op.getRhs().getDefiningOp<MulOp>();
    Attribute w = dq ? int8Matrix(dq.getLhs()) : Attribute();
    if (!w)
      return failure();
    const int64_t n =
        cast<RankedTensorType>(cast<TypedAttr>(w).getType()).getDimSize(1);
    std::vector<float> scales;
    if (!readScales(dq.getRhs(), n, scales))
      return failure();
    Value x = op.getLhs();
    auto xType = cast<RankedTensorType>(x.getType());
    if (xType.getRank() < 1)
      return failure();
    // The input's fake quantization: (uitofp(q) - z) * s, with
    // q = quantize(x, s, z).
    std::optional<double> inScale, inZero;
    Value source;
    if (auto mul = x.getDefiningOp<MulOp>()) {
      auto sub = mul.getLhs().getDefiningOp<SubOp>();
      Value codes = sub ? sub.getLhs() : mul.getLhs();
      auto widen = codes.getDefiningOp<arith::UIToFPOp>();
      Value s, zp;
      Value original = widen ? matchQuantize(widen.getIn(), s, zp) : Value();
      std::optional<double> scaleValue = splatFloat(mul.getRhs());
      std::optional<double> zeroValue =
          sub ? splatFloat(sub.getRhs()) : std::optional<double>(0.0);
      if (original && s == mul.getRhs() && scaleValue && zeroValue &&
          *scaleValue > 0 && (sub ? zp == sub.getRhs() : isFloat(zp, 0.0)) &&
          *zeroValue >= 0 && *zeroValue <= 255 &&
          *zeroValue == std::round(*zeroValue)) {
        source = original;
        inScale = scaleValue;
        inZero = zeroValue;
      }
    }
    Value weight = buildWeight(rewriter, op.getLoc(), w, scales);
    if (!weight)
      return failure();
    const int64_t k = xType.getShape().back();
    if (source && k % 4 == 0) {
      auto linear =
          LinearOp::create(rewriter, op.getLoc(), op.getType(), source, weight);
      linear.setInputQuant(InputQuant::fixed);
      linear.setInputScaleAttr(rewriter.getF32FloatAttr(*inScale));
      linear.setInputZeroPointAttr(
          rewriter.getI32IntegerAttr(static_cast<int32_t>(*inZero)));
      rewriter.replaceOp(op, linear.getResult());
      return success();
    }
    rewriter.replaceOp(
        op, LinearOp::create(rewriter, op.getLoc(), op.getType(), x, weight)
                .getResult());
    return success();
  }
};

struct RaiseQuantizedMatMulPass
    : public mlir::slm::impl::SLMRaiseQuantizedMatMulBase<
          RaiseQuantizedMatMulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RaiseMatMulInteger, RaiseQDQMatMul>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
