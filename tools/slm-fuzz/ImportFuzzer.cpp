//===- ImportFuzzer.cpp - libFuzzer target for the ONNX importer -*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to the ONNX reader and importer, as slmc would read a
// model file: protobuf parsing, graph checks, every op handler, the shape
// folding and the verifier. A crash, a sanitizer report, a leak, or an
// imported module that does not verify is a bug. External data resolves
// against an empty folder, so path checks run but nothing outside is read.
//
// Built only with -DSLM_ENABLE_FUZZERS=ON (clang); scripts/fuzz.sh drives it.
//
//===----------------------------------------------------------------------===//

#include "slm/Import/ONNX/ImportONNX.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <cstdlib>

using namespace mlir;

/// A fresh context per input would dominate the run time; one context is
/// reused for this many inputs (its uniqued attributes and resource blobs
/// grow with every import), then replaced.
static constexpr int kInputsPerContext = 2000;

/// LLVM's and MLIR's bump allocators poison and unpoison their slabs from
/// inline header code; with Debian's uninstrumented libMLIR only half of
/// those calls are compiled in, which reads as use-after-poison on sound
/// code. Manual poisoning is therefore off; every other check stays on.
extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0:detect_leaks=1";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static std::unique_ptr<MLIRContext> context;
  static int uses = 0;
  if (!context || ++uses > kInputsPerContext) {
    DialectRegistry registry;
    slm::registerONNXImportDialects(registry);
    context = std::make_unique<MLIRContext>(registry,
                                            MLIRContext::Threading::DISABLED);
    uses = 0;
  }
  // Diagnostics are the importer's normal answer to bad input: swallow them.
  ScopedDiagnosticHandler silence(context.get(),
                                  [](Diagnostic &) { return success(); });
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module = slm::importONNXBuffer(
      *context, bytes, "/nonexistent/slm-fuzz", "fuzz.onnx");
  // importONNXBuffer verifies what it returns; a module that got out
  // without verifying would be an importer bug.
  if (module && failed(verify(*module)))
    std::abort();
  return 0;
}
