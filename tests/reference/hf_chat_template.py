"""The reference side of opd's chat-template tests: transformers'
`apply_chat_template` on a model's own tokenizer files (the Jinja
`chat_template` of its tokenizer_config.json).

    python hf_chat_template.py TOKENIZER_DIR CASES_JSON OUT_JSON

CASES_JSON: [{"messages": [...], "add_generation_prompt": bool,
"enable_thinking": bool}, ...]; OUT_JSON: the rendered strings, in order.
"""
import json
import sys

from transformers import AutoTokenizer


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: hf_chat_template.py TOKENIZER_DIR CASES_JSON OUT_JSON")
    tokenizer = AutoTokenizer.from_pretrained(argv[0])
    cases = json.load(open(argv[1], encoding="utf-8"))
    out = [tokenizer.apply_chat_template(c["messages"], tokenize=False,
                                         add_generation_prompt=c["add_generation_prompt"],
                                         enable_thinking=c["enable_thinking"])
           for c in cases]
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1:])
