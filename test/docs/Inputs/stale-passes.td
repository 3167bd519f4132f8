// Pass declarations for passes-doc.test: one that is right, and one of each
// kind of problem check_passes_doc.py reports.

include "mlir/Pass/PassBase.td"

def SLMGood : Pass<"slm-fuse-linear-activation"> {
  let summary = "Declared, documented, registered, tested, IR before and after";
  let description = [{
    Before (two lines
    of label):
    ```mlir
    %h = slm.linear %x, %w : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
    %g = slm.gelu %h : tensor<?x4xf32>
    ```
    After:
    ```mlir
    %g = slm.linear %x, %w {activation = #slm.activation<gelu>} : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
    ```
  }];
}

def SLMUndocumented : Pass<"slm-undocumented"> {
  let summary = "Not on the page, not registered, not tested, no description";
}

def SLMProseAfter : Pass<"slm-merge-linears"> {
  let summary = "The result in words only";
  let description = [{
    Before:
    ```mlir
    %q = slm.linear %x, %wq : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
    ```
    After: one linear over the stacked weights.
  }];
}

def SLMSameIR : Pass<"slm-model-stats", "::mlir::ModuleOp"> {
  let summary = "The same IR twice";
  let description = [{
    Before:
    ```mlir
    %g = slm.gelu %h : tensor<?x4xf32>
    ```
    After:
    ```mlir
    %g = slm.gelu %h : tensor<?x4xf32>
    ```
  }];
}

def SLMFixedGap
    : Pass<"slm-approximate-math"> {
  let summary = "A known gap that is fixed now";
  let description = [{
    Before:
    ```mlir
    %y = math.erf %x : f32
    ```
    After (abridged):
    ```mlir
    %a = arith.mulf %x, %x : f32
    ```
  }];
}
