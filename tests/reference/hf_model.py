"""The reference side of opd's model tests: Hugging Face transformers itself.

    python hf_model.py make CASE OUT_DIR
        Builds the random model CASE with transformers' own class for its
        family, saves it with save_pretrained into OUT_DIR/model (rewriting
        config.json into the style the case tests), loads that directory back
        with AutoModelForCausalLM and writes what transformers computes to
        OUT_DIR/reference.safetensors:
          input_ids, attention_mask [B, T]  a right-padded batch
          logits [B, T, V] float32          the model's forward on it
          logits_fp32 [B, T, V]             (bf16 cases) the same weights in fp32
          prompt_<i>, greedy_<i>            prompts and greedy continuations
                                            from generate()
        and OUT_DIR/case.json (family, dtype, new tokens).

    python hf_model.py logits MODEL_DIR IDS_FILE OUT_FILE
        Loads MODEL_DIR with AutoModelForCausalLM (and its tokenizer files and
        generation_config.json, when present) and writes the logits of the
        batch in IDS_FILE (a safetensors file with input_ids and
        attention_mask) to OUT_FILE as `logits` [B, T, V] float32.

    python hf_model.py peft_logits BASE_DIR ADAPTER_DIR IDS_FILE OUT_FILE
        The same with PEFT's LoRA adapters in ADAPTER_DIR applied to the
        model in BASE_DIR (PeftModel.from_pretrained), unmerged.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

# Each case: the family, the config's fields, the dtype, how config.json is
# written (v5: as transformers >= 5 saves it, rope_parameters; v4: the older
# rope_theta / rope_scaling keys; `drop`: keys removed so that the family's
# defaults apply) and the largest shard in bytes (0 = one file).
SHAPE = dict(vocab_size=160, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
             num_attention_heads=4, rms_norm_eps=1e-6)
CASES = {
    # GQA, head_dim != hidden / heads, untied head, theta 1e6.
    "qwen3_v5": dict(family="qwen3", style="v5",
                     config=dict(num_key_value_heads=2, head_dim=32, rope_theta=1e6)),
    # Tied head, q/k/v/o biases, MHA, the transformers 4 rope_theta key.
    "qwen3_v4_tied_bias": dict(family="qwen3", style="v4",
                               config=dict(num_key_value_heads=4, head_dim=24, rope_theta=1e6,
                                           tie_word_embeddings=True, attention_bias=True)),
    # Qwen2: q/k/v biases always, MQA, tied head.
    "qwen2_mqa_tied": dict(family="qwen2", style="v4",
                           config=dict(num_key_value_heads=1, rope_theta=1e6, tie_word_embeddings=True)),
    # Llama 3.1 frequency scaling, attention and MLP biases, GQA.
    "llama3_rope_v5": dict(family="llama", style="v5",
                           config=dict(num_key_value_heads=2, max_position_embeddings=64,
                                       attention_bias=True, mlp_bias=True, rope_theta=5e5,
                                       rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                         high_freq_factor=4.0,
                                                         original_max_position_embeddings=16))),
    "llama3_rope_v4": dict(family="llama", style="v4",
                           config=dict(num_key_value_heads=2, max_position_embeddings=64, rope_theta=5e5,
                                       rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                         high_freq_factor=4.0,
                                                         original_max_position_embeddings=16))),
    # A sliding window shorter than the sequences; head_dim set explicitly.
    "mistral_window": dict(family="mistral", style="v5",
                           config=dict(num_attention_heads=8, num_key_value_heads=2, head_dim=16,
                                       sliding_window=6, rope_theta=1e4)),
    # Keys a config.json may leave out, taking the family's defaults (heads
    # chosen so that each default differs from "as many as the heads").
    "mistral_defaults": dict(family="mistral", style="v5", config=dict(num_attention_heads=16),
                             drop=["num_key_value_heads", "sliding_window", "max_position_embeddings",
                                   "head_dim", "rope_parameters"]),
    "llama_defaults": dict(family="llama", style="v5", config=dict(),
                           drop=["num_key_value_heads", "max_position_embeddings", "head_dim",
                                 "rope_parameters", "tie_word_embeddings"]),
    "qwen3_defaults": dict(family="qwen3", style="v5", config=dict(num_attention_heads=64),
                           drop=["num_key_value_heads", "head_dim", "max_position_embeddings",
                                 "rope_parameters", "rms_norm_eps"]),
    # bf16 weights in several shards with an index.
    "qwen3_bf16_sharded": dict(family="qwen3", style="v5", dtype="bfloat16", shard=40_000,
                               config=dict(num_key_value_heads=2, head_dim=16, rope_theta=1e6)),
}
PROMPT_LENGTHS = [20, 13, 7]  # the batch, right padded to the first
NEW_TOKENS = 12


def config_for(case):
    spec = CASES[case]
    kwargs = dict(SHAPE)
    kwargs.update(spec["config"])
    rope_scaling = kwargs.pop("rope_scaling", None)
    theta = kwargs.pop("rope_theta", None)
    rope = dict(rope_scaling or {"rope_type": "default"})
    if theta is not None:
        rope["rope_theta"] = theta
    kwargs["rope_parameters"] = rope
    config = AutoConfig.for_model(spec["family"], **kwargs)
    config.initializer_range = 0.2  # peaked logits: greedy choices far from ties
    return config


def rewrite_config(path, spec):
    """Turns the config.json save_pretrained wrote into the style the case tests."""
    with open(path) as f:
        j = json.load(f)
    if spec["style"] == "v4":
        rope = j.pop("rope_parameters")
        j["rope_theta"] = rope.pop("rope_theta")
        if rope.get("rope_type", "default") != "default":
            j["rope_scaling"] = rope
    for key in spec.get("drop", []):
        j.pop(key, None)
    with open(path, "w") as f:
        json.dump(j, f, indent=2)


def perturb(model, generator):
    # Norm weights, biases and everything else away from their init, so that
    # none of them can be silently ignored.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p.dtype))


def batch(vocab, generator):
    T = PROMPT_LENGTHS[0]
    ids = torch.randint(1, vocab, (len(PROMPT_LENGTHS), T), generator=generator)
    mask = torch.zeros_like(ids)
    for b, n in enumerate(PROMPT_LENGTHS):
        mask[b, :n] = 1
    return ids.masked_fill(mask == 0, 0), mask


def make(case, out):
    spec = CASES[case]
    dtype = getattr(torch, spec.get("dtype", "float32"))
    generator = torch.Generator().manual_seed(sum(map(ord, case)))
    torch.manual_seed(sum(map(ord, case)))
    model = AutoModelForCausalLM.from_config(config_for(case), dtype=torch.float32)
    perturb(model, generator)
    model_dir = os.path.join(out, "model")
    model.to(dtype).save_pretrained(model_dir, max_shard_size=spec.get("shard") or "5GB")
    rewrite_config(os.path.join(model_dir, "config.json"), spec)

    # What transformers makes of the directory as written, not of the object.
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).eval()
    ids, mask = batch(model.config.vocab_size, generator)
    ref = {"input_ids": ids, "attention_mask": mask}
    with torch.no_grad():
        ref["logits"] = model(input_ids=ids, attention_mask=mask).logits.float()
        if dtype != torch.float32:
            fp32 = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
            ref["logits_fp32"] = fp32(input_ids=ids, attention_mask=mask).logits.float()
        # No end-of-sequence token: both sides write exactly NEW_TOKENS
        # (min_new_tokens would instead mask the EOS logit, which opd does not).
        model.generation_config.eos_token_id = None
        gen = GenerationConfig(do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=None, pad_token_id=0)
        for b, n in enumerate(PROMPT_LENGTHS):
            prompt = ids[b:b + 1, :n]
            full = model.generate(prompt, attention_mask=torch.ones_like(prompt), generation_config=gen)
            ref[f"prompt_{b}"] = prompt[0].clone()
            ref[f"greedy_{b}"] = full[0, n:].clone()
    save_file(ref, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "case.json"), "w") as f:
        json.dump({"family": spec["family"], "dtype": spec.get("dtype", "float32"),
                   "prompts": len(PROMPT_LENGTHS), "new_tokens": NEW_TOKENS}, f)


def logits(model_dir, ids_file, out_file):
    inputs = load_file(ids_file)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    if os.path.exists(os.path.join(model_dir, "generation_config.json")):
        GenerationConfig.from_pretrained(model_dir)  # must parse
    with torch.no_grad():
        out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    save_file({"logits": out.float().contiguous()}, out_file)


def peft_logits(base_dir, adapter_dir, ids_file, out_file):
    from peft import PeftModel

    inputs = load_file(ids_file)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    with torch.no_grad():
        out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    save_file({"logits": out.float().contiguous()}, out_file)


def main(argv):
    if len(argv) == 3 and argv[0] == "make" and argv[1] in CASES:
        make(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == "logits":
        logits(*argv[1:])
    elif len(argv) == 5 and argv[0] == "peft_logits":
        peft_logits(*argv[1:])
    else:
        sys.exit(f"usage: hf_model.py make {{{','.join(CASES)}}} OUT_DIR | logits MODEL_DIR IDS OUT | "
                 "peft_logits BASE_DIR ADAPTER_DIR IDS OUT")


if __name__ == "__main__":
    main(sys.argv[1:])
