//===- ModelSupport.h - The support code every model links ------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// For code generation, not for runtime users: the object code of
// lib/Runtime/ModelSupport.c (the models' buffer allocator and
// slm_model_release_buffer), compiled when slm was built.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_RUNTIME_MODELSUPPORT_H
#define SLM_RUNTIME_MODELSUPPORT_H

#include <string_view>

namespace mlir::slm {

/// The bytes of the relocatable, position-independent object file that
/// every model library links (an ELF object for the host).
std::string_view getModelSupportObject();

} // namespace mlir::slm

#endif // SLM_RUNTIME_MODELSUPPORT_H
