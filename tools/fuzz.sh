#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang-14, AddressSanitizer,
# UndefinedBehaviorSanitizer, LeakSanitizer) in $OPD_FUZZ_BUILD_DIR (default
# build-fuzz/) and runs each for N seconds (default 30) on a copy of its
# committed corpus, so the repository is never written. Fails on any crash,
# leak, timeout (an input taking more than 10 s) or an input needing more
# than 2 GB; the input that did it is kept under the printed directory.
# Prints how many inputs each target ran.
#   tools/fuzz.sh [--seconds N] [TARGET ...]     (targets: recipe jsonl ...)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --seconds needs a positive integer" >&2; exit 2; }
               seconds=$2; shift 2 ;;
    --help|-h) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz: unknown option '$1' (allowed: --seconds N)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(recipe jsonl model_config safetensors tokenizer_json chat_template)
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ -f tests/fuzz/${t}_fuzzer.cpp ]] || { echo "fuzz: no target '$t' (targets: ${all[*]})" >&2; exit 2; }
done

clang=${OPD_FUZZ_CXX:-clang++-14}
command -v "$clang" >/dev/null || { echo "fuzz: $clang not found; tools/setup.sh installs clang-14" >&2; exit 1; }
build_dir=${OPD_FUZZ_BUILD_DIR:-build-fuzz}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  # ccache comes in as for build/ (cmake/OpdCcache.cmake: CMAKE_CXX_COMPILER_LAUNCHER).
  cmake -S . -B "$build_dir" -G Ninja -DOPD_FUZZ=ON -DOPD_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$clang" >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)" $(printf -- '--target fuzz_%s ' "${targets[@]}")

work=$(mktemp -d "${TMPDIR:-/tmp}/opd-fuzz.XXXXXX")
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/corpus/"
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="$PWD/tests/fuzz/$t.dict")
  rc=0
  # LSan checks every input whose mallocs and frees do not balance
  # (-detect_leaks=1 is libFuzzer's default); UBSan aborts at the first report.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS} \
    TMPDIR="$work/$t" "$build_dir/fuzz/fuzz_$t" "$work/$t/corpus" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" >"$work/$t/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log" | tail -1)
  artifacts=$(ls "$work/$t/artifacts")
  if [[ $rc -ne 0 || -n "$artifacts" ]]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} inputs; log and input: $work/$t/" >&2
    grep -E "^==[0-9]+==ERROR|SUMMARY|^fuzz:|runtime error|Test unit written" "$work/$t/log" | head -20 >&2 || true
  else
    echo "fuzz: $t: ${runs:-?} inputs in ${seconds} s, no crash, leak, timeout or OOM"
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]} (reproduce: $build_dir/fuzz/fuzz_<target> <input>)" >&2
  exit 1
fi
rm -rf "$work"
