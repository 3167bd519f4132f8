//===- QuantizedLinear.cpp - W8A8 and 4-bit linear layers -------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Linear layers whose products run on codes: W8A8 (the input quantized to
// uint8 as the layer runs, uint8 x int8 dot products into int32, a
// dequantizing epilogue) and 4-bit weights (int4, NF4) decoded in the
// contraction's body. Each contraction carries its declaration
// (slm/Codegen/Contraction.h).
//
//===----------------------------------------------------------------------===//

#include "PackedLinear.h"

#include "slm/Codegen/Contraction.h"
#include "slm/IR/SLMConstants.h"
#include "slm/Support/WeightQuant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

#include <cstring>

using namespace mlir;
using namespace mlir::slm;
using namespace mlir::slm::linalg_lowering;

/// The bytes of an i8 constant (splat or dense/resource), `count` of them.
bool linalg_lowering::readBytes(Attribute attr, int64_t count,
                                std::vector<uint8_t> &out) {
  out.assign(count, 0);
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(attr)) {
    std::fill(
        out.begin(), out.end(),
        static_cast<uint8_t>(splat.getSplatValue<APInt>().getZExtValue()));
    return true;
  }
  ArrayRef<char> bytes = rawConstantBytes(attr);
  if (static_cast<int64_t>(bytes.size()) != count)
    return false;
  std::memcpy(out.data(), bytes.data(), count);
  return true;
}

/// `v` ([lead.., K]) with its last dimension split into `inner` (whose
/// product is K): the blocked A of the dot and 4-bit kernels. The leading
/// extents are those of `sizesOf` (`v` by default).
static Value splitLastDimension(OpBuilder &b, Location loc, Value v,
                                ArrayRef<int64_t> inner,
                                Value sizesOf = Value()) {
  auto type = cast<RankedTensorType>(v.getType());
  const int64_t lead = type.getRank() - 1;
  if (!sizesOf)
    sizesOf = v;
  SmallVector<int64_t> shape(type.getShape().drop_back());
  shape.append(inner.begin(), inner.end());
  SmallVector<ReassociationIndices> expand;
  for (int64_t i = 0; i < lead; ++i)
    expand.push_back({i});
  ReassociationIndices last;
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < lead; ++i)
    sizes.push_back(tensor::getMixedSize(b, loc, sizesOf, i));
  for (auto [i, extent] : llvm::enumerate(inner)) {
    last.push_back(lead + static_cast<int64_t>(i));
    sizes.push_back(b.getIndexAttr(extent));
  }
  expand.push_back(last);
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), v, expand,
      sizes);
}

namespace {
/// The row quantization parameters of a W8A8 input `x` ([lead.., K] f32):
/// per-token scale and zero point (ONNX DynamicQuantizeLinear's arithmetic
/// over each row: s = (max(x, 0) - min(x, 0)) / 255, z = round(-min / s)),
/// or the static ones broadcast; and the uint8 codes
/// `clamp(round(x * (1 / s)) + z, 0, 255)` as i8 [lead.., K/4, 4].
struct QuantizedInput {
  // codes i8; scale, 1 / scale f32 [lead..]; zp i32 [lead..]
  Value codes, scale, zeroPoint, inverse;
};

static QuantizedInput quantizeInputRows(OpBuilder &b, Location loc, LinearOp op,
                                        Value x) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  const int64_t rank = xType.getRank(), lead = rank - 1;
  const int64_t k = xType.getShape().back();
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), i8 = b.getIntegerType(8);
  auto rowsType = [&](Type element) {
    return RankedTensorType::get(xType.getShape().drop_back(), element);
  };
  auto rowsEmpty = [&](Type element) {
    return emptyTensor(b, loc, rowsType(element), [&](int64_t i) -> Value {
      return tensor::DimOp::create(b, loc, x, i);
    });
  };
  auto f = [&](OpBuilder &nb, double v) -> Value {
    return arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(v));
  };
  SmallVector<AffineExpr> rowExprs;
  for (int64_t i = 0; i < lead; ++i)
    rowExprs.push_back(getAffineDimExpr(i, ctx));
  AffineMap rowsOfAll = AffineMap::get(rank, 0, rowExprs, ctx);
  AffineMap all = b.getMultiDimIdentityMap(rank);
  QuantizedInput q;
  Value scale, zeroPoint; // f32 per row
  const InputQuant mode = op.getInputQuant();
  if (mode == InputQuant::per_token || mode == InputQuant::per_tensor) {
    // [min(x, 0), max(x, 0)] per row: both accumulators start at 0.
    Value mn = zeroFilled(b, loc, rowsEmpty(f32), f32);
    Value mx = zeroFilled(b, loc, rowsEmpty(f32), f32);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators.back() = utils::IteratorType::reduction;
    auto minMax = [](OpBuilder &nb, Location l, ValueRange args) {
      linalg::YieldOp::create(
          nb, l,
          ValueRange{arith::MinimumFOp::create(nb, l, args[1], args[0]),
                     arith::MaximumFOp::create(nb, l, args[2], args[0])});
    };
    auto range = linalg::GenericOp::create(
        b, loc, TypeRange{mn.getType(), mx.getType()}, ValueRange{x},
        ValueRange{mn, mx}, {all, rowsOfAll, rowsOfAll}, iterators, minMax);
    if (mode == InputQuant::per_tensor) {
      // The whole tensor's range, given back to every row.
      auto scalarType = RankedTensorType::get({}, f32);
      auto scalar = [&]() {
        return zeroFilled(
            b, loc, tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, f32),
            f32);
      };
      AffineMap rowsMap = b.getMultiDimIdentityMap(lead);
      AffineMap toScalar = AffineMap::get(lead, 0, {}, b.getContext());
      auto total = linalg::GenericOp::create(
          b, loc, TypeRange{scalarType, scalarType},
          ValueRange{range.getResult(0), range.getResult(1)},
          ValueRange{scalar(), scalar()},
          {rowsMap, rowsMap, toScalar, toScalar},
          SmallVector<utils::IteratorType>(lead,
                                           utils::IteratorType::reduction),
          [](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::MinimumFOp::create(nb, l, args[2], args[0]),
                           arith::MaximumFOp::create(nb, l, args[3], args[1])});
          });
      auto spread = [&](Value v) {
        return linalg::GenericOp::create(
                   b, loc, rowsType(f32), ValueRange{v}, rowsEmpty(f32),
                   {toScalar, rowsMap},
                   SmallVector<utils::IteratorType>(
                       lead, utils::IteratorType::parallel),
                   [](OpBuilder &nb, Location l, ValueRange args) {
                     linalg::YieldOp::create(nb, l, args[0]);
                   })
            .getResult(0);
      };
      range = linalg::GenericOp::create(
          b, loc, TypeRange{mn.getType(), mx.getType()},
          ValueRange{spread(total.getResult(0)), spread(total.getResult(1))},
          ValueRange{rowsEmpty(f32), rowsEmpty(f32)},
          {rowsMap, rowsMap, rowsMap, rowsMap},
          SmallVector<utils::IteratorType>(lead, utils::IteratorType::parallel),
          [](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(nb, l, ValueRange{args[0], args[1]});
          });
    }
    SmallVector<utils::IteratorType> rowIterators(
        lead, utils::IteratorType::parallel);
    AffineMap rows = b.getMultiDimIdentityMap(lead);
    auto params = linalg::GenericOp::create(
        b, loc, TypeRange{rowsType(f32), rowsType(i32), rowsType(f32)},
        ValueRange{range.getResult(0), range.getResult(1)},
        ValueRange{rowsEmpty(f32), rowsEmpty(i32), rowsEmpty(f32)},
        {rows, rows, rows, rows, rows}, rowIterators,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value width = arith::SubFOp::create(nb, l, args[1], args[0]);
          Value s = arith::DivFOp::create(nb, l, width, f(nb, 255.0));
          // An all-zero row: any scale works; 1 keeps the division finite.
          Value empty = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OLE,
                                              s, f(nb, 0.0));
          s = arith::SelectOp::create(nb, l, empty, f(nb, 1.0), s);
          Value z = math::RoundEvenOp::create(
              nb, l,
              arith::DivFOp::create(nb, l,
                                    arith::NegFOp::create(nb, l, args[0]), s));
          z = arith::MinimumFOp::create(
              nb, l, arith::MaximumFOp::create(nb, l, z, f(nb, 0.0)),
              f(nb, 255.0));
          Value inverse = arith::DivFOp::create(nb, l, f(nb, 1.0), s);
          linalg::YieldOp::create(
              nb, l,
              ValueRange{s, arith::FPToSIOp::create(nb, l, i32, z), inverse});
        });
    q.scale = params.getResult(0);
    q.zeroPoint = params.getResult(1);
    q.inverse = params.getResult(2);
  }
  // The codes; static parameters are constants in the body.
  const bool dynamic = static_cast<bool>(q.scale);
  SmallVector<Value> ins = {x};
  SmallVector<AffineMap> maps = {all};
  // ONNX's quantizers divide by the scale; per token multiplies by its
  // inverse (cheaper, and the codes are ours to define).
  const bool divide =
      mode == InputQuant::per_tensor || mode == InputQuant::fixed;
  if (dynamic) {
    ins.append({divide ? q.scale : q.inverse, q.zeroPoint});
    maps.append({rowsOfAll, rowsOfAll});
  }
  maps.push_back(all);
  Value codesEmpty =
      emptyTensor(b, loc, xType.clone(i8), [&](int64_t i) -> Value {
        return tensor::DimOp::create(b, loc, x, i);
      });
  const float staticScale =
      op.getInputScale() ? op.getInputScale()->convertToFloat() : 1.0f;
  const int32_t staticZero =
      op.getInputZeroPoint() ? *op.getInputZeroPoint() : 0;
  Value codes =
      linalg::GenericOp::create(
          b, loc, xType.clone(i8), ins, codesEmpty, maps,
          SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value inverse = dynamic ? args[1] : f(nb, 1.0f / staticScale);
            Value z =
                dynamic
                    ? arith::SIToFPOp::create(nb, l, f32, args[2]).getResult()
                    : f(nb, staticZero);
            Value v = math::RoundEvenOp::create(
                nb, l,
                divide ? arith::DivFOp::create(nb, l, args[0],
                                               dynamic ? args[1]
                                                       : f(nb, staticScale))
                             .getResult()
                       : arith::MulFOp::create(nb, l, args[0], inverse)
                             .getResult());
            v = arith::AddFOp::create(nb, l, v, z);
            v = arith::MinimumFOp::create(
                nb, l, arith::MaximumFOp::create(nb, l, v, f(nb, 0.0)),
                f(nb, 255.0));
            Value code = arith::FPToSIOp::create(nb, l, i32, v);
            linalg::YieldOp::create(
                nb, l, arith::TruncIOp::create(nb, l, i8, code).getResult());
          })
          .getResult(0);
  q.codes = splitLastDimension(b, loc, codes, {k / 4, 4}, x);
  if (!dynamic) {
    q.scale = Value();
    q.zeroPoint = Value();
  }
  return q;
}

/// W8A8: `op` (input quantized as it runs, int8 per-channel weight `codes`
/// with `scales`) as integer GEMM + dequantizing epilogue, result
/// [lead.., panels, panel] f32 with the bias added. The codes are packed
/// for 4-byte dot products: [panels, K/4, panel, 4], so that one 64-byte
/// vector holds four consecutive k of 16 columns (AVX-512 VNNI's vpdpbusd
/// operand); the contraction's loops are (lead.., p, j, kq, kr).
static Value w8a8Contraction(PatternRewriter &rewriter, LinearOp op,
                             ArrayRef<uint8_t> raw, Attribute codesAttr,
                             ArrayRef<float> scales, int64_t panel) {
  Location loc = op.getLoc();
  PanelOutput out(rewriter, op, panel);
  const int64_t n = op.getOutFeatures(), k = op.getInFeatures();
  const int64_t panels = out.panels, padded = out.padded, lead = out.lead;
  Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type(),
       i8 = rewriter.getIntegerType(8);
  // Codes (`raw`, [N, K]) in dot-product order and their column sums (for
  // the zero point).
  std::vector<char> packed(panels * k * panel, 0);
  std::vector<int32_t> colsum(padded, 0);
  const int64_t quads = k / 4;
  for (int64_t c = 0; c < n; ++c) {
    const int64_t p = c / panel, j = c % panel;
    for (int64_t kk = 0; kk < k; ++kk) {
      const int8_t code = static_cast<int8_t>(raw[c * k + kk]);
      colsum[c] += code;
      packed[((p * quads + kk / 4) * panel + j) * 4 + kk % 4] =
          static_cast<char>(code);
    }
  }
  auto codesType = RankedTensorType::get({panels, quads, panel, 4}, i8);
  Value w = arith::ConstantOp::create(
      rewriter, loc,
      cast<TypedAttr>(makeConstantFromBytes(codesAttr, codesType, packed,
                                            ".vnni" + std::to_string(panel))));
  auto panelType = [&](Type element) {
    return RankedTensorType::get({panels, panel}, element);
  };
  std::vector<float> paddedScales(scales.begin(), scales.end());
  paddedScales.resize(padded, 0.0f);
  Value wScale = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(panelType(f32), ArrayRef<float>(paddedScales)));
  Value colsums = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(panelType(i32), ArrayRef<int32_t>(colsum)));
  QuantizedInput q = quantizeInputRows(rewriter, loc, op, op.getInput());

  // acc[.., p, j] = sum_k u8(x)[.., k] * s8(w)[p*panel + j, k]
  const int64_t loops = lead + 4;
  const int64_t p = lead, j = lead + 1, kq = lead + 2, kr = lead + 3;
  SmallVector<AffineMap> maps = {out.leadThen(loops, {kq, kr}),
                                 out.only(loops, {p, kq, j, kr}),
                                 out.leadThen(loops, {p, j})};
  Value acc = buildDeclaredContraction(
                  rewriter, loc,
                  ContractionAttr::get(rewriter.getContext(),
                                       ContractionKind::u8s8_dot, panel, 0),
                  out.type(i32), ValueRange{q.codes, w},
                  zeroFilled(rewriter, loc, out.empty(i32), i32), maps)
                  .getResult(0);
  // y = s_x * s_w * (acc - z_x * colsum) + bias
  Value biasPanels = out.biasPanels();
  const int64_t outLoops = lead + 2;
  AffineMap outMap = out.leadThen(outLoops, {p, j});
  AffineMap rowMap = out.leadThen(outLoops, {});
  AffineMap colMap = out.only(outLoops, {p, j});
  SmallVector<Value> ins = {acc, wScale, colsums};
  SmallVector<AffineMap> epilogueMaps = {outMap, colMap, colMap};
  const bool dynamic = static_cast<bool>(q.scale);
  if (dynamic) {
    ins.append({q.scale, q.zeroPoint});
    epilogueMaps.append({rowMap, rowMap});
  }
  if (biasPanels) {
    ins.push_back(biasPanels);
    epilogueMaps.push_back(colMap);
  }
  epilogueMaps.push_back(outMap);
  const float staticScale =
      op.getInputScale() ? op.getInputScale()->convertToFloat() : 1.0f;
  const int32_t staticZero =
      op.getInputZeroPoint() ? *op.getInputZeroPoint() : 0;
  return linalg::GenericOp::create(
             rewriter, loc, out.type(f32), ins, out.empty(f32), epilogueMaps,
             SmallVector<utils::IteratorType>(outLoops,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value s = dynamic ? args[3]
                                 : arith::ConstantOp::create(
                                       nb, l, nb.getF32FloatAttr(staticScale))
                                       .getResult();
               Value z = dynamic ? args[4]
                                 : arith::ConstantOp::create(
                                       nb, l, nb.getI32IntegerAttr(staticZero))
                                       .getResult();
               Value exact = arith::SubIOp::create(
                   nb, l, args[0], arith::MulIOp::create(nb, l, z, args[2]));
               Value v = arith::SIToFPOp::create(nb, l, f32, exact);
               v = arith::MulFOp::create(
                   nb, l, v, arith::MulFOp::create(nb, l, s, args[1]));
               if (biasPanels)
                 v = arith::AddFOp::create(nb, l, v, args[dynamic ? 5 : 3]);
               linalg::YieldOp::create(nb, l, v);
             })
      .getResult(0);
}

} // namespace

LogicalResult linalg_lowering::lowerW8A8Linear(LinearOp op,
                                               PatternRewriter &rewriter,
                                               Attribute codesAttr,
                                               ArrayRef<float> scales,
                                               int64_t panel) {
  RankedTensorType weightType = op.getWeight().getType();
  const int64_t n = weightType.getDimSize(0);
  std::vector<uint8_t> raw;
  if (weightType.getDimSize(1) % 4 != 0 ||
      !readBytes(codesAttr, weightType.getNumElements(), raw))
    return failure();
  // Two panels' width per dot-product panel when the columns allow: the
  // VNNI kernel's tile is 64 columns wide.
  const int64_t dotPanel = n % (2 * panel) == 0 ? 2 * panel : panel;
  PanelOutput out(rewriter, op, dotPanel);
  if (!out.biasFits())
    return failure();
  Value y = w8a8Contraction(rewriter, op, raw, codesAttr, scales, dotPanel);
  finishPackedLinear(rewriter, op, y, out.padded);
  return success();
}

/// `value` rounded to bfloat16, to nearest with ties to even (NaN stays a
/// quiet NaN): the upper 16 bits of the rounded f32.
static uint16_t roundToBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

/// `x` (f32) rounded to bfloat16 as the layer runs, with the same integer
/// arithmetic as roundToBF16 (LLVM would call a library function for
/// fptrunc to bf16 on CPUs without AVX512-BF16; this vectorizes anywhere).
static Value roundInputToBF16(OpBuilder &b, Location loc, Value x) {
  auto xType = cast<RankedTensorType>(x.getType());
  Type i32 = b.getI32Type(), i16 = b.getI16Type(), bf16 = b.getBF16Type();
  Value empty = emptyTensor(b, loc, xType.clone(bf16), [&](int64_t i) -> Value {
    return tensor::DimOp::create(b, loc, x, i);
  });
  AffineMap all = b.getMultiDimIdentityMap(xType.getRank());
  return linalg::GenericOp::create(
             b, loc, xType.clone(bf16), ValueRange{x}, ValueRange{empty},
             {all, all},
             SmallVector<utils::IteratorType>(xType.getRank(),
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               auto c = [&](uint32_t v) -> Value {
                 return arith::ConstantOp::create(
                     nb, l, nb.getI32IntegerAttr(static_cast<int32_t>(v)));
               };
               Value bits = arith::BitcastOp::create(nb, l, i32, args[0]);
               Value high = arith::ShRUIOp::create(nb, l, bits, c(16));
               Value odd = arith::AndIOp::create(nb, l, high, c(1));
               Value rounded = arith::ShRUIOp::create(
                   nb, l,
                   arith::AddIOp::create(
                       nb, l, bits,
                       arith::AddIOp::create(nb, l, odd, c(0x7FFF))),
                   c(16));
               Value nan = arith::CmpFOp::create(
                   nb, l, arith::CmpFPredicate::UNO, args[0], args[0]);
               Value quiet = arith::OrIOp::create(nb, l, high, c(0x40));
               Value word = arith::SelectOp::create(nb, l, nan, quiet, rounded);
               linalg::YieldOp::create(
                   nb, l,
                   arith::BitcastOp::create(
                       nb, l, bf16, arith::TruncIOp::create(nb, l, i16, word))
                       .getResult());
             })
      .getResult(0);
}

LogicalResult linalg_lowering::lowerBF16Linear(LinearOp op,
                                               PatternRewriter &rewriter,
                                               Attribute weightAttr,
                                               int64_t panel) {
  RankedTensorType weightType = op.getWeight().getType();
  const int64_t n = weightType.getDimSize(0), k = weightType.getDimSize(1);
  std::vector<float> weight;
  if (op.getPrecision() != Precision::bf16 || k % 2 != 0 ||
      !readF32Constant(weightAttr, weight) ||
      static_cast<int64_t>(weight.size()) != n * k)
    return failure();
  // Two panels' width when the columns allow: the kernel's tile is 64
  // columns wide, as W8A8's.
  const int64_t dotPanel = n % (2 * panel) == 0 ? 2 * panel : panel;
  PanelOutput out(rewriter, op, dotPanel);
  if (!out.biasFits())
    return failure();
  const int64_t panels = out.panels, pairs = k / 2;
  // The weight rounded and packed for two-k dot products: [panels, K/2,
  // panel, 2], so that one 64-byte vector holds two consecutive k of 16
  // columns (vdpbf16ps's operand); padded columns are 0.
  std::vector<uint16_t> packed(panels * pairs * dotPanel * 2, 0);
  for (int64_t c = 0; c < n; ++c) {
    const int64_t p = c / dotPanel, j = c % dotPanel;
    for (int64_t kk = 0; kk < k; ++kk)
      packed[((p * pairs + kk / 2) * dotPanel + j) * 2 + kk % 2] =
          roundToBF16(weight[c * k + kk]);
  }
  Location loc = op.getLoc();
  Type bf16 = rewriter.getBF16Type(), f32 = rewriter.getF32Type();
  auto wType = RankedTensorType::get({panels, pairs, dotPanel, 2}, bf16);
  Value w = arith::ConstantOp::create(
      rewriter, loc,
      cast<TypedAttr>(makeConstantFromBytes(
          weightAttr, wType,
          ArrayRef<char>(reinterpret_cast<const char *>(packed.data()),
                         packed.size() * sizeof(uint16_t)),
          ".bf16x" + std::to_string(dotPanel))));
  // A: the input rounded, viewed as [lead.., K/2, 2].
  Value x = op.getInput();
  const int64_t lead = out.lead;
  Value a = splitLastDimension(
      rewriter, loc, roundInputToBF16(rewriter, loc, x), {pairs, 2}, x);
  // C[.., p, j] = bias[p * panel + j] + sum_k a[.., k] * w[p, k/2, j, k%2]
  const int64_t loops = lead + 4;
  const int64_t p = lead, j = lead + 1, kq = lead + 2, kr = lead + 3;
  SmallVector<AffineMap> maps = {out.leadThen(loops, {kq, kr}),
                                 out.only(loops, {p, kq, j, kr}),
                                 out.leadThen(loops, {p, j})};
  Value y = buildDeclaredContraction(
                rewriter, loc,
                ContractionAttr::get(rewriter.getContext(),
                                     ContractionKind::bf16_dot, dotPanel, 0),
                out.type(f32), ValueRange{a, w}, out.init(), maps)
                .getResult(0);
  finishPackedLinear(rewriter, op, y, out.padded);
  return success();
}

/// A linear layer with a 4-bit weight (`slm.dequantize_weight <int4|nf4>`,
/// groups of G along K, or one per row), as a contraction that decodes two
/// codes per byte in its body. Codes are re-packed for the kernels: unsigned
/// u in [0, 15] (symmetric int4 stored as c + 8), two consecutive k of one
/// column per byte, [panels, K/g, g/2, P]; weight = u * s + m per group and
/// column (m = -zp * s, or -8 * s), or NF4[u] * s. Loops (lead.., p, j, kg,
/// kb, kl) with k = kg * g + 2 * kb + kl; A is x viewed as [.., K/g, g/2, 2].
LogicalResult linalg_lowering::lowerNibbleLinear(LinearOp op,
                                                 PatternRewriter &rewriter,
                                                 int64_t panel) {
  auto dq = op.getWeight().getDefiningOp<DequantizeWeightOp>();
  if (!dq || dq.getCodeBits() != 4 || op.getInputQuant() != InputQuant::none)
    return failure();
  const bool nf4 = dq.getKind() == WeightQuantKind::nf4;
  RankedTensorType type = op.getType();
  const int64_t n = op.getOutFeatures(), k = op.getInFeatures();
  const int64_t group = dq.getGroupSize() ? *dq.getGroupSize() : k;
  if (!type.getElementType().isF32() || k % group != 0 || group % 2 != 0)
    return failure();
  const int64_t groups = k / group;
  Attribute codesAttr, scalesAttr, zpAttr;
  std::vector<float> scales;
  std::vector<uint8_t> codes, zps;
  if (!matchPattern(dq.getCodes(), m_Constant(&codesAttr)) ||
      !matchPattern(dq.getScales(), m_Constant(&scalesAttr)) ||
      !readF32Constant(scalesAttr, scales) ||
      static_cast<int64_t>(scales.size()) != n * groups ||
      !readBytes(codesAttr, n * ((k + 1) / 2), codes))
    return failure();
  if (Value zp = dq.getZeroPoints())
    if (!matchPattern(zp, m_Constant(&zpAttr)) ||
        !readBytes(zpAttr, n * groups, zps))
      return failure();
  PanelOutput out(rewriter, op, panel);
  if (!out.biasFits())
    return failure();
  const int64_t panels = out.panels, padded = out.padded;

  // Re-pack: bytes [panels, groups, group/2, panel], scales and offsets
  // [panels, groups, panel]; padded columns decode to 0.
  const int64_t half = group / 2, rowBytes = (k + 1) / 2;
  std::vector<char> packed(panels * groups * half * panel, 0);
  std::vector<float> scalePanels(panels * groups * panel, 0.0f),
      offsetPanels(panels * groups * panel, 0.0f);
  for (int64_t c = 0; c < n; ++c) {
    const int64_t p = c / panel, j = c % panel;
    for (int64_t g = 0; g < groups; ++g) {
      const float scale = scales[c * groups + g];
      const int64_t slot = (p * groups + g) * panel + j;
      scalePanels[slot] = scale;
      if (!nf4)
        offsetPanels[slot] =
            -scale *
            (zps.empty() ? 8.0f : static_cast<float>(zps[c * groups + g]));
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const uint8_t byte = codes[c * rowBytes + kk / 2];
      uint8_t u = kk % 2 == 0 ? (byte & 0xF) : (byte >> 4);
      if (!nf4 && zps.empty())
        u = static_cast<uint8_t>((u + 8) & 0xF); // signed [-8, 7] -> [0, 15]
      const int64_t g = kk / group, within = kk % group;
      char &out = packed[((p * groups + g) * half + within / 2) * panel + j];
      out = static_cast<char>(within % 2 == 0 ? (out & 0xF0) | u
                                              : (out & 0x0F) | (u << 4));
    }
  }
  Location loc = op.getLoc();
  Type f32 = rewriter.getF32Type(), i8 = rewriter.getIntegerType(8);
  auto codesType = RankedTensorType::get({panels, groups, half, panel}, i8);
  Value w = arith::ConstantOp::create(
      rewriter, loc,
      cast<TypedAttr>(makeConstantFromBytes(codesAttr, codesType, packed,
                                            ".nibbles" + std::to_string(panel) +
                                                "g" + std::to_string(group))));
  auto groupPanels = RankedTensorType::get({panels, groups, panel}, f32);
  Value scaleValue = arith::ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(groupPanels, ArrayRef<float>(scalePanels)));
  Value second; // offsets, or the NF4 table
  if (nf4)
    second = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(RankedTensorType::get({16}, f32),
                               ArrayRef<float>(slm::kNF4Levels.data(), 16)));
  else
    second = arith::ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(groupPanels, ArrayRef<float>(offsetPanels)));

  Value x = op.getInput();
  auto xType = cast<RankedTensorType>(x.getType());
  const int64_t rank = type.getRank(), lead = rank - 1;
  Value a = splitLastDimension(rewriter, loc, x, {groups, half, 2});

  const int64_t p = lead, j = lead + 1;
  Value init = out.init();
  const int64_t loops = lead + 5;
  const int64_t kg = lead + 2, kb = lead + 3, kl = lead + 4;
  SmallVector<Value> ins = {a, w, scaleValue};
  SmallVector<AffineMap> maps = {out.leadThen(loops, {kg, kb, kl}),
                                 out.only(loops, {p, kg, kb, j}),
                                 out.only(loops, {p, kg, j})};
  if (!nf4) {
    ins.push_back(second);
    maps.push_back(maps.back());
  }
  maps.push_back(out.leadThen(loops, {p, j}));
  auto generic = buildDeclaredContraction(
      rewriter, loc,
      ContractionAttr::get(rewriter.getContext(),
                           nf4 ? ContractionKind::nf4 : ContractionKind::int4,
                           panel, group),
      out.type(f32), ins, init, maps, nf4 ? second : Value());
  finishPackedLinear(rewriter, op, generic.getResult(0), padded);
  return success();
}
