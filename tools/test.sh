#!/usr/bin/env bash
# The test command: set-up, build, then every test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
ctest --test-dir "${OPD_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" --timeout 900
