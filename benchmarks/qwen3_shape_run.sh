#!/usr/bin/env bash
# A shipped recipe's shape, scaled down, end to end: configs/methods/opd.yaml
# with a Qwen3-0.6B-shaped student and teacher (random weights written by
# opd-make-tiny, tied embeddings, vocabulary 151936), 8 prompts x 4 samples
# x NEW_TOKENS new tokens per step, on DEVICE (cpu here; cuda on a GPU
# machine). It prints the progress lines a real run prints. The prompts are
# ids (random models have no tokenizer), so the recipe's chat template is off.
#   benchmarks/qwen3_shape_run.sh [DEVICE=cpu] [NEW_TOKENS=256] [STEPS=1] [DTYPE=float32]
set -euo pipefail
cd "$(dirname "$0")/.."
device=${1:-cpu}
new_tokens=${2:-256}
steps=${3:-1}
dtype=${4:-float32}
bin=${OPD_BIN:-build/bin}
work=${OPD_WORK_DIR:-runs/qwen3_shape}
mkdir -p "$work"
# Qwen3-0.6B's config.json: hidden 1024, 28 layers, 16 query / 8 KV heads of 128, MLP 3072.
shape=(--vocab-size 151936 --hidden-size 1024 --intermediate-size 3072 --layers 28 --heads 16 --kv-heads 8
       --head-dim 128 --max-positions 40960 --eos-id 151645 --dtype "$dtype")
for who in student:1 teacher:2; do
  name=${who%%:*}
  [[ -f "$work/$name/config.json" ]] || "$bin/opd-make-tiny" --out "$work/$name" --seed "${who##*:}" "${shape[@]}" >/dev/null
done
# Eight prompts of 32 token ids each, drawn from the first 150000 ids.
python3 - "$work/prompts.jsonl" <<'PY'
import json, random, sys
rng = random.Random(0)
with open(sys.argv[1], "w") as f:
    for _ in range(8):
        f.write(json.dumps({"prompt_ids": [rng.randrange(150000) for _ in range(32)]}) + "\n")
PY
start=$SECONDS
"$bin/opd-train" --config configs/methods/opd.yaml \
  --set "run_dir=$work/run" --set "steps=$steps" --set save_every=0 --set micro_batch_size=4 \
  --set "student.path=$work/student" --set "teacher.path=$work/teacher" \
  --set "student.dtype=$dtype" --set "teacher.dtype=$dtype" \
  --set student.chat_template=none --set teacher.chat_template=none \
  --set "student.device=$device" --set "teacher.device=$device" \
  --set "data.train=$work/prompts.jsonl" --set data.prompts_per_step=8 --set data.samples_per_prompt=4 \
  --set "rollout.max_new_tokens=$new_tokens"
echo "qwen3_shape_run: $steps step(s) of 8 x 4 x $new_tokens tokens on $device ($dtype) in $((SECONDS - start)) s"
