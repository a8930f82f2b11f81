#!/usr/bin/env bash
# Configures and builds opd in $OPD_BUILD_DIR (default: build/). Extra
# arguments are build targets (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${OPD_BUILD_DIR:-build}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${OPD_CMAKE_ARGS:-} >/dev/null
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
