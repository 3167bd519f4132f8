#!/usr/bin/env bash
# Opt-in: llama.cpp (through llama-cpp-python) and gguf in the repo's .venv,
# the peer engine of bench/generate.py ("llama.cpp f32/q8_0/q4_0").
#
#     scripts/install-llama-cpp.sh
#
# llama-cpp-python ships as source only: pip builds llama.cpp with cmake
# (a few minutes on 2 cores). It is built for this CPU (-DGGML_NATIVE=ON:
# AVX-512 where the CPU has it; on a CPU with AMX the same sets without
# AMX, whose kernels crashed), niced, so a concurrent build keeps its share.
# Skips everything when .venv already imports llama_cpp and gguf at these
# versions. CI does not run this (scripts/install-deps.sh does not call it).
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
GGUF_VERSION=0.19.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$root/.venv/bin/python"
if [[ ! -x "$python" ]]; then
  echo "error: $python not found; run scripts/install-deps.sh first" >&2
  exit 1
fi

if "$python" - "$LLAMA_CPP_PYTHON_VERSION" "$GGUF_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as md, sys
import llama_cpp
assert llama_cpp.__version__ == sys.argv[1], llama_cpp.__version__
assert md.version("gguf") == sys.argv[2], md.version("gguf")
PY
then
  echo "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION and gguf $GGUF_VERSION already installed in $root/.venv"
  exit 0
fi

jobs="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
(( jobs > 2 )) && jobs=2
echo "building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (llama.cpp, native CPU, $jobs jobs)"
start=$(date +%s)
# LLAVA_BUILD=OFF: the multimodal library is not needed (and only loaded
# lazily by the binding's llava chat handlers).
native="-DGGML_NATIVE=ON"
if grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; then
  # llama.cpp 0.3.36's AMX matmul segfaulted on Q8_0/Q4_0 weights on a VM
  # that exposes AMX (2026-12-02, in ggml_backend_amx_mul_mat): the same
  # instruction sets as -march=native, without AMX.
  native="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  native+=" -DGGML_AVX_VNNI=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON"
  native+=" -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON"
  echo "this CPU has AMX: building without llama.cpp's AMX kernels (they crash here)"
fi
CMAKE_ARGS="$native -DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" \
CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
  nice -n 10 "$python" -m pip install --no-binary llama-cpp-python \
    "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" "gguf==$GGUF_VERSION"
echo "built and installed in $(( $(date +%s) - start )) s"
"$python" -c "import llama_cpp, gguf; print('llama_cpp', llama_cpp.__version__, 'system info:', llama_cpp.llama_print_system_info().decode())"
