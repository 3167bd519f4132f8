//===- Contraction.cpp - The kernel contract of contractions ----*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Each kind's body is written by one builder and checked by one matcher,
// side by side: changing the one without the other makes the kernel pass
// fail loudly on every contraction of that kind (and the lit tests of
// --convert-slm-to-linalg piped into --slm-vectorize-contractions with it).
//
//===----------------------------------------------------------------------===//

#include "slm/Codegen/Contraction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::slm;

ContractionAttr mlir::slm::getContractionDeclaration(Operation *op) {
  return op->getAttrOfType<ContractionAttr>(ContractionAttr::getAttrName());
}

void mlir::slm::setContractionDeclaration(Operation *op,
                                          ContractionAttr declaration) {
  op->setAttr(ContractionAttr::getAttrName(), declaration);
}

//===----------------------------------------------------------------------===//
// Bodies
//===----------------------------------------------------------------------===//

/// acc + x * y in f32, reassociable and contractible into FMAs: that lets
/// LLVM vectorize the reduction when no kernel takes the contraction (the
/// order of a sum is not part of any ONNX op's contract).
static Value multiplyAdd(OpBuilder &b, Location loc, Value x, Value y,
                         Value acc) {
  auto flags = arith::FastMathFlagsAttr::get(
      b.getContext(),
      arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  Value product = arith::MulFOp::create(b, loc, x, y, flags);
  return arith::AddFOp::create(b, loc, acc, product, flags);
}

/// The 4-bit code of the k that loop `kl` selects in byte `byte`:
/// (byte >> 4 * kl) & 15, the low nibble first.
static Value nibble(OpBuilder &b, Location loc, Value byte, int64_t kl) {
  Value which = linalg::IndexOp::create(b, loc, kl);
  Value shift = arith::IndexCastOp::create(
      b, loc, b.getIntegerType(8),
      arith::MulIOp::create(b, loc, which,
                            arith::ConstantIndexOp::create(b, loc, 4)));
  return arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, byte, shift),
      arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(15)));
}

linalg::GenericOp mlir::slm::buildDeclaredContraction(
    OpBuilder &b, Location loc, ContractionAttr declaration, Type resultType,
    ValueRange inputs, Value init, ArrayRef<AffineMap> maps, Value nf4Table) {
  const int64_t loops = maps.front().getNumDims();
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  for (unsigned i = 0; i < declaration.getNumReductions(); ++i)
    iterators[loops - 1 - i] = utils::IteratorType::reduction;
  const ContractionKind kind = declaration.getKind();
  auto body = [&](OpBuilder &nb, Location l, ValueRange args) {
    Type f32 = nb.getF32Type();
    switch (kind) {
    case ContractionKind::f32:
      linalg::YieldOp::create(nb, l,
                              multiplyAdd(nb, l, args[0], args[1], args[2]));
      return;
    case ContractionKind::int8_weight: {
      Value wide = arith::SIToFPOp::create(nb, l, f32, args[1]);
      Value weight = arith::MulFOp::create(nb, l, wide, args[2]);
      linalg::YieldOp::create(nb, l,
                              multiplyAdd(nb, l, args[0], weight, args[3]));
      return;
    }
    case ContractionKind::u8s8_dot: {
      Type i32 = nb.getI32Type();
      Value a = arith::ExtUIOp::create(nb, l, i32, args[0]);
      Value w = arith::ExtSIOp::create(nb, l, i32, args[1]);
      linalg::YieldOp::create(
          nb, l,
          arith::AddIOp::create(nb, l, args[2],
                                arith::MulIOp::create(nb, l, a, w))
              .getResult());
      return;
    }
    case ContractionKind::bf16_dot: {
      Value a = arith::ExtFOp::create(nb, l, f32, args[0]);
      Value w = arith::ExtFOp::create(nb, l, f32, args[1]);
      linalg::YieldOp::create(nb, l, multiplyAdd(nb, l, a, w, args[2]));
      return;
    }
    case ContractionKind::int4:
    case ContractionKind::nf4: {
      Value u = nibble(nb, l, args[1], loops - 1);
      Value weight;
      if (kind == ContractionKind::nf4) {
        Value level =
            tensor::ExtractOp::create(nb, l, nf4Table,
                                      ValueRange{arith::IndexCastUIOp::create(
                                          nb, l, nb.getIndexType(), u)});
        weight = arith::MulFOp::create(nb, l, level, args[2]);
      } else {
        Value f = arith::UIToFPOp::create(nb, l, f32, u);
        weight = arith::AddFOp::create(
            nb, l, arith::MulFOp::create(nb, l, f, args[2]), args[3]);
      }
      linalg::YieldOp::create(nb, l,
                              multiplyAdd(nb, l, args[0], weight, args.back()));
      return;
    }
    }
  };
  auto generic = linalg::GenericOp::create(b, loc, resultType, inputs, init,
                                           maps, iterators, body);
  setContractionDeclaration(generic, declaration);
  return generic;
}

//===----------------------------------------------------------------------===//
// Checking a body against its declaration
//===----------------------------------------------------------------------===//

namespace {
/// Matches the value tree of a contraction body: each `is...` says whether
/// `v` is that tree.
class BodyMatcher {
public:
  explicit BodyMatcher(linalg::GenericOp op) : block(op.getRegion().front()) {}

  Block &block;

  /// Whether `v` is block argument `i` (operand `i` of the op).
  bool isArg(Value v, unsigned i) {
    auto arg = dyn_cast<BlockArgument>(v);
    return arg && arg.getOwner() == &block && arg.getArgNumber() == i;
  }
  bool isConstant(Value v, int64_t value) {
    APInt c;
    return matchPattern(v, m_ConstantInt(&c)) && c.getSExtValue() == value;
  }
  /// Whether `v` is `OpTy(x, y)` with (lhs(x) and rhs(y)) in either order.
  template <typename OpTy>
  bool isCommutative(Value v, function_ref<bool(Value)> lhs,
                     function_ref<bool(Value)> rhs) {
    auto op = v.getDefiningOp<OpTy>();
    if (!op || op->getBlock() != &block)
      return false;
    return (lhs(op.getLhs()) && rhs(op.getRhs())) ||
           (lhs(op.getRhs()) && rhs(op.getLhs()));
  }
  /// Whether `v` is a cast `OpTy` of something `in` accepts.
  template <typename OpTy> bool isCast(Value v, function_ref<bool(Value)> in) {
    auto op = v.getDefiningOp<OpTy>();
    return op && op->getBlock() == &block && in(op.getIn());
  }
  /// The nibble of argument `codes` that loop `kl` selects.
  bool isNibble(Value v, unsigned codes, unsigned kl) {
    auto isShift = [&](Value s) {
      return isCast<arith::IndexCastOp>(s, [&](Value m) {
        return isCommutative<arith::MulIOp>(
            m,
            [&](Value x) {
              auto index = x.getDefiningOp<linalg::IndexOp>();
              return index && index.getDim() == kl;
            },
            [&](Value x) { return isConstant(x, 4); });
      });
    };
    return isCommutative<arith::AndIOp>(
        v,
        [&](Value x) {
          auto shr = x.getDefiningOp<arith::ShRUIOp>();
          return shr && shr->getBlock() == &block &&
                 isArg(shr.getLhs(), codes) && isShift(shr.getRhs());
        },
        [&](Value x) { return isConstant(x, 15); });
  }
  /// Whether `v` reads a 16-entry table defined outside the body at the
  /// index `u` (tensor.extract, or memref.load once bufferized).
  bool isTableLookup(Value v, function_ref<bool(Value)> u) {
    Operation *op = v.getDefiningOp();
    if (!op || op->getBlock() != &block)
      return false;
    Value table, index;
    if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
      table = extract.getTensor();
      if (extract.getIndices().size() == 1)
        index = extract.getIndices()[0];
    } else if (auto load = dyn_cast<memref::LoadOp>(op)) {
      table = load.getMemRef();
      if (load.getIndices().size() == 1)
        index = load.getIndices()[0];
    }
    auto type = table ? dyn_cast<ShapedType>(table.getType()) : ShapedType();
    if (!index || !type || !type.hasStaticShape() ||
        type.getNumElements() != 16 || !type.getElementType().isF32() ||
        block.getParentOp()->isAncestor(table.getParentBlock()->getParentOp()))
      return false;
    return isCast<arith::IndexCastUIOp>(index, u);
  }
  /// Whether the body yields `acc + A * weight` (f32), `weight` the tree
  /// `isWeight` accepts.
  bool yieldsMultiplyAdd(function_ref<bool(Value)> isWeight) {
    auto yield = cast<linalg::YieldOp>(block.getTerminator());
    const unsigned acc = block.getNumArguments() - 1;
    return yield.getValues().size() == 1 &&
           isCommutative<arith::AddFOp>(
               yield.getValues()[0], [&](Value x) { return isArg(x, acc); },
               [&](Value x) {
                 return isCommutative<arith::MulFOp>(
                     x, [&](Value y) { return isArg(y, 0); }, isWeight);
               });
  }
};
} // namespace

bool mlir::slm::hasDeclaredBody(linalg::GenericOp op,
                                ContractionAttr declaration,
                                std::string &reason) {
  BodyMatcher m(op);
  auto arg = [&](unsigned i) {
    return [&m, i](Value v) { return m.isArg(v, i); };
  };
  bool ok = false;
  const char *expected = "";
  switch (declaration.getKind()) {
  case ContractionKind::f32:
    expected = "C + A * B";
    ok = m.yieldsMultiplyAdd(arg(1));
    break;
  case ContractionKind::int8_weight:
    expected = "C + A * (sitofp(codes) * scales)";
    ok = m.yieldsMultiplyAdd([&](Value w) {
      return m.isCommutative<arith::MulFOp>(
          w, [&](Value x) { return m.isCast<arith::SIToFPOp>(x, arg(1)); },
          arg(2));
    });
    break;
  case ContractionKind::u8s8_dot: {
    expected = "C + extui(A) * extsi(B)";
    auto yield = cast<linalg::YieldOp>(m.block.getTerminator());
    ok =
        yield.getValues().size() == 1 &&
        m.isCommutative<arith::AddIOp>(
            yield.getValues()[0], arg(2), [&](Value x) {
              return m.isCommutative<arith::MulIOp>(
                  x,
                  [&](Value y) { return m.isCast<arith::ExtUIOp>(y, arg(0)); },
                  [&](Value y) { return m.isCast<arith::ExtSIOp>(y, arg(1)); });
            });
    break;
  }
  case ContractionKind::bf16_dot: {
    expected = "C + extf(A) * extf(B)";
    auto yield = cast<linalg::YieldOp>(m.block.getTerminator());
    ok = yield.getValues().size() == 1 &&
         m.isCommutative<arith::AddFOp>(
             yield.getValues()[0], arg(2), [&](Value x) {
               return m.isCommutative<arith::MulFOp>(
                   x,
                   [&](Value y) { return m.isCast<arith::ExtFOp>(y, arg(0)); },
                   [&](Value y) { return m.isCast<arith::ExtFOp>(y, arg(1)); });
             });
    break;
  }
  case ContractionKind::int4:
  case ContractionKind::nf4: {
    // The nibble is selected by the innermost index of A.
    AffineMap aMap = op.getIndexingMapsArray().front();
    auto kl = aMap.getNumResults() > 0
                  ? dyn_cast<AffineDimExpr>(aMap.getResults().back())
                  : nullptr;
    if (!kl) {
      reason = "A's innermost index is not a loop";
      return false;
    }
    const unsigned klDim = kl.getPosition();
    auto u = [&](Value x) { return m.isNibble(x, 1, klDim); };
    if (declaration.getKind() == ContractionKind::nf4) {
      expected = "C + A * (NF4[(codes >> 4 * kl) & 15] * scales)";
      ok = m.yieldsMultiplyAdd([&](Value w) {
        return m.isCommutative<arith::MulFOp>(
            w, [&](Value x) { return m.isTableLookup(x, u); }, arg(2));
      });
    } else {
      expected = "C + A * (((codes >> 4 * kl) & 15) * scales + offsets)";
      ok = m.yieldsMultiplyAdd([&](Value w) {
        return m.isCommutative<arith::AddFOp>(
            w,
            [&](Value x) {
              return m.isCommutative<arith::MulFOp>(
                  x, [&](Value y) { return m.isCast<arith::UIToFPOp>(y, u); },
                  arg(2));
            },
            arg(3));
      });
    }
    break;
  }
  }
  if (!ok)
    reason = std::string("the body does not compute ") + expected;
  return ok;
}
