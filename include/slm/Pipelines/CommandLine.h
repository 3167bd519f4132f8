//===- CommandLine.h - slmc's flags from the option declarations -*- C++
//-*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_PIPELINES_COMMANDLINE_H
#define SLM_PIPELINES_COMMANDLINE_H

#include "slm/Pipelines/Options.h"

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

namespace llvm::cl {
class OptionCategory;
} // namespace llvm::cl

namespace mlir {
class PassManager;
} // namespace mlir

namespace mlir::slm {

/// Registers MLIR's debugging flags that compileModel honours (IR printing,
/// pass manager and context options, --mlir-timing).
void registerMLIRCommandLineOptions();

/// Applies those flags to `pm` (for CompileHooks::configurePassManager).
LogicalResult applyMLIRCommandLineOptions(PassManager &pm);

/// Registers one command-line flag per declared option (OptionList.h),
/// parsing into `options`, which must outlive the parse. Call once, before
/// llvm::cl::ParseCommandLineOptions.
void registerCompileCommandLineOptions(CompileOptions &options);

/// The --help category of an option group ("slmc options" for Output and
/// Driver: the driver's own flags go there too).
llvm::cl::OptionCategory &optionCategory(OptionGroup group);

/// The --help categories of those flags (for cl::HideUnrelatedOptions).
llvm::SmallVector<const llvm::cl::OptionCategory *> compileOptionCategories();

} // namespace mlir::slm

#endif // SLM_PIPELINES_COMMANDLINE_H
