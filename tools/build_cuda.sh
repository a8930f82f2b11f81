#!/usr/bin/env bash
# The CUDA configuration, compiled and linked without a GPU: the CUDA torch
# wheel (tools/requirements-cuda.txt, in .venv-cuda/) gives a CUDA LibTorch,
# and every target (library with the CUDA op paths, kernels/, tools, tests,
# benchmarks) is built with OPD_CUDA=ON into $OPD_CUDA_BUILD_DIR (default:
# build-cuda/). Nothing is run: that needs a GPU (tools/gpu_check.sh).
# Extra arguments are build targets (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --cuda
build_dir=${OPD_CUDA_BUILD_DIR:-build-cuda}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  mkdir -p "$build_dir"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOPD_CUDA=ON \
    -DOPD_PYTHON="$PWD/.venv-cuda/bin/python3" ${OPD_CMAKE_ARGS:-} > "$build_dir/configure.log" 2>&1 ||
    { cat "$build_dir/configure.log"; exit 1; }
  grep -E "^-- opd:" "$build_dir/configure.log" || true
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
