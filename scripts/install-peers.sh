#!/usr/bin/env bash
# Opt-in: the CPU peer engines of bench/bench.py in a venv of their own,
# .venv-peers (numpy 2.x: the repo's .venv stays on numpy 1.x for Debian's
# PyTorch).
#
#     scripts/install-peers.sh
#
# ONNX Runtime (the reference and a peer), OpenVINO (f32 forced, and its
# default, which is bf16 on a CPU with AVX512-BF16) and IREE (compiler with
# its ONNX importer, and runtime), and NNCF (OpenVINO's post-training int8
# quantizer: bench/bench.py --int8). Skips the install when the venv already
# has these versions. CI does not run this (scripts/install-deps.sh does not
# call it); bench/bench.py runs without it, with ONNX Runtime from .venv as
# the only peer, and says so.
set -euo pipefail

ONNXRUNTIME_VERSION=1.31.1
OPENVINO_VERSION=2026.4.1
IREE_VERSION=3.13.0
NNCF_VERSION=3.4.0
ONNX_VERSION=1.23.2

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-peers"
pins=("onnxruntime==$ONNXRUNTIME_VERSION" "openvino==$OPENVINO_VERSION"
      "iree-base-compiler==$IREE_VERSION" "iree-base-runtime==$IREE_VERSION"
      "onnx==$ONNX_VERSION" "nncf==$NNCF_VERSION" "numpy>=2")

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" - "${pins[@]}" <<'PY' 2>/dev/null
import importlib.metadata as md, sys
for pin in sys.argv[1:]:
    if "==" in pin:
        name, version = pin.split("==")
        assert md.version(name) == version, (name, md.version(name))
PY
then
  echo "peers already installed in $venv"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "${pins[@]}"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
import onnxruntime, openvino, iree.compiler, iree.runtime, numpy
print("peers: onnxruntime", onnxruntime.__version__, "| openvino", openvino.__version__,
      "| iree", md.version("iree-base-compiler"), "| numpy", numpy.__version__)
PY
