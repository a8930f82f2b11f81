#!/usr/bin/env python3
"""opd against the Python stack it replaces, side by side: its rollout engine
against transformers' generate, and an opd-train OPD step against the
TRL-style loop of trl_style_opd.py.

The same random Qwen3-shaped weights (written once by build/bin/opd-make-tiny,
loaded by opd and by transformers' AutoModelForCausalLM), the same prompts and
the same token counts (no end-of-sequence token: every row generates exactly
--new-tokens) through build/bin/bench_rollout --model and through generate()
with its KV cache, at each batch given, on one device and in one dtype. Each
measurement is its own process (one warm-up, then --repeats timed runs), so
each engine's peak memory is its own: on CUDA the caching allocator's peak
bytes in use (weights included), on the CPU the process's peak resident set.
Both engines get the same CPU thread count.

Before anything is timed, the logits of a batch of the prompts are checked:
opd's fp32 logits against transformers' fp32 logits, and opd's bf16 logits no
further from transformers' fp32 ones than transformers' own bf16 logits are.

    benchmarks/bench_vs_transformers.py [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16]
        [--shape tiny|small|medium|qwen3-0.6b|qwen3-1.7b] [--layers N ...] [--model DIR]
        [--batches 1 8 32 64] [--prompt-tokens 16] [--new-tokens 64] [--repeats 3]
        [--sample] [--check-only | --no-check] [--json-out FILE]
        [--parts rollout train] [--teacher DIR] [--prompts-per-step 8] [--samples-per-prompt 4]
        [--micro-batch 8] [--train-steps 4]

The training part: the same student (the model above) and teacher (a second
random model of the shape, seed + 1), the same prompts, samples and response
cap (--new-tokens), micro-batch and AdamW, sampled at temperature 1; both
engines stop a row at the end-of-sequence id, so each step's response tokens
are counted, not assumed. The first step of each is a warm-up.

Prints the tables last: tokens/s (median [min, max] over the runs), peak
memory, opd/peer (the ratio of the medians [lowest, highest]) and each
process's system CPU time over its wall time; for the training step also its
MFU: 6 x student params x tokens trained + 2 x teacher params x tokens scored +
2 x student params x tokens the rollout computes, per second, over the rate of
a square matmul in the step's dtype timed in this run (attention's own FLOPs
are left out). Exits 1 when the check fails
(nothing is timed then) or a measurement fails.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Model shapes: opd-make-tiny's flags. The Qwen3 ones are the config.json
# shapes of the models they are named after (tied embeddings).
SHAPES = {
    "tiny": dict(vocab=512, hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, head_dim=16),
    "small": dict(vocab=4096, hidden=256, intermediate=768, layers=4, heads=8, kv_heads=2, head_dim=32),
    "medium": dict(vocab=8192, hidden=512, intermediate=1536, layers=12, heads=8, kv_heads=4, head_dim=64),
    "qwen3-0.6b": dict(vocab=151936, hidden=1024, intermediate=3072, layers=28, heads=16, kv_heads=8,
                       head_dim=128),
    "qwen3-1.7b": dict(vocab=151936, hidden=2048, intermediate=6144, layers=28, heads=16, kv_heads=8,
                       head_dim=128),
}
CHECK_ROWS = 4  # prompts in the logits check
FP32_TOL = 1e-4  # ||opd - hf|| / ||hf|| of fp32 logits
BF16_FACTOR = 2.0  # opd's bf16 error may be this many times transformers' own


def fail(message):
    sys.exit(f"bench_vs_transformers: {message}")


def matmul_worker(job):
    """The machine's fp32 (or bf16) matmul rate with the engines' thread count, in its own process: the best
    of several square GEMMs, as FLOP/s on one JSON line (the MFU column's denominator)."""
    import torch

    torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    dtype = getattr(torch, job["dtype"])
    n = 2048 if device.type == "cpu" else 8192
    x, y = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(4):
            torch.mm(x, y)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, (time.perf_counter() - t0) / 4)
    print(json.dumps(dict(n=n, flops_per_s=2 * n**3 / best)))


def hf_worker(job):
    """The transformers side, in its own process: one JSON line, as bench_rollout --model prints."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM, GenerationConfig

    torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    def load(dtype):
        model = AutoModelForCausalLM.from_pretrained(job["model"], dtype=getattr(torch, dtype))
        return model.to(device).eval()

    ids = load_file(job["prompts"])["input_ids"][: job["batch"]].to(device)
    mask = torch.ones_like(ids)
    out = dict(engine="transformers", device=str(device), dtype=job["dtype"], batch=job["batch"],
               prompt_tokens=ids.shape[1], threads=job["threads"])
    if job["task"] == "logits":
        logits = {}
        for dtype in ("float32", "bfloat16"):
            model = load(dtype)
            with torch.inference_mode():
                logits[dtype] = model(input_ids=ids, attention_mask=mask).logits.float().cpu().contiguous()
            del model
        save_file(logits, job["logits_out"])
        out["logits_out"] = job["logits_out"]
        print(json.dumps(out))
        return

    t0 = time.perf_counter()
    model = load(job["dtype"])
    sync()
    out["load_seconds"] = time.perf_counter() - t0
    # generate() fills what its config leaves unset from the model's own
    # generation config: no EOS there either, so every row runs the full length.
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    sampling = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0) if job["sample"] else dict(do_sample=False)
    config = GenerationConfig(max_new_tokens=job["new_tokens"], eos_token_id=None, pad_token_id=0, use_cache=True,
                              **sampling)
    torch.manual_seed(job["seed"])
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)  # the weights stay in the peak, as on opd's side

    def run():
        with torch.inference_mode():
            tokens = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        sync()
        return tokens

    tokens = run()  # warm-up
    seconds = []
    for _ in range(job["repeats"]):
        t0 = time.perf_counter()
        tokens = run()
        seconds.append(time.perf_counter() - t0)
    generated = (tokens.shape[1] - ids.shape[1]) * tokens.shape[0]
    if tokens.shape[1] != ids.shape[1] + job["new_tokens"]:
        fail(f"transformers generated {tokens.shape[1] - ids.shape[1]} tokens per row, expected {job['new_tokens']}")
    if job.get("tokens_out"):
        save_file({"tokens": tokens.cpu().contiguous()}, job["tokens_out"])
    out.update(new_tokens=job["new_tokens"], generated_tokens=generated, sample=job["sample"], seconds=seconds,
               tokens_per_s=[generated / s for s in seconds])
    if cuda:
        out.update(peak_memory_bytes=torch.cuda.max_memory_allocated(device), peak_memory_kind="cuda_allocated",
                   peak_reserved_bytes=torch.cuda.max_memory_reserved(device))
    else:
        out.update(peak_memory_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                   peak_memory_kind="rss")
    print(json.dumps(out))


def run_process(cmd, env, timeout, what):
    """Runs cmd; returns (its stdout, the CPU seconds it used as {"user", "system"}, None) or (None, None, an
    error line). The CPU times are the child's own (one child runs at a time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None, f"{what}: timed out after {timeout} s"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return None, None, f"{what}: exit {done.returncode}: {tail}"
    return done.stdout, dict(user=after.ru_utime - before.ru_utime, system=after.ru_stime - before.ru_stime), None


def run_json(cmd, env, timeout, what):
    """Runs cmd, returns (the JSON object its last stdout line holds, with the process's "cpu_seconds" and
    "process_seconds" added, None) or (None, an error line)."""
    t0 = time.perf_counter()
    stdout, cpu, err = run_process(cmd, env, timeout, what)
    if err:
        return None, err
    lines = stdout.strip().splitlines()
    if not lines:
        return None, f"{what}: printed nothing"
    try:
        out = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None, f"{what}: last line is not JSON: {lines[-1][:200]}"
    out.update(cpu_seconds=cpu, process_seconds=time.perf_counter() - t0)
    return out, None


def rel_err(a, b):
    import numpy as np
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def spread(values):
    return statistics.median(values), min(values), max(values)


class OneLineErrors(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def parse_args(argv):
    p = OneLineErrors(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--shape", default="small", choices=sorted(SHAPES), help="model shape (default: small)")
    for key in ("vocab", "hidden", "intermediate", "layers", "heads", "kv_heads", "head_dim"):
        p.add_argument("--" + key.replace("_", "-"), type=int, help=f"override the shape's {key}")
    p.add_argument("--model", help="use this HF model directory instead of writing a random one")
    p.add_argument("--save-model", help="write the random model here (kept) instead of a temporary directory")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    p.add_argument("--prompt-tokens", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3, help="timed runs per measurement, after one warm-up")
    p.add_argument("--sample", action="store_true", help="sample at temperature 1 (default: greedy)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count()),
                   help="CPU threads of each engine (default: $OMP_NUM_THREADS, else every core)")
    p.add_argument("--parts", nargs="+", choices=["rollout", "train"], default=["rollout", "train"],
                   help="rollout: opd's rollout engine vs generate(); train: an opd-train step vs the TRL-style "
                        "loop of trl_style_opd.py (default: both)")
    p.add_argument("--teacher", help="train part: the teacher's HF directory (default: a second random model of "
                                     "the shape, or --model itself)")
    p.add_argument("--prompts-per-step", type=int, default=8, help="train part: prompts per step")
    p.add_argument("--samples-per-prompt", type=int, default=4, help="train part: rollouts per prompt")
    p.add_argument("--micro-batch", type=int, default=8, help="train part: sequences per forward/backward")
    p.add_argument("--train-steps", type=int, default=4,
                   help="train part: steps per engine; the first is the warm-up, the rest are timed")
    p.add_argument("--check-only", action="store_true", help="check the logits, time nothing")
    p.add_argument("--no-check", action="store_true", help="skip the logits check")
    p.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "bin"))
    p.add_argument("--python", default=sys.executable, help="the Python with torch + transformers")
    p.add_argument("--timeout", type=float, default=None, help="seconds per measurement process")
    p.add_argument("--json-out", help="also write every figure here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker is None:
        for name in ("prompt_tokens", "new_tokens", "repeats", "threads", "prompts_per_step", "samples_per_prompt",
                     "micro_batch"):
            if getattr(a, name) < 1:
                p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(a, name)}")
        if any(b < 1 for b in a.batches):
            p.error(f"--batches must be at least 1, got {a.batches}")
        if a.train_steps < 2:
            p.error(f"--train-steps must be at least 2 (a warm-up and a timed step), got {a.train_steps}")
        if a.check_only and a.no_check:
            p.error("--check-only and --no-check exclude each other")
        if a.model and a.save_model:
            p.error("--model and --save-model exclude each other")
        if not (a.device == "cpu" or a.device == "cuda" or a.device.startswith("cuda:")):
            p.error(f"--device must be cpu, cuda or cuda:N, got {a.device!r}")
    return a


def make_model(a, work, name="model", seed=None):
    shape = dict(SHAPES[a.shape])
    for key in shape:
        if getattr(a, key) is not None:
            shape[key] = getattr(a, key)
    seed = a.seed if seed is None else seed
    out = (a.save_model if name == "model" else None) or os.path.join(work, name)
    cmd = [os.path.join(a.bin_dir, "opd-make-tiny"), "--out", out, "--arch", "qwen3", "--dtype", a.dtype,
           "--vocab-size", shape["vocab"], "--hidden-size", shape["hidden"],
           "--intermediate-size", shape["intermediate"], "--layers", shape["layers"], "--heads", shape["heads"],
           "--kv-heads", shape["kv_heads"], "--head-dim", shape["head_dim"],
           "--max-positions", max(4096, a.prompt_tokens + a.new_tokens), "--rope-theta", 1000000,
           "--eos-id", shape["vocab"] - 1, "--seed", seed]
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"opd-make-tiny failed: {(done.stderr.strip().splitlines() or ['(no output)'])[-1]}")
    # "wrote DIR: qwen3, N parameters, vocab V, L layers, seed S"
    return out, shape, f"shape {a.shape}: " + done.stdout.strip().split(": ", 1)[-1]


def write_prompts(a, path, rows, vocab):
    import numpy as np
    from safetensors.numpy import save_file
    rng = np.random.default_rng(a.seed)
    save_file({"input_ids": rng.integers(0, vocab - 1, size=(rows, a.prompt_tokens), dtype=np.int64)}, path)


def check_logits(a, model, prompts, work, env):
    """The logits check: returns (ok, one line saying what was compared)."""
    from safetensors.numpy import load_file
    rows = min(CHECK_ROWS, max(a.batches))
    hf_out = os.path.join(work, "hf_logits.safetensors")
    job = dict(task="logits", model=model, prompts=prompts, batch=rows, device=a.device, dtype=a.dtype,
               threads=a.threads, logits_out=hf_out)
    _, err = run_json([a.python, os.path.abspath(__file__), "--worker", json.dumps(job)], env, a.timeout,
                      "transformers logits")
    if err:
        return False, err
    hf = load_file(hf_out)
    opd = {}
    for dtype in ("float32", "bfloat16"):
        out = os.path.join(work, f"opd_logits_{dtype}.safetensors")
        _, err = run_json([os.path.join(a.bin_dir, "bench_rollout"), "--model", model, "--prompts", prompts,
                           "--batch", str(rows), "--device", a.device, "--dtype", dtype, "--logits-out", out],
                          env, a.timeout, f"opd logits ({dtype})")
        if err:
            return False, err
        opd[dtype] = load_file(out)["logits"]
        if opd[dtype].shape != hf["float32"].shape:
            return False, f"opd logits {opd[dtype].shape} vs transformers {hf['float32'].shape}"
    fp32 = rel_err(opd["float32"], hf["float32"])
    ours = rel_err(opd["bfloat16"], hf["float32"])
    theirs = rel_err(hf["bfloat16"], hf["float32"])
    ok = fp32 <= FP32_TOL and ours <= BF16_FACTOR * theirs
    line = (f"logits of {rows} prompts, rel err vs transformers fp32: opd fp32 {fp32:.1e} (<= {FP32_TOL:.0e}), "
            f"opd bf16 {ours:.1e} vs transformers bf16 {theirs:.1e} (<= {BF16_FACTOR:g}x): "
            + ("ok" if ok else "MISMATCH"))
    return ok, line


def greedy_agreement(a, opd_tokens, hf_tokens):
    """Mean fraction of each row's generated tokens before the first difference."""
    from safetensors.numpy import load_file
    x, y = load_file(opd_tokens)["tokens"], load_file(hf_tokens)["tokens"]
    if x.shape != y.shape:
        return None
    fractions = []
    for row_x, row_y in zip(x[:, a.prompt_tokens:], y[:, a.prompt_tokens:]):
        diff = (row_x != row_y).nonzero()[0]
        fractions.append((diff[0] if len(diff) else len(row_x)) / len(row_x))
    return sum(fractions) / len(fractions)


def measure(a, model, prompts, batch, work, env):
    results = {}
    stem = os.path.join(work, f"tokens_b{batch}")
    common = dict(model=model, prompts=prompts, batch=batch, device=a.device, dtype=a.dtype, threads=a.threads,
                  new_tokens=a.new_tokens, repeats=a.repeats, sample=a.sample, seed=a.seed)
    opd_cmd = [os.path.join(a.bin_dir, "bench_rollout"), "--model", model, "--prompts", prompts,
               "--batch", str(batch), "--device", a.device, "--dtype", a.dtype, "--new-tokens", str(a.new_tokens),
               "--repeats", str(a.repeats), "--seed", str(a.seed), "--tokens-out", stem + "_opd.safetensors"]
    if a.sample:
        opd_cmd.append("--sample")
    hf_job = dict(common, task="generate", tokens_out=stem + "_hf.safetensors")
    for engine, cmd in (("opd", opd_cmd),
                        ("transformers", [a.python, os.path.abspath(__file__), "--worker", json.dumps(hf_job)])):
        t0 = time.perf_counter()
        out, err = run_json(cmd, env, a.timeout, f"{engine} at batch {batch}")
        results[engine] = out if out else {"error": err}
        results[engine]["wall_seconds"] = time.perf_counter() - t0
        print(f"  batch {batch:>3} {engine:<12} " +
              (f"{statistics.median(out['tokens_per_s']):.0f} tokens/s" if out else err), flush=True)
    if not a.sample and all("error" not in r for r in results.values()):
        results["greedy_agreement"] = greedy_agreement(a, stem + "_opd.safetensors", stem + "_hf.safetensors")
    return results


def ratio_text(ours, theirs):
    """The ratio of the medians of two lists of rates, with the lowest and highest, e.g. "1.9x [1.7, 2.1]"."""
    o, h = spread(ours), spread(theirs)
    return f"{o[0] / h[0]:.2f}x [{o[1] / h[2]:.2f}, {o[2] / h[1]:.2f}]"


def memory_text(result):
    return f"{result['peak_memory_bytes'] / 2**20:.0f} MiB " + ("GPU" if result["peak_memory_kind"] != "rss" else "RSS")


def system_share(result):
    """The process's system CPU time over its wall time, e.g. "3.1%": allocator thrash (pages returned to the
    kernel and faulted back) shows here."""
    return f"{100 * result['cpu_seconds']['system'] / result['process_seconds']:.1f}%"


TRAIN_LR = 1e-5  # small: the step's cost, not its progress, is measured


def train_recipe(a, student, teacher, prompts_jsonl, run_dir):
    """opd-train's recipe for the same step the TRL-style loop takes."""
    return "\n".join([
        f"run_dir: {json.dumps(run_dir)}",
        f"seed: {a.seed}",
        f"steps: {a.train_steps}",
        f"micro_batch_size: {a.micro_batch}",
        "log_every: 1",
        "save_every: 0",
        f"student: {{path: {json.dumps(student)}, dtype: {a.dtype}, device: {a.device}, chat_template: none}}",
        f"teacher: {{path: {json.dumps(teacher)}, dtype: {a.dtype}, device: {a.device}, chat_template: none}}",
        f"data: {{train: {json.dumps(prompts_jsonl)}, prompts_per_step: {a.prompts_per_step}, "
        f"samples_per_prompt: {a.samples_per_prompt}, shuffle: false}}",
        f"rollout: {{max_new_tokens: {a.new_tokens}, temperature: 1.0, top_k: 0, top_p: 1.0}}",
        "objective: {name: opd}",
        f"optim: {{lr: {TRAIN_LR}, weight_decay: 0.0, grad_clip: 1.0}}",
        ""])


def write_prompts_jsonl(a, prompts, path):
    from safetensors.numpy import load_file
    ids = load_file(prompts)["input_ids"][: a.prompts_per_step]
    with open(path, "w") as f:
        for row in ids:
            f.write(json.dumps({"prompt_ids": [int(t) for t in row]}) + "\n")


def measure_train(a, student, teacher, prompts, work, env):
    """One OPD step, opd-train against the TRL-style loop: {"opd": ..., "trl-style": ...}, each with the
    timed steps' seconds, response tokens, time split, peak memory and CPU times (or "error")."""
    prompts_jsonl = os.path.join(work, "train_prompts.jsonl")
    write_prompts_jsonl(a, prompts, prompts_jsonl)
    results = {}
    run_dir = os.path.join(work, "opd_train_run")
    recipe = os.path.join(work, "opd_train.yaml")
    with open(recipe, "w") as f:
        f.write(train_recipe(a, student, teacher, prompts_jsonl, run_dir))
    t0 = time.perf_counter()
    _, cpu, err = run_process([os.path.join(a.bin_dir, "opd-train"), "--config", recipe], env, a.timeout,
                              "opd-train")
    if err:
        results["opd"] = {"error": err}
    else:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        steps = [m for m in lines if "time_step_s" in m][1:]  # the first is the warm-up
        results["opd"] = dict(
            seconds=[m["time_step_s"] for m in steps], response_tokens=[m["generated_tokens"] for m in steps],
            split=[dict(rollout=m["time_rollout_s"], score=m["time_score_s"],
                        train=m["time_step_s"] - m["time_rollout_s"] - m["time_score_s"]) for m in steps],
            loss=[m["loss"] for m in steps], peak_memory_bytes=max(m["peak_rss_mb"] for m in steps) * 2**20,
            peak_memory_kind="rss", cpu_seconds=cpu, process_seconds=time.perf_counter() - t0)
    job = dict(student=student, teacher=teacher, prompts=prompts_jsonl, prompts_per_step=a.prompts_per_step,
               samples_per_prompt=a.samples_per_prompt, new_tokens=a.new_tokens, micro_batch_size=a.micro_batch,
               steps=a.train_steps, lr=TRAIN_LR, device=a.device, dtype=a.dtype, threads=a.threads, seed=a.seed)
    out, err = run_json([a.python, os.path.join(ROOT, "benchmarks", "trl_style_opd.py"), "--job", json.dumps(job)],
                        env, a.timeout, "trl-style loop")
    if err:
        results["trl-style"] = {"error": err}
    else:
        steps = out.pop("steps")[1:]
        out.update(seconds=[m["seconds"] for m in steps], response_tokens=[m["response_tokens"] for m in steps],
                   split=[dict(rollout=m["rollout_s"], score=m["score_s"], train=m["train_s"]) for m in steps],
                   loss=[m["loss"] for m in steps])
        results["trl-style"] = out
    for engine, r in results.items():
        print(f"  train step {engine:<10} " + (f"{statistics.median(r['seconds']):.2f} s" if "error" not in r
                                               else r["error"]), flush=True)
    return results


def tokens_per_s(result):
    return [t / s for t, s in zip(result["response_tokens"], result["seconds"])]


def parameter_count(model_dir):
    """The weights in a model directory's safetensors files (read from their headers)."""
    import math
    from safetensors import safe_open
    count = 0
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".safetensors"):
            with safe_open(os.path.join(model_dir, name), framework="numpy") as f:
                count += sum(math.prod(f.get_slice(key).get_shape()) for key in f.keys())
    return count


def step_flops(a, student_params, teacher_params, response_tokens):
    """Model FLOPs of one step (attention's own FLOPs left out): 6 x student params x the tokens trained
    (prompts + responses), 2 x teacher params x the tokens it scores (the same), and 2 x student params x
    the tokens the rollout computes (prefill + one per generated token)."""
    rows = a.prompts_per_step * a.samples_per_prompt
    tokens = rows * a.prompt_tokens + response_tokens
    return 6 * student_params * tokens + 2 * teacher_params * tokens + 2 * student_params * tokens


def train_table(a, r, flops=None):
    """flops: (student params, teacher params, matmul FLOP/s measured in this run) for the MFU column."""
    steps = a.train_steps - 1
    lines = [f"OPD training step: {a.prompts_per_step} prompts x {a.samples_per_prompt} samples x up to "
             f"{a.new_tokens} new tokens, micro-batch {a.micro_batch}, AdamW; median of {steps} step"
             f"{'s' if steps > 1 else ''} after a warm-up step, each engine in its own process",
             f"{'engine':<10} | {'step s median [min, max]':<26} | {'response tok/s':<14} | "
             f"{'rollout / score / train s':<26} | {'peak memory':<16} | {'opd/peer [range]':<18} | sys/wall | MFU"]
    ratio = ""
    if all("error" not in r[e] for e in ("opd", "trl-style")):
        ratio = ratio_text(tokens_per_s(r["opd"]), tokens_per_s(r["trl-style"]))
    for engine in ("opd", "trl-style"):
        e = r[engine]
        if "error" in e:
            lines.append(f"{engine:<10} | FAIL: {e['error']}")
            continue
        m = spread(e["seconds"])
        split = " / ".join(f"{statistics.median(x[k] for x in e['split']):.2f}" for k in ("rollout", "score", "train"))
        mem = memory_text(e)
        mfu = ""
        if flops:
            done = [step_flops(a, flops[0], flops[1], t) / s for t, s in zip(e["response_tokens"], e["seconds"])]
            mfu = f"{statistics.median(done) / flops[2]:.1%}"
        lines.append(f"{engine:<10} | {f'{m[0]:.3f} [{m[1]:.3f}, {m[2]:.3f}]':<26} | "
                     f"{statistics.median(tokens_per_s(e)):<14.0f} | {split:<26} | {mem:<16} | "
                     f"{ratio if engine == 'opd' else '':<18} | {system_share(e):<8} | {mfu}")
    if flops:
        lines.append(f"MFU: model FLOPs (6 x student params x tokens trained + 2 x teacher params x tokens scored + "
                     f"2 x student params x tokens the rollout computes; {flops[0]:,} / {flops[1]:,} params) per "
                     f"second over the {flops[2] / 1e9:.1f} GFLOP/s of a {a.dtype} matmul measured in this run")
    return "\n".join(lines)


def table(a, header, check_line, rows):
    lines = [header]
    if check_line:
        lines.append("check: " + check_line)
    lines.append(f"{'batch':>5} | {'engine':<12} | {'tokens/s median [min, max]':<30} | {'peak memory':<22} | "
                 f"{'opd/transformers [range]':<24} | {'sys/wall':<8} | greedy agree")
    for batch, r in rows:
        ratio = agree = ""
        if all("error" not in r[e] for e in ("opd", "transformers")):
            ratio = ratio_text(r["opd"]["tokens_per_s"], r["transformers"]["tokens_per_s"])
            if r.get("greedy_agreement") is not None:
                agree = f"{100 * r['greedy_agreement']:.0f}%"
        for engine in ("opd", "transformers"):
            e = r[engine]
            if "error" in e:
                lines.append(f"{batch:>5} | {engine:<12} | FAIL: {e['error']}")
                continue
            m = spread(e["tokens_per_s"])
            speed = f"{m[0]:.0f} [{m[1]:.0f}, {m[2]:.0f}]"
            mem = memory_text(e)
            lines.append(f"{batch:>5} | {engine:<12} | {speed:<30} | {mem:<22} | "
                         f"{ratio if engine == 'opd' else '':<24} | {system_share(e):<8} | "
                         f"{agree if engine == 'opd' else ''}")
    return "\n".join(lines)


def main(argv):
    a = parse_args(argv)
    if a.worker is not None:
        job = json.loads(a.worker)
        (matmul_worker if job["task"] == "matmul" else hf_worker)(job)
        return 0
    for tool in ("opd-make-tiny", "bench_rollout", "opd-train"):
        if not os.access(os.path.join(a.bin_dir, tool), os.X_OK):
            fail(f"no {tool} in {a.bin_dir} (build it: tools/build.sh {tool}, or pass --bin-dir)")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), PYTHONUNBUFFERED="1")
    work = tempfile.mkdtemp(prefix="opd-vs-hf-")
    started = time.perf_counter()
    try:
        if a.model:
            model, made = a.model, f"model {a.model}"
            with open(os.path.join(model, "config.json")) as f:
                vocab = json.load(f)["vocab_size"]
        else:
            model, shape, made = make_model(a, work)
            vocab = shape["vocab"]
        prompts = os.path.join(work, "prompts.safetensors")
        write_prompts(a, prompts, max(max(a.batches), a.prompts_per_step), vocab)
        header = (f"bench_vs_transformers: {a.device} ({a.threads} CPU thread{'s' if a.threads > 1 else ''}), {a.dtype}, {made} | "
                  f"prompt {a.prompt_tokens} + {a.new_tokens} new tokens, {'sampled' if a.sample else 'greedy'}, "
                  f"median of {a.repeats} runs after a warm-up, each engine in its own process")
        print(header, flush=True)
        check_line, ok = None, True
        if not a.no_check:
            ok, check_line = check_logits(a, model, prompts, work, env)
            print("check: " + check_line, flush=True)
        rows, train, train_flops = [], None, None
        if ok and not a.check_only and "rollout" in a.parts:
            for batch in a.batches:
                rows.append((batch, measure(a, model, prompts, batch, work, env)))
        if ok and not a.check_only and "train" in a.parts:
            teacher = a.teacher or (model if a.model else make_model(a, work, "teacher", a.seed + 1)[0])
            train = measure_train(a, model, teacher, prompts, work, env)
            rate, err = run_json([a.python, __file__, "--worker", json.dumps(dict(
                task="matmul", device=a.device, dtype=a.dtype, threads=a.threads))], env, a.timeout, "matmul rate")
            if err:
                fail(err)
            train_flops = (parameter_count(model), parameter_count(teacher), rate["flops_per_s"])
        summary = table(a, header, check_line, rows) if "rollout" in a.parts else header
        if train:
            summary += "\n" + train_table(a, train, train_flops)
        print(summary)
        print(f"total {time.perf_counter() - started:.0f} s")
        if a.json_out:
            with open(a.json_out, "w") as f:
                json.dump(dict(header=header, check=check_line, check_ok=ok,
                               rows=[dict(batch=b, **r) for b, r in rows], train=train,
                               train_flops=dict(zip(("student_params", "teacher_params", "matmul_flops_per_s"),
                                                    train_flops or ()))), f, indent=1)
        measured_ok = all("error" not in r[e] for _, r in rows for e in ("opd", "transformers"))
        measured_ok = measured_ok and all("error" not in r for r in (train or {}).values())
        return 0 if ok and measured_ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
