#!/usr/bin/env bash
# On a GPU machine (not CI): builds opd against the CUDA LibTorch of the
# machine's python3 (which also has the reference packages), then runs the op
# tests (the *_CUDA ones among them) and the op benchmark on the GPU. The
# Debian packages the build needs travel as .debs in .gpu/debs and are
# unpacked under /tmp, not into /. Fetch them here, in the repository root, with:
#   mkdir -p .gpu/debs && (cd .gpu/debs && apt-get download libgloo-dev libyaml-cpp-dev libyaml-cpp0.7 \
#     nlohmann-json3-dev libfmt-dev libfmt9 libspdlog-dev libspdlog1.10 libcli11-dev libgtest-dev \
#     libgmock-dev libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2 libsentencepiece-dev \
#     libsentencepiece0 libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 libsz2 libaec0)
#   tools/cuda_check.sh [build|test|bench|all] [bench_distill_ops flags ...]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
shift || true
deps=/tmp/opd-deps
build=${OPD_BUILD_DIR:-build-cuda}
mkdir -p "$deps"
for f in .gpu/debs/*.deb; do dpkg -x "$f" "$deps"; done
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:$deps/usr/lib/x86_64-linux-gnu/hdf5/serial:${LD_LIBRARY_PATH:-}"

if [[ $what == build || $what == all ]]; then
  mkdir -p "$build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOPD_CUDA=ON \
    -DOPD_CUDA_ARCHITECTURES=90 -DOPD_USE_CCACHE=OFF -DOPD_PYTHON="$(command -v python3)" \
    -DCMAKE_PREFIX_PATH="$deps/usr" > "$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; exit 1; }
  grep -E "opd:|Torch" "$build/configure.log" || true
  cmake --build "$build" -j"$(nproc)" -- -k 0 opd_ops_tests opd_objectives_tests bench_distill_ops
fi
if [[ $what == test || $what == all ]]; then
  "$build/tests/opd_ops_tests" --gtest_brief=1
  "$build/tests/opd_objectives_tests" --gtest_brief=1
fi
if [[ $what == bench || $what == all ]]; then
  "$build/bin/bench_distill_ops" --device cuda "$@"
fi
