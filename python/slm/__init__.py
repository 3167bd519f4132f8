"""slm: compile transformer models (ONNX) to native code and run them.

    import slm
    slm.compile("model.onnx", "model.so")
    model = slm.load("model.so")
    outputs = model.run({"input_ids": ids, "attention_mask": mask})

`compile` runs the `slmc` compiler; `load` and `Model.run` use the slm
runtime (libslmrt) through ctypes: numpy arrays in, numpy arrays out.
Errors raise `slm.SlmError` with the compiler's or the runtime's message;
a run that fails a check of the model (a token id beyond the vocabulary)
raises its subclass `slm.RunTimeCheckError` and returns no outputs.

Where the tools are (slm._paths, first found wins): $SLMC (the compiler)
and $SLM_RUNTIME (libslmrt.so); else $SLM_HOME/bin/slmc and
$SLM_HOME/lib/libslmrt.so; else the prefix recorded by `cmake --install`
when this package was installed from <prefix>/share/slm/python (so
`pip install <prefix>/share/slm/python` needs no environment variable);
else the repository's build/ folder when the package runs from the source
tree; else `slmc` on PATH with libslmrt.so in its ../lib.
`slm._paths.search_locations()` lists the places.

`__version__` equals the C++ build's version (project() in CMakeLists.txt).
"""

from ._runtime import Model, RunTimeCheckError, SlmError, TensorInfo, load
from ._compiler import compile, compile_options

__all__ = ["compile", "compile_options", "load", "Model", "RunTimeCheckError", "SlmError",
           "TensorInfo"]
__version__ = "0.2.0"
