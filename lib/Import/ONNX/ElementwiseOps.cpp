//===- ElementwiseOps.cpp - ONNX elementwise ops ----------------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Add Sub Mul Div Pow Max Min, comparisons, Where, Not, unary math, Relu,
// Sigmoid, Cast, Identity, Dropout. Integer arithmetic on shape values is
// evaluated at import time where possible.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::slm::onnx_import;

namespace {
enum class Binary {
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Max,
  Min,
  Equal,
  Less,
  Greater,
  LessOrEqual,
  GreaterOrEqual
};
} // namespace

static bool isComparison(Binary kind) { return kind >= Binary::Equal; }

/// Evaluates `kind` on two known elements; std::nullopt when the result is
/// not representable as a DimExpr.
static std::optional<DimExpr> evaluate(Binary kind, const DimExpr &a,
                                       const DimExpr &b) {
  if (kind == Binary::Mul)
    return a * b;
  if (kind == Binary::Div) {
    if (a.isConstant() && b.isConstant() && b.factor != 0)
      return DimExpr::constant(a.factor / b.factor);
    return a.dividedBy(b);
  }
  if (kind == Binary::Equal && a == b)
    return DimExpr::constant(1);
  // An extent (a product of dimensions, factor > 0) is never negative: that
  // decides comparisons against negative constants such as Reshape's -1.
  auto nonNegative = [](const DimExpr &e) { return e.factor >= 0; };
  if (!a.isConstant() && nonNegative(a) && b.isConstant() && b.factor < 0) {
    if (kind == Binary::Equal || kind == Binary::Less ||
        kind == Binary::LessOrEqual)
      return DimExpr::constant(0);
    if (kind == Binary::Greater || kind == Binary::GreaterOrEqual)
      return DimExpr::constant(1);
  }
  if (!b.isConstant() && nonNegative(b) && a.isConstant() && a.factor < 0) {
    if (kind == Binary::Equal || kind == Binary::Greater ||
        kind == Binary::GreaterOrEqual)
      return DimExpr::constant(0);
    if (kind == Binary::Less || kind == Binary::LessOrEqual)
      return DimExpr::constant(1);
  }
  if (!a.isConstant() || !b.isConstant())
    return std::nullopt;
  int64_t x = a.factor, y = b.factor;
  switch (kind) {
  case Binary::Add:
    return DimExpr::constant(x + y);
  case Binary::Sub:
    return DimExpr::constant(x - y);
  case Binary::Max:
    return DimExpr::constant(std::max(x, y));
  case Binary::Min:
    return DimExpr::constant(std::min(x, y));
  case Binary::Equal:
    return DimExpr::constant(x == y);
  case Binary::Less:
    return DimExpr::constant(x < y);
  case Binary::Greater:
    return DimExpr::constant(x > y);
  case Binary::LessOrEqual:
    return DimExpr::constant(x <= y);
  case Binary::GreaterOrEqual:
    return DimExpr::constant(x >= y);
  default:
    return std::nullopt;
  }
}

/// Import-time evaluation of a binary op on shape values (0-D/1-D integer
/// tensors with known elements). Returns true when it defined the output.
static bool tryEvaluateSymbolic(NodeContext &node, Binary kind,
                                RankedTensorType resultType) {
  ImportedValue *lhs = node.inputInfo(0), *rhs = node.inputInfo(1);
  if (!lhs->elements || !rhs->elements || resultType.getRank() > 1)
    return false;
  const auto &a = *lhs->elements, &b = *rhs->elements;
  size_t n = std::max(a.size(), b.size());
  if ((a.size() != n && a.size() != 1) || (b.size() != n && b.size() != 1))
    return false;
  SmallVector<DimExpr> out;
  for (size_t i = 0; i < n; ++i) {
    std::optional<DimExpr> r =
        evaluate(kind, a[a.size() == 1 ? 0 : i], b[b.size() == 1 ? 0 : i]);
    if (!r)
      return false;
    out.push_back(*r);
  }
  node.setSymbolicOutput(0, resultType, out);
  return true;
}

template <Binary kind> static LogicalResult importBinary(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  RankedTensorType lhsType = node.inputType(0), rhsType = node.inputType(1);
  Type elementType = lhsType.getElementType();
  if (kind != Binary::Pow && rhsType.getElementType() != elementType)
    return node.error(
        "input element types differ: " +
        llvm::Twine(llvm::formatv("{0} and {1}", lhsType, rhsType).str()));
  Type resultElement =
      isComparison(kind) ? Type(node.builder().getI1Type()) : elementType;
  RankedTensorType resultType =
      broadcastType(node, lhsType, rhsType, resultElement);
  if (!resultType)
    return failure();
  if (isa<IntegerType>(elementType) &&
      tryEvaluateSymbolic(node, kind, resultType))
    return success();

  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Value lhs = node.input(0), rhs = node.input(1);
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  if (kind == Binary::Pow && isa<IntegerType>(elementType) &&
      isa<FloatType>(rhsType.getElementType())) {
    // An integer base to a floating-point power: computed in f64 and
    // truncated back, as ONNX Runtime.
    Type f64 = b.getF64Type();
    Value x = castElements(b, loc, lhs, isUnsigned, f64, false);
    Value y = castElements(b, loc, rhs, false, f64, false);
    Value p = mlir::slm::PowOp::create(b, loc, resultType.clone(f64), x, y);
    node.setOutput(0, castElements(b, loc, p, false, elementType, isUnsigned),
                   isUnsigned);
    return success();
  }
  if (kind == Binary::Pow && rhsType.getElementType() != elementType)
    rhs = castElements(b, loc, rhs, node.inputInfo(1)->isUnsigned, elementType,
                       false);
  if (isUnsigned && isa<IntegerType>(elementType) &&
      (kind == Binary::Div || kind == Binary::Max || kind == Binary::Min ||
       (isComparison(kind) && kind != Binary::Equal))) {
    // Unsigned integers: arith's unsigned ops (slm's are signed).
    Value result = broadcastElementwise(
        b, loc, resultType, {lhs, rhs},
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value x = args[0], y = args[1];
          switch (kind) {
          case Binary::Div: {
            // x / 0 gives 0 instead of trapping.
            Value zero = arith::ConstantOp::create(
                nb, l, IntegerAttr::get(elementType, 0));
            Value one = arith::ConstantOp::create(
                nb, l, IntegerAttr::get(elementType, 1));
            Value isZero =
                arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, y, zero);
            Value q = arith::DivUIOp::create(
                nb, l, x, arith::SelectOp::create(nb, l, isZero, one, y));
            return arith::SelectOp::create(nb, l, isZero, zero, q);
          }
          case Binary::Max:
            return arith::MaxUIOp::create(nb, l, x, y);
          case Binary::Min:
            return arith::MinUIOp::create(nb, l, x, y);
          case Binary::Less:
            return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, x,
                                         y);
          case Binary::Greater:
            return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt, x,
                                         y);
          case Binary::LessOrEqual:
            return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ule, x,
                                         y);
          default:
            return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::uge, x,
                                         y);
          }
        });
    node.setOutput(0, result, !isComparison(kind));
    return success();
  }
  Value result;
  switch (kind) {
  case Binary::Add:
    result = mlir::slm::AddOp::create(b, loc, resultType, lhs, rhs);
    break;
  case Binary::Sub:
    result = mlir::slm::SubOp::create(b, loc, resultType, lhs, rhs);
    break;
  case Binary::Mul:
    result = mlir::slm::MulOp::create(b, loc, resultType, lhs, rhs);
    break;
  case Binary::Div:
    result = mlir::slm::DivOp::create(b, loc, resultType, lhs, rhs);
    break;
  case Binary::Pow:
    result = mlir::slm::PowOp::create(b, loc, resultType, lhs, rhs);
    break;
  case Binary::Max:
    result = mlir::slm::MaxOp::create(b, loc, resultType, lhs, rhs);
    break;
  case Binary::Min:
    result = mlir::slm::MinOp::create(b, loc, resultType, lhs, rhs);
    break;
  default: {
    using mlir::slm::ComparePredicate;
    ComparePredicate predicate =
        kind == Binary::Equal         ? ComparePredicate::eq
        : kind == Binary::Less        ? ComparePredicate::lt
        : kind == Binary::Greater     ? ComparePredicate::gt
        : kind == Binary::LessOrEqual ? ComparePredicate::le
                                      : ComparePredicate::ge;
    result =
        mlir::slm::CompareOp::create(b, loc, resultType, predicate, lhs, rhs);
  }
  }
  node.setOutput(0, result,
                 !isComparison(kind) && node.inputInfo(0)->isUnsigned);
  return success();
}

/// Max and Min take one or more inputs.
template <Binary kind> static LogicalResult importVariadic(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value acc = node.input(0);
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  for (int i = 1; i < node.numInputs(); ++i) {
    Value next = node.input(i);
    if (!next)
      return failure();
    RankedTensorType type =
        broadcastType(node, cast<RankedTensorType>(acc.getType()),
                      cast<RankedTensorType>(next.getType()),
                      cast<RankedTensorType>(acc.getType()).getElementType());
    if (!type)
      return failure();
    if (isUnsigned && isa<IntegerType>(type.getElementType())) {
      acc = broadcastElementwise(
          node.builder(), node.loc(), type, {acc, next},
          [](OpBuilder &b, Location l, ValueRange args) -> Value {
            if (kind == Binary::Max)
              return arith::MaxUIOp::create(b, l, args[0], args[1]);
            return arith::MinUIOp::create(b, l, args[0], args[1]);
          });
      continue;
    }
    if (kind == Binary::Max)
      acc =
          mlir::slm::MaxOp::create(node.builder(), node.loc(), type, acc, next);
    else
      acc =
          mlir::slm::MinOp::create(node.builder(), node.loc(), type, acc, next);
  }
  node.setOutput(0, acc, isUnsigned);
  return success();
}

static LogicalResult importWhere(NodeContext &node) {
  if (failed(requireInputs(node, 3)))
    return failure();
  RankedTensorType c = node.inputType(0), x = node.inputType(1),
                   y = node.inputType(2);
  if (x.getElementType() != y.getElementType())
    return node.error("X and Y element types differ");
  RankedTensorType type = broadcastType(node, c, x, x.getElementType());
  if (!type || !(type = broadcastType(node, type, y, x.getElementType())))
    return failure();
  // Shape arithmetic: Where on known elements selects at import time.
  ImportedValue *ci = node.inputInfo(0), *xi = node.inputInfo(1),
                *yi = node.inputInfo(2);
  if (type.getRank() <= 1 && ci->constantElements() && xi->elements &&
      yi->elements) {
    auto cond = *ci->constantElements();
    size_t n = type.getRank() == 0
                   ? 1
                   : std::max({cond.size(), xi->elements->size(),
                               yi->elements->size()});
    auto pick = [&](const SmallVector<DimExpr> &v, size_t i) {
      return v[v.size() == 1 ? 0 : i];
    };
    SmallVector<DimExpr> out;
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      size_t ci2 = cond.size() == 1 ? 0 : i;
      ok = ci2 < cond.size();
      if (ok)
        out.push_back(cond[ci2] ? pick(*xi->elements, i)
                                : pick(*yi->elements, i));
    }
    if (ok) {
      node.setSymbolicOutput(0, type, out);
      return success();
    }
  }
  Value result =
      mlir::slm::SelectOp::create(node.builder(), node.loc(), type,
                                  node.input(0), node.input(1), node.input(2));
  node.setOutput(0, result, xi->isUnsigned);
  return success();
}

static LogicalResult importNot(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  ImportedValue *info = node.inputInfo(0);
  if (auto known = info->constantElements()) {
    SmallVector<DimExpr> out;
    for (int64_t v : *known)
      out.push_back(DimExpr::constant(!v));
    node.setSymbolicOutput(0, info->type, out);
    return success();
  }
  Value falseValue = scalarConstant(node, node.builder().getI1Type(), 0);
  Value result = mlir::slm::CompareOp::create(
      node.builder(), node.loc(), info->type, mlir::slm::ComparePredicate::eq,
      node.input(0), falseValue);
  node.setOutput(0, result);
  return success();
}

namespace {
enum class Unary {
  Sqrt,
  Erf,
  Tanh,
  Exp,
  Log,
  Neg,
  Abs,
  Sin,
  Cos,
  Tan,
  Sinh,
  Cosh,
  Asin,
  Acos,
  Atan,
  Asinh,
  Acosh,
  Atanh,
  Floor,
  Ceil,
  Round,
  Reciprocal,
  Sigmoid,
  Relu,
  Softplus,
  Softsign,
  IsNaN,
  Sign
};
} // namespace

template <Unary kind> static LogicalResult importUnary(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  RankedTensorType type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  bool isFloat = isa<FloatType>(element);
  if (!isFloat && kind != Unary::Neg && kind != Unary::Abs &&
      kind != Unary::Relu && kind != Unary::Sign)
    return node.error("needs a floating-point input, got " +
                      llvm::formatv("{0}", type).str());
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  if (isUnsigned && (kind == Unary::Abs || kind == Unary::Relu)) {
    // Unsigned values are their own absolute value and never negative.
    node.setOutput(0, x, true);
    return success();
  }
  if (isUnsigned && kind == Unary::Sign) {
    Value zero = scalarConstant(node, element, 0);
    Value nonZero =
        mlir::slm::CompareOp::create(b, loc, type.clone(b.getI1Type()),
                                     mlir::slm::ComparePredicate::ne, x, zero);
    node.setOutput(0,
                   mlir::slm::SelectOp::create(b, loc, type, nonZero,
                                               scalarConstant(node, element, 1),
                                               zero),
                   true);
    return success();
  }
  // Shape arithmetic: Neg of known integer elements at import time (the
  // number of reduced axes in LayerNormalization's function body).
  if (kind == Unary::Neg && !isFloat && type.getRank() <= 1)
    if (auto known = node.inputInfo(0)->constantElements()) {
      SmallVector<DimExpr> negated;
      for (int64_t v : *known)
        negated.push_back(DimExpr::constant(-v));
      node.setSymbolicOutput(0, type, negated);
      return success();
    }
  Value r;
  switch (kind) {
  case Unary::Sqrt:
    r = math::SqrtOp::create(b, loc, x);
    break;
  case Unary::Erf:
    r = math::ErfOp::create(b, loc, x);
    break;
  case Unary::Tanh:
    r = math::TanhOp::create(b, loc, x);
    break;
  case Unary::Exp:
    r = math::ExpOp::create(b, loc, x);
    break;
  case Unary::Log:
    r = math::LogOp::create(b, loc, x);
    break;
  case Unary::Sin:
    r = math::SinOp::create(b, loc, x);
    break;
  case Unary::Cos:
    r = math::CosOp::create(b, loc, x);
    break;
  case Unary::Tan:
    r = math::TanOp::create(b, loc, x);
    break;
  case Unary::Sinh:
    r = math::SinhOp::create(b, loc, x);
    break;
  case Unary::Cosh:
    r = math::CoshOp::create(b, loc, x);
    break;
  case Unary::Asin:
    r = math::AsinOp::create(b, loc, x);
    break;
  case Unary::Acos:
    r = math::AcosOp::create(b, loc, x);
    break;
  case Unary::Atan:
    r = math::AtanOp::create(b, loc, x);
    break;
  case Unary::Asinh:
    r = math::AsinhOp::create(b, loc, x);
    break;
  case Unary::Acosh:
    r = math::AcoshOp::create(b, loc, x);
    break;
  case Unary::Atanh:
    r = math::AtanhOp::create(b, loc, x);
    break;
  case Unary::Round:
    r = math::RoundEvenOp::create(b, loc, x);
    break;
  case Unary::Softplus: // log(1 + exp(x))
    r = math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, x));
    break;
  case Unary::Softsign: // x / (1 + |x|)
    r = mlir::slm::DivOp::create(
        b, loc, type, x,
        mlir::slm::AddOp::create(b, loc, type, math::AbsFOp::create(b, loc, x),
                                 scalarConstant(node, element, 1)));
    break;
  case Unary::IsNaN: // x != x
    r = mlir::slm::CompareOp::create(b, loc, type.clone(b.getI1Type()),
                                     mlir::slm::ComparePredicate::ne, x, x);
    break;
  case Unary::Sign: { // (x > 0) - (x < 0)
    auto boolType = type.clone(b.getI1Type());
    Value zero = scalarConstant(node, element, 0);
    Value pos = mlir::slm::SelectOp::create(
        b, loc, type,
        mlir::slm::CompareOp::create(b, loc, boolType,
                                     mlir::slm::ComparePredicate::gt, x, zero),
        scalarConstant(node, element, 1), zero);
    r = mlir::slm::SelectOp::create(
        b, loc, type,
        mlir::slm::CompareOp::create(b, loc, boolType,
                                     mlir::slm::ComparePredicate::lt, x, zero),
        scalarConstant(node, element, -1), pos);
    break;
  }
  case Unary::Floor:
    r = math::FloorOp::create(b, loc, x);
    break;
  case Unary::Ceil:
    r = math::CeilOp::create(b, loc, x);
    break;
  case Unary::Neg:
    r = isFloat ? arith::NegFOp::create(b, loc, x).getResult()
                : mlir::slm::SubOp::create(b, loc, type,
                                           scalarConstant(node, element, 0), x)
                      .getResult();
    break;
  case Unary::Abs:
    r = isFloat ? math::AbsFOp::create(b, loc, x).getResult()
                : math::AbsIOp::create(b, loc, x).getResult();
    break;
  case Unary::Reciprocal:
    r = mlir::slm::DivOp::create(b, loc, type, scalarConstant(node, element, 1),
                                 x);
    break;
  case Unary::Sigmoid: {
    // 1 / (1 + exp(-x))
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
    Value d = mlir::slm::AddOp::create(b, loc, type, e,
                                       scalarConstant(node, element, 1));
    r = mlir::slm::DivOp::create(b, loc, type, scalarConstant(node, element, 1),
                                 d);
    break;
  }
  case Unary::Relu:
    r = mlir::slm::MaxOp::create(b, loc, type, x,
                                 scalarConstant(node, element, 0));
    break;
  }
  node.setOutput(0, r, isUnsigned);
  return success();
}

/// LeakyRelu, Elu, Selu, Celu, ThresholdedRelu, HardSigmoid, HardSwish,
/// Mish: activations with attributes, spelled in slm arithmetic.
namespace {
enum class ActivationKind {
  LeakyRelu,
  Elu,
  Selu,
  Celu,
  ThresholdedRelu,
  HardSigmoid,
  HardSwish,
  Mish
};
} // namespace

template <ActivationKind kind>
static LogicalResult importActivation(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return node.error("needs a floating-point input");
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  auto c = [&](double v) { return scalarConstant(node, element, v); };
  auto mul = [&](Value a, Value v) {
    return mlir::slm::MulOp::create(b, loc, type, a, v).getResult();
  };
  auto add = [&](Value a, Value v) {
    return mlir::slm::AddOp::create(b, loc, type, a, v).getResult();
  };
  auto positive = [&](double threshold) {
    return mlir::slm::CompareOp::create(b, loc, type.clone(b.getI1Type()),
                                        mlir::slm::ComparePredicate::gt, x,
                                        c(threshold))
        .getResult();
  };
  auto select = [&](Value cond, Value t, Value f) {
    return mlir::slm::SelectOp::create(b, loc, type, cond, t, f).getResult();
  };
  auto expm1 = [&](Value v) {
    return math::ExpM1Op::create(b, loc, v).getResult();
  };
  auto clamp01 = [&](Value v) {
    v = mlir::slm::MaxOp::create(b, loc, type, v, c(0));
    return mlir::slm::MinOp::create(b, loc, type, v, c(1)).getResult();
  };
  Value r;
  switch (kind) {
  case ActivationKind::LeakyRelu:
    r = select(positive(0), x, mul(x, c(node.floatAttr("alpha", 0.01f))));
    break;
  case ActivationKind::Elu:
    r = select(positive(0), x, mul(expm1(x), c(node.floatAttr("alpha", 1.0f))));
    break;
  case ActivationKind::Selu: {
    double alpha = node.floatAttr("alpha", 1.67326319217681884765625f);
    double gamma = node.floatAttr("gamma", 1.05070102214813232421875f);
    r = mul(select(positive(0), x, mul(expm1(x), c(alpha))), c(gamma));
    break;
  }
  case ActivationKind::Celu: {
    double alpha = node.floatAttr("alpha", 1.0f);
    Value scaled = mlir::slm::DivOp::create(b, loc, type, x, c(alpha));
    r = select(positive(0), x, mul(expm1(scaled), c(alpha)));
    break;
  }
  case ActivationKind::ThresholdedRelu:
    r = select(positive(node.floatAttr("alpha", 1.0f)), x, c(0));
    break;
  case ActivationKind::HardSigmoid:
    r = clamp01(add(mul(x, c(node.floatAttr("alpha", 0.2f))),
                    c(node.floatAttr("beta", 0.5f))));
    break;
  case ActivationKind::HardSwish:
    r = mul(x, clamp01(add(mul(x, c(1.0 / 6.0)), c(0.5))));
    break;
  case ActivationKind::Mish: // x * tanh(softplus(x))
    r = mul(x,
            math::TanhOp::create(
                b, loc,
                math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, x))));
    break;
  }
  node.setOutput(0, r);
  return success();
}

/// Clip(x, min, max): inputs from opset 11, attributes before.
static LogicalResult importClip(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value x = node.input(0);
  auto type = cast<RankedTensorType>(x.getType());
  OpBuilder &b = node.builder();
  Value lo, hi;
  if (node.opset() >= 11) {
    lo = node.hasInput(1) ? node.input(1) : Value();
    hi = node.hasInput(2) ? node.input(2) : Value();
  } else {
    if (node.attribute("min"))
      lo =
          scalarConstant(node, type.getElementType(), node.floatAttr("min", 0));
    if (node.attribute("max"))
      hi =
          scalarConstant(node, type.getElementType(), node.floatAttr("max", 0));
  }
  for (Value bound : {lo, hi})
    if (bound && cast<RankedTensorType>(bound.getType()).getElementType() !=
                     type.getElementType())
      return node.error("min and max must have the input's element type");
  bool isUnsigned = node.inputInfo(0)->isUnsigned;
  if (isUnsigned && isa<IntegerType>(type.getElementType())) {
    // Unsigned bounds compare unsigned.
    SmallVector<Value> operands = {x};
    if (lo)
      operands.push_back(lo);
    if (hi)
      operands.push_back(hi);
    Value r = broadcastElementwise(
        b, node.loc(), type, operands,
        [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
          Value v = args[0];
          if (lo)
            v = arith::MaxUIOp::create(nb, l, v, args[1]);
          if (hi)
            v = arith::MinUIOp::create(nb, l, v, args.back());
          return v;
        });
    node.setOutput(0, r, true);
    return success();
  }
  if (lo)
    x = mlir::slm::MaxOp::create(b, node.loc(), type, x, lo);
  if (hi)
    x = mlir::slm::MinOp::create(b, node.loc(), type, x, hi);
  node.setOutput(0, x, isUnsigned);
  return success();
}

/// Sum and Mean of one or more inputs, broadcasting.
template <bool isMean> static LogicalResult importSum(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  Value acc = node.input(0);
  for (int i = 1; i < node.numInputs(); ++i) {
    auto accType = cast<RankedTensorType>(acc.getType());
    RankedTensorType type = broadcastType(node, accType, node.inputType(i),
                                          accType.getElementType());
    if (!type)
      return failure();
    acc = mlir::slm::AddOp::create(node.builder(), node.loc(), type, acc,
                                   node.input(i));
  }
  if (isMean && node.numInputs() > 1) {
    auto type = cast<RankedTensorType>(acc.getType());
    acc = mlir::slm::DivOp::create(
        node.builder(), node.loc(), type, acc,
        scalarConstant(node, type.getElementType(), node.numInputs()));
  }
  node.setOutput(0, acc, node.inputInfo(0)->isUnsigned);
  return success();
}

/// And, Or, Xor on booleans, broadcasting: select-based so that the
/// broadcast rules are slm's.
namespace {
enum class Logic { And, Or, Xor };
} // namespace

template <Logic kind> static LogicalResult importLogic(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  RankedTensorType type = broadcastType(
      node, node.inputType(0), node.inputType(1), node.builder().getI1Type());
  if (!type)
    return failure();
  Value a = node.input(0), c = node.input(1);
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  Value r;
  if (kind == Logic::Xor)
    r = mlir::slm::CompareOp::create(b, loc, type,
                                     mlir::slm::ComparePredicate::ne, a, c);
  else if (kind == Logic::And) // a ? c : false
    r = mlir::slm::SelectOp::create(b, loc, type, a, c,
                                    scalarConstant(node, b.getI1Type(), 0));
  else // a ? true : c
    r = mlir::slm::SelectOp::create(b, loc, type, a,
                                    scalarConstant(node, b.getI1Type(), 1), c);
  node.setOutput(0, r);
  return success();
}

/// A tensor shaped like `like` with every element `scalar`.
static Value splatLike(OpBuilder &b, Location loc, Value like,
                       TypedAttr scalar) {
  auto type = cast<RankedTensorType>(like.getType()).clone(scalar.getType());
  if (type.hasStaticShape())
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, Attribute(scalar)));
  SmallVector<Value> dynamic;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dynamic.push_back(tensor::DimOp::create(b, loc, like, i));
  return tensor::SplatOp::create(
      b, loc, type, arith::ConstantOp::create(b, loc, scalar), dynamic);
}

/// ONNX Cast semantics: castElements, except that bfloat16 goes through
/// float32 both ways and float32 -> bfloat16 truncates the low 16 bits
/// (NaN stays a quiet NaN), as the ONNX reference implementation and test
/// data do (ONNX Runtime rounds to nearest even: results may differ by one
/// bfloat16 ulp from it).
static Value castONNX(OpBuilder &b, Location loc, Value value,
                      bool fromUnsigned, Type to, bool toUnsigned) {
  Type from = cast<RankedTensorType>(value.getType()).getElementType();
  if (from == to)
    return value;
  Type f32 = b.getF32Type();
  if (from.isBF16()) {
    value = arith::ExtFOp::create(
        b, loc, cast<RankedTensorType>(value.getType()).clone(f32), value);
    return castElements(b, loc, value, false, to, toUnsigned);
  }
  if (!to.isBF16())
    return castElements(b, loc, value, fromUnsigned, to, toUnsigned);
  value = castElements(b, loc, value, fromUnsigned, f32, false);
  auto type = cast<RankedTensorType>(value.getType());
  Type i32 = b.getI32Type(), i16 = b.getI16Type();
  Value bits = arith::BitcastOp::create(b, loc, type.clone(i32), value);
  bits = arith::ShRUIOp::create(b, loc, bits,
                                splatLike(b, loc, bits, b.getI32IntegerAttr(16)));
  Value high = arith::TruncIOp::create(b, loc, type.clone(i16), bits);
  Value isNaN = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, value,
                                      value);
  high = arith::SelectOp::create(
      b, loc, isNaN, splatLike(b, loc, high, b.getI16IntegerAttr(0x7FC0)),
      high);
  return arith::BitcastOp::create(b, loc, type.clone(to), high);
}

/// CastLike(x, like): Cast to like's element type.
static LogicalResult importCastLike(NodeContext &node) {
  if (failed(requireInputs(node, 2)))
    return failure();
  ImportedValue *like = node.inputInfo(1);
  Value result = castONNX(node.builder(), node.loc(), node.input(0),
                          node.inputInfo(0)->isUnsigned,
                          like->type.getElementType(), like->isUnsigned);
  node.setOutput(0, result, like->isUnsigned);
  return success();
}

static LogicalResult importIdentity(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  ImportedValue copy = *node.inputInfo(0);
  if (node.hasOutput(0))
    node.importer().define(node.node().output(0), std::move(copy));
  return success();
}

/// A constant scalar bool or float input's value, when it is one.
static std::optional<double> constantScalar(NodeContext &node, int i) {
  DenseElementsAttr attr;
  if (!matchPattern(node.input(i), m_Constant(&attr)) ||
      attr.getNumElements() != 1)
    return std::nullopt;
  Type t = attr.getElementType();
  if (isa<FloatType>(t))
    return (*attr.value_begin<APFloat>()).convertToDouble();
  if (t.isInteger(1))
    return *attr.value_begin<bool>() ? 1.0 : 0.0;
  return std::nullopt;
}

/// Dropout is the identity at inference (no training_mode, or false) and in
/// training mode with ratio 0; its optional mask output is then all true
/// (all ones of the input's type before opset 10). Training with a ratio
/// above 0 draws random numbers, which no other implementation could match:
/// an error at import when both are constants, a run-time check otherwise.
static LogicalResult importDropout(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  OpBuilder &b = node.builder();
  Location loc = node.loc();
  bool hasTraining = node.opset() >= 12 && node.hasInput(2);
  if (hasTraining) {
    std::optional<double> training = constantScalar(node, 2);
    std::optional<double> ratio =
        node.hasInput(1) ? constantScalar(node, 1) : std::optional<double>(0.5);
    if (training && *training == 0) {
      hasTraining = false;
    } else if (training && ratio) {
      if (*ratio != 0)
        return node.error("training mode with ratio > 0 drops random "
                          "elements; slm compiles inference (training_mode "
                          "false) only");
      hasTraining = false;
    }
  }
  if (hasTraining) {
    // Run-time values: dropping nothing (not training, or ratio 0) is the
    // only case slm computes; anything else fails the run.
    Value training = node.input(2);
    if (!cast<RankedTensorType>(training.getType()).getElementType().isInteger(1))
      return node.error("training_mode must be a bool tensor");
    Value ratio = node.hasInput(1) ? node.input(1) : Value();
    auto scalarOf = [&](Value v) -> Value {
      auto type = cast<RankedTensorType>(v.getType());
      SmallVector<Value> zeros(type.getRank(),
                               arith::ConstantIndexOp::create(b, loc, 0));
      return tensor::ExtractOp::create(b, loc, v, zeros);
    };
    Value isTraining = scalarOf(training);
    Value randomRatio = arith::ConstantIntOp::create(b, loc, 1, 1);
    if (ratio) {
      Value r = scalarOf(ratio);
      if (!isa<FloatType>(r.getType()))
        return node.error("ratio must be a float tensor");
      randomRatio = arith::CmpFOp::create(
          b, loc, arith::CmpFPredicate::UNE, r,
          arith::ConstantOp::create(b, loc, b.getFloatAttr(r.getType(), 0)));
    }
    Value random = arith::AndIOp::create(b, loc, isTraining, randomRatio);
    Value ok = arith::XOrIOp::create(
        b, loc, random, arith::ConstantIntOp::create(b, loc, 1, 1));
    StringRef name = isa<NameLoc>(loc) ? cast<NameLoc>(loc).getName().strref()
                                       : StringRef("Dropout");
    cf::AssertOp::create(b, loc, ok,
                         "'" + name.str() +
                             "' (Dropout): training mode with ratio > 0 drops "
                             "random elements; slm computes inference only");
  }
  if (node.hasOutput(1)) {
    Value x = node.input(0);
    auto type = cast<RankedTensorType>(x.getType());
    Type maskType = node.opset() >= 10 ? b.getI1Type() : type.getElementType();
    TypedAttr one = isa<FloatType>(maskType)
                        ? TypedAttr(b.getFloatAttr(maskType, 1.0))
                        : TypedAttr(b.getIntegerAttr(maskType, 1));
    node.setOutput(1, splatLike(b, loc, x, one));
  }
  return importIdentity(node);
}

static LogicalResult importCast(NodeContext &node) {
  if (failed(requireInputs(node, 1)))
    return failure();
  int64_t to = node.intAttr("to", 0);
  Type target = node.importer().convertElementType(static_cast<int32_t>(to));
  if (!target)
    return node.error("cannot cast to ONNX element type " + llvm::Twine(to));
  bool toUnsigned =
      to == onnx::TensorProto::UINT8 || to == onnx::TensorProto::UINT16 ||
      to == onnx::TensorProto::UINT32 || to == onnx::TensorProto::UINT64;
  ImportedValue *info = node.inputInfo(0);
  if (info->elements && isa<IntegerType>(target)) {
    SmallVector<DimExpr> elements = *info->elements;
    if (target.isInteger(1))
      for (DimExpr &e : elements) {
        if (!e.isConstant()) {
          elements.clear();
          break;
        }
        e = DimExpr::constant(e.factor != 0);
      }
    if (!elements.empty() || info->elements->empty()) {
      node.setSymbolicOutput(0, info->type.clone(target), elements);
      return success();
    }
  }
  Value result = castONNX(node.builder(), node.loc(), node.input(0),
                          info->isUnsigned, target, toUnsigned);
  node.setOutput(0, result, toUnsigned);
  return success();
}

void mlir::slm::onnx_import::registerElementwiseOps(OpTable &table) {
  // Multidirectional broadcasting since opset 7.
  table.add("Add", 7, importBinary<Binary::Add>);
  table.add("Sub", 7, importBinary<Binary::Sub>);
  table.add("Mul", 7, importBinary<Binary::Mul>);
  table.add("Div", 7, importBinary<Binary::Div>);
  table.add("Pow", 7, importBinary<Binary::Pow>);
  table.add("Equal", 7, importBinary<Binary::Equal>);
  table.add("Less", 7, importBinary<Binary::Less>);
  table.add("Greater", 7, importBinary<Binary::Greater>);
  table.add("LessOrEqual", 12, importBinary<Binary::LessOrEqual>);
  table.add("GreaterOrEqual", 12, importBinary<Binary::GreaterOrEqual>);
  table.add("Max", 8, importVariadic<Binary::Max>);
  table.add("Min", 8, importVariadic<Binary::Min>);
  table.add("Where", 9, importWhere);
  table.add("Not", 1, importNot);
  table.add("Sqrt", 6, importUnary<Unary::Sqrt>);
  table.add("Erf", 9, importUnary<Unary::Erf>);
  table.add("Tanh", 6, importUnary<Unary::Tanh>);
  table.add("Exp", 6, importUnary<Unary::Exp>);
  table.add("Log", 6, importUnary<Unary::Log>);
  table.add("Neg", 6, importUnary<Unary::Neg>);
  table.add("Abs", 6, importUnary<Unary::Abs>);
  table.add("Sin", 7, importUnary<Unary::Sin>);
  table.add("Cos", 7, importUnary<Unary::Cos>);
  table.add("Floor", 6, importUnary<Unary::Floor>);
  table.add("Ceil", 6, importUnary<Unary::Ceil>);
  table.add("Reciprocal", 6, importUnary<Unary::Reciprocal>);
  table.add("Sigmoid", 6, importUnary<Unary::Sigmoid>);
  table.add("Relu", 6, importUnary<Unary::Relu>);
  table.add("Tan", 7, importUnary<Unary::Tan>);
  table.add("Sinh", 9, importUnary<Unary::Sinh>);
  table.add("Cosh", 9, importUnary<Unary::Cosh>);
  table.add("Asin", 7, importUnary<Unary::Asin>);
  table.add("Acos", 7, importUnary<Unary::Acos>);
  table.add("Atan", 7, importUnary<Unary::Atan>);
  table.add("Asinh", 9, importUnary<Unary::Asinh>);
  table.add("Acosh", 9, importUnary<Unary::Acosh>);
  table.add("Atanh", 9, importUnary<Unary::Atanh>);
  table.add("Round", 11, importUnary<Unary::Round>);
  table.add("Softplus", 1, importUnary<Unary::Softplus>);
  table.add("Softsign", 1, importUnary<Unary::Softsign>);
  table.add("IsNaN", 9, importUnary<Unary::IsNaN>);
  table.add("Sign", 9, importUnary<Unary::Sign>);
  table.add("LeakyRelu", 6, importActivation<ActivationKind::LeakyRelu>);
  table.add("Elu", 6, importActivation<ActivationKind::Elu>);
  table.add("Selu", 6, importActivation<ActivationKind::Selu>);
  table.add("Celu", 12, importActivation<ActivationKind::Celu>);
  table.add("ThresholdedRelu", 10,
            importActivation<ActivationKind::ThresholdedRelu>);
  table.add("HardSigmoid", 6, importActivation<ActivationKind::HardSigmoid>);
  table.add("HardSwish", 14, importActivation<ActivationKind::HardSwish>);
  table.add("Mish", 18, importActivation<ActivationKind::Mish>);
  table.add("Clip", 6, importClip);
  table.add("Sum", 8, importSum<false>);
  table.add("Mean", 8, importSum<true>);
  table.add("And", 7, importLogic<Logic::And>);
  table.add("Or", 7, importLogic<Logic::Or>);
  table.add("Xor", 7, importLogic<Logic::Xor>);
  table.add("CastLike", 15, importCastLike);
  table.add("Identity", 1, importIdentity);
  table.add("Dropout", 7, importDropout);
  table.add("Cast", 6, importCast);
}
