//===- SLMConstants.cpp - Byte-level work on constant tensors ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMConstants.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>
#include <vector>

using namespace mlir;

/// A new constant like `like` (dense or resource) holding `bytes`.
static Attribute makeConstantLike(Attribute like, RankedTensorType type,
                                  const std::vector<char> &bytes,
                                  int64_t elementBytes, StringRef suffix) {
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(like)) {
    std::string name = (resource.getRawHandle().getKey() + suffix).str();
    return DenseResourceElementsAttr::get(
        type, name,
        HeapAsmResourceBlob::allocateAndCopyWithAlign(
            ArrayRef<char>(bytes.data(), bytes.size()), elementBytes));
  }
  return DenseElementsAttr::getFromRawBuffer(type, bytes);
}

/// The raw bytes of a constant with byte-sized elements (dense or resource);
/// empty when not available.
ArrayRef<char> mlir::slm::rawConstantBytes(Attribute attr) {
  if (auto resource = dyn_cast_if_present<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    return blob ? blob->getData() : ArrayRef<char>();
  }
  auto dense = dyn_cast_if_present<DenseElementsAttr>(attr);
  if (!dense || dense.isSplat() || dense.getElementType().isInteger(1))
    return {};
  return dense.getRawData();
}

/// Permutes the elements of a constant, in bytes. Resources stay resources
/// (a new blob named after the old one), dense constants stay dense.
Attribute mlir::slm::transposeConstant(Attribute attr, RankedTensorType type,
                                   ArrayRef<int64_t> perm) {
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(attr))
    return splat.resizeSplat(type);
  ArrayRef<char> bytes = rawConstantBytes(attr);
  auto source = dyn_cast_if_present<ShapedType>(
      cast_if_present<TypedAttr>(attr) ? cast<TypedAttr>(attr).getType()
                                       : Type());
  if (bytes.empty() || !source || !source.hasStaticShape() ||
      source.getElementTypeBitWidth() % 8 != 0)
    return {};
  const int64_t elementBytes = source.getElementTypeBitWidth() / 8;
  const int64_t count = source.getNumElements();
  if (static_cast<int64_t>(bytes.size()) != count * elementBytes)
    return {};
  const int64_t rank = source.getRank();
  SmallVector<int64_t> inStrides(rank, 1);
  for (int64_t i = rank - 2; i >= 0; --i)
    inStrides[i] = inStrides[i + 1] * source.getDimSize(i + 1);
  std::vector<char> out(bytes.size());
  SmallVector<int64_t> index(rank, 0); // index into the result
  for (int64_t linear = 0; linear < count; ++linear) {
    int64_t from = 0;
    for (int64_t d = 0; d < rank; ++d)
      from += index[d] * inStrides[perm[d]];
    std::memcpy(out.data() + linear * elementBytes,
                bytes.data() + from * elementBytes, elementBytes);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < type.getDimSize(d))
        break;
      index[d] = 0;
    }
  }
  return makeConstantLike(attr, type, out, elementBytes, ".T");
}


Attribute mlir::slm::sliceConstant(Attribute attr, RankedTensorType type,
                                   ArrayRef<int64_t> offsets,
                                   ArrayRef<int64_t> strides) {
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(attr))
    return splat.resizeSplat(type);
  auto typed = dyn_cast_if_present<TypedAttr>(attr);
  auto source = typed ? dyn_cast<RankedTensorType>(typed.getType())
                      : RankedTensorType();
  ArrayRef<char> bytes = rawConstantBytes(attr);
  if (bytes.empty() || !source || !source.hasStaticShape() ||
      !type.hasStaticShape() || source.getElementTypeBitWidth() % 8 != 0)
    return {};
  const int64_t elementBytes = source.getElementTypeBitWidth() / 8;
  const int64_t rank = source.getRank();
  SmallVector<int64_t> inStrides(rank, 1);
  for (int64_t i = rank - 2; i >= 0; --i)
    inStrides[i] = inStrides[i + 1] * source.getDimSize(i + 1);
  std::vector<char> out(type.getNumElements() * elementBytes);
  SmallVector<int64_t> index(rank, 0);
  for (int64_t linear = 0; linear < type.getNumElements(); ++linear) {
    int64_t from = 0;
    for (int64_t d = 0; d < rank; ++d)
      from += (offsets[d] + index[d] * strides[d]) * inStrides[d];
    std::memcpy(out.data() + linear * elementBytes,
                bytes.data() + from * elementBytes, elementBytes);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < type.getDimSize(d))
        break;
      index[d] = 0;
    }
  }
  return makeConstantLike(attr, type, out, elementBytes, ".slice");
}
