#!/usr/bin/env bash
# Builds slm with clang-22 under AddressSanitizer + UndefinedBehaviorSanitizer
# (build/sanitize), runs the unit tests there, and fuzzes with libFuzzer the
# ONNX importer, from a corpus of real models (the ONNX node suite and the
# models the lit tests wrote under build/test, the zoo among them, when the
# suite has run), and the runtime's model metadata reader.
#
#   scripts/fuzz.sh [--seconds N] [--runs N] [--jobs N] [--no-unit-tests]
#
# --seconds N   stop fuzzing after N seconds (default 60: the CI smoke)
# --runs N      stop after N executions instead (e.g. 1000000)
# Fuzzes the ONNX importer (slm-fuzz-import) and the runtime's model
# metadata reader (slm-fuzz-metadata), each for that long. Prints
# "<target>: N executions, 0 crashes" per target and fails on any crash,
# leak, sanitizer report or timeout (the failing input is kept in
# build/sanitize/fuzz-artifacts/).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${SLM_BUILD_DIR:-$root/build}/sanitize"
seconds=60 runs=-1 jobs=1 unit=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; seconds=0; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-unit-tests) unit=0; shift ;;
    *) echo "fuzz.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
cc=$(command -v clang-22 || true)
if [ -z "$cc" ]; then
  echo "fuzz.sh: clang-22 is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  # -O1 with line tables: sanitizer reports keep file:line without the
  # cost of full debug info (NDEBUG as Debian's libMLIR is built).
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DSLM_SANITIZE="address;undefined" -DSLM_ENABLE_FUZZERS=ON
fi
targets=(slm-fuzz-import slm-fuzz-metadata)
[ "$unit" = 1 ] && targets+=(SLMUnitTests)
ninja -C "$build" "${targets[@]}"

# allow_user_poisoning=0: LLVM's allocators poison memory from inline header
# code, which Debian's uninstrumented libMLIR does not match (false reports).
export ASAN_OPTIONS=allow_user_poisoning=0:detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ "$unit" = 1 ]; then
  # The compiler's unit tests under the sanitizers (they compile and run
  # models; the generated code itself is not instrumented).
  "$build/test/unit/SLMUnitTests" --gtest_brief=1
fi

artifacts="$build/fuzz-artifacts"
rm -rf "$artifacts" && mkdir -p "$artifacts"
args=(-rss_limit_mb=4096 -timeout=30 -print_final_stats=1)
if [ "$runs" -ge 0 ]; then args+=(-runs="$runs"); else args+=(-max_total_time="$seconds"); fi

# fuzz TARGET CORPUS [libFuzzer flags]: runs one target, prints its count.
fuzz() {
  local target=$1 corpus=$2 log="$build/$1.log" status=0
  shift 2
  "$build/bin/$target" "${args[@]}" "$@" "$corpus" > "$log" 2>&1 || status=$?
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  local crashes
  crashes=$(find "$artifacts" -name "${target}-*" | wc -l)
  echo "$target: ${execs:-0} executions, $crashes crashes (log: $log)"
  if [ "$status" != 0 ] || [ "$crashes" != 0 ]; then
    tail -40 "$log" >&2
    return 1
  fi
}

# The importer's corpus: real models, small enough to mutate (<= 1 MB each).
corpus="$build/fuzz-corpus"
rm -rf "$corpus" && mkdir -p "$corpus"
i=0
while IFS= read -r -d '' f; do
  cp "$f" "$corpus/$(printf 'seed%05d' "$i").onnx"
  i=$((i + 1))
done < <(find /usr/share/libonnx-testdata/data/node "$root/test" \
           "${SLM_BUILD_DIR:-$root/build}/test" \
           -name '*.onnx' -size -1024k -print0 2>/dev/null)
echo "fuzz.sh: corpus of $i models"

# The metadata reader's corpus: the metadata of the models the lit tests
# compiled (the JSON slmc writes into every library), and one seed of its own.
meta="$build/fuzz-corpus-metadata"
rm -rf "$meta" && mkdir -p "$meta"
printf '%s' '{"abi": 3, "inputs": [{"dims": ["batch", ""], "dtype": "int64", "name": "ids", "shape": [-1, 7]}], "outputs": [{"dims": [], "dtype": "float32", "name": "y\u00e9", "shape": []}]}' > "$meta/seed"
j=0
while IFS= read -r -d '' f; do
  grep -a -o -m1 '{"abi"[[:print:]]*' "$f" > "$meta/$(printf 'lib%05d' "$j")" 2>/dev/null || true
  j=$((j + 1))
done < <(find "${SLM_BUILD_DIR:-$root/build}/test" -name '*.so' -print0 2>/dev/null | head -z -n 200)

failed=0
fuzz slm-fuzz-import "$corpus" -max_len=1048576 \
  -artifact_prefix="$artifacts/slm-fuzz-import-" || failed=1
fuzz slm-fuzz-metadata "$meta" -max_len=65536 \
  -artifact_prefix="$artifacts/slm-fuzz-metadata-" || failed=1
exit "$failed"
