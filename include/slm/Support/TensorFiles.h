//===- TensorFiles.h - .npy and ONNX TensorProto files ----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The one reader and writer of tensor files: NumPy `.npy` (format 1-3,
// C order, little-endian) and ONNX TensorProto `.pb` (the ONNX test-data
// format). Used by slm-run, calibration and the tests. Plain C++ (protobuf
// privately), no MLIR or LLVM; element types are the model ABI's slm_dtype.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_SUPPORT_TENSORFILES_H
#define SLM_SUPPORT_TENSORFILES_H

#include "slm/Runtime/slmrt.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::slm {

/// A dense row-major tensor in host memory: its dtype, extents and bytes.
struct HostTensor {
  slm_dtype dtype = SLM_FLOAT32;
  std::vector<int64_t> shape;
  std::vector<char> bytes;

  /// The product of the extents (1 for a scalar).
  int64_t numElements() const;
  /// The tensor as the runtime sees it, without a copy (`data` is null when
  /// there are no bytes). The rank must be at most SLM_MAX_RANK (files with
  /// a larger one are not read).
  slm_tensor view();
  /// The same, for inputs (the runtime only reads input data).
  slm_tensor view() const;
};

/// Reads a .npy or a .pb file (by extension; any other name by content: the
/// .npy magic, else a TensorProto) with the file's own dtype (uint8 is
/// SLM_UINT8; a uint16 file stays SLM_UINT16 even when it holds bfloat16
/// bits, since NumPy has no bfloat16: see readTensorFile with a dtype). On
/// failure returns
/// false with `error` naming the file and the problem: unreadable file, bad
/// header, an element type slm has no dtype for, negative extents, a rank
/// over SLM_MAX_RANK, or data that does not match the shape.
bool readTensorFile(const std::string &path, HostTensor &out,
                    std::string &error);

/// Reads like the above and converts the elements to `dtype`: floats and
/// integers of any width to float32, float64, (u)int8/16/32/64 or bool.
/// Integer to integer keeps the low bits (uint8 200 -> int8 -56); float to
/// integer truncates toward zero and fails on values the integer type
/// cannot hold; anything to bool is `!= 0`. float16 is read only from
/// float16 files, bfloat16 from bfloat16 files and from uint16 files (their
/// bits). Errors name the file.
bool readTensorFile(const std::string &path, slm_dtype dtype, HostTensor &out,
                    std::string &error);

/// Writes `tensor` (row-major, `data` holding every element) as a .npy file
/// (format 1), with the dtype's NumPy type. bfloat16 has no NumPy type: it
/// is written as uint16 bits.
bool writeNpy(const std::string &path, const slm_tensor &tensor,
              std::string &error);

} // namespace mlir::slm

#endif // SLM_SUPPORT_TENSORFILES_H
