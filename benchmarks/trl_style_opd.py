#!/usr/bin/env python3
"""The peer opd's training step is measured against: an OPD loop written the
way TRL users write one, in plain PyTorch and transformers.

Each step: the student samples samples_per_prompt responses to each of
prompts_per_step prompts with generate() and its KV cache; the frozen teacher
scores every response token in one no-grad forward; the student's forward,
the K1 policy-gradient loss (advantage -(log pi_S - log pi_T), detached, the
token mean over the step's response tokens) and backward run micro-batch by
micro-batch; then the gradient is clipped to norm 1 and AdamW steps. That is
the work opd-train's `objective: {name: opd}` does per step.

    trl_style_opd.py --job '{"student": DIR, "teacher": DIR, "prompts": FILE.jsonl, ...}'

prints one JSON line: the seconds of each step and their split, the tokens
generated and trained per step, the peak memory and the loss of each step.
bench_vs_transformers.py --train runs it beside opd-train.
"""
import argparse
import json
import resource
import sys
import time


def run(job):
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    torch.set_num_threads(job["threads"])
    torch.manual_seed(job["seed"])
    device = torch.device(job["device"])
    cuda = device.type == "cuda"
    dtype = getattr(torch, job["dtype"])

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    def load(path, trainable):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32 if trainable else dtype).to(device)
        model.train(trainable)
        model.requires_grad_(trainable)
        return model

    student = load(job["student"], True)  # fp32 master weights, as opd keeps them
    teacher = load(job["teacher"], False).eval()
    eos = student.config.eos_token_id
    optimizer = torch.optim.AdamW(student.parameters(), lr=job["lr"], betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.0)
    with open(job["prompts"]) as f:
        prompts = [json.loads(line)["prompt_ids"] for line in f if line.strip()]
    length = len(prompts[0])
    if any(len(p) != length for p in prompts):
        sys.exit("trl_style_opd: the prompts must all have the same length (no padding here)")
    config = GenerationConfig(max_new_tokens=job["new_tokens"], do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                              eos_token_id=eos, pad_token_id=0, use_cache=True)
    student.generation_config.pad_token_id = 0
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)

    def token_logprobs(model, sequences):
        logits = model(input_ids=sequences).logits[:, length - 1:-1].float()
        return torch.log_softmax(logits, dim=-1).gather(-1, sequences[:, length:, None]).squeeze(-1)

    steps = []
    per_step = job["prompts_per_step"]
    for step in range(job["steps"]):
        rows = [prompts[(step * per_step + i) % len(prompts)] for i in range(per_step)]
        ids = torch.tensor([p for p in rows for _ in range(job["samples_per_prompt"])], device=device)
        t0 = time.perf_counter()
        student.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            sequences = student.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
        response = sequences[:, length:]
        # Tokens up to and including the first end-of-sequence token count.
        ended = (response == eos).int() if eos is not None else torch.zeros_like(response, dtype=torch.int)
        mask = ((ended.cumsum(1) - ended) == 0).float()
        sync()
        t1 = time.perf_counter()
        with torch.no_grad():
            teacher_logp = token_logprobs(teacher, sequences)
        sync()
        t2 = time.perf_counter()
        student.train()
        tokens = mask.sum()
        loss_sum = 0.0
        for start in range(0, sequences.shape[0], job["micro_batch_size"]):
            part = slice(start, start + job["micro_batch_size"])
            with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                student_logp = token_logprobs(student, sequences[part])
            advantage = -(student_logp.detach() - teacher_logp[part])
            loss = -(advantage * student_logp * mask[part]).sum() / tokens
            loss.backward()
            loss_sum += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        t3 = time.perf_counter()
        steps.append(dict(seconds=t3 - t0, rollout_s=t1 - t0, score_s=t2 - t1, train_s=t3 - t2,
                          response_tokens=int(tokens), loss=loss_sum))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = dict(engine="trl-style", steps=steps, threads=job["threads"])
    if cuda:
        out.update(peak_memory_bytes=torch.cuda.max_memory_allocated(device), peak_memory_kind="cuda_allocated")
    else:
        out.update(peak_memory_bytes=usage.ru_maxrss * 1024, peak_memory_kind="rss")
    print(json.dumps(out))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--job", required=True, help="the JSON job bench_vs_transformers.py writes")
    job = dict(device="cpu", dtype="float32", threads=1, seed=1, lr=1e-5, micro_batch_size=8)
    job.update(json.loads(p.parse_args(argv).job))
    run(job)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
