#!/usr/bin/env bash
# Installs every system dependency of slm, idempotently, on Debian 12.
#
#   scripts/install-deps.sh            # compiler toolchain + test tools
#   scripts/install-deps.sh --python   # also Debian's PyTorch and a project
#                                      # venv (.venv) with ONNX Runtime, for
#                                      # reference outputs and benchmarks
#
# Re-running it is cheap: packages already present are skipped.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

with_python=0
for arg in "$@"; do
  case "$arg" in
    --python) with_python=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

packages=(
  # LLVM/MLIR 22, linked through the monolithic libMLIR.so.
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
  # The OpenMP runtime that compiled models run their parallel loops on.
  libomp-22-dev
  # Build.
  cmake ninja-build g++ pkg-config
  # ONNX importer.
  libonnx-dev libprotobuf-dev protobuf-compiler
  # Unit tests, and the leak check of the runtime.
  libgtest-dev googletest valgrind
  # The sanitizer build and the importer's fuzzer (scripts/fuzz.sh): clang
  # with libFuzzer, ASan and UBSan.
  clang-22 libclang-rt-22-dev
  # Test data and reference tooling from Debian.
  libonnx-testdata python3-numpy python3-onnx
)
if [ "$with_python" = 1 ]; then
  packages+=(python3-torch python3-torchvision python3-matplotlib python3-venv python3-pip
            # OpenBLAS: Debian's PyTorch falls back to the reference BLAS without it
            # (16x slower training of the compression models).
            libopenblas0-pthread
            # Training and evaluation data of the compression models.
            fortunes bible-kjv)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

if [ "$with_python" = 1 ]; then
  venv="$root/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi
  "$venv/bin/python" -m pip install -q -r "$root/scripts/requirements.txt"
fi
