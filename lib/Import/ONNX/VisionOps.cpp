//===- VisionOps.cpp - ONNX convolution, pooling, resize, pad ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The convolutional and image ops around transformers: Conv (general),
// ConvTranspose, BatchNormalization, InstanceNormalization,
// GroupNormalization, MaxPool/AveragePool/LpPool and their global forms,
// Resize/Upsample, DepthToSpace/SpaceToDepth and Pad.
//
// They are emitted as upstream MLIR on tensors: a convolution with one group
// is an im2col copy (linalg.generic) followed by slm.linear, so that it runs
// on the contraction kernels; grouped and depthwise convolutions and the
// pools are one linalg.generic each over a padded input (tensor.pad); Resize
// and Pad with a run-time geometry are tensor.generate bodies. Extents that
// are only known at run time (batch, image size, run-time pads and sizes)
// flow as index values; what is known at import time stays static.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::slm::onnx_import;

namespace {

/// Index arithmetic on OpFoldResults: constants fold at import time, the
/// rest becomes arith ops on `index` values.
struct IndexMath {
  OpBuilder &b;
  Location loc;

  static std::optional<int64_t> known(OpFoldResult v) {
    return getConstantIntValue(v);
  }
  OpFoldResult c(int64_t v) { return b.getIndexAttr(v); }
  Value value(OpFoldResult v) {
    if (auto k = known(v))
      return arith::ConstantIndexOp::create(b, loc, *k);
    return cast<Value>(v);
  }
  OpFoldResult add(OpFoldResult x, OpFoldResult y) {
    auto kx = known(x), ky = known(y);
    if (kx && ky)
      return c(*kx + *ky);
    if (ky == 0)
      return x;
    if (kx == 0)
      return y;
    return arith::AddIOp::create(b, loc, value(x), value(y)).getResult();
  }
  OpFoldResult sub(OpFoldResult x, OpFoldResult y) {
    auto kx = known(x), ky = known(y);
    if (kx && ky)
      return c(*kx - *ky);
    if (ky == 0)
      return x;
    return arith::SubIOp::create(b, loc, value(x), value(y)).getResult();
  }
  OpFoldResult mul(OpFoldResult x, OpFoldResult y) {
    auto kx = known(x), ky = known(y);
    if (kx && ky)
      return c(*kx * *ky);
    if (ky == 1)
      return x;
    if (kx == 1)
      return y;
    return arith::MulIOp::create(b, loc, value(x), value(y)).getResult();
  }
  OpFoldResult floorDiv(OpFoldResult x, OpFoldResult y) {
    auto kx = known(x), ky = known(y);
    if (kx && ky)
      return c(llvm::divideFloorSigned(*kx, *ky));
    if (ky == 1)
      return x;
    return arith::FloorDivSIOp::create(b, loc, value(x), value(y)).getResult();
  }
  OpFoldResult ceilDiv(OpFoldResult x, OpFoldResult y) {
    auto kx = known(x), ky = known(y);
    if (kx && ky)
      return c(llvm::divideCeilSigned(*kx, *ky));
    if (ky == 1)
      return x;
    return arith::CeilDivSIOp::create(b, loc, value(x), value(y)).getResult();
  }
  OpFoldResult max(OpFoldResult x, OpFoldResult y) {
    auto kx = known(x), ky = known(y);
    if (kx && ky)
      return c(std::max(*kx, *ky));
    return arith::MaxSIOp::create(b, loc, value(x), value(y)).getResult();
  }
  OpFoldResult min(OpFoldResult x, OpFoldResult y) {
    auto kx = known(x), ky = known(y);
    if (kx && ky)
      return c(std::min(*kx, *ky));
    return arith::MinSIOp::create(b, loc, value(x), value(y)).getResult();
  }
  /// Extent `i` of `tensor`.
  OpFoldResult dim(Value tensor, int64_t i) {
    auto type = cast<RankedTensorType>(tensor.getType());
    if (!type.isDynamicDim(i))
      return c(type.getDimSize(i));
    return tensor::DimOp::create(b, loc, tensor, i).getResult();
  }
  SmallVector<OpFoldResult> shape(Value tensor) {
    SmallVector<OpFoldResult> dims;
    for (int64_t i = 0, e = cast<RankedTensorType>(tensor.getType()).getRank();
         i < e; ++i)
      dims.push_back(dim(tensor, i));
    return dims;
  }
  OpFoldResult product(ArrayRef<OpFoldResult> dims) {
    OpFoldResult p = c(1);
    for (OpFoldResult d : dims)
      p = mul(p, d);
    return p;
  }
};

} // namespace

/// Static extents of `dims` (kDynamic where only known at run time).
static SmallVector<int64_t> staticExtents(ArrayRef<OpFoldResult> dims) {
  SmallVector<int64_t> shape;
  for (OpFoldResult d : dims)
    shape.push_back(getConstantIntValue(d).value_or(ShapedType::kDynamic));
  return shape;
}

static void loadDialects(NodeContext &node) {
  node.context()->getOrLoadDialect<linalg::LinalgDialect>();
}

/// Row-major reshape of `x` to `dims`.
static Value reshapeTo(NodeContext &node, Value x,
                       ArrayRef<OpFoldResult> dims) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(x.getType());
  auto resultType =
      RankedTensorType::get(staticExtents(dims), type.getElementType());
  if (resultType == type && type.hasStaticShape())
    return x;
  Value shape;
  if (resultType.getNumDynamicDims() > 1) {
    IndexMath ix{b, loc};
    SmallVector<Value> values;
    for (OpFoldResult d : dims)
      values.push_back(ix.value(d));
    shape = tensor::FromElementsOp::create(
        b, loc,
        RankedTensorType::get({static_cast<int64_t>(dims.size())},
                              b.getIndexType()),
        values);
  }
  return mlir::slm::ReshapeOp::create(b, loc, resultType, x, shape);
}

static Value transposeTo(NodeContext &node, Value x, ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  return mlir::slm::TransposeOp::create(
      node.builder(), node.loc(),
      RankedTensorType::get(shape, type.getElementType()), x, perm);
}

/// A scalar constant of `type` (float or integer).
static Value scalar(OpBuilder &b, Location loc, Type type, double value) {
  if (auto f = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, FloatAttr::get(f, value));
  return arith::ConstantOp::create(
      b, loc, IntegerAttr::get(type, static_cast<int64_t>(value)));
}

/// The smallest value of `type` (the padding of max pooling).
static Value lowest(OpBuilder &b, Location loc, Type type, bool isUnsigned) {
  if (auto f = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(
        b, loc,
        FloatAttr::get(f, APFloat::getInf(f.getFloatSemantics(), true)));
  unsigned width = type.getIntOrFloatBitWidth();
  return arith::ConstantOp::create(
      b, loc,
      IntegerAttr::get(type, isUnsigned ? APInt::getZero(width)
                                        : APInt::getSignedMinValue(width)));
}

/// A tensor of `dims` filled with `value`.
static Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> dims,
                    Value value) {
  Value empty = tensor::EmptyOp::create(b, loc, dims, value.getType());
  return linalg::FillOp::create(b, loc, ValueRange{value}, ValueRange{empty})
      .getResult(0);
}

/// Pads the spatial dimensions (2..) of `x` with `value`; amounts may be
/// negative (a crop) when they are known at import time.
static FailureOr<Value> padSpatial(NodeContext &node, Value x,
                                   ArrayRef<OpFoldResult> before,
                                   ArrayRef<OpFoldResult> after, Value value) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath ix{b, loc};
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  int64_t spatial = before.size();
  SmallVector<OpFoldResult> low(rank, ix.c(0)), high(rank, ix.c(0));
  SmallVector<OpFoldResult> cropLow(rank, ix.c(0)), cropHigh(rank, ix.c(0));
  bool pads = false, crops = false;
  for (int64_t i = 0; i < spatial; ++i) {
    for (auto [amount, pad, crop] :
         {std::tuple{before[i], &low, &cropLow},
          std::tuple{after[i], &high, &cropHigh}}) {
      std::optional<int64_t> k = IndexMath::known(amount);
      if (k && *k < 0) {
        (*crop)[rank - spatial + i] = ix.c(-*k);
        crops = true;
      } else if (!k || *k > 0) {
        (*pad)[rank - spatial + i] = amount;
        pads = true;
      }
    }
  }
  if (crops) {
    SmallVector<OpFoldResult> offsets = cropLow, sizes, strides(rank, ix.c(1));
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(ix.sub(ix.sub(ix.dim(x, i), cropLow[i]), cropHigh[i]));
    for (OpFoldResult s : sizes)
      if (auto k = IndexMath::known(s); k && *k <= 0)
        return node.error("the padding crops the whole input");
    x = tensor::ExtractSliceOp::create(b, loc, x, offsets, sizes, strides);
  }
  if (!pads)
    return x;
  return tensor::PadOp::create(b, loc, Type(), x, low, high, value).getResult();
}

namespace {
/// The geometry of a sliding window over the spatial dimensions.
struct Window {
  SmallVector<int64_t> kernel, strides, dilations;
  SmallVector<OpFoldResult> padBegin, padEnd, outputs;
  /// Padding past `padEnd` that ceil_mode needs (not part of the image).
  SmallVector<OpFoldResult> extra;
};
} // namespace

/// Reads strides, dilations, pads and auto_pad of a Conv or pool node on
/// input `x` (spatial dimensions 2..) with `kernel`.
static FailureOr<Window> windowGeometry(NodeContext &node, Value x,
                                        ArrayRef<int64_t> kernel,
                                        bool ceilMode) {
  IndexMath ix{node.builder(), node.loc()};
  int64_t spatial = kernel.size();
  Window w;
  w.kernel.assign(kernel.begin(), kernel.end());
  w.strides = node.intsAttr("strides").value_or(SmallVector<int64_t>());
  w.dilations = node.intsAttr("dilations").value_or(SmallVector<int64_t>());
  if (w.strides.empty())
    w.strides.assign(spatial, 1);
  if (w.dilations.empty())
    w.dilations.assign(spatial, 1);
  if (static_cast<int64_t>(w.strides.size()) != spatial ||
      static_cast<int64_t>(w.dilations.size()) != spatial)
    return node.error("strides and dilations need one entry per spatial "
                      "dimension (" +
                      Twine(spatial) + ")");
  for (int64_t i = 0; i < spatial; ++i)
    if (w.strides[i] < 1 || w.dilations[i] < 1 || kernel[i] < 1)
      return node.error("kernel, strides and dilations must be positive");
  std::string autoPad = node.stringAttr("auto_pad", "NOTSET");
  SmallVector<int64_t> pads =
      node.intsAttr("pads").value_or(SmallVector<int64_t>());
  if (autoPad == "NOTSET") {
    if (pads.empty())
      pads.assign(2 * spatial, 0);
    if (static_cast<int64_t>(pads.size()) != 2 * spatial)
      return node.error("pads needs " + Twine(2 * spatial) + " entries");
    if (llvm::any_of(pads, [](int64_t p) { return p < 0; }))
      return node.error("negative pads");
  } else if (autoPad != "VALID" && autoPad != "SAME_UPPER" &&
             autoPad != "SAME_LOWER") {
    return node.error("unknown auto_pad '" + autoPad + "'");
  }
  for (int64_t i = 0; i < spatial; ++i) {
    OpFoldResult in = ix.dim(x, 2 + i);
    int64_t extent = (kernel[i] - 1) * w.dilations[i] + 1;
    OpFoldResult stride = ix.c(w.strides[i]);
    OpFoldResult begin = ix.c(0), end = ix.c(0), out, extra = ix.c(0);
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      out = ix.ceilDiv(in, stride);
      OpFoldResult total = ix.max(
          ix.c(0), ix.sub(ix.add(ix.mul(ix.sub(out, ix.c(1)), stride),
                                 ix.c(extent)),
                          in));
      OpFoldResult half = ix.floorDiv(total, ix.c(2));
      OpFoldResult rest = ix.sub(total, half);
      begin = autoPad == "SAME_UPPER" ? half : rest;
      end = autoPad == "SAME_UPPER" ? rest : half;
    } else {
      if (autoPad == "NOTSET") {
        begin = ix.c(pads[i]);
        end = ix.c(pads[spatial + i]);
      }
      OpFoldResult span = ix.sub(ix.add(ix.add(in, begin), end), ix.c(extent));
      if (auto k = IndexMath::known(span); k && *k < 0)
        return node.error("the window (extent " + Twine(extent) +
                          ") is larger than the padded input");
      if (ceilMode) {
        out = ix.add(ix.ceilDiv(span, stride), ix.c(1));
        // The last window must start inside the image or its front padding.
        OpFoldResult lastStart = ix.mul(ix.sub(out, ix.c(1)), stride);
        OpFoldResult limit = ix.add(in, begin);
        if (auto ls = IndexMath::known(lastStart), lm = IndexMath::known(limit);
            ls && lm) {
          if (*ls >= *lm)
            out = ix.sub(out, ix.c(1));
        } else {
          Value past = arith::CmpIOp::create(
              node.builder(), node.loc(), arith::CmpIPredicate::sge,
              ix.value(lastStart), ix.value(limit));
          out = arith::SelectOp::create(node.builder(), node.loc(), past,
                                        ix.value(ix.sub(out, ix.c(1))),
                                        ix.value(out))
                    .getResult();
        }
        extra = ix.max(ix.c(0), ix.sub(ix.add(ix.mul(ix.sub(out, ix.c(1)),
                                                     stride),
                                              ix.c(extent)),
                                       ix.add(ix.add(in, begin), end)));
      } else {
        out = ix.add(ix.floorDiv(span, stride), ix.c(1));
      }
    }
    w.padBegin.push_back(begin);
    w.padEnd.push_back(end);
    w.outputs.push_back(out);
    w.extra.push_back(extra);
  }
  return w;
}

//===----------------------------------------------------------------------===//
// Conv
//===----------------------------------------------------------------------===//

/// The convolution of an already padded `x` [N, C, S...] with `w`
/// [O, C/group, K...] (static): [N, O, floor((S - extent) / stride) + 1...].
/// `bias` [O] may be null.
static Value convolve(NodeContext &node, Value x, Value w, Value bias,
                      ArrayRef<int64_t> strides, ArrayRef<int64_t> dilations,
                      int64_t group) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  MLIRContext *ctx = b.getContext();
  IndexMath ix{b, loc};
  auto wType = cast<RankedTensorType>(w.getType());
  Type element = wType.getElementType();
  int64_t spatial = wType.getRank() - 2;
  int64_t outChannels = wType.getDimSize(0), groupChannels = wType.getDimSize(1);
  int64_t channels = groupChannels * group, groupOut = outChannels / group;
  SmallVector<int64_t> kernel(wType.getShape().drop_front(2));
  OpFoldResult n = ix.dim(x, 0);
  SmallVector<OpFoldResult> outs;
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
    outs.push_back(
        ix.add(ix.floorDiv(ix.sub(ix.dim(x, 2 + i), ix.c(extent)),
                           ix.c(strides[i])),
               ix.c(1)));
  }
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  Value y;
  if (group == 1) {
    // im2col: cols[n, o..., c, k...] = x[n, c, o * s + k * d ...], then
    // slm.linear of [N, P, C*K] with the weight [O, C*K] (the GEMM kernels'
    // constant B) and a transpose back to [N, O, o...].
    bool pointwise =
        llvm::all_of(kernel, [](int64_t k) { return k == 1; }) &&
        llvm::all_of(strides, [](int64_t s) { return s == 1; });
    int64_t patch = channels;
    for (int64_t k : kernel)
      patch *= k;
    Value cols;
    if (pointwise) {
      cols = reshapeTo(node, x, {n, ix.c(channels), ix.product(outs)});
      cols = transposeTo(node, cols, {0, 2, 1});
    } else {
      int64_t loops = 2 + 2 * spatial;
      SmallVector<AffineExpr> inExprs = {d(0), d(1 + spatial)};
      for (int64_t i = 0; i < spatial; ++i)
        inExprs.push_back(d(1 + i) * strides[i] +
                          d(2 + spatial + i) * dilations[i]);
      SmallVector<OpFoldResult> colShape = {n};
      colShape.append(outs.begin(), outs.end());
      colShape.push_back(ix.c(channels));
      for (int64_t k : kernel)
        colShape.push_back(ix.c(k));
      Value init = tensor::EmptyOp::create(b, loc, colShape, element);
      SmallVector<AffineMap> maps = {AffineMap::get(loops, 0, inExprs, ctx),
                                     AffineMap::getMultiDimIdentityMap(loops,
                                                                       ctx)};
      SmallVector<utils::IteratorType> iterators(loops,
                                                 utils::IteratorType::parallel);
      cols = linalg::GenericOp::create(
                 b, loc, TypeRange{init.getType()}, ValueRange{x},
                 ValueRange{init}, maps, iterators,
                 [](OpBuilder &nb, Location nl, ValueRange args) {
                   linalg::YieldOp::create(nb, nl, args[0]);
                 })
                 .getResult(0);
      cols = reshapeTo(node, cols, {n, ix.product(outs), ix.c(patch)});
    }
    Value weight = reshapeTo(node, w, {ix.c(outChannels), ix.c(patch)});
    auto colType = cast<RankedTensorType>(cols.getType());
    auto productType = RankedTensorType::get(
        {colType.getDimSize(0), colType.getDimSize(1), outChannels}, element);
    if (isa<FloatType>(element)) {
      y = mlir::slm::LinearOp::create(b, loc, productType, cols, weight,
                                      bias ? bias : Value());
    } else {
      // Integer (ConvInteger): [N, P, CK] x [CK, O].
      y = mlir::slm::MatMulOp::create(b, loc, productType, cols,
                                      transposeTo(node, weight, {1, 0}));
      if (bias)
        y = mlir::slm::AddOp::create(b, loc, productType, y, bias);
    }
    SmallVector<OpFoldResult> outShape = {n};
    outShape.append(outs.begin(), outs.end());
    outShape.push_back(ix.c(outChannels));
    y = reshapeTo(node, y, outShape);
    SmallVector<int64_t> perm = {0, spatial + 1};
    for (int64_t i = 0; i < spatial; ++i)
      perm.push_back(1 + i);
    return transposeTo(node, y, perm);
  }
  // Grouped (and depthwise): one generic over
  // (n, g, og, o..., cg, k...) += x[n, g, cg, o * s + k * d] * w[g, og, cg, k].
  SmallVector<OpFoldResult> xShape = {n, ix.c(group), ix.c(groupChannels)};
  for (int64_t i = 0; i < spatial; ++i)
    xShape.push_back(ix.dim(x, 2 + i));
  Value xg = reshapeTo(node, x, xShape);
  SmallVector<OpFoldResult> wShape = {ix.c(group), ix.c(groupOut),
                                      ix.c(groupChannels)};
  for (int64_t k : kernel)
    wShape.push_back(ix.c(k));
  Value wg = reshapeTo(node, w, wShape);
  int64_t loops = 4 + 2 * spatial;
  SmallVector<AffineExpr> xExprs = {d(0), d(1), d(3 + spatial)};
  SmallVector<AffineExpr> wExprs = {d(1), d(2), d(3 + spatial)};
  SmallVector<AffineExpr> yExprs = {d(0), d(1), d(2)};
  for (int64_t i = 0; i < spatial; ++i) {
    xExprs.push_back(d(3 + i) * strides[i] +
                     d(4 + spatial + i) * dilations[i]);
    wExprs.push_back(d(4 + spatial + i));
    yExprs.push_back(d(3 + i));
  }
  SmallVector<OpFoldResult> yShape = {n, ix.c(group), ix.c(groupOut)};
  yShape.append(outs.begin(), outs.end());
  Value init = filled(b, loc, yShape, scalar(b, loc, element, 0));
  SmallVector<utils::IteratorType> iterators(3 + spatial,
                                             utils::IteratorType::parallel);
  iterators.append(1 + spatial, utils::IteratorType::reduction);
  SmallVector<AffineMap> maps = {AffineMap::get(loops, 0, xExprs, ctx),
                                 AffineMap::get(loops, 0, wExprs, ctx),
                                 AffineMap::get(loops, 0, yExprs, ctx)};
  y = linalg::GenericOp::create(
          b, loc, TypeRange{init.getType()}, ValueRange{xg, wg},
          ValueRange{init}, maps, iterators,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value sum;
            if (isa<FloatType>(element))
              sum = arith::AddFOp::create(
                  nb, nl, args[2],
                  arith::MulFOp::create(nb, nl, args[0], args[1]));
            else
              sum = arith::AddIOp::create(
                  nb, nl, args[2],
                  arith::MulIOp::create(nb, nl, args[0], args[1]));
            linalg::YieldOp::create(nb, nl, ValueRange{sum});
          })
          .getResult(0);
  SmallVector<OpFoldResult> outShape = {n, ix.c(outChannels)};
  outShape.append(outs.begin(), outs.end());
  y = reshapeTo(node, y, outShape);
  if (bias) {
    SmallVector<OpFoldResult> biasShape = {ix.c(outChannels)};
    biasShape.append(spatial, ix.c(1));
    y = mlir::slm::AddOp::create(b, loc, y.getType(), y,
                                 reshapeTo(node, bias, biasShape));
  }
  return y;
}

/// Checks the weight of a Conv/ConvTranspose: static, rank of x, float.
static LogicalResult checkConvOperands(NodeContext &node, Value x, Value w) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  if (xType.getRank() < 3 || xType.getRank() > 5)
    return node.error("1-D, 2-D and 3-D convolutions are supported; the input "
                      "has rank " +
                      Twine(xType.getRank()));
  if (wType.getRank() != xType.getRank())
    return node.error("the weight's rank differs from the input's");
  if (!wType.hasStaticShape())
    return node.error("the weight's shape must be known at import time");
  if (!isa<FloatType>(xType.getElementType()) ||
      xType.getElementType() != wType.getElementType())
    return node.error("needs floating-point input and weight of one type");
  if (auto ks = node.intsAttr("kernel_shape")) {
    if (ArrayRef<int64_t>(*ks) != wType.getShape().drop_front(2))
      return node.error("kernel_shape differs from the weight's shape");
  }
  return success();
}

LogicalResult mlir::slm::onnx_import::importGeneralConv(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  loadDialects(node);
  Value x = node.input(0), w = node.input(1);
  if (failed(checkConvOperands(node, x, w)))
    return failure();
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  int64_t group = node.intAttr("group", 1);
  int64_t outChannels = wType.getDimSize(0);
  if (group < 1 || outChannels % group)
    return node.error("group " + Twine(group) +
                      " does not divide the output channels");
  int64_t channels = wType.getDimSize(1) * group;
  if (!xType.isDynamicDim(1) && xType.getDimSize(1) != channels)
    return node.error("the input has " + Twine(xType.getDimSize(1)) +
                      " channels, the weight expects " + Twine(channels));
  if (xType.isDynamicDim(1))
    x = tensor::CastOp::create(
        node.builder(), node.loc(),
        RankedTensorType::get(
            [&] {
              SmallVector<int64_t> s(xType.getShape());
              s[1] = channels;
              return s;
            }(),
            xType.getElementType()),
        x);
  FailureOr<Window> window = windowGeometry(
      node, x, SmallVector<int64_t>(wType.getShape().drop_front(2)), false);
  if (failed(window))
    return failure();
  Value zero = scalar(node.builder(), node.loc(), xType.getElementType(), 0);
  FailureOr<Value> padded =
      padSpatial(node, x, window->padBegin, window->padEnd, zero);
  if (failed(padded))
    return failure();
  Value bias = node.hasInput(2) ? node.input(2) : Value();
  if (bias && (cast<RankedTensorType>(bias.getType()).getRank() != 1 ||
               cast<RankedTensorType>(bias.getType()).getDimSize(0) !=
                   outChannels))
    return node.error("the bias must have one entry per output channel");
  node.setOutput(0, convolve(node, *padded, w, bias, window->strides,
                             window->dilations, group));
  return success();
}

/// ConvInteger: (x - x_zero_point) convolved with (w - w_zero_point) in
/// int32; the padding is zero after the zero point is taken off (as ONNX
/// Runtime pads with the zero point).
static LogicalResult importConvInteger(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  loadDialects(node);
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath ix{b, loc};
  auto widen = [&](int i) {
    return castElements(b, loc, node.input(i), node.inputInfo(i)->isUnsigned,
                        b.getI32Type(), false);
  };
  RankedTensorType xType = node.inputType(0), wType = node.inputType(1);
  if (!isa<IntegerType>(xType.getElementType()) ||
      !isa<IntegerType>(wType.getElementType()) ||
      xType.getElementType().getIntOrFloatBitWidth() != 8 ||
      wType.getElementType().getIntOrFloatBitWidth() != 8)
    return node.error("needs 8-bit integer input and weight");
  if (xType.getRank() < 3 || xType.getRank() > 5 ||
      wType.getRank() != xType.getRank() || !wType.hasStaticShape())
    return node.error("needs a 1-D, 2-D or 3-D convolution with a weight "
                      "shape known at import time");
  int64_t rank = xType.getRank();
  Value x = widen(0), w = widen(1);
  auto x32 = cast<RankedTensorType>(x.getType());
  auto w32 = cast<RankedTensorType>(w.getType());
  if (node.hasInput(2)) {
    Value zp = widen(2);
    if (cast<RankedTensorType>(zp.getType()).getNumElements() != 1)
      return node.error("x_zero_point must be a scalar");
    x = mlir::slm::SubOp::create(b, loc, x32, x, zp);
  }
  int64_t outChannels = wType.getDimSize(0);
  if (node.hasInput(3)) {
    Value zp = widen(3);
    auto zpType = cast<RankedTensorType>(zp.getType());
    if (zpType.getRank() == 1 && zpType.getDimSize(0) == outChannels &&
        outChannels != 1) {
      SmallVector<OpFoldResult> shape = {ix.c(outChannels)};
      shape.append(rank - 1, ix.c(1));
      zp = reshapeTo(node, zp, shape);
    } else if (zpType.getNumElements() != 1) {
      return node.error("w_zero_point must be a scalar or one per output "
                        "channel");
    }
    w = mlir::slm::SubOp::create(b, loc, w32, w, zp);
  }
  int64_t group = node.intAttr("group", 1);
  if (group < 1 || outChannels % group)
    return node.error("group " + Twine(group) +
                      " does not divide the output channels");
  int64_t channels = wType.getDimSize(1) * group;
  if (xType.isDynamicDim(1) || xType.getDimSize(1) != channels)
    return node.error("the input's channels must be known and match the "
                      "weight's");
  if (auto ks = node.intsAttr("kernel_shape");
      ks && ArrayRef<int64_t>(*ks) != wType.getShape().drop_front(2))
    return node.error("kernel_shape differs from the weight's shape");
  FailureOr<Window> window = windowGeometry(
      node, x, SmallVector<int64_t>(wType.getShape().drop_front(2)), false);
  if (failed(window))
    return failure();
  FailureOr<Value> padded =
      padSpatial(node, x, window->padBegin, window->padEnd,
                 scalar(b, loc, b.getI32Type(), 0));
  if (failed(padded))
    return failure();
  node.setOutput(0, convolve(node, *padded, w, Value(), window->strides,
                             window->dilations, group));
  return success();
}

//===----------------------------------------------------------------------===//
// ConvTranspose
//===----------------------------------------------------------------------===//

/// ConvTranspose as a convolution: the input spread out by the strides
/// (zeros between), padded by (K - 1) * d - pads, convolved with the flipped
/// kernel whose input and output channels are swapped within each group.
static LogicalResult importConvTranspose(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  loadDialects(node);
  Value x = node.input(0), w = node.input(1);
  if (failed(checkConvOperands(node, x, w)))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  MLIRContext *ctx = b.getContext();
  IndexMath ix{b, loc};
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  Type element = xType.getElementType();
  int64_t spatial = xType.getRank() - 2;
  int64_t group = node.intAttr("group", 1);
  int64_t channels = wType.getDimSize(0);
  if (group < 1 || channels % group)
    return node.error("group " + Twine(group) +
                      " does not divide the input channels");
  int64_t groupChannels = channels / group, groupOut = wType.getDimSize(1);
  int64_t outChannels = groupOut * group;
  if (!xType.isDynamicDim(1) && xType.getDimSize(1) != channels)
    return node.error("the input has " + Twine(xType.getDimSize(1)) +
                      " channels, the weight expects " + Twine(channels));
  SmallVector<int64_t> kernel(wType.getShape().drop_front(2));
  auto attrOr = [&](StringRef name, int64_t fill) {
    SmallVector<int64_t> v =
        node.intsAttr(name).value_or(SmallVector<int64_t>());
    if (v.empty())
      v.assign(spatial, fill);
    return v;
  };
  SmallVector<int64_t> strides = attrOr("strides", 1),
                       dilations = attrOr("dilations", 1),
                       outputPadding = attrOr("output_padding", 0);
  if (static_cast<int64_t>(strides.size()) != spatial ||
      static_cast<int64_t>(dilations.size()) != spatial ||
      static_cast<int64_t>(outputPadding.size()) != spatial)
    return node.error("strides, dilations and output_padding need one entry "
                      "per spatial dimension");
  for (int64_t i = 0; i < spatial; ++i)
    if (strides[i] < 1 || dilations[i] < 1 || outputPadding[i] < 0)
      return node.error("strides and dilations must be positive");
  std::string autoPad = node.stringAttr("auto_pad", "NOTSET");
  if (autoPad != "NOTSET" && autoPad != "VALID" && autoPad != "SAME_UPPER" &&
      autoPad != "SAME_LOWER")
    return node.error("unknown auto_pad '" + autoPad + "'");
  SmallVector<int64_t> pads = attrOr("pads", 0);
  if (autoPad == "NOTSET" && pads.size() == static_cast<size_t>(spatial))
    pads.append(spatial, 0);
  if (autoPad == "NOTSET" && pads.size() != static_cast<size_t>(2 * spatial))
    return node.error("pads needs " + Twine(2 * spatial) + " entries");
  std::optional<SmallVector<int64_t>> outputShape = node.intsAttr("output_shape");
  if (outputShape && outputShape->size() == static_cast<size_t>(spatial + 2))
    outputShape->erase(outputShape->begin(), outputShape->begin() + 2);
  if (outputShape && outputShape->size() != static_cast<size_t>(spatial))
    return node.error("output_shape needs one entry per spatial dimension");
  // Total padding per dimension, and how it splits.
  SmallVector<OpFoldResult> padBegin, padEnd;
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
    OpFoldResult in = ix.dim(x, 2 + i);
    // Full output: s * (in - 1) + output_padding + extent.
    OpFoldResult full =
        ix.add(ix.mul(ix.c(strides[i]), ix.sub(in, ix.c(1))),
               ix.c(outputPadding[i] + extent));
    if (outputShape || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      OpFoldResult target = outputShape ? ix.c((*outputShape)[i])
                                        : ix.mul(in, ix.c(strides[i]));
      OpFoldResult total = ix.sub(full, target);
      if (outputShape && !IndexMath::known(total))
        return node.error("output_shape with an input size known only at run "
                          "time is not supported");
      OpFoldResult half = ix.floorDiv(total, ix.c(2));
      OpFoldResult rest = ix.sub(total, half);
      // As the ONNX reference: SAME_UPPER puts the odd pad at the end;
      // SAME_LOWER and output_shape without auto_pad at the beginning. A
      // negative total (output_shape past the full output) pads the output.
      bool lower = autoPad != "SAME_UPPER";
      padBegin.push_back(lower ? rest : half);
      padEnd.push_back(lower ? half : rest);
    } else if (autoPad == "VALID") {
      padBegin.push_back(ix.c(0));
      padEnd.push_back(ix.c(0));
    } else {
      padBegin.push_back(ix.c(pads[i]));
      padEnd.push_back(ix.c(pads[spatial + i]));
    }
  }
  // Spread the input: xs[n, c, i * s] = x[n, c, i].
  Value zero = scalar(b, loc, element, 0);
  Value spread = x;
  if (llvm::any_of(strides, [](int64_t s) { return s != 1; })) {
    SmallVector<OpFoldResult> shape = {ix.dim(x, 0), ix.c(channels)};
    SmallVector<OpFoldResult> offsets(xType.getRank(), ix.c(0)), sizes,
        steps = {ix.c(1), ix.c(1)};
    sizes = {ix.dim(x, 0), ix.c(channels)};
    for (int64_t i = 0; i < spatial; ++i) {
      OpFoldResult in = ix.dim(x, 2 + i);
      shape.push_back(
          ix.add(ix.mul(ix.sub(in, ix.c(1)), ix.c(strides[i])), ix.c(1)));
      sizes.push_back(in);
      steps.push_back(ix.c(strides[i]));
    }
    Value dest = filled(b, loc, shape, zero);
    if (xType.isDynamicDim(1))
      x = tensor::CastOp::create(
          b, loc,
          RankedTensorType::get(
              [&] {
                SmallVector<int64_t> s(xType.getShape());
                s[1] = channels;
                return s;
              }(),
              element),
          x);
    spread = tensor::InsertSliceOp::create(b, loc, x, dest, offsets, sizes,
                                           steps);
  }
  SmallVector<OpFoldResult> before, after;
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t reach = (kernel[i] - 1) * dilations[i];
    before.push_back(ix.sub(ix.c(reach), padBegin[i]));
    after.push_back(
        ix.add(ix.sub(ix.c(reach), padEnd[i]), ix.c(outputPadding[i])));
  }
  FailureOr<Value> padded = padSpatial(node, spread, before, after, zero);
  if (failed(padded))
    return failure();
  // w'[g, og, cg, k] = w[g, cg, og, K - 1 - k], from w viewed [G, Cg, Og, K].
  SmallVector<OpFoldResult> viewShape = {ix.c(group), ix.c(groupChannels),
                                         ix.c(groupOut)};
  SmallVector<OpFoldResult> flippedShape = {ix.c(group), ix.c(groupOut),
                                            ix.c(groupChannels)};
  for (int64_t k : kernel) {
    viewShape.push_back(ix.c(k));
    flippedShape.push_back(ix.c(k));
  }
  Value view = reshapeTo(node, w, viewShape);
  int64_t loops = 3 + spatial;
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineExpr> inExprs = {d(0), d(2), d(1)};
  for (int64_t i = 0; i < spatial; ++i)
    inExprs.push_back(getAffineConstantExpr(kernel[i] - 1, ctx) - d(3 + i));
  Value flippedInit = tensor::EmptyOp::create(b, loc, flippedShape, element);
  Value flipped =
      linalg::GenericOp::create(
          b, loc, TypeRange{flippedInit.getType()}, ValueRange{view},
          ValueRange{flippedInit},
          SmallVector<AffineMap>{
              AffineMap::get(loops, 0, inExprs, ctx),
              AffineMap::getMultiDimIdentityMap(loops, ctx)},
          SmallVector<utils::IteratorType>(loops,
                                           utils::IteratorType::parallel),
          [](OpBuilder &nb, Location nl, ValueRange args) {
            linalg::YieldOp::create(nb, nl, args[0]);
          })
          .getResult(0);
  SmallVector<OpFoldResult> weightShape = {ix.c(outChannels),
                                           ix.c(groupChannels)};
  for (int64_t k : kernel)
    weightShape.push_back(ix.c(k));
  Value weight = reshapeTo(node, flipped, weightShape);
  Value bias = node.hasInput(2) ? node.input(2) : Value();
  if (bias && (cast<RankedTensorType>(bias.getType()).getRank() != 1 ||
               cast<RankedTensorType>(bias.getType()).getDimSize(0) !=
                   outChannels))
    return node.error("the bias must have one entry per output channel");
  SmallVector<int64_t> ones(spatial, 1);
  node.setOutput(0,
                 convolve(node, *padded, weight, bias, ones, dilations, group));
  return success();
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

namespace {
enum class PoolKind { Max, Average, Lp };
} // namespace

/// Sliding-window reduction over an already padded `x`:
/// out[n, c, o...] = combine over k of x[n, c, o * s + k * d].
/// With `indices` set, also the flat index (into the unpadded input of
/// spatial extents `sizes` and front pads `padBegin`) of each maximum.
static SmallVector<Value> poolWindow(NodeContext &node, PoolKind kind,
                                     Value x, const Window &w,
                                     bool isUnsigned, bool indices,
                                     bool columnMajor,
                                     ArrayRef<OpFoldResult> sizes) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  MLIRContext *ctx = b.getContext();
  IndexMath ix{b, loc};
  Type element = cast<RankedTensorType>(x.getType()).getElementType();
  int64_t spatial = w.kernel.size();
  int64_t loops = 2 + 2 * spatial;
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  SmallVector<AffineExpr> inExprs = {d(0), d(1)}, winExprs, outExprs = {d(0),
                                                                        d(1)};
  for (int64_t i = 0; i < spatial; ++i) {
    inExprs.push_back(d(2 + i) * w.strides[i] +
                      d(2 + spatial + i) * w.dilations[i]);
    winExprs.push_back(d(2 + spatial + i));
    outExprs.push_back(d(2 + i));
  }
  SmallVector<OpFoldResult> outShape = {ix.dim(x, 0), ix.dim(x, 1)};
  outShape.append(w.outputs.begin(), w.outputs.end());
  Value windowShape = tensor::EmptyOp::create(
      b, loc, SmallVector<OpFoldResult>(llvm::map_range(
                  w.kernel, [&](int64_t k) { return ix.c(k); })),
      element);
  Value init = kind == PoolKind::Max
                   ? lowest(b, loc, element, isUnsigned)
                   : scalar(b, loc, element, 0);
  SmallVector<Value> outputs = {filled(b, loc, outShape, init)};
  SmallVector<AffineMap> maps = {AffineMap::get(loops, 0, inExprs, ctx),
                                 AffineMap::get(loops, 0, winExprs, ctx),
                                 AffineMap::get(loops, 0, outExprs, ctx)};
  // Values the index computation needs, defined outside the body.
  SmallVector<Value> sizeValues, padValues;
  if (indices) {
    outputs.push_back(filled(b, loc, outShape,
                             scalar(b, loc, b.getI64Type(), 0)));
    maps.push_back(maps.back());
    for (int64_t i = 0; i < spatial; ++i) {
      sizeValues.push_back(ix.value(sizes[i]));
      padValues.push_back(ix.value(w.padBegin[i]));
    }
    sizeValues.insert(sizeValues.begin(), ix.value(ix.dim(x, 1)));
  }
  SmallVector<utils::IteratorType> iterators(2 + spatial,
                                             utils::IteratorType::parallel);
  iterators.append(spatial, utils::IteratorType::reduction);
  SmallVector<Type> types;
  for (Value o : outputs)
    types.push_back(o.getType());
  auto generic = linalg::GenericOp::create(
      b, loc, types, ValueRange{x, windowShape}, outputs, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value v = args[0], acc = args[2];
        if (kind != PoolKind::Max) {
          linalg::YieldOp::create(
              nb, nl,
              ValueRange{isa<FloatType>(element)
                             ? arith::AddFOp::create(nb, nl, acc, v)
                                   .getResult()
                             : arith::AddIOp::create(nb, nl, acc, v)
                                   .getResult()});
          return;
        }
        Value better;
        if (isa<FloatType>(element))
          better = arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OGT, v,
                                         acc);
        else
          better = arith::CmpIOp::create(nb, nl,
                                         isUnsigned ? arith::CmpIPredicate::ugt
                                                    : arith::CmpIPredicate::sgt,
                                         v, acc);
        SmallVector<Value> results = {
            arith::SelectOp::create(nb, nl, better, v, acc)};
        if (indices) {
          // Position in the unpadded input, then the flat index.
          SmallVector<Value> pos;
          for (int64_t i = 0; i < spatial; ++i) {
            Value o = linalg::IndexOp::create(nb, nl, 2 + i);
            Value k = linalg::IndexOp::create(nb, nl, 2 + spatial + i);
            Value p = arith::AddIOp::create(
                nb, nl,
                arith::MulIOp::create(
                    nb, nl, o,
                    arith::ConstantIndexOp::create(nb, nl, w.strides[i])),
                arith::MulIOp::create(
                    nb, nl, k,
                    arith::ConstantIndexOp::create(nb, nl, w.dilations[i])));
            pos.push_back(arith::SubIOp::create(nb, nl, p, padValues[i]));
          }
          // ((n * C + c) * S0 + p0) * S1 + p1 ... (row-major); column-major
          // spatial order for storage_order = 1.
          Value flat = arith::AddIOp::create(
              nb, nl,
              arith::MulIOp::create(nb, nl, linalg::IndexOp::create(nb, nl, 0),
                                    sizeValues[0]),
              linalg::IndexOp::create(nb, nl, 1));
          if (!columnMajor) {
            for (int64_t i = 0; i < spatial; ++i)
              flat = arith::AddIOp::create(
                  nb, nl, arith::MulIOp::create(nb, nl, flat, sizeValues[1 + i]),
                  pos[i]);
          } else {
            Value inner = arith::ConstantIndexOp::create(nb, nl, 0);
            Value stride = arith::ConstantIndexOp::create(nb, nl, 1);
            for (int64_t i = 0; i < spatial; ++i) {
              inner = arith::AddIOp::create(
                  nb, nl, inner, arith::MulIOp::create(nb, nl, pos[i], stride));
              stride = arith::MulIOp::create(nb, nl, stride, sizeValues[1 + i]);
            }
            flat = arith::AddIOp::create(
                nb, nl, arith::MulIOp::create(nb, nl, flat, stride), inner);
          }
          Value flat64 =
              arith::IndexCastOp::create(nb, nl, nb.getI64Type(), flat);
          results.push_back(
              arith::SelectOp::create(nb, nl, better, flat64, args[3]));
        }
        linalg::YieldOp::create(nb, nl, results);
      });
  return SmallVector<Value>(generic.getResults());
}

/// The kernel of a pool node (kernel_shape, required).
static FailureOr<SmallVector<int64_t>> poolKernel(NodeContext &node, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() < 3)
    return node.error("needs an input of rank >= 3 (N, C, spatial...)");
  std::optional<SmallVector<int64_t>> kernel = node.intsAttr("kernel_shape");
  if (!kernel || static_cast<int64_t>(kernel->size()) != type.getRank() - 2)
    return node.error("kernel_shape needs one entry per spatial dimension");
  return *kernel;
}

static LogicalResult importMaxPool(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  loadDialects(node);
  Value x = node.input(0);
  FailureOr<SmallVector<int64_t>> kernel = poolKernel(node, x);
  if (failed(kernel))
    return failure();
  FailureOr<Window> w =
      windowGeometry(node, x, *kernel, node.intAttr("ceil_mode", 0) != 0);
  if (failed(w))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath ix{b, loc};
  Type element = cast<RankedTensorType>(x.getType()).getElementType();
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  SmallVector<OpFoldResult> ends, sizes;
  for (size_t i = 0; i < kernel->size(); ++i) {
    ends.push_back(ix.add(w->padEnd[i], w->extra[i]));
    sizes.push_back(ix.dim(x, 2 + i));
  }
  FailureOr<Value> padded = padSpatial(node, x, w->padBegin, ends,
                                       lowest(b, loc, element, isUnsigned));
  if (failed(padded))
    return failure();
  int64_t storageOrder = node.intAttr("storage_order", 0);
  if (storageOrder != 0 && storageOrder != 1)
    return node.error("storage_order must be 0 or 1");
  SmallVector<Value> results =
      poolWindow(node, PoolKind::Max, *padded, *w, isUnsigned,
                 node.hasOutput(1), storageOrder == 1, sizes);
  node.setOutput(0, results[0], isUnsigned);
  if (node.hasOutput(1))
    node.setOutput(1, results[1], /*isUnsigned=*/false);
  return success();
}

/// AveragePool and LpPool: a sum over the window, then the divisor (or the
/// p-th root).
template <PoolKind kind>
static LogicalResult importSumPool(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  loadDialects(node);
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return node.error("needs a floating-point input");
  FailureOr<SmallVector<int64_t>> kernel = poolKernel(node, x);
  if (failed(kernel))
    return failure();
  FailureOr<Window> w =
      windowGeometry(node, x, *kernel, node.intAttr("ceil_mode", 0) != 0);
  if (failed(w))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath ix{b, loc};
  int64_t spatial = kernel->size();
  double p = 2;
  if (kind == PoolKind::Lp) {
    // p is an int attribute (a float before opset 2).
    const onnx::AttributeProto *attr = node.attribute("p");
    if (attr)
      p = attr->type() == onnx::AttributeProto::FLOAT ? attr->f() : attr->i();
    if (p <= 0)
      return node.error("p must be positive");
    if (p == 1)
      x = math::AbsFOp::create(b, loc, x);
    else if (p == 2)
      x = arith::MulFOp::create(b, loc, x, x);
    else
      x = mlir::slm::PowOp::create(b, loc, type,
                                   math::AbsFOp::create(b, loc, x),
                                   scalarConstant(node, element, p));
  }
  SmallVector<OpFoldResult> ends;
  for (int64_t i = 0; i < spatial; ++i)
    ends.push_back(ix.add(w->padEnd[i], w->extra[i]));
  FailureOr<Value> padded = padSpatial(node, x, w->padBegin, ends,
                                       scalar(b, loc, element, 0));
  if (failed(padded))
    return failure();
  Value sum = poolWindow(node, kind, *padded, *w, false, false, false, {})[0];
  auto sumType = cast<RankedTensorType>(sum.getType());
  if (kind == PoolKind::Lp) {
    if (p == 1) {
      node.setOutput(0, sum);
    } else if (p == 2) {
      node.setOutput(0, math::SqrtOp::create(b, loc, sum));
    } else {
      node.setOutput(0, mlir::slm::PowOp::create(
                            b, loc, sumType, sum,
                            scalarConstant(node, element, 1.0 / p)));
    }
    return success();
  }
  bool includePad = node.intAttr("count_include_pad", 0) != 0;
  bool noExtra = llvm::all_of(
      w->extra, [](OpFoldResult e) { return IndexMath::known(e) == 0; });
  bool noPads = llvm::all_of(w->padBegin,
                             [](OpFoldResult e) {
                               return IndexMath::known(e) == 0;
                             }) &&
                llvm::all_of(w->padEnd, [](OpFoldResult e) {
                  return IndexMath::known(e) == 0;
                });
  if (noExtra && (includePad || noPads)) {
    int64_t count = 1;
    for (int64_t k : *kernel)
      count *= k;
    node.setOutput(0, mlir::slm::DivOp::create(
                          b, loc, sumType, sum,
                          scalarConstant(node, element, count)));
    return success();
  }
  // The divisor per output position: how many window taps fall inside the
  // image (or inside image + pads with count_include_pad).
  SmallVector<Value> lo, hi, dynamicSizes;
  for (int64_t i = 0; i < spatial; ++i) {
    OpFoldResult in = ix.dim(x, 2 + i);
    lo.push_back(ix.value(includePad ? ix.sub(ix.c(0), w->padBegin[i])
                                     : ix.c(0)));
    hi.push_back(ix.value(includePad ? ix.add(in, w->padEnd[i]) : in));
    hi.back() = ix.value(ix.sub(hi.back(), ix.c(1)));
    if (!IndexMath::known(w->outputs[i]))
      dynamicSizes.push_back(ix.value(w->outputs[i]));
  }
  SmallVector<Value> begins;
  for (int64_t i = 0; i < spatial; ++i)
    begins.push_back(ix.value(w->padBegin[i]));
  auto countType =
      RankedTensorType::get(staticExtents(w->outputs), element);
  auto generate = tensor::GenerateOp::create(b, loc, countType, dynamicSizes);
  {
    OpBuilder::InsertionGuard guard(b);
    SmallVector<Type> argTypes(spatial, b.getIndexType());
    SmallVector<Location> argLocs(spatial, loc);
    Block *body = b.createBlock(&generate.getBody(), {}, argTypes, argLocs);
    Value count = arith::ConstantIndexOp::create(b, loc, 1);
    for (int64_t i = 0; i < spatial; ++i) {
      // Taps k in [0, K) with lo <= start + k * d <= hi, start = o * s - pb.
      Value start = arith::SubIOp::create(
          b, loc,
          arith::MulIOp::create(
              b, loc, body->getArgument(i),
              arith::ConstantIndexOp::create(b, loc, w->strides[i])),
          begins[i]);
      Value dil = arith::ConstantIndexOp::create(b, loc, w->dilations[i]);
      Value first = arith::MaxSIOp::create(
          b, loc, arith::ConstantIndexOp::create(b, loc, 0),
          arith::CeilDivSIOp::create(
              b, loc, arith::SubIOp::create(b, loc, lo[i], start), dil));
      Value last = arith::MinSIOp::create(
          b, loc, arith::ConstantIndexOp::create(b, loc, (*kernel)[i] - 1),
          arith::FloorDivSIOp::create(
              b, loc, arith::SubIOp::create(b, loc, hi[i], start), dil));
      Value taps = arith::MaxSIOp::create(
          b, loc, arith::ConstantIndexOp::create(b, loc, 0),
          arith::AddIOp::create(
              b, loc, arith::SubIOp::create(b, loc, last, first),
              arith::ConstantIndexOp::create(b, loc, 1)));
      count = arith::MulIOp::create(b, loc, count, taps);
    }
    Value asInt = arith::IndexCastOp::create(b, loc, b.getI64Type(), count);
    Value asFloat = arith::SIToFPOp::create(b, loc, element, asInt);
    tensor::YieldOp::create(b, loc, asFloat);
  }
  node.setOutput(0, mlir::slm::DivOp::create(b, loc, sumType, sum, generate));
  return success();
}

/// GlobalAveragePool, GlobalMaxPool, GlobalLpPool: reductions over all
/// spatial dimensions, kept as size 1.
template <PoolKind kind>
static LogicalResult importGlobalPool(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() < 3)
    return node.error("needs an input of rank >= 3 (N, C, spatial...)");
  Type element = type.getElementType();
  if (kind != PoolKind::Max && !isa<FloatType>(element))
    return node.error("needs a floating-point input");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  SmallVector<int64_t> axes, shape(type.getShape());
  for (int64_t i = 2; i < type.getRank(); ++i) {
    axes.push_back(i);
    shape[i] = 1;
  }
  auto resultType = RankedTensorType::get(shape, element);
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  if (kind == PoolKind::Max) {
    if (isUnsigned)
      return node.error("unsigned integer inputs are not supported");
    node.setOutput(0, mlir::slm::ReduceOp::create(b, loc, resultType,
                                                  mlir::slm::ReduceKind::max,
                                                  x, axes, true));
    return success();
  }
  if (kind == PoolKind::Average) {
    node.setOutput(0, mlir::slm::ReduceOp::create(b, loc, resultType,
                                                  mlir::slm::ReduceKind::mean,
                                                  x, axes, true));
    return success();
  }
  const onnx::AttributeProto *attr = node.attribute("p");
  double p = attr ? (attr->type() == onnx::AttributeProto::FLOAT ? attr->f()
                                                                 : attr->i())
                  : 2.0;
  if (p <= 0)
    return node.error("p must be positive");
  Value powered = mlir::slm::PowOp::create(
      b, loc, type, math::AbsFOp::create(b, loc, x),
      scalarConstant(node, element, p));
  Value sum = mlir::slm::ReduceOp::create(
      b, loc, resultType, mlir::slm::ReduceKind::sum, powered, axes, true);
  node.setOutput(0, mlir::slm::PowOp::create(
                        b, loc, resultType, sum,
                        scalarConstant(node, element, 1.0 / p)));
  return success();
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

/// The float contents of a constant (dense or an f32/f64 resource blob).
static std::optional<SmallVector<double>> floatValues(ElementsAttr attr) {
  if (!attr)
    return std::nullopt;
  SmallVector<double> out;
  if (auto dense = dyn_cast<DenseFPElementsAttr>(attr)) {
    for (APFloat v : dense.getValues<APFloat>()) {
      bool lost;
      v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      out.push_back(v.convertToDouble());
    }
    return out;
  }
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    ArrayRef<char> data = blob->getData();
    Type element = resource.getType().getElementType();
    int64_t count = resource.getType().getNumElements();
    if (element.isF32() && data.size() == count * sizeof(float)) {
      for (int64_t i = 0; i < count; ++i) {
        float v;
        std::memcpy(&v, data.data() + i * sizeof(float), sizeof(float));
        out.push_back(v);
      }
      return out;
    }
    if (element.isF64() && data.size() == count * sizeof(double)) {
      for (int64_t i = 0; i < count; ++i) {
        double v;
        std::memcpy(&v, data.data() + i * sizeof(double), sizeof(double));
        out.push_back(v);
      }
      return out;
    }
  }
  return std::nullopt;
}

/// A per-channel vector [C] reshaped to [C, 1, ...] for an input of `rank`.
static Value channelColumn(NodeContext &node, Value v, int64_t rank) {
  IndexMath ix{node.builder(), node.loc()};
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() != 1)
    return v;
  SmallVector<OpFoldResult> shape = {ix.dim(v, 0)};
  shape.append(rank - 2, ix.c(1));
  return reshapeTo(node, v, shape);
}

/// (x - mean) / sqrt(var + epsilon), the statistics already shaped to
/// broadcast against `x`.
static Value normalize(NodeContext &node, Value x, Value mean, Value var,
                       double epsilon) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  auto varType = cast<RankedTensorType>(var.getType());
  Value denom = math::SqrtOp::create(
      b, loc,
      mlir::slm::AddOp::create(b, loc, varType, var,
                               scalarConstant(node, element, epsilon)));
  Value centered = mlir::slm::SubOp::create(b, loc, type, x, mean);
  return mlir::slm::DivOp::create(b, loc, type, centered, denom);
}

/// A float constant of `type` holding `values` (a resource when large, as
/// the importer stores weights).
static Value floatConstant(NodeContext &node, RankedTensorType type,
                           ArrayRef<double> values) {
  auto floatType = cast<FloatType>(type.getElementType());
  if (floatType.isF32() && type.getNumElements() > 4096) {
    std::vector<float> data(values.begin(), values.end());
    ArrayRef<char> bytes(reinterpret_cast<const char *>(data.data()),
                         data.size() * sizeof(float));
    return node.importer().constant(
        node.loc(), DenseResourceElementsAttr::get(
                        type, "folded_batch_norm",
                        HeapAsmResourceBlob::allocateAndCopyWithAlign(
                            bytes, alignof(float))));
  }
  SmallVector<APFloat> elements;
  for (double v : values) {
    APFloat f(v);
    bool lost;
    f.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
              &lost);
    elements.push_back(f);
  }
  return node.importer().constant(
      node.loc(), DenseElementsAttr::get(type, ArrayRef<APFloat>(elements)));
}

/// The constant weight [O, ...] behind `weight` (an slm.reshape of a
/// constant) and its values.
static std::optional<std::pair<mlir::slm::ReshapeOp, SmallVector<double>>>
reshapedConstant(Value weight) {
  auto reshape = weight.getDefiningOp<mlir::slm::ReshapeOp>();
  if (!reshape)
    return std::nullopt;
  ElementsAttr attr;
  if (!matchPattern(reshape.getInput(), m_Constant(&attr)))
    return std::nullopt;
  std::optional<SmallVector<double>> values = floatValues(attr);
  if (!values)
    return std::nullopt;
  return std::make_pair(reshape, std::move(*values));
}

/// The values of an optional bias operand (an slm.reshape of a constant
/// [O]); zeros when `bias` is null.
static std::optional<SmallVector<double>> biasValues(Value bias,
                                                     int64_t outChannels) {
  if (!bias)
    return SmallVector<double>(outChannels, 0.0);
  auto values = reshapedConstant(bias);
  if (!values || static_cast<int64_t>(values->second.size()) != outChannels)
    return std::nullopt;
  return values->second;
}

/// Folds y = x * s + t (per channel of axis 1) into the convolution that
/// produced `x` when its weight and bias are constants: the weight rows are
/// scaled by s and the bias becomes b * s + t. Returns the new convolution's
/// result, or null when `x` is not such a convolution.
static Value foldIntoConv(NodeContext &node, Value x, ArrayRef<double> s,
                          ArrayRef<double> t) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  int64_t outChannels = s.size();
  auto xType = cast<RankedTensorType>(x.getType());
  if (xType.getRank() < 3 || xType.getDimSize(1) != outChannels)
    return {};
  auto scaleRows = [&](ArrayRef<double> w) {
    SmallVector<double> scaled(w);
    int64_t row = w.size() / outChannels;
    for (int64_t o = 0; o < outChannels; ++o)
      for (int64_t i = 0; i < row; ++i)
        scaled[o * row + i] *= s[o];
    return scaled;
  };
  auto newBias = [&](ArrayRef<double> old) {
    SmallVector<double> out;
    for (int64_t o = 0; o < outChannels; ++o)
      out.push_back(old[o] * s[o] + t[o]);
    return out;
  };
  auto newWeight = [&](mlir::slm::ReshapeOp reshape, ArrayRef<double> w) {
    auto weightType = cast<RankedTensorType>(reshape.getInput().getType());
    Value c = floatConstant(node, weightType, scaleRows(w));
    return mlir::slm::ReshapeOp::create(b, loc, reshape.getType(), c,
                                        reshape.getShape())
        .getResult();
  };
  Type element = xType.getElementType();
  // One group: transpose(reshape(linear(cols, reshape(W), B))).
  if (auto transpose = x.getDefiningOp<mlir::slm::TransposeOp>()) {
    auto outReshape =
        transpose.getInput().getDefiningOp<mlir::slm::ReshapeOp>();
    auto linear = outReshape
                      ? outReshape.getInput().getDefiningOp<mlir::slm::LinearOp>()
                      : mlir::slm::LinearOp();
    if (!linear)
      return {};
    auto weight = reshapedConstant(linear.getWeight());
    Value bias = linear.getBias();
    std::optional<SmallVector<double>> oldBias;
    if (!bias) {
      oldBias = SmallVector<double>(outChannels, 0.0);
    } else {
      ElementsAttr attr;
      if (matchPattern(bias, m_Constant(&attr)))
        oldBias = floatValues(attr);
    }
    auto perm = transpose.getPermutation();
    if (!weight || !oldBias ||
        static_cast<int64_t>(oldBias->size()) != outChannels ||
        perm.size() < 2 || perm[1] != static_cast<int64_t>(perm.size()) - 1 ||
        cast<RankedTensorType>(linear.getType()).getShape().back() !=
            outChannels)
      return {};
    Value w = newWeight(weight->first, weight->second);
    Value newB = floatConstant(
        node, RankedTensorType::get({outChannels}, element), newBias(*oldBias));
    Value y = mlir::slm::LinearOp::create(b, loc, linear.getType(),
                                          linear.getInput(), w, newB);
    y = mlir::slm::ReshapeOp::create(b, loc, outReshape.getType(), y,
                                     outReshape.getShape());
    return mlir::slm::TransposeOp::create(b, loc, xType, y, perm);
  }
  // Groups: add(reshape(generic(xg, reshape(W))), reshape(B)).
  Value inner = x, bias;
  if (auto add = x.getDefiningOp<mlir::slm::AddOp>()) {
    inner = add.getLhs();
    bias = add.getRhs();
  }
  auto outReshape = inner.getDefiningOp<mlir::slm::ReshapeOp>();
  if (!outReshape)
    return {};
  auto generic = outReshape.getInput().getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 2 || generic->getNumResults() != 1)
    return {};
  auto weight = reshapedConstant(generic.getDpsInputs()[1]);
  std::optional<SmallVector<double>> oldBias = biasValues(bias, outChannels);
  if (!weight || !oldBias ||
      cast<RankedTensorType>(weight->first.getInput().getType())
              .getDimSize(0) != outChannels)
    return {};
  IRMapping mapping;
  mapping.map(generic.getDpsInputs()[1],
              newWeight(weight->first, weight->second));
  Operation *clone = b.clone(*generic, mapping);
  Value y = mlir::slm::ReshapeOp::create(b, loc, outReshape.getType(),
                                         clone->getResult(0),
                                         outReshape.getShape());
  SmallVector<int64_t> biasShape(xType.getRank() - 1, 1);
  biasShape[0] = outChannels;
  Value column = floatConstant(node, RankedTensorType::get(biasShape, element),
                               newBias(*oldBias));
  return mlir::slm::AddOp::create(b, loc, xType, y, column);
}

static LogicalResult importBatchNorm(NodeContext &node) {
  if (failed(requireInputs(node, 5)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  int64_t rank = type.getRank();
  if (rank < 2 || !isa<FloatType>(element))
    return node.error("needs a floating-point input of rank >= 2");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  double epsilon = node.floatAttr("epsilon", 1e-5f);
  bool training = node.opset() >= 14 && node.intAttr("training_mode", 0);
  if (node.opset() < 9 && !node.intAttr("spatial", 1))
    return node.error("spatial = 0 (statistics per element) is not supported");
  // Parameters in their own element type (opset 15 allows another float
  // type for scale/bias and for mean/var): compute in the input's.
  SmallVector<Value> params;
  for (int i = 1; i <= 4; ++i) {
    Value p = node.input(i);
    auto pType = cast<RankedTensorType>(p.getType());
    if (pType.getRank() != 1)
      return node.error("scale, bias, mean and var must be 1-D");
    if (!type.isDynamicDim(1) && !pType.isDynamicDim(0) &&
        pType.getDimSize(0) != type.getDimSize(1))
      return node.error("the parameters need one entry per channel");
    if (pType.getElementType() != element) {
      if (!isa<FloatType>(pType.getElementType()))
        return node.error("the parameters must be floating point");
      p = castElements(b, loc, p, false, element, false);
    }
    params.push_back(p);
  }
  if (training) {
    // Statistics of this batch; the running statistics are updated with
    // momentum (population variance, as the ONNX reference).
    double momentum = node.floatAttr("momentum", 0.9f);
    SmallVector<int64_t> axes = {0}, statShape(type.getShape());
    statShape[0] = 1;
    for (int64_t i = 2; i < rank; ++i) {
      axes.push_back(i);
      statShape[i] = 1;
    }
    auto statType = RankedTensorType::get(statShape, element);
    Value mean = mlir::slm::ReduceOp::create(
        b, loc, statType, mlir::slm::ReduceKind::mean, x, axes, true);
    Value centered = mlir::slm::SubOp::create(b, loc, type, x, mean);
    Value var = mlir::slm::ReduceOp::create(
        b, loc, statType, mlir::slm::ReduceKind::mean,
        mlir::slm::MulOp::create(b, loc, type, centered, centered), axes,
        true);
    Value y = normalize(node, x, mean, var, epsilon);
    y = mlir::slm::MulOp::create(b, loc, type, y,
                                 channelColumn(node, params[0], rank));
    y = mlir::slm::AddOp::create(b, loc, type, y,
                                 channelColumn(node, params[1], rank));
    node.setOutput(0, y);
    IndexMath ix{b, loc};
    auto flat = [&](Value s) { return reshapeTo(node, s, {ix.dim(s, 1)}); };
    auto update = [&](Value running, Value current) {
      auto t = cast<RankedTensorType>(running.getType());
      Value kept = mlir::slm::MulOp::create(
          b, loc, t, running, scalarConstant(node, element, momentum));
      Value added = mlir::slm::MulOp::create(
          b, loc, t, current, scalarConstant(node, element, 1 - momentum));
      return mlir::slm::AddOp::create(b, loc, t, kept, added).getResult();
    };
    Value flatMean = flat(mean), flatVar = flat(var);
    auto meanType = cast<RankedTensorType>(params[2].getType());
    flatMean = tensor::CastOp::create(b, loc, meanType, flatMean);
    flatVar = tensor::CastOp::create(b, loc, meanType, flatVar);
    node.setOutput(1, update(params[2], flatMean));
    node.setOutput(2, update(params[3], flatVar));
    return success();
  }
  // Inference. With constant parameters: y = x * s + t, s and t folded now.
  std::optional<SmallVector<double>> scale =
      floatValues(node.constantInput(1));
  std::optional<SmallVector<double>> bias = floatValues(node.constantInput(2));
  std::optional<SmallVector<double>> mean = floatValues(node.constantInput(3));
  std::optional<SmallVector<double>> var = floatValues(node.constantInput(4));
  if (scale && bias && mean && var && scale->size() == bias->size() &&
      scale->size() == mean->size() && scale->size() == var->size()) {
    int64_t c = scale->size();
    SmallVector<double> sd, td;
    for (int64_t i = 0; i < c; ++i) {
      sd.push_back((*scale)[i] / std::sqrt((*var)[i] + epsilon));
      td.push_back((*bias)[i] - (*mean)[i] * sd.back());
    }
    if (Value folded = foldIntoConv(node, x, sd, td)) {
      node.setOutput(0, folded);
      return success();
    }
    SmallVector<int64_t> shape = {c};
    shape.append(rank - 2, 1);
    auto columnType = RankedTensorType::get(shape, element);
    SmallVector<APFloat> s, t;
    const llvm::fltSemantics &sem = cast<FloatType>(element).getFloatSemantics();
    for (int64_t i = 0; i < c; ++i) {
      double si = (*scale)[i] / std::sqrt((*var)[i] + epsilon);
      double ti = (*bias)[i] - (*mean)[i] * si;
      bool lost;
      APFloat sv(si), tv(ti);
      sv.convert(sem, APFloat::rmNearestTiesToEven, &lost);
      tv.convert(sem, APFloat::rmNearestTiesToEven, &lost);
      s.push_back(sv);
      t.push_back(tv);
    }
    Value sc = node.importer().constant(
        loc, DenseElementsAttr::get(columnType, ArrayRef<APFloat>(s)));
    Value tc = node.importer().constant(
        loc, DenseElementsAttr::get(columnType, ArrayRef<APFloat>(t)));
    Value y = mlir::slm::MulOp::create(b, loc, type, x, sc);
    node.setOutput(0, mlir::slm::AddOp::create(b, loc, type, y, tc));
    return success();
  }
  Value y = normalize(node, x, channelColumn(node, params[2], rank),
                      channelColumn(node, params[3], rank), epsilon);
  y = mlir::slm::MulOp::create(b, loc, type, y,
                               channelColumn(node, params[0], rank));
  node.setOutput(0, mlir::slm::AddOp::create(
                        b, loc, type, y, channelColumn(node, params[1], rank)));
  return success();
}

/// Mean and (population) variance of `x` over `axes`, kept as size 1.
static std::pair<Value, Value> moments(NodeContext &node, Value x,
                                       ArrayRef<int64_t> axes) {
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> statShape(type.getShape());
  for (int64_t a : axes)
    statShape[a] = 1;
  auto statType = RankedTensorType::get(statShape, type.getElementType());
  Value mean = mlir::slm::ReduceOp::create(
      b, loc, statType, mlir::slm::ReduceKind::mean, x, axes, true);
  Value centered = mlir::slm::SubOp::create(b, loc, type, x, mean);
  Value var = mlir::slm::ReduceOp::create(
      b, loc, statType, mlir::slm::ReduceKind::mean,
      mlir::slm::MulOp::create(b, loc, type, centered, centered), axes, true);
  return {mean, var};
}

static LogicalResult importInstanceNorm(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  if (rank < 3 || !isa<FloatType>(type.getElementType()))
    return node.error("needs a floating-point input of rank >= 3");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  SmallVector<int64_t> axes;
  for (int64_t i = 2; i < rank; ++i)
    axes.push_back(i);
  auto [mean, var] = moments(node, x, axes);
  Value y = normalize(node, x, mean, var, node.floatAttr("epsilon", 1e-5f));
  y = mlir::slm::MulOp::create(b, loc, type, y,
                               channelColumn(node, node.input(1), rank));
  node.setOutput(0, mlir::slm::AddOp::create(
                        b, loc, type, y,
                        channelColumn(node, node.input(2), rank)));
  return success();
}

/// GroupNormalization: statistics over (C / G) channels x spatial; scale and
/// bias per group (opset 18) or per channel (opset 21).
static LogicalResult importGroupNorm(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  if (rank < 3 || !isa<FloatType>(type.getElementType()))
    return node.error("needs a floating-point input of rank >= 3");
  int64_t groups = node.intAttr("num_groups", 0);
  int64_t channels = type.getDimSize(1);
  if (ShapedType::isDynamic(channels))
    return node.error("the channel count must be known at import time");
  if (groups < 1 || channels % groups)
    return node.error("num_groups must divide the channel count");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath ix{b, loc};
  Type element = type.getElementType();
  SmallVector<OpFoldResult> shape = ix.shape(x);
  SmallVector<OpFoldResult> grouped = {shape[0], ix.c(groups),
                                       ix.c(channels / groups)};
  grouped.append(shape.begin() + 2, shape.end());
  Value xg = reshapeTo(node, x, grouped);
  SmallVector<int64_t> axes;
  for (int64_t i = 2; i < rank + 1; ++i)
    axes.push_back(i);
  auto [mean, var] = moments(node, xg, axes);
  Value y = normalize(node, xg, mean, var, node.floatAttr("epsilon", 1e-5f));
  y = reshapeTo(node, y, shape);
  auto perChannel = [&](Value p) -> FailureOr<Value> {
    auto pType = cast<RankedTensorType>(p.getType());
    if (pType.getRank() != 1)
      return node.error("scale and bias must be 1-D");
    if (pType.getElementType() != element)
      p = castElements(b, loc, p, false, element, false);
    int64_t want = node.opset() >= 21 ? channels : groups;
    if (pType.getDimSize(0) != want) {
      // Opset-18 models that already give one entry per channel.
      if (pType.getDimSize(0) != channels)
        return node.error("scale and bias need " + Twine(want) + " entries");
      return channelColumn(node, p, rank);
    }
    if (want == groups && groups != channels) {
      p = reshapeTo(node, p, {ix.c(groups), ix.c(1)});
      p = mlir::slm::BroadcastToOp::create(
          b, loc,
          RankedTensorType::get({groups, channels / groups}, element), p,
          Value());
      p = reshapeTo(node, p, {ix.c(channels)});
    }
    return channelColumn(node, p, rank);
  };
  FailureOr<Value> scale = perChannel(node.input(1));
  FailureOr<Value> bias = perChannel(node.input(2));
  if (failed(scale) || failed(bias))
    return failure();
  y = mlir::slm::MulOp::create(b, loc, y.getType(), y, *scale);
  node.setOutput(0, mlir::slm::AddOp::create(b, loc, y.getType(), y, *bias));
  return success();
}

//===----------------------------------------------------------------------===//
// DepthToSpace, SpaceToDepth
//===----------------------------------------------------------------------===//

static LogicalResult importDepthToSpace(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t bs = node.intAttr("blocksize", 0);
  if (type.getRank() != 4 || bs < 1)
    return node.error("needs a 4-D input and a positive blocksize");
  int64_t c = type.getDimSize(1);
  if (ShapedType::isDynamic(c) || c % (bs * bs))
    return node.error("the channel count must be a known multiple of "
                      "blocksize^2");
  IndexMath ix{node.builder(), node.loc()};
  OpFoldResult n = ix.dim(x, 0), h = ix.dim(x, 2), w = ix.dim(x, 3);
  OpFoldResult bo = ix.c(bs), co = ix.c(c / (bs * bs));
  std::string mode = node.stringAttr("mode", "DCR");
  Value t;
  if (mode == "DCR") {
    t = reshapeTo(node, x, {n, bo, bo, co, h, w});
    t = transposeTo(node, t, {0, 3, 4, 1, 5, 2});
  } else if (mode == "CRD") {
    t = reshapeTo(node, x, {n, co, bo, bo, h, w});
    t = transposeTo(node, t, {0, 1, 4, 2, 5, 3});
  } else {
    return node.error("unknown mode '" + mode + "'");
  }
  node.setOutput(0, reshapeTo(node, t, {n, co, ix.mul(h, bo), ix.mul(w, bo)}),
                 node.inputInfo(0)->isUnsigned);
  return success();
}

static LogicalResult importSpaceToDepth(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  int64_t bs = node.intAttr("blocksize", 0);
  if (type.getRank() != 4 || bs < 1)
    return node.error("needs a 4-D input and a positive blocksize");
  for (int64_t i = 2; i < 4; ++i)
    if (!type.isDynamicDim(i) && type.getDimSize(i) % bs)
      return node.error("the spatial extents must be multiples of blocksize");
  IndexMath ix{node.builder(), node.loc()};
  OpFoldResult n = ix.dim(x, 0), c = ix.dim(x, 1), bo = ix.c(bs);
  OpFoldResult h = ix.floorDiv(ix.dim(x, 2), bo),
               w = ix.floorDiv(ix.dim(x, 3), bo);
  Value t = reshapeTo(node, x, {n, c, h, bo, w, bo});
  t = transposeTo(node, t, {0, 3, 5, 1, 2, 4});
  node.setOutput(0, reshapeTo(node, t, {n, ix.mul(c, ix.c(bs * bs)), h, w}),
                 node.inputInfo(0)->isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

/// Element `i` of the 1-D integer tensor `t` as an index value.
static Value extractIndex(OpBuilder &b, Location loc, Value t, int64_t i) {
  Value v = tensor::ExtractOp::create(
      b, loc, t, ValueRange{arith::ConstantIndexOp::create(b, loc, i)});
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

static LogicalResult importPad(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  loadDialects(node);
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  int64_t rank = type.getRank();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath ix{b, loc};
  std::string mode = node.stringAttr("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" &&
      !(mode == "wrap" && node.opset() >= 19))
    return node.error("unknown mode '" + mode + "'");
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  // The axes the pads apply to.
  SmallVector<int64_t> axes;
  if (node.opset() >= 18 && node.hasInput(3)) {
    std::optional<SmallVector<int64_t>> given = node.constantInts(3);
    if (!given)
      return node.error("axes computed at run time are not supported");
    SmallVector<bool> seen(rank, false);
    for (int64_t a : *given) {
      std::optional<int64_t> axis = normalizeAxis(a, rank);
      if (!axis || seen[*axis])
        return node.error("axis " + Twine(a) + " is out of range or repeated");
      seen[*axis] = true;
      axes.push_back(*axis);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  int64_t count = axes.size();
  SmallVector<OpFoldResult> before(rank, ix.c(0)), after(rank, ix.c(0));
  Value padValue;
  if (node.opset() < 11) {
    std::optional<SmallVector<int64_t>> pads = node.intsAttr("pads");
    if (!pads)
      pads = node.intsAttr("paddings");
    if (!pads || static_cast<int64_t>(pads->size()) != 2 * rank)
      return node.error("pads needs " + Twine(2 * rank) + " entries");
    for (int64_t i = 0; i < rank; ++i) {
      before[i] = ix.c((*pads)[i]);
      after[i] = ix.c((*pads)[rank + i]);
    }
    padValue = scalar(b, loc, element, node.floatAttr("value", 0));
  } else {
    if (failed(requireInputs(node, 2)))
      return failure();
    auto padsType = node.inputType(1);
    if (padsType.getRank() != 1 ||
        (!padsType.isDynamicDim(0) && padsType.getDimSize(0) != 2 * count))
      return node.error("pads needs " + Twine(2 * count) + " entries");
    if (std::optional<SmallVector<int64_t>> pads = node.constantInts(1)) {
      for (int64_t i = 0; i < count; ++i) {
        before[axes[i]] = ix.c((*pads)[i]);
        after[axes[i]] = ix.c((*pads)[count + i]);
      }
    } else if (ImportedValue *info = node.inputInfo(1);
               info->elements && !info->value) {
      // Pads computed from shapes: symbolic at import time.
      for (int64_t i = 0; i < count; ++i) {
        before[axes[i]] =
            node.importer().materializeIndex(loc, (*info->elements)[i]);
        after[axes[i]] =
            node.importer().materializeIndex(loc, (*info->elements)[count + i]);
      }
    } else {
      Value pads = node.input(1);
      if (padsType.isDynamicDim(0))
        pads = tensor::CastOp::create(
            b, loc, RankedTensorType::get({2 * count}, padsType.getElementType()),
            pads);
      for (int64_t i = 0; i < count; ++i) {
        before[axes[i]] = extractIndex(b, loc, pads, i);
        after[axes[i]] = extractIndex(b, loc, pads, count + i);
      }
    }
    if (node.hasInput(2)) {
      Value cv = node.input(2);
      auto cvType = cast<RankedTensorType>(cv.getType());
      if (cvType.getElementType() != element)
        return node.error("constant_value's type differs from the data's");
      if (cvType.getNumElements() != 1 && !cvType.hasStaticShape())
        return node.error("constant_value must be a scalar");
      SmallVector<Value> zeros(cvType.getRank(),
                               arith::ConstantIndexOp::create(b, loc, 0));
      padValue = tensor::ExtractOp::create(b, loc, cv, zeros);
    } else {
      padValue = scalar(b, loc, element, 0);
    }
  }
  auto known = [](OpFoldResult v) { return IndexMath::known(v); };
  bool constantPads =
      llvm::all_of(before, [&](OpFoldResult v) { return known(v).has_value(); }) &&
      llvm::all_of(after, [&](OpFoldResult v) { return known(v).has_value(); });
  if (mode == "constant" && constantPads) {
    FailureOr<Value> padded = padSpatial(node, x, before, after, padValue);
    if (failed(padded))
      return failure();
    node.setOutput(0, *padded, isUnsigned);
    return success();
  }
  // General: out[i] = x[map(i - before)] per mode.
  SmallVector<OpFoldResult> outShape;
  SmallVector<Value> sizes, begins, dynamicSizes;
  for (int64_t i = 0; i < rank; ++i) {
    OpFoldResult in = ix.dim(x, i);
    OpFoldResult out = ix.max(ix.c(0), ix.add(ix.add(in, before[i]), after[i]));
    if (auto k = known(out); k && *k == 0 && mode != "constant")
      return node.error("the padded output is empty");
    outShape.push_back(out);
    if (!known(out))
      dynamicSizes.push_back(ix.value(out));
    sizes.push_back(ix.value(in));
    begins.push_back(ix.value(before[i]));
  }
  auto resultType = RankedTensorType::get(staticExtents(outShape), element);
  auto generate = tensor::GenerateOp::create(b, loc, resultType, dynamicSizes);
  {
    OpBuilder::InsertionGuard guard(b);
    SmallVector<Type> argTypes(rank, b.getIndexType());
    SmallVector<Location> argLocs(rank, loc);
    Block *body = b.createBlock(&generate.getBody(), {}, argTypes, argLocs);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value inside;
    SmallVector<Value> source;
    for (int64_t i = 0; i < rank; ++i) {
      Value s = arith::SubIOp::create(b, loc, body->getArgument(i), begins[i]);
      Value last = arith::SubIOp::create(b, loc, sizes[i], one);
      auto clamp = [&](Value v) {
        return arith::MinSIOp::create(
                   b, loc, arith::MaxSIOp::create(b, loc, v, zero), last)
            .getResult();
      };
      auto positiveRem = [&](Value v, Value m) {
        Value r = arith::RemSIOp::create(b, loc, v, m);
        Value negative =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r, zero);
        return arith::SelectOp::create(b, loc, negative,
                                       arith::AddIOp::create(b, loc, r, m), r)
            .getResult();
      };
      if (mode == "constant") {
        Value ok = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, s, zero),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, s,
                                  sizes[i]));
        inside = inside ? arith::AndIOp::create(b, loc, inside, ok).getResult()
                        : ok;
        s = clamp(s);
      } else if (mode == "edge") {
        s = clamp(s);
      } else if (mode == "reflect") {
        // Period 2 * (n - 1) (1 for n = 1), mirrored in its second half.
        Value period = arith::MaxSIOp::create(
            b, loc, arith::MulIOp::create(b, loc, last,
                                          arith::ConstantIndexOp::create(b, loc, 2)),
            one);
        Value m = positiveRem(s, period);
        Value low = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, m,
                                          sizes[i]);
        s = clamp(arith::SelectOp::create(
            b, loc, low, m, arith::SubIOp::create(b, loc, period, m)));
      } else {
        s = clamp(positiveRem(s, arith::MaxSIOp::create(b, loc, sizes[i], one)));
      }
      source.push_back(s);
    }
    Value v = tensor::ExtractOp::create(b, loc, x, source);
    if (inside)
      v = arith::SelectOp::create(b, loc, inside, v, padValue);
    tensor::YieldOp::create(b, loc, v);
  }
  node.setOutput(0, generate, isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// Resize, Upsample
//===----------------------------------------------------------------------===//

namespace {
/// One tap of the interpolation along one axis: a source index and its
/// weight (null for weight 1).
struct Tap {
  Value index;
  Value weight;
};
} // namespace

/// The cubic convolution weights of the four taps around a point at
/// fraction `t` past its floor, with coefficient `a` (Keys).
static SmallVector<Value> cubicWeights(OpBuilder &b, Location loc, Value t,
                                       double a, Type ct) {
  auto cst = [&](double v) { return scalar(b, loc, ct, v); };
  auto mul = [&](Value x, Value y) {
    return arith::MulFOp::create(b, loc, x, y).getResult();
  };
  auto add = [&](Value x, Value y) {
    return arith::AddFOp::create(b, loc, x, y).getResult();
  };
  auto sub = [&](Value x, Value y) {
    return arith::SubFOp::create(b, loc, x, y).getResult();
  };
  // |s| in [1, 2): ((a s - 5a) s + 8a) s - 4a; |s| < 1: ((a+2) s - (a+3)) s s + 1
  auto far = [&](Value s) {
    return sub(mul(add(mul(sub(mul(cst(a), s), cst(5 * a)), s), cst(8 * a)),
                   s),
               cst(4 * a));
  };
  auto near = [&](Value s) {
    return add(mul(mul(sub(mul(cst(a + 2), s), cst(a + 3)), s), s), cst(1));
  };
  Value one = cst(1);
  Value u = sub(one, t);
  return {far(add(t, one)), near(t), near(u), far(add(u, one))};
}

static LogicalResult importResize(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  bool upsample = node.node().op_type() == "Upsample";
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  int64_t rank = type.getRank();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  IndexMath ix{b, loc};
  bool modern = !upsample && node.opset() >= 11;
  std::string mode = node.stringAttr("mode", "nearest");
  if (mode == "bilinear" || mode == "trilinear")
    mode = "linear";
  if (mode == "bicubic")
    mode = "cubic";
  if (mode != "nearest" && mode != "linear" && !(mode == "cubic" && modern))
    return node.error("unknown mode '" + mode + "'");
  std::string coordinates =
      modern ? node.stringAttr("coordinate_transformation_mode", "half_pixel")
             : "asymmetric";
  static const char *const knownCoordinates[] = {
      "half_pixel",         "half_pixel_symmetric", "pytorch_half_pixel",
      "align_corners",      "asymmetric",           "tf_half_pixel_for_nn",
      "tf_crop_and_resize"};
  if (!llvm::is_contained(knownCoordinates, coordinates) ||
      (coordinates == "half_pixel_symmetric" && node.opset() < 19))
    return node.error("unknown coordinate_transformation_mode '" +
                      coordinates + "'");
  std::string nearestMode =
      modern ? node.stringAttr("nearest_mode", "round_prefer_floor")
             : "simple";
  if (nearestMode != "round_prefer_floor" && nearestMode != "round_prefer_ceil" &&
      nearestMode != "floor" && nearestMode != "ceil" && nearestMode != "simple")
    return node.error("unknown nearest_mode '" + nearestMode + "'");
  if (node.intAttr("antialias", 0) && mode != "nearest")
    return node.error("antialias is not supported");
  double cubicA = node.floatAttr("cubic_coeff_a", -0.75f);
  bool excludeOutside = node.intAttr("exclude_outside", 0) != 0;
  double extrapolation = node.floatAttr("extrapolation_value", 0.0f);
  if (mode != "nearest" && !isa<FloatType>(element))
    return node.error("linear and cubic modes need a floating-point input");
  // The resized axes.
  SmallVector<int64_t> axes;
  if (auto given = node.intsAttr("axes"); given && node.opset() >= 18) {
    for (int64_t a : *given) {
      std::optional<int64_t> axis = normalizeAxis(a, rank);
      if (!axis || llvm::is_contained(axes, *axis))
        return node.error("axis " + Twine(a) + " is out of range or repeated");
      axes.push_back(*axis);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  int64_t count = axes.size();
  // Scales or sizes, per axis of the input.
  int scalesInput = upsample ? 1 : (node.opset() >= 11 ? 2 : 1);
  int sizesInput = modern ? 3 : -1;
  std::optional<SmallVector<double>> scales;
  Value scalesTensor;
  if (upsample && node.opset() < 9) {
    std::optional<SmallVector<int64_t>> none;
    const onnx::AttributeProto *attr = node.attribute("scales");
    if (!attr)
      return node.error("needs the scales attribute");
    scales.emplace(attr->floats().begin(), attr->floats().end());
  } else if (node.hasInput(scalesInput) &&
             node.inputType(scalesInput).getNumElements() != 0) {
    scales = floatValues(node.constantInput(scalesInput));
    if (!scales) {
      scalesTensor = node.input(scalesInput);
      auto scalesType = cast<RankedTensorType>(scalesTensor.getType());
      if (scalesType.getRank() != 1 ||
          !isa<FloatType>(scalesType.getElementType()) ||
          (!scalesType.isDynamicDim(0) && scalesType.getDimSize(0) != count))
        return node.error("scales needs " + Twine(count) + " float entries");
    }
  }
  bool haveSizes = sizesInput > 0 && node.hasInput(sizesInput) &&
                   node.inputType(sizesInput).getNumElements() != 0;
  if ((scales || scalesTensor) && haveSizes)
    return node.error("scales and sizes are both given");
  if (!scales && !scalesTensor && !haveSizes)
    return node.error("needs scales or sizes");
  if (scales && static_cast<int64_t>(scales->size()) != count)
    return node.error("scales needs " + Twine(count) + " entries");
  Type ct = element.isF64() ? Type(b.getF64Type()) : Type(b.getF32Type());
  SmallVector<OpFoldResult> inSizes = ix.shape(x), outSizes = inSizes;
  // Per axis: the scale as a constant when known, else a value.
  SmallVector<std::optional<double>> scaleKnown(rank, 1.0);
  SmallVector<Value> scaleValue(rank);
  auto toFloat = [&](OpFoldResult v) -> Value {
    if (auto k = IndexMath::known(v))
      return scalar(b, loc, ct, static_cast<double>(*k));
    Value i = arith::IndexCastOp::create(b, loc, b.getI64Type(), ix.value(v));
    return arith::SIToFPOp::create(b, loc, ct, i);
  };
  if (scalesTensor) {
    // Scales arriving at run time: out = floor(in * scale) at run time.
    auto scalesType = cast<RankedTensorType>(scalesTensor.getType());
    if (scalesType.isDynamicDim(0))
      scalesTensor = tensor::CastOp::create(
          b, loc, RankedTensorType::get({count}, scalesType.getElementType()),
          scalesTensor);
    for (int64_t j = 0; j < count; ++j) {
      int64_t a = axes[j];
      Value v = tensor::ExtractOp::create(
          b, loc, scalesTensor,
          ValueRange{arith::ConstantIndexOp::create(b, loc, j)});
      if (v.getType() != ct)
        v = v.getType().getIntOrFloatBitWidth() < ct.getIntOrFloatBitWidth()
                ? arith::ExtFOp::create(b, loc, ct, v).getResult()
                : arith::TruncFOp::create(b, loc, ct, v).getResult();
      scaleKnown[a] = std::nullopt;
      scaleValue[a] = v;
      Value f = arith::MulFOp::create(b, loc, toFloat(inSizes[a]), v);
      Value i = arith::FPToSIOp::create(b, loc, b.getI64Type(),
                                        math::FloorOp::create(b, loc, f));
      outSizes[a] =
          arith::IndexCastOp::create(b, loc, b.getIndexType(), i).getResult();
    }
  } else if (scales) {
    for (int64_t j = 0; j < count; ++j) {
      int64_t a = axes[j];
      double s = (*scales)[j];
      if (!(s > 0))
        return node.error("scales must be positive");
      // As ONNX Runtime: floor(float(in) * float(scale)).
      scaleKnown[a] = static_cast<float>(s);
      if (auto in = IndexMath::known(inSizes[a])) {
        outSizes[a] = ix.c(static_cast<int64_t>(
            std::floor(static_cast<float>(*in) * static_cast<float>(s))));
      } else {
        Value f = arith::MulFOp::create(
            b, loc, toFloat(inSizes[a]),
            scalar(b, loc, ct, static_cast<float>(s)));
        Value i = arith::FPToSIOp::create(b, loc, b.getI64Type(),
                                          math::FloorOp::create(b, loc, f));
        outSizes[a] =
            arith::IndexCastOp::create(b, loc, b.getIndexType(), i).getResult();
      }
    }
  } else {
    auto sizesType = node.inputType(sizesInput);
    if (sizesType.getRank() != 1 ||
        (!sizesType.isDynamicDim(0) && sizesType.getDimSize(0) != count))
      return node.error("sizes needs " + Twine(count) + " entries");
    ImportedValue *info = node.inputInfo(sizesInput);
    SmallVector<OpFoldResult> given;
    if (std::optional<SmallVector<int64_t>> k = node.constantInts(sizesInput)) {
      for (int64_t v : *k)
        given.push_back(ix.c(v));
    } else if (info->elements && !info->value) {
      for (const DimExpr &e : *info->elements) {
        if (e.isConstant())
          given.push_back(ix.c(e.factor));
        else
          given.push_back(node.importer().materializeIndex(loc, e));
      }
    } else {
      Value t = node.input(sizesInput);
      if (sizesType.isDynamicDim(0))
        t = tensor::CastOp::create(
            b, loc, RankedTensorType::get({count}, sizesType.getElementType()),
            t);
      for (int64_t j = 0; j < count; ++j)
        given.push_back(extractIndex(b, loc, t, j));
    }
    std::string policy = node.opset() >= 18
                             ? node.stringAttr("keep_aspect_ratio_policy",
                                               "stretch")
                             : "stretch";
    if (policy != "stretch") {
      if (policy != "not_larger" && policy != "not_smaller")
        return node.error("unknown keep_aspect_ratio_policy '" + policy + "'");
      std::optional<float> common;
      for (int64_t j = 0; j < count; ++j) {
        auto in = IndexMath::known(inSizes[axes[j]]);
        auto out = IndexMath::known(given[j]);
        if (!in || !out)
          return node.error("keep_aspect_ratio_policy needs sizes known at "
                            "import time");
        float s = static_cast<float>(*out) / static_cast<float>(*in);
        common = !common ? s
                 : policy == "not_larger" ? std::min(*common, s)
                                          : std::max(*common, s);
      }
      for (int64_t j = 0; j < count; ++j) {
        int64_t in = *IndexMath::known(inSizes[axes[j]]);
        outSizes[axes[j]] = ix.c(static_cast<int64_t>(
            std::round(*common * static_cast<float>(in))));
        scaleKnown[axes[j]] = *common;
      }
    } else {
      for (int64_t j = 0; j < count; ++j) {
        int64_t a = axes[j];
        outSizes[a] = given[j];
        auto in = IndexMath::known(inSizes[a]);
        auto out = IndexMath::known(given[j]);
        if (in && out) {
          scaleKnown[a] = static_cast<float>(*out) / static_cast<float>(*in);
        } else {
          scaleKnown[a] = std::nullopt;
          scaleValue[a] = arith::DivFOp::create(b, loc, toFloat(given[j]),
                                                toFloat(inSizes[a]));
        }
      }
    }
  }
  for (int64_t a = 0; a < rank; ++a) {
    if (auto k = IndexMath::known(outSizes[a]); k && *k < 0)
      return node.error("the output size is negative");
    if (scaleKnown[a])
      scaleValue[a] = scalar(b, loc, ct, *scaleKnown[a]);
  }
  // Region of interest (tf_crop_and_resize only): start and end per axis.
  SmallVector<Value> roiStart(rank), roiEnd(rank);
  if (coordinates == "tf_crop_and_resize") {
    if (!node.hasInput(1))
      return node.error("tf_crop_and_resize needs the roi input");
    Value roi = node.input(1);
    auto roiType = cast<RankedTensorType>(roi.getType());
    if (roiType.getRank() != 1 || !isa<FloatType>(roiType.getElementType()) ||
        (!roiType.isDynamicDim(0) && roiType.getDimSize(0) != 2 * count))
      return node.error("roi needs " + Twine(2 * count) + " float entries");
    for (int64_t j = 0; j < count; ++j) {
      auto at = [&](int64_t i) -> Value {
        Value v = tensor::ExtractOp::create(
            b, loc, roi, ValueRange{arith::ConstantIndexOp::create(b, loc, i)});
        if (v.getType() != ct)
          v = v.getType().getIntOrFloatBitWidth() < ct.getIntOrFloatBitWidth()
                  ? arith::ExtFOp::create(b, loc, ct, v).getResult()
                  : arith::TruncFOp::create(b, loc, ct, v).getResult();
        return v;
      };
      roiStart[axes[j]] = at(j);
      roiEnd[axes[j]] = at(count + j);
    }
  }
  // Axes whose source coordinate is the output coordinate itself.
  auto identity = [&](int64_t a) {
    if (!scaleKnown[a] || *scaleKnown[a] != 1.0)
      return false;
    auto in = IndexMath::known(inSizes[a]), out = IndexMath::known(outSizes[a]);
    if (!in || !out || *in != *out)
      return false;
    return coordinates != "tf_crop_and_resize" &&
           coordinates != "tf_half_pixel_for_nn";
  };
  int64_t tapCount = 1;
  for (int64_t a = 0; a < rank; ++a)
    if (!identity(a))
      tapCount *= mode == "nearest" ? 1 : mode == "linear" ? 2 : 4;
  if (tapCount > 256)
    return node.error("interpolating over this many axes is not supported");
  SmallVector<Value> inValues, inFloats, outFloats, dynamicSizes;
  for (int64_t a = 0; a < rank; ++a) {
    inValues.push_back(ix.value(inSizes[a]));
    if (identity(a)) {
      inFloats.push_back({});
      outFloats.push_back({});
    } else {
      inFloats.push_back(toFloat(inSizes[a]));
      // align_corners and tf_crop_and_resize divide by the output length:
      // with scales, the ONNX reference takes input * scale (unrounded),
      // where ONNX Runtime takes the integer output size.
      bool unrounded = (scales || scalesTensor) &&
                       (coordinates == "align_corners" ||
                        coordinates == "tf_crop_and_resize");
      outFloats.push_back(unrounded
                              ? arith::MulFOp::create(b, loc, inFloats.back(),
                                                      scaleValue[a])
                                    .getResult()
                              : toFloat(outSizes[a]));
    }
    if (!IndexMath::known(outSizes[a]))
      dynamicSizes.push_back(ix.value(outSizes[a]));
  }
  auto resultType = RankedTensorType::get(staticExtents(outSizes), element);
  auto generate = tensor::GenerateOp::create(b, loc, resultType, dynamicSizes);
  {
    OpBuilder::InsertionGuard guard(b);
    SmallVector<Type> argTypes(rank, b.getIndexType());
    SmallVector<Location> argLocs(rank, loc);
    Block *body = b.createBlock(&generate.getBody(), {}, argTypes, argLocs);
    auto cst = [&](double v) { return scalar(b, loc, ct, v); };
    auto fadd = [&](Value p, Value q) {
      return arith::AddFOp::create(b, loc, p, q).getResult();
    };
    auto fsub = [&](Value p, Value q) {
      return arith::SubFOp::create(b, loc, p, q).getResult();
    };
    auto fmul = [&](Value p, Value q) {
      return arith::MulFOp::create(b, loc, p, q).getResult();
    };
    auto fdiv = [&](Value p, Value q) {
      return arith::DivFOp::create(b, loc, p, q).getResult();
    };
    auto fsel = [&](Value c, Value p, Value q) {
      return arith::SelectOp::create(b, loc, c, p, q).getResult();
    };
    auto fcmp = [&](arith::CmpFPredicate pred, Value p, Value q) {
      return arith::CmpFOp::create(b, loc, pred, p, q).getResult();
    };
    auto toIndex = [&](Value f) {
      Value i = arith::FPToSIOp::create(b, loc, b.getI64Type(), f);
      return arith::IndexCastOp::create(b, loc, b.getIndexType(), i)
          .getResult();
    };
    Value zeroIndex = arith::ConstantIndexOp::create(b, loc, 0);
    Value oneIndex = arith::ConstantIndexOp::create(b, loc, 1);
    Value valid;
    SmallVector<SmallVector<Tap>> taps(rank);
    for (int64_t a = 0; a < rank; ++a) {
      Value out = body->getArgument(a);
      if (identity(a)) {
        taps[a].push_back({out, Value()});
        continue;
      }
      Value xr = arith::SIToFPOp::create(
          b, loc, ct,
          arith::IndexCastOp::create(b, loc, b.getI64Type(), out));
      Value scale = scaleValue[a], in = inFloats[a], outLen = outFloats[a];
      Value half = cst(0.5), one = cst(1);
      Value xo;
      if (coordinates == "half_pixel") {
        xo = fsub(fdiv(fadd(xr, half), scale), half);
      } else if (coordinates == "half_pixel_symmetric") {
        Value width = fmul(scale, in);
        Value adjustment = fdiv(outLen, width);
        Value center = fdiv(in, cst(2));
        Value offset = fmul(center, fsub(one, adjustment));
        xo = fadd(offset, fsub(fdiv(fadd(xr, half), scale), half));
      } else if (coordinates == "pytorch_half_pixel") {
        xo = fsel(fcmp(arith::CmpFPredicate::OGT, outLen, one),
                  fsub(fdiv(fadd(xr, half), scale), half), cst(0));
      } else if (coordinates == "align_corners") {
        Value denominator = fsub(outLen, one);
        Value single = fcmp(arith::CmpFPredicate::OLE, outLen, one);
        xo = fsel(single, cst(0),
                  fdiv(fmul(xr, fsub(in, one)),
                       fsel(single, one, denominator)));
      } else if (coordinates == "asymmetric") {
        xo = fdiv(xr, scale);
      } else if (coordinates == "tf_half_pixel_for_nn") {
        xo = fdiv(fadd(xr, half), scale);
      } else {
        Value last = fsub(in, one);
        Value span = fsub(roiEnd[a], roiStart[a]);
        Value single = fcmp(arith::CmpFPredicate::OLE, outLen, one);
        Value many =
            fadd(fmul(roiStart[a], last),
                 fdiv(fmul(fmul(xr, span), last),
                      fsel(single, one, fsub(outLen, one))));
        Value middle = fmul(fmul(half, fadd(roiStart[a], roiEnd[a])), last);
        xo = fsel(single, middle, many);
        Value ok = arith::AndIOp::create(
            b, loc, fcmp(arith::CmpFPredicate::OGE, xo, cst(0)),
            fcmp(arith::CmpFPredicate::OLE, xo, last));
        valid = valid ? arith::AndIOp::create(b, loc, valid, ok).getResult()
                      : ok;
      }
      Value lastIndex = arith::SubIOp::create(b, loc, inValues[a], oneIndex);
      auto clampIndex = [&](Value i) {
        return arith::MinSIOp::create(
                   b, loc, arith::MaxSIOp::create(b, loc, i, zeroIndex),
                   lastIndex)
            .getResult();
      };
      if (mode == "nearest") {
        Value floor = math::FloorOp::create(b, loc, xo);
        Value rounded;
        if (nearestMode == "floor") {
          rounded = floor;
        } else if (nearestMode == "ceil") {
          rounded = math::CeilOp::create(b, loc, xo);
        } else if (nearestMode == "simple") {
          // ONNX Runtime's nearest mode before opset 11: ceil when
          // downsampling, else floor.
          Value down = fcmp(arith::CmpFPredicate::OLT, scale, one);
          rounded = fsel(down, math::CeilOp::create(b, loc, xo), floor);
        } else {
          Value tie = fcmp(arith::CmpFPredicate::OEQ, fsub(xo, floor), half);
          Value tieValue = nearestMode == "round_prefer_floor"
                               ? floor
                               : fadd(floor, one);
          rounded = fsel(tie, tieValue, math::RoundOp::create(b, loc, xo));
        }
        taps[a].push_back({clampIndex(toIndex(rounded)), Value()});
        continue;
      }
      if (mode == "linear") {
        if (coordinates != "tf_crop_and_resize")
          xo = arith::MinimumFOp::create(
              b, loc, arith::MaximumFOp::create(b, loc, xo, cst(0)),
              fsub(in, one));
        Value floor = math::FloorOp::create(b, loc, xo);
        Value t = fsub(xo, floor);
        Value i0 = clampIndex(toIndex(floor));
        Value i1 = clampIndex(arith::AddIOp::create(b, loc, i0, oneIndex));
        taps[a].push_back({i0, fsub(one, t)});
        taps[a].push_back({i1, t});
        continue;
      }
      // Cubic: taps floor - 1 .. floor + 2, edge-clamped; with
      // exclude_outside the taps outside the input get no weight and the
      // rest are renormalized.
      Value floor = math::FloorOp::create(b, loc, xo);
      Value t = fsub(xo, floor);
      Value base = toIndex(floor);
      SmallVector<Value> weights = cubicWeights(b, loc, t, cubicA, ct);
      SmallVector<Value> indices;
      for (int64_t j = 0; j < 4; ++j)
        indices.push_back(arith::AddIOp::create(
            b, loc, base, arith::ConstantIndexOp::create(b, loc, j - 1)));
      if (excludeOutside) {
        Value total = cst(0);
        for (int64_t j = 0; j < 4; ++j) {
          Value inside = arith::AndIOp::create(
              b, loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                    indices[j], zeroIndex),
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                    indices[j], inValues[a]));
          weights[j] = fsel(inside, weights[j], cst(0));
          total = fadd(total, weights[j]);
        }
        for (int64_t j = 0; j < 4; ++j)
          weights[j] = fdiv(weights[j], total);
      }
      for (int64_t j = 0; j < 4; ++j)
        taps[a].push_back({clampIndex(indices[j]), weights[j]});
    }
    // Sum over the product of the taps.
    Value result;
    SmallVector<size_t> choice(rank, 0);
    while (true) {
      SmallVector<Value> source;
      Value weight;
      for (int64_t a = 0; a < rank; ++a) {
        const Tap &tap = taps[a][choice[a]];
        source.push_back(tap.index);
        if (tap.weight)
          weight = weight ? fmul(weight, tap.weight) : tap.weight;
      }
      Value v = tensor::ExtractOp::create(b, loc, x, source);
      if (mode == "nearest") {
        result = v;
      } else {
        if (v.getType() != ct)
          v = arith::ExtFOp::create(b, loc, ct, v);
        Value term = weight ? fmul(weight, v) : v;
        result = result ? fadd(result, term) : term;
      }
      int64_t a = rank - 1;
      while (a >= 0 && ++choice[a] == taps[a].size()) {
        choice[a] = 0;
        --a;
      }
      if (a < 0)
        break;
    }
    if (result.getType() != element)
      result = arith::TruncFOp::create(b, loc, element, result);
    if (valid)
      result = arith::SelectOp::create(b, loc, valid, result,
                                       scalar(b, loc, element, extrapolation));
    tensor::YieldOp::create(b, loc, result);
  }
  node.setOutput(0, generate, node.inputInfo(0)->isUnsigned);
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void mlir::slm::onnx_import::registerVisionOps(OpTable &table) {
  table.add("ConvTranspose", 1, importConvTranspose);
  table.add("ConvInteger", 10, importConvInteger);
  table.add("MaxPool", 1, importMaxPool);
  table.add("AveragePool", 1, importSumPool<PoolKind::Average>);
  table.add("LpPool", 1, importSumPool<PoolKind::Lp>);
  table.add("GlobalAveragePool", 1, importGlobalPool<PoolKind::Average>);
  table.add("GlobalMaxPool", 1, importGlobalPool<PoolKind::Max>);
  table.add("GlobalLpPool", 1, importGlobalPool<PoolKind::Lp>);
  table.add("BatchNormalization", 7, importBatchNorm);
  table.add("InstanceNormalization", 6, importInstanceNorm);
  table.add("GroupNormalization", 18, importGroupNorm);
  table.add("DepthToSpace", 1, importDepthToSpace);
  table.add("SpaceToDepth", 1, importSpaceToDepth);
  table.add("Pad", 2, importPad);
  table.add("Resize", 10, importResize);
  table.add("Upsample", 7, importResize);
}
