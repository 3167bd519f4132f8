#!/usr/bin/env bash
# Installs what slm needs, builds it, and runs the bundled example: the real
# all-MiniLM-L6-v2 sentence encoder compiled by slm, run on a few sentences,
# with their similarities and the largest difference from ONNX Runtime.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${SLM_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh" --python
"$root/scripts/build.sh"
"$root/scripts/fetch-minilm.sh" "$build/models/minilm"
export SLMC="$build/bin/slmc" SLM_RUNTIME="$build/lib/libslmrt.so"
exec "$root/.venv/bin/python" "$root/examples/minilm/run_example.py" \
  "$build/models/minilm/model" "$build/models/minilm/all-MiniLM-L6-v2.onnx" \
  "$build/models/minilm/work"
