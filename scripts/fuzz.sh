#!/usr/bin/env bash
# Builds slm with clang-22 under AddressSanitizer + UndefinedBehaviorSanitizer
# (build/sanitize), runs the unit tests there, and fuzzes the ONNX importer
# with libFuzzer from a corpus of real models (the ONNX node suite, the
# models the lit tests wrote under build/test, the zoo among them, when the
# suite has run).
#
#   scripts/fuzz.sh [--seconds N] [--runs N] [--jobs N] [--no-unit-tests]
#
# --seconds N   stop fuzzing after N seconds (default 60: the CI smoke)
# --runs N      stop after N executions instead (e.g. 1000000)
# Prints "slm-fuzz-import: N executions, 0 crashes" and fails on any crash,
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
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DSLM_SANITIZE="address;undefined" -DSLM_ENABLE_FUZZERS=ON
fi
targets=(slm-fuzz-import)
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

# The corpus: real models, small enough to mutate (<= 1 MB each).
corpus="$build/fuzz-corpus"
artifacts="$build/fuzz-artifacts"
rm -rf "$corpus" "$artifacts" && mkdir -p "$corpus" "$artifacts"
i=0
while IFS= read -r -d '' f; do
  cp "$f" "$corpus/$(printf 'seed%05d' "$i").onnx"
  i=$((i + 1))
done < <(find /usr/share/libonnx-testdata/data/node "$root/test" \
           "${SLM_BUILD_DIR:-$root/build}/test" \
           -name '*.onnx' -size -1024k -print0 2>/dev/null)
echo "fuzz.sh: corpus of $i models"

log="$build/fuzz.log"
args=(-rss_limit_mb=4096 -timeout=30 -max_len=1048576
      -artifact_prefix="$artifacts/" -print_final_stats=1)
if [ "$runs" -ge 0 ]; then args+=(-runs="$runs"); else args+=(-max_total_time="$seconds"); fi
status=0
"$build/bin/slm-fuzz-import" "${args[@]}" "$corpus" > "$log" 2>&1 || status=$?
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
crashes=$(ls "$artifacts" | wc -l)
echo "slm-fuzz-import: ${execs:-0} executions, $crashes crashes (log: $log)"
if [ "$status" != 0 ] || [ "$crashes" != 0 ]; then
  tail -40 "$log" >&2
  exit 1
fi
