//===- RecurrentOps.cpp - RNN, GRU, LSTM as loops over time -----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// ONNX RNN, GRU and LSTM (all directions, sequence_lens, initial states,
// activations with their alpha/beta, clip, layout, LSTM peepholes and
// input_forget, GRU linear_before_reset) as one `scf.for` over time per
// direction. Each step is slm arithmetic on [batch, hidden] tensors: two
// matrix products (input and recurrence), the gate activations, and, with
// sequence_lens, a mask that keeps the state and writes zeros to Y past a
// batch entry's length. A reverse direction walks time backwards with the
// same mask, which reverses each entry within its own length as ONNX says.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::slm::onnx_import;

namespace {
enum class Cell { RNN, GRU, LSTM };

/// One activation function with its parameters.
struct Activation {
  std::string name;
  float alpha = 0, beta = 0;
};

/// Emits slm arithmetic on tensors of one floating-point element type.
struct Emitter {
  NodeContext &node;
  Type element;

  OpBuilder &b() { return node.builder(); }
  Location loc() { return node.loc(); }
  /// The broadcast result type of two operands.
  RankedTensorType typeOf(Value x, Value y) {
    auto a = cast<RankedTensorType>(x.getType());
    auto c = cast<RankedTensorType>(y.getType());
    return a.getRank() >= c.getRank() ? a : c;
  }
  Value c(double v) { return scalarConstant(node, element, v); }
  Value add(Value x, Value y) {
    return mlir::slm::AddOp::create(b(), loc(), typeOf(x, y), x, y);
  }
  Value sub(Value x, Value y) {
    return mlir::slm::SubOp::create(b(), loc(), typeOf(x, y), x, y);
  }
  Value mul(Value x, Value y) {
    return mlir::slm::MulOp::create(b(), loc(), typeOf(x, y), x, y);
  }
  Value div(Value x, Value y) {
    return mlir::slm::DivOp::create(b(), loc(), typeOf(x, y), x, y);
  }
  Value max(Value x, Value y) {
    return mlir::slm::MaxOp::create(b(), loc(), typeOf(x, y), x, y);
  }
  Value min(Value x, Value y) {
    return mlir::slm::MinOp::create(b(), loc(), typeOf(x, y), x, y);
  }
  Value greater(Value x, double threshold) {
    auto type = cast<RankedTensorType>(x.getType());
    return mlir::slm::CompareOp::create(b(), loc(), type.clone(b().getI1Type()),
                                        mlir::slm::ComparePredicate::gt, x,
                                        c(threshold));
  }
  Value select(Value cond, Value x, Value y) {
    RankedTensorType type = typeOf(x, y);
    auto condType = cast<RankedTensorType>(cond.getType());
    if (condType.getRank() > type.getRank())
      type = condType.clone(type.getElementType());
    return mlir::slm::SelectOp::create(b(), loc(), type, cond, x, y);
  }
  Value matmul(Value x, Value y) {
    auto a = cast<RankedTensorType>(x.getType());
    auto w = cast<RankedTensorType>(y.getType());
    return mlir::slm::MatMulOp::create(
        b(), loc(),
        RankedTensorType::get({a.getDimSize(0), w.getDimSize(1)}, element), x,
        y);
  }
  Value sigmoid(Value x) {
    Value e =
        math::ExpOp::create(b(), loc(), arith::NegFOp::create(b(), loc(), x));
    return div(c(1), add(e, c(1)));
  }
  Value apply(const Activation &f, Value x) {
    StringRef name = f.name;
    if (name == "tanh")
      return math::TanhOp::create(b(), loc(), x);
    if (name == "sigmoid")
      return sigmoid(x);
    if (name == "relu")
      return max(x, c(0));
    if (name == "affine")
      return add(mul(x, c(f.alpha)), c(f.beta));
    if (name == "leakyrelu")
      return select(greater(x, 0), x, mul(x, c(f.alpha)));
    if (name == "thresholdedrelu")
      return select(greater(x, f.alpha), x, c(0));
    if (name == "scaledtanh")
      return mul(c(f.alpha),
                 math::TanhOp::create(b(), loc(), mul(x, c(f.beta))));
    if (name == "hardsigmoid")
      return min(max(add(mul(x, c(f.alpha)), c(f.beta)), c(0)), c(1));
    if (name == "elu")
      return select(greater(x, 0), x,
                    mul(math::ExpM1Op::create(b(), loc(), x), c(f.alpha)));
    if (name == "softsign")
      return div(x, add(math::AbsFOp::create(b(), loc(), x), c(1)));
    // softplus
    return math::Log1pOp::create(b(), loc(),
                                 math::ExpOp::create(b(), loc(), x));
  }
};
} // namespace

/// The default alpha and beta of an activation, and whether it uses each.
static void activationDefaults(StringRef name, bool &usesAlpha, bool &usesBeta,
                               float &alpha, float &beta) {
  usesAlpha = usesBeta = false;
  alpha = beta = 0;
  if (name == "affine") {
    usesAlpha = usesBeta = true;
    alpha = 1;
  } else if (name == "leakyrelu") {
    usesAlpha = true;
    alpha = 0.01f;
  } else if (name == "thresholdedrelu" || name == "elu") {
    usesAlpha = true;
    alpha = 1;
  } else if (name == "scaledtanh") {
    usesAlpha = usesBeta = true;
    alpha = beta = 1;
  } else if (name == "hardsigmoid") {
    usesAlpha = usesBeta = true;
    alpha = 0.2f;
    beta = 0.5f;
  }
}

/// Extracts `[offset, offset + size)` of dimension `dim` of `value`.
static Value sliceDim(OpBuilder &b, Location loc, Value value, int64_t dim,
                      int64_t offset, int64_t size) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  offsets[dim] = b.getIndexAttr(offset);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, value);
  sizes[dim] = b.getIndexAttr(size);
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  SmallVector<int64_t> shape(type.getShape());
  shape[dim] = size;
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), value,
      offsets, sizes, strides);
}

/// Entry `index` (static or dynamic) of the leading dimension, dropped.
static Value entry(OpBuilder &b, Location loc, Value value,
                   OpFoldResult index) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  offsets[0] = index;
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, value);
  sizes[0] = b.getIndexAttr(1);
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      b, loc,
      RankedTensorType::get(type.getShape().drop_front(),
                            type.getElementType()),
      value, offsets, sizes, strides);
}

static Value transposed(OpBuilder &b, Location loc, Value x,
                        ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  return mlir::slm::TransposeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, perm);
}

template <Cell cell> static LogicalResult importRecurrent(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  const int64_t gates = cell == Cell::RNN ? 1 : cell == Cell::GRU ? 3 : 4;
  Value x = node.input(0), w = node.input(1), r = node.input(2);
  if (!x || !w || !r)
    return failure();
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  auto rType = cast<RankedTensorType>(r.getType());
  Type element = xType.getElementType();
  if (!isa<FloatType>(element) || wType.getElementType() != element ||
      rType.getElementType() != element)
    return node.error("needs floating-point X, W and R of one element type");
  if (xType.getRank() != 3 || wType.getRank() != 3 || rType.getRank() != 3)
    return node.error("needs X, W and R of rank 3");

  const std::string direction = node.stringAttr("direction", "forward");
  if (direction != "forward" && direction != "reverse" &&
      direction != "bidirectional")
    return node.error("unknown direction '" + direction + "'");
  const int64_t numDirections = direction == "bidirectional" ? 2 : 1;
  const int64_t layout = node.opset() >= 14 ? node.intAttr("layout", 0) : 0;
  if (layout != 0 && layout != 1)
    return node.error("layout must be 0 or 1");
  int64_t hidden = node.intAttr("hidden_size", 0);
  if (hidden <= 0) {
    if (rType.isDynamicDim(2))
      return node.error("needs hidden_size (R's last extent is dynamic)");
    hidden = rType.getDimSize(2);
  }
  const int64_t gh = gates * hidden;
  if ((!wType.isDynamicDim(1) && wType.getDimSize(1) != gh) ||
      (!rType.isDynamicDim(1) && rType.getDimSize(1) != gh) ||
      (!rType.isDynamicDim(2) && rType.getDimSize(2) != hidden) ||
      (!wType.isDynamicDim(0) && wType.getDimSize(0) != numDirections))
    return node.error("W and R do not have the shapes " + Twine(gates) +
                      " gates of hidden_size " + Twine(hidden) + " and " +
                      Twine(numDirections) + " direction(s) need");
  const float clip = node.floatAttr("clip", 0);
  const bool hasClip = node.attribute("clip") != nullptr;
  const bool inputForget =
      cell == Cell::LSTM && node.intAttr("input_forget", 0) != 0;
  const bool linearBeforeReset =
      cell == Cell::GRU && node.intAttr("linear_before_reset", 0) != 0;

  // Activations, one list per direction.
  const int perDirection = cell == Cell::RNN ? 1 : cell == Cell::GRU ? 2 : 3;
  SmallVector<std::string> names;
  if (const onnx::AttributeProto *attr = node.attribute("activations")) {
    for (const std::string &s : attr->strings())
      names.push_back(llvm::StringRef(s).lower());
  } else {
    for (int64_t d = 0; d < numDirections; ++d) {
      if (cell == Cell::RNN)
        names.push_back("tanh");
      else if (cell == Cell::GRU)
        llvm::append_range(names, SmallVector<std::string>{"sigmoid", "tanh"});
      else
        llvm::append_range(names,
                           SmallVector<std::string>{"sigmoid", "tanh", "tanh"});
    }
  }
  if (static_cast<int64_t>(names.size()) == perDirection && numDirections == 2)
    llvm::append_range(names, SmallVector<std::string>(names));
  if (static_cast<int64_t>(names.size()) != perDirection * numDirections)
    return node.error("needs " + Twine(perDirection * numDirections) +
                      " activations, got " + Twine(names.size()));
  SmallVector<float> alphas, betas;
  if (const onnx::AttributeProto *attr = node.attribute("activation_alpha"))
    alphas.assign(attr->floats().begin(), attr->floats().end());
  if (const onnx::AttributeProto *attr = node.attribute("activation_beta"))
    betas.assign(attr->floats().begin(), attr->floats().end());
  SmallVector<Activation> activations;
  size_t nextAlpha = 0, nextBeta = 0;
  for (const std::string &name : names) {
    static const char *const known[] = {
        "relu",       "tanh",        "sigmoid",
        "affine",     "leakyrelu",   "thresholdedrelu",
        "scaledtanh", "hardsigmoid", "elu",
        "softsign",   "softplus"};
    if (!llvm::is_contained(known, StringRef(name)))
      return node.error("activation '" + name + "' is not supported");
    Activation f;
    f.name = name;
    bool usesAlpha, usesBeta;
    activationDefaults(name, usesAlpha, usesBeta, f.alpha, f.beta);
    if (usesAlpha && nextAlpha < alphas.size())
      f.alpha = alphas[nextAlpha++];
    if (usesBeta && nextBeta < betas.size())
      f.beta = betas[nextBeta++];
    activations.push_back(f);
  }

  // Everything in the layout-0 order: X [T, B, I], states [D, B, H].
  if (layout == 1)
    x = transposed(b, loc, x, {1, 0, 2});
  xType = cast<RankedTensorType>(x.getType());
  auto optionalInput = [&](int i) -> Value {
    return node.hasInput(i) ? node.input(i) : Value();
  };
  Value bias = optionalInput(3);
  Value seqLens = optionalInput(4);
  Value initialH = optionalInput(5);
  Value initialC = cell == Cell::LSTM ? optionalInput(6) : Value();
  Value peephole = cell == Cell::LSTM ? optionalInput(7) : Value();
  if (layout == 1) {
    if (initialH)
      initialH = transposed(b, loc, initialH, {1, 0, 2});
    if (initialC)
      initialC = transposed(b, loc, initialC, {1, 0, 2});
  }
  for (Value v : {bias, initialH, initialC, peephole})
    if (v && cast<RankedTensorType>(v.getType()).getElementType() != element)
      return node.error("B, initial states and P must have X's element type");
  if (bias) {
    auto type = cast<RankedTensorType>(bias.getType());
    if (type.getRank() != 2 || type.isDynamicDim(1) ||
        type.getDimSize(1) != 2 * gh)
      return node.error("B must be [num_directions, " + Twine(2 * gh) + "]");
  }
  if (peephole) {
    auto type = cast<RankedTensorType>(peephole.getType());
    if (type.getRank() != 2 || type.isDynamicDim(1) ||
        type.getDimSize(1) != 3 * hidden)
      return node.error("P must be [num_directions, " + Twine(3 * hidden) +
                        "]");
  }
  for (Value v : {initialH, initialC})
    if (v && cast<RankedTensorType>(v.getType()).getRank() != 3)
      return node.error("initial states must have rank 3");
  // Extents that index the weights and states must be known: a mismatch at
  // run time would read past a buffer.
  if (!xType.isDynamicDim(2) && !wType.isDynamicDim(2) &&
      xType.getDimSize(2) != wType.getDimSize(2))
    return node.error("X has input size " + Twine(xType.getDimSize(2)) +
                      ", W " + Twine(wType.getDimSize(2)));
  if (wType.isDynamicDim(2) && xType.isDynamicDim(2))
    return node.error("needs the input size of X or W known at import time");
  for (Value v : {w, r, bias, peephole, initialH, initialC}) {
    if (!v)
      continue;
    auto type = cast<RankedTensorType>(v.getType());
    if (type.isDynamicDim(0) || type.getDimSize(0) != numDirections)
      return node.error("W, R, B, P and the initial states need " +
                        Twine(numDirections) +
                        " direction(s) known at import time, got " +
                        llvm::formatv("{0}", type).str());
  }
  for (Value v : {initialH, initialC}) {
    if (!v)
      continue;
    auto type = cast<RankedTensorType>(v.getType());
    if (type.isDynamicDim(2) || type.getDimSize(2) != hidden)
      return node.error("initial states need the hidden size " + Twine(hidden) +
                        ", got " + llvm::formatv("{0}", type).str());
  }

  // Batch extents of the initial states and sequence_lens agree with X's.
  for (auto [v, dim] : {std::pair<Value, int64_t>(initialH, 1),
                        std::pair<Value, int64_t>(initialC, 1),
                        std::pair<Value, int64_t>(seqLens, 0)}) {
    if (!v)
      continue;
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getRank() <= dim)
      continue;
    if (!type.isDynamicDim(dim) && !xType.isDynamicDim(1)) {
      if (type.getDimSize(dim) != xType.getDimSize(1))
        return node.error("the batch extents of X and " +
                          llvm::formatv("{0}", type).str() + " differ");
      continue;
    }
    Value same = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       tensor::DimOp::create(b, loc, v, dim),
                                       tensor::DimOp::create(b, loc, x, 1));
    std::string name = node.node().name();
    if (auto named = dyn_cast<NameLoc>(loc))
      name = named.getName().str();
    cf::AssertOp::create(b, loc, same,
                         name + " (" + node.node().op_type() +
                             "): batch extents differ");
  }
  Emitter e{node, element};
  Value seqLensColumn; // [B, 1] i32/i64
  if (seqLens) {
    auto type = cast<RankedTensorType>(seqLens.getType());
    if (type.getRank() != 1 || !isa<IntegerType>(type.getElementType()))
      return node.error("sequence_lens must be a 1-D integer tensor");
    seqLensColumn = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({type.getDimSize(0), 1}, type.getElementType()),
        seqLens, SmallVector<ReassociationIndices>{{0, 1}});
  }

  Value zeroIndex = arith::ConstantIndexOp::create(b, loc, 0);
  Value oneIndex = arith::ConstantIndexOp::create(b, loc, 1);
  Value steps = tensor::DimOp::create(b, loc, x, 0);
  Value batchSize = tensor::DimOp::create(b, loc, x, 1);
  const int64_t staticSteps = xType.getDimSize(0);
  const int64_t staticBatch = xType.getDimSize(1);
  auto stateType = RankedTensorType::get({staticBatch, hidden}, element);
  SmallVector<Value> batchDynamic;
  if (ShapedType::isDynamic(staticBatch))
    batchDynamic.push_back(batchSize);
  Value zeroScalar =
      arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0));
  Value zeroState =
      tensor::SplatOp::create(b, loc, stateType, zeroScalar, batchDynamic);

  // Y: [T, D, B, H], every entry written (zeros past a sequence's end).
  auto yType = RankedTensorType::get(
      {staticSteps, numDirections, staticBatch, hidden}, element);
  SmallVector<Value> yDynamic;
  if (ShapedType::isDynamic(staticSteps))
    yDynamic.push_back(steps);
  llvm::append_range(yDynamic, batchDynamic);
  Value y = tensor::EmptyOp::create(b, loc, yType, yDynamic);

  SmallVector<Value> finalH, finalC;
  for (int64_t d = 0; d < numDirections; ++d) {
    const bool reverse =
        direction == "reverse" || (direction == "bidirectional" && d == 1);
    ArrayRef<Activation> acts =
        ArrayRef<Activation>(activations).slice(d * perDirection, perDirection);
    Value wT = transposed(b, loc, entry(b, loc, w, b.getIndexAttr(d)), {1, 0});
    Value rT = transposed(b, loc, entry(b, loc, r, b.getIndexAttr(d)), {1, 0});
    wT = tensor::CastOp::create(
        b, loc,
        RankedTensorType::get(
            {cast<RankedTensorType>(wT.getType()).getDimSize(0), gh}, element),
        wT);
    rT = tensor::CastOp::create(
        b, loc, RankedTensorType::get({hidden, gh}, element), rT);
    Value wBias, rBias;
    if (bias) {
      Value bd = entry(b, loc, bias, b.getIndexAttr(d));
      wBias = sliceDim(b, loc, bd, 0, 0, gh);
      rBias = sliceDim(b, loc, bd, 0, gh, gh);
    }
    Value pI, pO, pF;
    if (peephole) {
      Value pd = entry(b, loc, peephole, b.getIndexAttr(d));
      pI = sliceDim(b, loc, pd, 0, 0, hidden);
      pO = sliceDim(b, loc, pd, 0, hidden, hidden);
      pF = sliceDim(b, loc, pd, 0, 2 * hidden, hidden);
    }
    auto initialState = [&](Value init) -> Value {
      if (!init)
        return zeroState;
      return tensor::CastOp::create(b, loc, stateType,
                                    entry(b, loc, init, b.getIndexAttr(d)));
    };
    SmallVector<Value> inits{initialState(initialH)};
    if (cell == Cell::LSTM)
      inits.push_back(initialState(initialC));
    inits.push_back(y);
    auto loop = scf::ForOp::create(b, loc, zeroIndex, steps, oneIndex, inits);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Block *body = loop.getBody();
    if (!body->empty() && body->back().hasTrait<OpTrait::IsTerminator>())
      body->back().erase();
    b.setInsertionPointToEnd(body);
    Value step = loop.getInductionVar();
    Value t = step;
    if (reverse)
      t = arith::SubIOp::create(
          b, loc, arith::SubIOp::create(b, loc, steps, oneIndex), step);
    Value h = loop.getRegionIterArgs()[0];
    Value c = cell == Cell::LSTM ? loop.getRegionIterArgs()[1] : Value();
    Value yAcc = loop.getRegionIterArgs().back();

    Value xt = entry(b, loc, x, t);
    Value gx = e.matmul(xt, wT);
    if (wBias)
      gx = e.add(gx, wBias);
    Value gr = e.matmul(h, rT);
    if (rBias)
      gr = e.add(gr, rBias);
    auto gate = [&](Value v, int64_t k) {
      return sliceDim(b, loc, v, 1, k * hidden, hidden);
    };
    auto clipped = [&](Value v) {
      if (!hasClip)
        return v;
      return e.min(e.max(v, e.c(-clip)), e.c(clip));
    };
    Value newH, newC;
    if (cell == Cell::RNN) {
      newH = e.apply(acts[0], clipped(e.add(gx, gr)));
    } else if (cell == Cell::GRU) {
      // Gates z, r, h.
      Value z = e.apply(acts[0], clipped(e.add(gate(gx, 0), gate(gr, 0))));
      Value rg = e.apply(acts[0], clipped(e.add(gate(gx, 1), gate(gr, 1))));
      Value candidateIn;
      if (linearBeforeReset) {
        candidateIn = e.add(gate(gx, 2), e.mul(rg, gate(gr, 2)));
      } else {
        Value rh =
            e.matmul(e.mul(rg, h), sliceDim(b, loc, rT, 1, 2 * hidden, hidden));
        if (rBias)
          rh = e.add(rh, sliceDim(b, loc, rBias, 0, 2 * hidden, hidden));
        candidateIn = e.add(gate(gx, 2), rh);
      }
      Value candidate = e.apply(acts[1], clipped(candidateIn));
      newH = e.add(e.mul(e.sub(e.c(1), z), candidate), e.mul(z, h));
    } else {
      // Gates i, o, f, c; peepholes i, o, f.
      Value iIn = e.add(gate(gx, 0), gate(gr, 0));
      if (pI)
        iIn = e.add(iIn, e.mul(pI, c));
      Value i = e.apply(acts[0], clipped(iIn));
      Value f;
      if (inputForget) {
        f = e.sub(e.c(1), i);
      } else {
        Value fIn = e.add(gate(gx, 2), gate(gr, 2));
        if (pF)
          fIn = e.add(fIn, e.mul(pF, c));
        f = e.apply(acts[0], clipped(fIn));
      }
      Value candidate =
          e.apply(acts[1], clipped(e.add(gate(gx, 3), gate(gr, 3))));
      newC = e.add(e.mul(f, c), e.mul(i, candidate));
      Value oIn = e.add(gate(gx, 1), gate(gr, 1));
      if (pO)
        oIn = e.add(oIn, e.mul(pO, newC));
      Value o = e.apply(acts[0], clipped(oIn));
      newH = e.mul(o, e.apply(acts[2], newC));
    }
    newH = tensor::CastOp::create(b, loc, stateType, newH);
    if (newC)
      newC = tensor::CastOp::create(b, loc, stateType, newC);
    Value yt = newH;
    if (seqLensColumn) {
      auto lensType = cast<RankedTensorType>(seqLensColumn.getType());
      Value tInt =
          arith::IndexCastOp::create(b, loc, lensType.getElementType(), t);
      Value active = mlir::slm::CompareOp::create(
          b, loc, lensType.clone(b.getI1Type()),
          mlir::slm::ComparePredicate::gt, seqLensColumn,
          tensor::FromElementsOp::create(
              b, loc, RankedTensorType::get({}, tInt.getType()), tInt));
      auto masked = [&](Value now, Value otherwise) -> Value {
        return tensor::CastOp::create(
            b, loc, stateType,
            mlir::slm::SelectOp::create(b, loc, stateType, active, now,
                                        otherwise));
      };
      yt = masked(newH, e.c(0));
      newH = masked(newH, h);
      if (newC)
        newC = masked(newC, c);
    }
    SmallVector<OpFoldResult> offsets{t, b.getIndexAttr(d), b.getIndexAttr(0),
                                      b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(1), b.getIndexAttr(1)};
    sizes.push_back(
        ShapedType::isDynamic(staticBatch)
            ? OpFoldResult(tensor::DimOp::create(b, loc, yt, 0).getResult())
            : OpFoldResult(b.getIndexAttr(staticBatch)));
    sizes.push_back(b.getIndexAttr(hidden));
    SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
    Value yNext = tensor::InsertSliceOp::create(b, loc, yt, yAcc, offsets,
                                                sizes, strides);
    SmallVector<Value> yielded{newH};
    if (newC)
      yielded.push_back(newC);
    yielded.push_back(yNext);
    scf::YieldOp::create(b, loc, yielded);
    b.setInsertionPointAfter(loop);
    finalH.push_back(loop.getResult(0));
    if (cell == Cell::LSTM)
      finalC.push_back(loop.getResult(1));
    y = loop.getResults().back();
  }

  // Stack the final states: [D, B, H].
  auto stack = [&](ArrayRef<Value> states) -> Value {
    auto type =
        RankedTensorType::get({numDirections, staticBatch, hidden}, element);
    Value result = tensor::EmptyOp::create(b, loc, type, batchDynamic);
    for (auto [d, s] : llvm::enumerate(states)) {
      SmallVector<OpFoldResult> offsets{b.getIndexAttr(d), b.getIndexAttr(0),
                                        b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes{b.getIndexAttr(1)};
      llvm::append_range(sizes, tensor::getMixedSizes(b, loc, s));
      SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
      result = tensor::InsertSliceOp::create(b, loc, s, result, offsets, sizes,
                                             strides);
    }
    return result;
  };
  if (layout == 1)
    y = transposed(b, loc, y, {2, 0, 1, 3});
  node.setOutput(0, y);
  if (node.hasOutput(1)) {
    Value h = stack(finalH);
    node.setOutput(1, layout == 1 ? transposed(b, loc, h, {1, 0, 2}) : h);
  }
  if (cell == Cell::LSTM && node.hasOutput(2)) {
    Value c = stack(finalC);
    node.setOutput(2, layout == 1 ? transposed(b, loc, c, {1, 0, 2}) : c);
  }
  return success();
}

void mlir::slm::onnx_import::registerRecurrentOps(OpTable &table) {
  table.add("RNN", 7, importRecurrent<Cell::RNN>);
  table.add("GRU", 7, importRecurrent<Cell::GRU>);
  table.add("LSTM", 7, importRecurrent<Cell::LSTM>);
}
