//===- Kernels.h - GEMM kernels of --slm-vectorize-contractions -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The kernel families of --slm-vectorize-contractions, one per file
// (F32GemmKernel.cpp: f32 and int8 weight-only; Int8DotKernel.cpp: W8A8's
// uint8 x int8 VNNI kernel; NibbleKernel.cpp: int4 and NF4 weights), and
// what they share (KernelPlanning.cpp). Each family plans a kernel from
// the contraction's declaration (#slm.contraction) and its indexing maps,
// and emits it or says why it cannot.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_LIB_CODEGEN_CPU_KERNELS_H
#define SLM_LIB_CODEGEN_CPU_KERNELS_H

#include "slm/IR/SLMOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>
#include <string>

namespace mlir::slm::cpu_kernels {

/// Lanes of one f32 vector register (AVX-512).
constexpr int64_t kLanes = 16;

/// How the 4-bit kernel looks 16 codes up in its table of 16 levels: one
/// AVX-512 vpermps, two AVX2 vpermps per half and a blend, or a tree of
/// selects (any target).
enum class TableLookup { avx512, avx2, generic };

/// The register tile and task sizes of the kernels, and the instructions
/// they may use (the pass's options).
struct TileSizes {
  /// Rows and columns of C per register tile.
  int64_t mr, nr;
  /// Rows and columns of C per parallel task.
  int64_t mBlock, nBlock;
  /// Reduction steps per pass over a task's row tiles (0: all).
  int64_t kBlock;
  /// Reduction steps ahead at which B is prefetched (0: none).
  int64_t prefetchDistance;
  /// How the 4-bit kernel decodes its codes.
  TableLookup lookup = TableLookup::avx512;
  /// The uint8 x int8 kernel's instructions: AVX-512 VNNI, or AVX2.
  bool vnni = true;
  /// The bf16 kernel's instructions: AVX512-BF16, or f32 FMAs.
  bool bf16 = false;
};

/// Estimated operations one run of `block` executes: its ops, with loops
/// of constant trip count multiplied out; a loop with unknown bounds
/// counts `unknown` (the estimate stops growing there).
int64_t estimateWork(Block &block, int64_t unknown);

/// Whether every result of `map` is a loop dimension or the constant 0.
bool isDimsOrZeros(AffineMap map);

/// The rows of a contraction: the innermost output dimension that indexes
/// A and not B (packed weights put their panel index between the rows and
/// the columns).
std::optional<unsigned> rowDimension(AffineMap aMap, AffineMap bMap,
                                     AffineMap cMap);

/// Whether `op` only moves data: one input, one output, no reduction, and a
/// body that yields its input element (a copy, transpose or broadcast).
bool isDataMovement(linalg::GenericOp op);

/// Whether a GEMM kernel is meant to take `op`: it carries a contraction
/// declaration, or upstream's ContractionOpInterface recognises it. Fusion
/// folds nothing into its operands but layout copies.
bool isKernelContraction(linalg::LinalgOp op);

/// Checks `op`'s body against `declaration` (see hasDeclaredBody) and, when
/// `panel` is declared, that the columns loop `n` spans one panel.
LogicalResult checkDeclaration(linalg::GenericOp op,
                               ContractionAttr declaration, unsigned n,
                               std::string &reason);

/// The loop nest of the integer and 4-bit kernels: one parallel task per
/// value of the `outer` dimensions and block of `mBlock` rows (dimension `m`
/// of `op`'s loops), in it whole tiles of `mr` rows then single rows, and
/// per row tile the `columns` in tiles of up to `nr` (multiples of 16; the
/// last one narrower). `tile(builder, rows, vectors, m0, n0, loops,
/// rowLimit)` emits one tile, `loops` holding the outer dimensions' values.
/// With `repeatLastRows`, 3 or more rows left after the whole tiles are one
/// more whole tile with `rowLimit` set to their end: its rows past the
/// limit repeat the last row (they compute its values again and store them
/// to it again), so B is read once and the FMAs do not wait on each other
/// as a one-row tile's do; `rowLimit` is null otherwise.
using TileEmitter = function_ref<void(OpBuilder &, int64_t, int64_t, Value,
                                      Value, ArrayRef<Value>, Value)>;
void emitTiledNest(OpBuilder &b, Location loc, linalg::GenericOp op,
                   ArrayRef<unsigned> outer, unsigned m, int64_t columns,
                   int64_t mr, int64_t nr, int64_t mBlock, TileEmitter tile,
                   bool repeatLastRows = false);

/// Replaces `op` (on buffers), an f32 contraction declared `f32` or
/// `int8_weight`, or undeclared (`declaration` null) and recognised by
/// ContractionOpInterface, by the register-blocked f32 GEMM kernel; a fill
/// or broadcast that writes C right before is folded in. On failure
/// nothing changes and `reason` says why.
LogicalResult lowerToF32Kernel(RewriterBase &rewriter, linalg::GenericOp op,
                               ContractionAttr declaration,
                               const TileSizes &sizes, std::string &reason);

/// Replaces `op` (on buffers, declared `u8s8_dot`) by the AVX-512 VNNI
/// kernel (the AVX2 one when `sizes.vnni` is false), with the dequantizing
/// epilogue that reads C right after applied in registers; or (declared
/// `bf16_dot`) by the AVX512-BF16 kernel (f32 FMAs on the widened pairs
/// when `sizes.bf16` is false). On failure
/// nothing changes and `reason` says why.
LogicalResult lowerToDotKernel(RewriterBase &rewriter, linalg::GenericOp op,
                               ContractionAttr declaration,
                               const TileSizes &sizes, std::string &reason);

/// Replaces `op` (on buffers, declared `int4` or `nf4`) by the 4-bit weight
/// kernel that decodes the codes in registers. On failure nothing changes
/// and `reason` says why.
LogicalResult lowerToNibbleKernel(RewriterBase &rewriter, linalg::GenericOp op,
                                  ContractionAttr declaration,
                                  const TileSizes &sizes, std::string &reason);

} // namespace mlir::slm::cpu_kernels

#endif // SLM_LIB_CODEGEN_CPU_KERNELS_H
