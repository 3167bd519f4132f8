//===- SLMConstants.cpp - Byte-level work on constant tensors ---*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/IR/SLMConstants.h"
#include "slm/IR/SLMDialect.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/ADT/StringSet.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

using namespace mlir;
using namespace mlir::slm;

/// A new constant like `like` (dense or resource) holding `bytes`.
static Attribute makeConstantLike(Attribute like, RankedTensorType type,
                                  const std::vector<char> &bytes,
                                  int64_t elementBytes, StringRef suffix) {
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(like)) {
    if (auto *slm = resource.getContext()->getLoadedDialect<SLMDialect>()) {
      std::lock_guard<std::mutex> lock(slm->replacedWeightsMutex);
      slm->replacedWeights.push_back(resource.getRawHandle());
    }
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
/// Copies `count` elements of `elementBytes` bytes from `from` (stepping
/// `stride` elements) to consecutive places at `to`.
static void copyRow(char *to, const char *from, int64_t count, int64_t stride,
                    int64_t elementBytes) {
  switch (elementBytes) {
  case 4: {
    auto *out = reinterpret_cast<uint32_t *>(to);
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(out + i, from + i * stride * 4, 4);
    return;
  }
  case 2: {
    auto *out = reinterpret_cast<uint16_t *>(to);
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(out + i, from + i * stride * 2, 2);
    return;
  }
  default:
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(to + i * elementBytes, from + i * stride * elementBytes,
                  elementBytes);
  }
}

/// Copies elements of `attr` into a new constant of `type`: result element
/// `index` reads source element `base + sum(index[d] * sourceStrides[d])`.
/// Transposes and strided slices are both this.
static Attribute stridedCopy(Attribute attr, RankedTensorType type,
                             int64_t base, ArrayRef<int64_t> sourceStrides,
                             StringRef suffix) {
  ArrayRef<char> bytes = rawConstantBytes(attr);
  auto source = cast<RankedTensorType>(cast<TypedAttr>(attr).getType());
  const int64_t elementBytes = source.getElementTypeBitWidth() / 8;
  const int64_t rank = type.getRank();
  std::vector<char> out(type.getNumElements() * elementBytes);
  if (type.getNumElements() == 0)
    return makeConstantLike(attr, type, out, elementBytes, suffix);
  const char *in = bytes.data() + base * elementBytes;
  if (rank == 0) {
    std::memcpy(out.data(), in, elementBytes);
    return makeConstantLike(attr, type, out, elementBytes, suffix);
  }
  const int64_t rows = type.getNumElements() / type.getDimSize(rank - 1);
  const int64_t cols = type.getDimSize(rank - 1);
  if (rank == 2 && sourceStrides[1] != 1) {
    // A 2-D transpose: in tiles, so that reads and writes stay in cache.
    constexpr int64_t tile = 64;
    for (int64_t r0 = 0; r0 < rows; r0 += tile)
      for (int64_t c0 = 0; c0 < cols; c0 += tile)
        for (int64_t r = r0; r < std::min(rows, r0 + tile); ++r)
          copyRow(out.data() + (r * cols + c0) * elementBytes,
                  in + (r * sourceStrides[0] + c0 * sourceStrides[1]) *
                           elementBytes,
                  std::min(cols, c0 + tile) - c0, sourceStrides[1],
                  elementBytes);
    return makeConstantLike(attr, type, out, elementBytes, suffix);
  }
  // Row by row over the outer dimensions.
  SmallVector<int64_t> index(rank - 1, 0);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t from = 0;
    for (int64_t d = 0; d + 1 < rank; ++d)
      from += index[d] * sourceStrides[d];
    copyRow(out.data() + row * cols * elementBytes, in + from * elementBytes,
            cols, sourceStrides[rank - 1], elementBytes);
    for (int64_t d = rank - 2; d >= 0; --d) {
      if (++index[d] < type.getDimSize(d))
        break;
      index[d] = 0;
    }
  }
  return makeConstantLike(attr, type, out, elementBytes, suffix);
}

/// Row-major strides of a readable constant, or std::nullopt when its bytes
/// are not available (splats are handled by the callers).
static std::optional<SmallVector<int64_t>> readableStrides(Attribute attr) {
  auto typed = dyn_cast_if_present<TypedAttr>(attr);
  auto source =
      typed ? dyn_cast<RankedTensorType>(typed.getType()) : RankedTensorType();
  ArrayRef<char> bytes = rawConstantBytes(attr);
  if (bytes.empty() || !source || !source.hasStaticShape() ||
      source.getElementTypeBitWidth() % 8 != 0 ||
      static_cast<int64_t>(bytes.size()) !=
          source.getNumElements() * (source.getElementTypeBitWidth() / 8))
    return std::nullopt;
  SmallVector<int64_t> strides(source.getRank(), 1);
  for (int64_t i = source.getRank() - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * source.getDimSize(i + 1);
  return strides;
}

bool mlir::slm::sameConstantElements(Attribute a, Attribute b) {
  if (a == b)
    return true;
  auto ta = dyn_cast_if_present<TypedAttr>(a),
       tb = dyn_cast_if_present<TypedAttr>(b);
  if (!ta || !tb || ta.getType() != tb.getType() || isa<SplatElementsAttr>(a) ||
      isa<SplatElementsAttr>(b))
    return false;
  ArrayRef<char> x = rawConstantBytes(a), y = rawConstantBytes(b);
  return !x.empty() && x.size() == y.size() &&
         std::memcmp(x.data(), y.data(), x.size()) == 0;
}

Attribute mlir::slm::transposeConstant(Attribute attr, RankedTensorType type,
                                       ArrayRef<int64_t> perm) {
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(attr))
    return splat.resizeSplat(type);
  std::optional<SmallVector<int64_t>> strides = readableStrides(attr);
  if (!strides || !type.hasStaticShape())
    return {};
  SmallVector<int64_t> sourceStrides;
  for (int64_t p : perm)
    sourceStrides.push_back((*strides)[p]);
  return stridedCopy(attr, type, 0, sourceStrides, ".T");
}

Attribute mlir::slm::sliceConstant(Attribute attr, RankedTensorType type,
                                   ArrayRef<int64_t> offsets,
                                   ArrayRef<int64_t> steps) {
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(attr))
    return splat.resizeSplat(type);
  std::optional<SmallVector<int64_t>> strides = readableStrides(attr);
  if (!strides || !type.hasStaticShape())
    return {};
  int64_t base = 0;
  SmallVector<int64_t> sourceStrides;
  for (size_t d = 0; d < strides->size(); ++d) {
    base += offsets[d] * (*strides)[d];
    sourceStrides.push_back(steps[d] * (*strides)[d]);
  }
  return stridedCopy(attr, type, base, sourceStrides, ".slice");
}

Attribute mlir::slm::packConstantPanels(Attribute attr, int64_t panel) {
  auto typed = dyn_cast_if_present<TypedAttr>(attr);
  auto source =
      typed ? dyn_cast<RankedTensorType>(typed.getType()) : RankedTensorType();
  if (!source || source.getRank() != 2 || panel <= 0)
    return {};
  const int64_t n = source.getDimSize(0), k = source.getDimSize(1);
  const int64_t panels = llvm::divideCeil(n, panel);
  auto type =
      RankedTensorType::get({panels, k, panel}, source.getElementType());
  if (auto splat = dyn_cast<SplatElementsAttr>(attr))
    return splat.resizeSplat(type);
  if (!readableStrides(attr))
    return {};
  ArrayRef<char> bytes = rawConstantBytes(attr);
  const int64_t elementBytes = source.getElementTypeBitWidth() / 8;
  std::vector<char> out(type.getNumElements() * elementBytes, 0);
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t cols = std::min(panel, n - p * panel);
    // Panel p holds rows p*panel.. of the source, transposed: row by row
    // of the source, one element per panel row.
    for (int64_t j = 0; j < cols; ++j) {
      const char *row = bytes.data() + (p * panel + j) * k * elementBytes;
      char *to = out.data() + (p * k * panel + j) * elementBytes;
      for (int64_t kk = 0; kk < k; ++kk)
        std::memcpy(to + kk * panel * elementBytes, row + kk * elementBytes,
                    elementBytes);
    }
  }
  return makeConstantLike(attr, type, out, elementBytes,
                          (".panel" + std::to_string(panel)));
}

Attribute mlir::slm::padConstantPanels(Attribute attr, int64_t size,
                                       int64_t panel) {
  auto typed = dyn_cast_if_present<TypedAttr>(attr);
  auto source =
      typed ? dyn_cast<RankedTensorType>(typed.getType()) : RankedTensorType();
  if (!source || source.getRank() != 1 || panel <= 0 || size % panel != 0 ||
      size < source.getDimSize(0))
    return {};
  auto type =
      RankedTensorType::get({size / panel, panel}, source.getElementType());
  if (auto splat = dyn_cast<SplatElementsAttr>(attr))
    return splat.resizeSplat(type);
  if (!readableStrides(attr))
    return {};
  ArrayRef<char> bytes = rawConstantBytes(attr);
  std::vector<char> out(
      type.getNumElements() * (source.getElementTypeBitWidth() / 8), 0);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return makeConstantLike(attr, type, out, source.getElementTypeBitWidth() / 8,
                          ".pad");
}

void mlir::slm::releaseDeadWeights(Operation *root) {
  auto *slm = root->getContext()->getLoadedDialect<SLMDialect>();
  if (!slm)
    return;
  std::vector<DenseResourceElementsHandle> candidates;
  {
    std::lock_guard<std::mutex> lock(slm->replacedWeightsMutex);
    candidates.swap(slm->replacedWeights);
  }
  llvm::StringSet<> used;
  auto collect = [&](Attribute attr) {
    if (attr)
      attr.walk([&](DenseResourceElementsAttr resource) {
        used.insert(resource.getRawHandle().getKey());
      });
  };
  std::vector<Operation *> roots = {root};
  {
    std::lock_guard<std::mutex> lock(slm->replacedWeightsMutex);
    roots.insert(roots.end(), slm->weightRoots.begin(), slm->weightRoots.end());
  }
  for (Operation *r : roots)
    r->walk([&](Operation *op) {
      collect(op->getRawDictionaryAttrs());
      collect(op->getPropertiesAsAttribute());
    });
  llvm::StringSet<> released;
  std::vector<DenseResourceElementsHandle> alive;
  for (DenseResourceElementsHandle &handle : candidates) {
    StringRef key = handle.getKey();
    if (used.contains(key)) {
      alive.push_back(handle); // Still a candidate for a later call.
      continue;
    }
    if (!released.insert(key).second)
      continue;
    if (auto *entry = handle.getResource())
      entry->setBlob(AsmResourceBlob());
  }
  std::lock_guard<std::mutex> lock(slm->replacedWeightsMutex);
  slm->replacedWeights.insert(slm->replacedWeights.end(), alive.begin(),
                              alive.end());
}

Attribute mlir::slm::concatConstantRows(ArrayRef<Attribute> attrs,
                                        RankedTensorType type) {
  const int64_t elementBytes = type.getElementTypeBitWidth() / 8;
  if (attrs.empty() || type.getElementTypeBitWidth() % 8 != 0)
    return {};
  std::vector<char> out;
  out.reserve(type.getNumElements() * elementBytes);
  Attribute like = attrs.front();
  for (Attribute attr : attrs) {
    auto typed = dyn_cast_if_present<TypedAttr>(attr);
    auto source = typed ? dyn_cast<RankedTensorType>(typed.getType())
                        : RankedTensorType();
    if (!source || !source.hasStaticShape() ||
        source.getElementType() != type.getElementType())
      return {};
    if (auto splat = dyn_cast<SplatElementsAttr>(attr)) {
      ArrayRef<char> one = splat.getRawData();
      if (static_cast<int64_t>(one.size()) != elementBytes)
        return {};
      for (int64_t i = 0; i < source.getNumElements(); ++i)
        out.insert(out.end(), one.begin(), one.end());
      continue;
    }
    if (!readableStrides(attr))
      return {};
    ArrayRef<char> bytes = rawConstantBytes(attr);
    out.insert(out.end(), bytes.begin(), bytes.end());
    if (isa<DenseResourceElementsAttr>(attr))
      like = attr;
  }
  if (static_cast<int64_t>(out.size()) != type.getNumElements() * elementBytes)
    return {};
  return makeConstantLike(like, type, out, elementBytes, ".merged");
}

bool mlir::slm::readF32Constant(Attribute attr, std::vector<float> &values) {
  auto typed = dyn_cast_if_present<TypedAttr>(attr);
  auto type =
      typed ? dyn_cast<RankedTensorType>(typed.getType()) : RankedTensorType();
  if (!type || !type.hasStaticShape() || !type.getElementType().isF32())
    return false;
  values.assign(type.getNumElements(), 0.0f);
  if (auto splat = dyn_cast<SplatElementsAttr>(attr)) {
    std::fill(values.begin(), values.end(),
              splat.getSplatValue<APFloat>().convertToFloat());
    return true;
  }
  ArrayRef<char> bytes = rawConstantBytes(attr);
  if (bytes.size() != values.size() * sizeof(float))
    return false;
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return true;
}

Attribute mlir::slm::makeF32ConstantLike(Attribute like, RankedTensorType type,
                                         ArrayRef<float> values,
                                         StringRef suffix) {
  std::vector<char> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return makeConstantLike(like, type, bytes, sizeof(float), suffix);
}

mlir::slm::WeightsInUse::WeightsInUse(Operation *root) : root(root) {
  auto *slm = root->getContext()->getOrLoadDialect<SLMDialect>();
  std::lock_guard<std::mutex> lock(slm->replacedWeightsMutex);
  slm->weightRoots.push_back(root);
}

mlir::slm::WeightsInUse::~WeightsInUse() {
  auto *slm = root->getContext()->getLoadedDialect<SLMDialect>();
  std::lock_guard<std::mutex> lock(slm->replacedWeightsMutex);
  llvm::erase(slm->weightRoots, root);
}

Attribute mlir::slm::makeConstantFromBytes(Attribute like,
                                           RankedTensorType type,
                                           ArrayRef<char> bytes,
                                           StringRef suffix) {
  return makeConstantLike(
      like, type, std::vector<char>(bytes.begin(), bytes.end()),
      std::max<int64_t>(1, type.getElementTypeBitWidth() / 8), suffix);
}
