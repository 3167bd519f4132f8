//===- SLMInterfaces.td - slm op interfaces ----------------*- tablegen -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_IR_SLMINTERFACES_TD
#define SLM_IR_SLMINTERFACES_TD

include "mlir/IR/OpBase.td"

def SLM_CompressedWeightOpInterface
    : OpInterface<"CompressedWeightOpInterface"> {
  let cppNamespace = "::mlir::slm";
  let description = [{
    An op that produces a logical dense weight tensor (its single result)
    from a compressed stored form held in its operands. Consumers see the
    dense weight; code generation decompresses inside the consumer's loops,
    and the compression report reads the stored size from here.
  }];
  let methods = [
    InterfaceMethod<
      "Bytes the stored (compressed) form occupies, or -1 when an operand's "
      "shape is dynamic. By default, the bytes of all operands.",
      "int64_t", "getStoredBytes", (ins), [{}], [{
        int64_t bytes = 0;
        for (::mlir::Value operand : $_op->getOperands()) {
          auto type = ::llvm::cast<::mlir::RankedTensorType>(operand.getType());
          if (!type.hasStaticShape())
            return -1;
          bytes += type.getNumElements() *
                   ((type.getElementTypeBitWidth() + 7) / 8);
        }
        return bytes;
      }]>,
    InterfaceMethod<
      "The logical dense weight this op produces.",
      "::mlir::RankedTensorType", "getDenseWeightType", (ins), [{
        return ::llvm::cast<::mlir::RankedTensorType>(
            $_op->getResult(0).getType());
      }]>
  ];
}

#endif // SLM_IR_SLMINTERFACES_TD
