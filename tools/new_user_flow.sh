#!/usr/bin/env bash
# The flow a new user runs, end to end at a size that takes about a minute on
# two CPU cores, with the real Qwen3 tokenizer (vocabulary 151669 in the
# tokenizer, 151936 in the models) and its chat format:
#   1. two random Qwen3-shaped models carrying Qwen3's tokenizer files;
#   2. a teacher made by SFT on a small math set's worked solutions (no
#      teacher of its own: sft on the dataset needs none), evaluated on the
#      held-out problems before and after;
#   3. OPD of the student from that teacher, evaluated every few steps;
#   4. opd-generate on the test problems, and opd-eval scoring those answers
#      and sampling its own.
# Each model reads prompts in its own chat template (tokenizer_config.json's
# Jinja, rendered by opd as transformers renders it). Every stage is checked (files written, figures present, the SFT teacher
# learned the task); the script fails naming the stage that did not hold.
#   tools/new_user_flow.sh [WORK_DIR]     (default: a fresh temporary folder)
# It needs a build (tools/build.sh); ctest runs it as tools.new_user_flow.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${OPD_BUILD_DIR:-build}/bin
tokenizer=tests/fixtures/tokenizers/qwen3
work=${1:-$(mktemp -d /tmp/opd-new-user.XXXXXX)}
if [[ -e $work && -n $(ls -A "$work") ]]; then
  echo "new_user_flow: $work is not empty; give a new or empty folder" >&2
  exit 2
fi
mkdir -p "$work"
fail() { echo "new_user_flow: $*" >&2; exit 1; }
stage() { echo "== $*"; }

stage "1. tiny Qwen3-shaped models with Qwen3's tokenizer ($work)"
for m in teacher student; do
  seed=$([[ $m == teacher ]] && echo 1 || echo 2)
  "$bin/opd-make-tiny" --out "$work/$m" --vocab-size 151936 --hidden-size 64 --intermediate-size 128 --layers 2 \
    --eos-id 151645 --seed "$seed" --init-std 0.05 > /dev/null
  cp "$tokenizer/tokenizer.json" "$tokenizer/tokenizer_config.json" "$work/$m/"
done

# A math set whose answers a tiny model can learn in a few steps: sums that
# all come to ten, phrased three ways; the train and test problems differ.
: > "$work/train.jsonl"
: > "$work/test.jsonl"
for a in $(seq 0 10); do
  b=$((10 - a))
  for form in "What is $a + $b?" "Add $a and $b." "Compute $b + $a."; do
    line=$(printf '{"prompt": "%s", "answer": "10", "solution": "%s + %s = 10, so the answer is \\\\boxed{10}.", "domain": "sums"}' \
      "$form" "$a" "$b")
    if (( a % 4 == 3 )); then echo "$line" >> "$work/test.jsonl"; else echo "$line" >> "$work/train.jsonl"; fi
  done
done

common=(--set data.enable_thinking=false --set data.eval="$work/test.jsonl"
        --set eval.k=2 --set eval.temperature=0.6 --set eval.max_new_tokens=24 --set rollout.max_new_tokens=24
        --set log_every=10)

stage "2. SFT of the teacher on the worked solutions (targets: dataset, no teacher)"
cat > "$work/sft.yaml" <<EOF
run_dir: $work/runs/teacher
steps: 40
student: {path: $work/teacher}
data: {train: $work/train.jsonl, prompts_per_step: 8}
objective: {name: sft, targets: dataset}
optim: {lr: 1.0e-2}
EOF
"$bin/opd-train" --config "$work/sft.yaml" "${common[@]}" --set eval.every=20 | tee "$work/sft.log"
[[ -f $work/runs/teacher/final/model.safetensors ]] || fail "stage 2: no final/ teacher"
[[ -f $work/runs/teacher/final/tokenizer.json ]] || fail "stage 2: the final teacher has no tokenizer.json"
evals=$(wc -l < "$work/runs/teacher/eval.jsonl")
[[ $evals -eq 3 ]] || fail "stage 2: eval.jsonl has $evals evaluations, expected 3 (steps 0, 20, 40)"
grep -q "^evaluation of $work/test.jsonl" "$work/sft.log" || fail "stage 2: no end-of-run table of the eval set"
# The teacher must have learned the task: avg@2 of the last evaluation >= 0.5.
last=$(tail -n 1 "$work/runs/teacher/eval.jsonl")
[[ $last =~ \"avg@2\":([0-9.e+-]+) ]] || fail "stage 2: no avg@2 in $last"
awk -v v="${BASH_REMATCH[1]}" 'BEGIN { exit !(v >= 0.5) }' || fail "stage 2: the SFT teacher's avg@2 is ${BASH_REMATCH[1]} (< 0.5)"
[[ -f $work/runs/teacher/final/tokenizer_config.json ]] || fail "stage 2: the final teacher has no tokenizer_config.json"

stage "3. OPD of the student from the SFT teacher, evaluated every 5 steps"
cat > "$work/opd.yaml" <<EOF
run_dir: $work/runs/student
steps: 10
student: {path: $work/student}
teacher: {path: $work/runs/teacher/final}
data: {train: $work/train.jsonl, prompts_per_step: 4, samples_per_prompt: 2}
objective: {name: opd}
optim: {lr: 1.0e-2}
EOF
"$bin/opd-train" --config "$work/opd.yaml" "${common[@]}" --set eval.every=5 | tee "$work/opd.log"
[[ -f $work/runs/student/final/model.safetensors ]] || fail "stage 3: no final/ student"
evals=$(wc -l < "$work/runs/student/eval.jsonl")
[[ $evals -eq 3 ]] || fail "stage 3: eval.jsonl has $evals evaluations, expected 3 (steps 0, 5, 10)"
grep -q '"samples":\[{' "$work/runs/student/eval.jsonl" || fail "stage 3: eval.jsonl logs no sample responses"

stage "4. opd-generate on the test problems, opd-eval on those answers and on its own samples"
"$bin/opd-generate" --model "$work/runs/teacher/final" --no-thinking \
  --prompts "$work/test.jsonl" --n 2 --max-new-tokens 24 --temperature 0.6 --out "$work/generated.jsonl"
rows=$(wc -l < "$work/generated.jsonl")
problems=$(wc -l < "$work/test.jsonl")
[[ $rows -eq $((2 * problems)) ]] || fail "stage 4: $rows generated rows for $problems problems x 2"
# Rendered in the model's own template, thinking off.
grep -q '"prompt":"<|im_start|>user\\nWhat is 3 + 7?<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n"' \
  "$work/generated.jsonl" || fail "stage 4: the prompts are not in Qwen3's chat format: $(head -c 300 "$work/generated.jsonl")"
"$bin/opd-eval" --answers "$work/generated.jsonl" --data "$work/test.jsonl" --pass-at 1,2 --out "$work/answers.json"
"$bin/opd-eval" --model "$work/runs/teacher/final" --no-thinking --data "$work/test.jsonl" \
  --k 2 --pass-at 1,2 --max-new-tokens 24 --out "$work/eval.json"
for f in answers.json eval.json; do
  grep -q '"avg@2"' "$work/$f" || fail "stage 4: $f has no avg@2"
done
echo "new_user_flow: every stage held ($work)"
