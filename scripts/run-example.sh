#!/usr/bin/env bash
# Installs what slm needs, builds it, and runs the bundled example: the slm
# graph pipeline on a MiniLM-shaped encoder block, then its model statistics.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${SLM_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
echo "== slm-opt examples/encoder_block.mlir --slm-optimize --slm-model-stats"
"$build/bin/slm-opt" "$root/examples/encoder_block.mlir" \
  --slm-optimize --slm-model-stats
