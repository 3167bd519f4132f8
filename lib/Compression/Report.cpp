//===- Report.cpp - What compression kept, per layer -------------*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "slm/Compression/Compression.h"
#include "slm/Transforms/ModelStructure.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace mlir;
using namespace mlir::slm;

void mlir::slm::tagLayers(ModuleOp module) {
  Builder b(module.getContext());
  int64_t i = 0;
  for (AttentionUnit &unit : findAttentionUnits(module))
    unit.attention->setAttr(kLayerIndexAttr, b.getI64IntegerAttr(i++));
  i = 0;
  for (FeedForwardUnit &unit : findFeedForwardUnits(module))
    unit.up->setAttr(kLayerIndexAttr, b.getI64IntegerAttr(i++));
}

static int64_t bytesOf(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape())
    return 0;
  return type.getNumElements() * type.getElementTypeBitWidth() / 8;
}

/// Whether every use of `v` is as the weight of a bf16 linear layer: code
/// generation then stores it in bf16, half its f32 bytes.
static bool storedAsBF16(Value v) {
  return !v.use_empty() && llvm::all_of(v.getUses(), [](OpOperand &use) {
    auto linear = dyn_cast<LinearOp>(use.getOwner());
    return linear && linear.getPrecision() == Precision::bf16 &&
           use.get() == linear.getWeight() && use.getOperandNumber() == 1;
  });
}

/// Bytes a linear layer stores: its weight (as compressed, when it is; in
/// bf16 with bf16 products) and its bias.
static int64_t linearBytes(LinearOp op) {
  int64_t weight = bytesOf(op.getWeight());
  if (op.getPrecision() == Precision::bf16)
    weight /= 2;
  if (Operation *compressed =
          op.getWeight().getDefiningOp<CompressedWeightOpInterface>()) {
    weight = 0;
    for (Value v : compressed->getOperands())
      weight += bytesOf(v);
  }
  return weight + (op.getBias() ? bytesOf(op.getBias()) : 0);
}

static int64_t linearMacs(LinearOp op) {
  return op.getInFeatures() * op.getOutFeatures();
}

ModelShape mlir::slm::describeModelShape(ModuleOp module) {
  ModelShape shape;
  std::map<int64_t, LayerShape> layers;
  auto layerOf = [&](Operation *op) -> LayerShape * {
    auto index = op->getAttrOfType<IntegerAttr>(kLayerIndexAttr);
    if (!index)
      return nullptr;
    LayerShape &layer = layers[index.getInt()];
    layer.index = index.getInt();
    return &layer;
  };
  for (AttentionUnit &unit : findAttentionUnits(module))
    if (LayerShape *layer = layerOf(unit.attention)) {
      layer->heads = unit.numHeads();
      for (LinearOp op : {unit.query, unit.key, unit.value, unit.output}) {
        layer->weightBytes += linearBytes(op);
        layer->macsPerToken += linearMacs(op);
      }
    }
  for (FeedForwardUnit &unit : findFeedForwardUnits(module))
    if (LayerShape *layer = layerOf(unit.up)) {
      layer->neurons = unit.hidden();
      for (LinearOp op : {unit.gate, unit.up, unit.down}) {
        if (!op)
          continue;
        layer->weightBytes += linearBytes(op);
        layer->macsPerToken += linearMacs(op);
      }
    }
  for (auto &[index, layer] : layers)
    shape.layers.push_back(layer);
  module.walk([&](Operation *op) {
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      if (!constant.getResult().use_empty())
        shape.weightBytes += bytesOf(constant.getResult()) /
                             (storedAsBF16(constant.getResult()) ? 2 : 1);
    } else if (auto linear = dyn_cast<LinearOp>(op))
      shape.linearMacsPerToken += linearMacs(linear);
  });
  return shape;
}

/// The "after" layer matching `layer`, or null when the layer was dropped.
static const LayerShape *find(const ModelShape &shape, int64_t index) {
  for (const LayerShape &layer : shape.layers)
    if (layer.index == index)
      return &layer;
  return nullptr;
}

void mlir::slm::printCompressionReport(const ModelShape &before,
                                       const ModelShape &after,
                                       llvm::raw_ostream &os) {
  os << "compression report\n";
  os << llvm::format("  %-6s %-9s %-11s %-23s %s\n", "layer", "heads",
                     "neurons", "weight bytes", "MACs/token");
  for (const LayerShape &b : before.layers) {
    const LayerShape *a = find(after, b.index);
    if (!a) {
      os << llvm::format("  %-6lld dropped (%lld bytes, %lld MACs/token)\n",
                         (long long)b.index, (long long)b.weightBytes,
                         (long long)b.macsPerToken);
      continue;
    }
    std::string heads =
        std::to_string(a->heads) + "/" + std::to_string(b.heads);
    std::string neurons =
        std::to_string(a->neurons) + "/" + std::to_string(b.neurons);
    std::string bytes =
        std::to_string(a->weightBytes) + "/" + std::to_string(b.weightBytes);
    std::string macs =
        std::to_string(a->macsPerToken) + "/" + std::to_string(b.macsPerToken);
    os << llvm::format("  %-6lld %-9s %-11s %-23s %s\n", (long long)b.index,
                       heads.c_str(), neurons.c_str(), bytes.c_str(),
                       macs.c_str());
  }
  auto ratio = [](int64_t a, int64_t b) { return b ? double(a) / b : 1.0; };
  os << llvm::format(
      "  model: weights %lld -> %lld bytes (%.3fx), linear "
      "MACs/token %lld -> %lld (%.3fx)\n",
      (long long)before.weightBytes, (long long)after.weightBytes,
      ratio(after.weightBytes, before.weightBytes),
      (long long)before.linearMacsPerToken, (long long)after.linearMacsPerToken,
      ratio(after.linearMacsPerToken, before.linearMacsPerToken));
}

/// A bar chart of the share of heads and neurons kept per layer.
static std::string chart(const ModelShape &before, const ModelShape &after) {
  const int width = 60 + 48 * std::max<size_t>(1, before.layers.size()),
            height = 260, base = 220, top = 30;
  std::string svg;
  llvm::raw_string_ostream os(svg);
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
     << "\" height=\"" << height << "\" font-family=\"sans-serif\" "
     << "font-size=\"11\">\n"
     << "<text x=\"10\" y=\"16\">share kept per layer: heads (blue), FFN "
        "neurons (orange); missing = layer dropped</text>\n"
     << "<line x1=\"40\" y1=\"" << base << "\" x2=\"" << width - 10
     << "\" y2=\"" << base << "\" stroke=\"black\"/>\n";
  for (int tick = 0; tick <= 4; ++tick) {
    int y = base - tick * (base - top) / 4;
    os << "<text x=\"4\" y=\"" << y + 4 << "\">" << tick * 25 << "%</text>\n"
       << "<line x1=\"40\" y1=\"" << y << "\" x2=\"" << width - 10 << "\" y2=\""
       << y << "\" stroke=\"#ddd\"/>\n";
  }
  int x = 50;
  for (const LayerShape &b : before.layers) {
    const LayerShape *a = find(after, b.index);
    double shares[2] = {a && b.heads ? double(a->heads) / b.heads : 0.0,
                        a && b.neurons ? double(a->neurons) / b.neurons : 0.0};
    const char *colors[2] = {"#4477aa", "#ee7733"};
    for (int k = 0; k < 2; ++k) {
      int h = static_cast<int>(shares[k] * (base - top));
      os << "<rect x=\"" << x + 18 * k << "\" y=\"" << base - h
         << "\" width=\"16\" height=\"" << h << "\" fill=\"" << colors[k]
         << "\"/>\n";
    }
    os << "<text x=\"" << x + 8 << "\" y=\"" << base + 16 << "\">" << b.index
       << "</text>\n";
    x += 48;
  }
  os << "<text x=\"" << width / 2 - 15 << "\" y=\"" << base + 34
     << "\">layer</text>\n</svg>\n";
  return svg;
}

LogicalResult mlir::slm::writeCompressionReport(const ModelShape &before,
                                                const ModelShape &after,
                                                ArrayRef<OutputError> errors,
                                                StringRef path,
                                                std::string &error) {
  llvm::json::Array layers;
  for (const LayerShape &b : before.layers) {
    const LayerShape *a = find(after, b.index);
    layers.push_back(llvm::json::Object{
        {"layer", b.index},
        {"dropped", a == nullptr},
        {"heads", llvm::json::Array{a ? a->heads : 0, b.heads}},
        {"neurons", llvm::json::Array{a ? a->neurons : 0, b.neurons}},
        {"weight_bytes",
         llvm::json::Array{a ? a->weightBytes : 0, b.weightBytes}},
        {"macs_per_token",
         llvm::json::Array{a ? a->macsPerToken : 0, b.macsPerToken}}});
  }
  llvm::json::Array outputs;
  for (const OutputError &e : errors)
    outputs.push_back(llvm::json::Object{{"name", e.name},
                                         {"relative_error", e.relative},
                                         {"max_abs_error", e.maxAbs},
                                         {"mean_cosine", e.cosine}});
  llvm::json::Object report{
      {"layers", std::move(layers)},
      {"weight_bytes",
       llvm::json::Array{after.weightBytes, before.weightBytes}},
      {"linear_macs_per_token",
       llvm::json::Array{after.linearMacsPerToken, before.linearMacsPerToken}},
      {"output_error", std::move(outputs)}};
  SmallString<256> svgPath(path);
  llvm::sys::path::replace_extension(svgPath, ".svg");
  for (auto [file, text] :
       {std::pair<StringRef, std::string>{
            path,
            llvm::formatv("{0:2}", llvm::json::Value(std::move(report))).str()},
        std::pair<StringRef, std::string>{svgPath, chart(before, after)}}) {
    std::error_code ec;
    llvm::ToolOutputFile out(file, ec, llvm::sys::fs::OF_Text);
    if (ec) {
      error = "cannot write '" + file.str() + "': " + ec.message();
      return failure();
    }
    out.os() << text << "\n";
    out.keep();
  }
  return success();
}
