"""The reference side of opd's Jinja renderer tests: the text transformers
renders for a chat template, with its own machinery (render_jinja_template:
jinja2's ImmutableSandboxedEnvironment, transformers' tojson and
raise_exception), or AutoTokenizer.apply_chat_template where a case names
the tokenizer's directory.

    python hf_jinja_template.py CASES_JSON OUT_JSON

CASES_JSON: [{"template": text, "messages": [...], "tools": [...] or null,
"add_generation_prompt": bool, "special_tokens": {...}, "extra": {...},
"tokenizer_dir": optional}, ...]. OUT_JSON: one entry per case, in order:
{"text": rendered} or {"raised": message} (the template's
raise_exception, or another jinja2 error, with "type").
"""
import json
import sys

import jinja2
from transformers import AutoTokenizer
from transformers.utils.chat_template_utils import render_jinja_template


_tokenizers = {}


def render(case):
    kwargs = dict(case.get("extra") or {})
    if case.get("tokenizer_dir"):
        path = case["tokenizer_dir"]
        if path not in _tokenizers:  # loading tokenizer.json takes a while: once per directory
            _tokenizers[path] = AutoTokenizer.from_pretrained(path)
        tokenizer = _tokenizers[path]
        return tokenizer.apply_chat_template(case["messages"], tools=case.get("tools"), tokenize=False,
                                             add_generation_prompt=case["add_generation_prompt"], **kwargs)
    kwargs = {**case.get("special_tokens", {}), **kwargs}  # as apply_chat_template merges them
    rendered, _ = render_jinja_template(conversations=[case["messages"]], tools=case.get("tools"),
                                        chat_template=case["template"],
                                        add_generation_prompt=case["add_generation_prompt"], **kwargs)
    return rendered[0]


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: hf_jinja_template.py CASES_JSON OUT_JSON")
    out = []
    for case in json.load(open(argv[0], encoding="utf-8")):
        try:
            out.append({"text": render(case)})
        except jinja2.exceptions.TemplateError as e:
            out.append({"raised": str(e), "type": type(e).__name__})
    with open(argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1:])
