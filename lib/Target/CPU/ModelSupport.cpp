//===- ModelSupport.cpp - Write the support object models link --*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Every model links the buffer allocator of lib/Runtime/ModelSupport.c. The
// build compiled it and embedded the object code (SLMModelSupportObject):
// here it is written out for the linker.
//
//===----------------------------------------------------------------------===//

#include "slm/Runtime/ModelSupport.h"
#include "slm/Target/CPU.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

LogicalResult slm::emitSupportObject(StringRef objectPath, Location loc) {
  std::string_view object = getModelSupportObject();
  std::error_code ec;
  llvm::raw_fd_ostream os(objectPath, ec, llvm::sys::fs::OF_None);
  if (ec)
    return emitError(loc) << "cannot write '" << objectPath
                          << "': " << ec.message();
  os.write(object.data(), object.size());
  os.close();
  if (os.has_error())
    return emitError(loc) << "cannot write '" << objectPath << "'";
  return success();
}
