#!/usr/bin/env bash
# The GPU check (issue 17), for a lent GPU machine: one H100/H200, CUDA 13, a
# python3 whose torch is a CUDA wheel (its LibTorch is what opd builds against)
# and which has transformers; no network. One call, under 8 minutes:
#   build    unpack the Debian packages carried in .gpu/debs, configure a CUDA
#            build (Release, Ninja, OPD_CUDA=ON, sm_90) in build-cuda/ and
#            build only the targets the stages run
#   tests    the *_CUDA / CudaParity gtests: every op's CUDA path against its CPU path
#   logits   opd's logits on CUDA against transformers' on CUDA, fp32 and bf16,
#            on random Qwen3-0.6B-shaped weights (bench_vs_transformers.py --check-only)
#   ops      bench_distill_ops at N = 8192, V = 151936, bf16: GB/s and the
#            fraction of a device copy measured in the same run
#   head     bench_lm_head_loss at N = 16384, V = 151936, H = 2048, bf16: the
#            lm_head + log-prob pass chunked against whole logits (time, peak memory)
#   train    bench_train_step, Qwen3-0.6B- and 1.7B-shaped students from random
#            weights: tokens/s, MFU against the bf16 matmul rate measured in the
#            same run, peak memory, rollout / scoring / backward + update
#   rollout  bench_vs_transformers.py at batch 64: opd's rollout tokens/s
#            against transformers' generate on the same weights
# and prints one summary table last, with the time each stage took (also
# $OUT/gpu_check_summary.txt, with every stage's log in $OUT/gpu_check.log,
# when OUT is set). Each stage runs under its own time limit, cut to what is
# left of the budget (OPD_GPU_CHECK_BUDGET_S, default 450 s); a stage that
# fails, times out or finds no time left is FAIL / TIMEOUT / SKIP in the table
# and the next one runs. Exit status: 0 when every stage passed.
#
#   tools/gpu_check.sh --fetch-debs    here, on a CPU machine with apt: fills .gpu/debs
#   tools/gpu_check.sh [STAGE ...]     on the GPU machine (default: every stage), e.g. from
#                                      the device tool: command "tools/gpu_check.sh", carry [".gpu"]
#   tools/gpu_check.sh --cpu [STAGE ...]  the same stages on the CPU at tiny sizes, against
#                                      the CPU build in build/ (a dry run of this script)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

debs=(libgloo-dev libyaml-cpp-dev libyaml-cpp0.7 nlohmann-json3-dev libfmt-dev libfmt9 libspdlog-dev
  libspdlog1.10 libcli11-dev libgtest-dev libgmock-dev libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2
  libsentencepiece-dev libsentencepiece0 libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 libsz2 libaec0)
if [[ ${1:-} == --fetch-debs ]]; then
  mkdir -p .gpu/debs && cd .gpu/debs && exec apt-get download "${debs[@]}"
fi

mode=gpu
if [[ ${1:-} == --cpu ]]; then
  mode=cpu
  shift
fi
all_stages=(build tests logits ops head train-0.6b train-1.7b rollout)
stages=("$@")
[[ ${#stages[@]} -eq 0 ]] && stages=("${all_stages[@]}")
for s in "${stages[@]}"; do
  [[ " ${all_stages[*]} " == *" $s "* ]] || { echo "gpu_check: unknown stage '$s' (stages: ${all_stages[*]})" >&2; exit 2; }
done

budget=${OPD_GPU_CHECK_BUDGET_S:-450}
start=$SECONDS
work=${OPD_GPU_CHECK_WORK:-/tmp/opd-gpu-check}
rm -rf "$work" && mkdir -p "$work/logs"
jobs=$(nproc)

if [[ $mode == gpu ]]; then
  build=${OPD_BUILD_DIR:-build-cuda}
  python=$(command -v python3)
  device=cuda
else
  build=${OPD_BUILD_DIR:-build}
  python=$root/.venv/bin/python3
  device=cpu
fi
bin=$build/bin

# The sizes of each stage: the real ones on the GPU, tiny ones in the dry run.
if [[ $mode == gpu ]]; then
  model_shape=qwen3-0.6b
  ops_args=(--device cuda --rows 8192 --vocab 151936 --dtypes bf16 --repeats 10)
  head_args=(--device cuda --rows 16384 --vocab 151936 --hidden 2048 --dtype bf16 --chunk-rows 1024,4096 --repeats 3)
  train_args=(--device cuda --dtype bfloat16 --prompts 16 --samples 4 --prompt-tokens 64 --new-tokens 128
    --micro-batch 32 --steps 3)
  train_shapes=(qwen3-0.6b qwen3-1.7b)
  rollout_args=(--device cuda --dtype bfloat16 --batches 64 --prompt-tokens 64 --new-tokens 128 --repeats 3)
  check_args=(--device cuda --dtype bfloat16 --prompt-tokens 64)
else
  model_shape=tiny
  ops_args=(--device cpu --rows 64 --vocab 4096 --dtypes bf16 --repeats 2)
  head_args=(--device cpu --rows 256 --vocab 4096 --hidden 64 --dtype bf16 --chunk-rows 64 --repeats 2)
  train_args=(--device cpu --dtype float32 --prompts 2 --samples 2 --prompt-tokens 8 --new-tokens 8
    --micro-batch 4 --steps 2)
  train_shapes=(small small)
  rollout_args=(--device cpu --dtype float32 --batches 4 --prompt-tokens 8 --new-tokens 8 --repeats 1)
  check_args=(--device cpu --dtype float32 --prompt-tokens 8)
fi
# The stages' time limits in seconds (each cut to what the budget has left).
declare -A cap=([build]=270 [tests]=60 [logits]=60 [ops]=60 [head]=40 [train-0.6b]=75 [train-1.7b]=110 [rollout]=100)
[[ $mode == cpu ]] && cap[build]=$budget  # an incremental build on a 2-core machine: whatever it takes

declare -A status took note
want() { [[ " ${stages[*]} " == *" $1 "* ]]; }

# run_stage NAME FUNCTION: runs FUNCTION under the stage's limit, its output in
# $work/logs/NAME.log (the last lines echoed), and records PASS / FAIL / TIMEOUT.
run_stage() {
  local name=$1 fn=$2
  want "$name" || return 0
  local left=$((budget - (SECONDS - start) - 10))
  if ((left < 15)); then
    status[$name]=SKIP took[$name]=0 note[$name]="no time left of the ${budget} s budget"
    return 0
  fi
  local limit=$((cap[$name] < left ? cap[$name] : left))
  echo "== $name (limit ${limit} s)"
  local t0=$SECONDS rc
  timeout --kill-after=10 "$limit" bash -c "set -euo pipefail; $fn" >"$work/logs/$name.log" 2>&1
  rc=$?
  took[$name]=$((SECONDS - t0))
  tail -n 15 "$work/logs/$name.log" | sed 's/^/   /'
  if ((rc == 124 || rc == 137)); then
    status[$name]=TIMEOUT note[$name]="over its ${limit} s limit"
  elif ((rc != 0)); then
    status[$name]=FAIL note[$name]="exit $rc: $(grep -v '^\s*$' "$work/logs/$name.log" | tail -n 1 | cut -c1-150)"
  else
    status[$name]=PASS
  fi
}

# What the stages' shells need (each stage function runs in a child bash).
export root work build bin python device jobs model_shape mode
export OPD_OPS_ARGS="${ops_args[*]}" OPD_HEAD_ARGS="${head_args[*]}" OPD_TRAIN_ARGS="${train_args[*]}" OPD_ROLLOUT_ARGS="${rollout_args[*]}"
export OPD_CHECK_ARGS="${check_args[*]}" OPD_TRAIN_SHAPES="${train_shapes[*]}"

stage_build() {
  local targets=(opd_ops_tests opd_objectives_tests bench_distill_ops bench_lm_head_loss bench_train_step bench_rollout opd-make-tiny)
  if [[ $mode == cpu ]]; then
    OPD_BUILD_DIR=$build tools/build.sh "${targets[@]}"
    return
  fi
  [[ -n ${deps:-} ]] || { echo "no .gpu/debs/*.deb: run tools/gpu_check.sh --fetch-debs on a CPU machine and carry .gpu"; exit 1; }
  mkdir -p "$build"
  echo "python3: $python ($("$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'))"
  echo "nvcc: $(command -v nvcc) $(nvcc --version | tail -n 1)"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOPD_CUDA=ON -DOPD_CUDA_ARCHITECTURES=90 \
    -DOPD_USE_CCACHE=OFF -DOPD_PYTHON="$python" -DCMAKE_PREFIX_PATH="$deps/usr" >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; exit 1; }
  grep -E "^-- opd:" "$build/configure.log" || true
  cmake --build "$build" -j"$jobs" -- -k 0 "${targets[@]}"
}

# The gtests whose names say they compare CUDA with the CPU; on the GPU a
# skipped one (no device seen) fails the stage.
stage_tests() {
  local suite rc=0
  for suite in opd_ops_tests opd_objectives_tests; do
    [[ -x $build/tests/$suite ]] || { echo "$suite: not built"; rc=1; continue; }
    "$build/tests/$suite" --gtest_filter='*_CUDA*:*CudaParity*' --gtest_brief=1 \
      --gtest_output="json:$work/$suite.json" || rc=1
  done
  "$python" - "$work" "$mode" <<'EOF' || rc=1
import json, os, sys
work, mode = sys.argv[1:]
bad = 0
for suite in ("opd_ops_tests", "opd_objectives_tests"):
    path = os.path.join(work, suite + ".json")
    if not os.path.exists(path):
        print(f"{suite}: no results"); bad = 1; continue
    cases = [c for s in json.load(open(path))["testsuites"] for c in s["testsuite"]]
    failed = sum(1 for c in cases if c.get("failures"))
    skipped = sum(1 for c in cases if c.get("result") == "SKIPPED")
    print(f"{suite}: {len(cases)} CUDA tests, {len(cases) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    bad |= failed > 0 or (mode == "gpu" and skipped > 0)
sys.exit(bad)
EOF
  return $rc
}

stage_logits() {
  # shellcheck disable=SC2086
  "$python" benchmarks/bench_vs_transformers.py --bin-dir "$bin" --python "$python" --shape "$model_shape" \
    --save-model "$work/model" --check-only $OPD_CHECK_ARGS
}

stage_ops() {
  # shellcheck disable=SC2086
  "$bin/bench_distill_ops" $OPD_OPS_ARGS
}

stage_head() {
  # shellcheck disable=SC2086
  "$bin/bench_lm_head_loss" --json $OPD_HEAD_ARGS | tee "$work/head.json"
}

train_shape() {
  local shapes=($OPD_TRAIN_SHAPES)
  # shellcheck disable=SC2086
  "$bin/bench_train_step" --shape "${shapes[$1]}" --json "$work/train-$1.json" $OPD_TRAIN_ARGS
}
stage_train_06() { train_shape 0; }
stage_train_17() { train_shape 1; }

stage_rollout() {
  local model=(--shape "$model_shape")
  [[ -f $work/model/config.json ]] && model=(--model "$work/model")  # the weights the logits stage checked
  # shellcheck disable=SC2086
  "$python" benchmarks/bench_vs_transformers.py --bin-dir "$bin" --python "$python" "${model[@]}" --no-check \
    --json-out "$work/rollout.json" $OPD_ROLLOUT_ARGS
}
export -f stage_build stage_tests stage_logits stage_ops stage_head train_shape stage_train_06 stage_train_17 stage_rollout

echo "gpu_check: $mode mode, stages: ${stages[*]}, budget ${budget} s, build dir $build"
if [[ $mode == gpu ]]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv,noheader || true
  # The Debian packages travel as .debs (--fetch-debs) and are unpacked under
  # /tmp, not into /; the build links them and every stage loads them.
  if compgen -G ".gpu/debs/*.deb" >/dev/null; then
    export deps=/tmp/opd-deps
    mkdir -p "$deps"
    for f in .gpu/debs/*.deb; do dpkg -x "$f" "$deps"; done
    export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu:$deps/usr/lib/x86_64-linux-gnu/hdf5/serial:${LD_LIBRARY_PATH:-}"
  fi
  [[ -x /usr/local/cuda/bin/nvcc ]] && export PATH=/usr/local/cuda/bin:$PATH
  echo "set-up (unpacking .debs): $((SECONDS - start)) s"
fi
ninja_lines=$( (cat "$build/.ninja_log" 2>/dev/null || true) | wc -l)  # the steps before this build
run_stage build stage_build
run_stage tests stage_tests
run_stage logits stage_logits
run_stage ops stage_ops
run_stage head stage_head
run_stage train-0.6b stage_train_06
run_stage train-1.7b stage_train_17
run_stage rollout stage_rollout

# Where the build's time went: its slowest steps (ninja's log lines after
# those it had before: start ms, end ms, mtime, output).
if want build && [[ -f $build/.ninja_log ]]; then
  awk -F'\t' -v skip="$ninja_lines" 'NR > skip && !/^#/ { printf "%7.1f s  %s\n", ($2 - $1) / 1000, $4 }' \
    "$build/.ninja_log" | sort -rn | head -n 5 >"$work/build_slowest.txt"
fi

summary=$work/summary.txt
for s in "${all_stages[@]}"; do
  want "$s" && printf '%s\t%s\t%s\t%s\n' "$s" "${status[$s]}" "${took[$s]}" "${note[$s]:-}"
done >"$work/status.tsv"
"$python" - "$work" "$mode" "$((SECONDS - start))" "$budget" >"$summary" <<'EOF' || cat "$work/status.tsv" >"$summary"
import json, os, re, sys
work, mode, total, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def log(name):
    path = os.path.join(work, "logs", name + ".log")
    return open(path, errors="replace").read() if os.path.exists(path) else ""

def load(name):
    path = os.path.join(work, name)
    return json.load(open(path)) if os.path.exists(path) else None

def gib(b):
    return f"{b / 2**30:.1f} GiB"

def result(stage):
    text = log(stage)
    if stage == "build":
        m = re.findall(r"^-- opd: .*CUDA ops \w+", text, re.M)
        return m[-1][8:] if m else ""
    if stage == "tests":
        return "; ".join(re.findall(r"^(opd_\w+: \d+ CUDA tests.*)$", text, re.M))
    if stage == "logits":
        m = re.findall(r"^check: (.*)$", text, re.M)
        return m[-1] if m else ""
    if stage == "ops":
        rows = {}
        for line in text.splitlines():
            cells = [c.strip() for c in line.split("|")]
            if len(cells) >= 3 and cells[0].split() and cells[0].split()[0] in (
                    "copy", "k1", "topk_fkl", "tropd", "full_kl", "teacher_topk"):
                nums = cells[2].split()
                rows[cells[0].split()[0]] = (nums[1] if len(nums) > 1 else "?", nums[2] if len(nums) > 2 else "?",
                                              "MISMATCH" if "MISMATCH" in line else "")
        if "copy" not in rows:
            return ""
        parts = [f"copy {float(rows['copy'][0]):.0f} GB/s"]
        parts += [f"{op} {v[0]} GB/s = {v[1]} of copy{' ' + v[2] if v[2] else ''}" for op, v in rows.items()
                  if op != "copy"]
        return "; ".join(parts)
    if stage == "head":
        j = load("head.json")
        if not j:
            return ""
        w = j["whole"]
        out = [f"N {j['rows']} V {j['vocab']} H {j['hidden']}: whole logits {1e3 * w['seconds']:.1f} ms, "
               f"peak {w['peak_gb']:.2f} GB"]
        out += [f"chunks of {c['chunk_rows']} {1e3 * c['seconds']:.1f} ms ({c['time_ratio']:.2f}x), peak "
                f"{c['peak_gb']:.2f} GB ({c['peak_ratio']:.2f}x){'' if c['agrees'] else ' DISAGREES'}"
                for c in j.get("chunked", [])]
        return "; ".join(out)
    if stage.startswith("train"):
        j = load(f"train-{0 if stage == 'train-0.6b' else 1}.json")
        if not j:
            return ""
        peak = gib(j["peak_device_bytes"]) + " GPU" if j["peak_device_bytes"] else gib(j["peak_rss_bytes"]) + " RSS"
        return (f"{j['shape']}: {j['tokens_per_s']:.0f} tokens/s, MFU {100 * j['mfu_train']:.1f}% train / "
                f"{100 * j['mfu_step']:.1f}% step (matmul {j['matmul_flops'] / 1e12:.3g} TFLOP/s), peak {peak}, "
                f"step {j['step_s']:.2f} s = rollout {j['rollout_s']:.2f} + scoring {j['score_s']:.2f} + "
                f"backward {j['backward_s']:.2f} + update {j['update_s']:.2f}")
    if stage == "rollout":
        j = load("rollout.json")
        if not j or not j["rows"]:
            return ""
        out = []
        for r in j["rows"]:
            if "error" in r["opd"] or "error" in r["transformers"]:
                out.append(f"batch {r['batch']}: " + (r["opd"].get("error") or r["transformers"].get("error")))
                continue
            med = lambda v: sorted(v)[len(v) // 2]
            o, h = med(r["opd"]["tokens_per_s"]), med(r["transformers"]["tokens_per_s"])
            out.append(f"batch {r['batch']}: opd {o:.0f} vs transformers {h:.0f} tokens/s = {o / h:.2f}x, peak "
                       f"{gib(r['opd']['peak_memory_bytes'])} vs {gib(r['transformers']['peak_memory_bytes'])}")
        return "; ".join(out)
    return ""

lines = [f"gpu_check summary ({mode} mode): {total} s of a {budget} s budget",
         f"{'stage':<11} {'status':<8} {'time':>6}  result"]
for row in open(os.path.join(work, "status.tsv")):
    stage, status, took, note = (row.rstrip("\n").split("\t") + [""] * 4)[:4]
    text = result(stage)
    if status != "PASS" and note:
        text = (text + " | " if text else "") + note
    lines.append(f"{stage:<11} {status:<8} {took + ' s':>6}  {text}")
slowest = os.path.join(work, "build_slowest.txt")
if os.path.exists(slowest):
    lines.append("slowest build steps: " + "; ".join(l.strip() for l in open(slowest)))
print("\n".join(lines))
EOF

if [[ -n ${OUT:-} ]]; then
  mkdir -p "$OUT"
  cp "$summary" "$OUT/gpu_check_summary.txt"
  for f in "$work"/logs/*.log; do echo "===== $(basename "$f")"; cat "$f"; done >"$OUT/gpu_check.log"
  for f in "$work"/head.json "$work"/train-0.json "$work"/train-1.json "$work"/rollout.json; do [[ -f $f ]] && cp "$f" "$OUT/"; done
fi
echo
cat "$summary"
! grep -qv $'\tPASS\t' "$work/status.tsv"
