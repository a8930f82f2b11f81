#!/usr/bin/env bash
# The main job on an embedded default: set-up, build, then distil a tiny
# random student towards a tiny random teacher on the CPU and print the
# before/after numbers. Extra arguments go to opd-train (e.g. --set steps=80).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
echo "== building opd-train and opd-make-tiny"
tools/build.sh opd-train opd-make-tiny
bin=${OPD_BUILD_DIR:-build}/bin

echo "== making the cast: a sharp random teacher and a near-uniform student (same shape, vocab 64)"
"$bin/opd-make-tiny" --out runs/smoke/models/teacher --vocab-size 64 --seed 1 --init-std 0.1 --embed-std 0.3
"$bin/opd-make-tiny" --out runs/smoke/models/student --vocab-size 64 --seed 2 --init-std 0.02

echo "== distilling with configs/smoke/opd_tiny.yaml (objective: opd, reverse-KL policy gradient)"
"$bin/opd-train" --config configs/smoke/opd_tiny.yaml "$@"
