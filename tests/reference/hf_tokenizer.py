"""The reference side of opd's tokenizer.json tests: Hugging Face `tokenizers`
(the Rust library transformers' fast tokenizers run on).

    python hf_tokenizer.py encode TOKENIZER_JSON TEXTS_JSON OUT_JSON
        For every string of TEXTS_JSON (a JSON array): the ids without and
        with the post-processor's special tokens, and the text decoded from
        the first with and without skipping special tokens. Also, for
        byte-level tokenizers, id sequences whose bytes are not valid UTF-8
        (a lone continuation byte, truncated sequences, an overlong form, a
        surrogate, bytes no UTF-8 has) and what decode makes of them; and the
        first text's ids with ids at and past the vocabulary mixed in, decoded.

    python hf_tokenizer.py words TOKENIZER_JSON TEXTS_JSON OUT_JSON
        For every string of TEXTS_JSON: the pieces the tokenizer's
        pre-tokenizer cuts it into (the words BPE merges within), as raw
        text (a byte-level tokenizer's mapped characters mapped back).

    python hf_tokenizer.py make llama3_style|mistral_style TEXTS_JSON OUT_DIR
        Trains a tokenizer.json of that family's layout with `tokenizers` on
        the texts (and a generated corpus) and saves it to OUT_DIR:
        llama3_style: Llama 3's pre-tokenizer regex and byte-level BPE with
        ignore_merges, a <|begin_of_text|> post-processor, its special tokens;
        mistral_style: Llama 2 / Mistral's SentencePiece-converted layout
        (Prepend + Replace normalizer, BPE with byte fallback over <0xNN>
        tokens, Replace/ByteFallback/Fuse/Strip decoder, <s> post-processor).
"""
import json
import os
import random
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# Llama 3's split pattern (the cl100k_base pattern of tiktoken).
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eot_id|>"] + [f"<|reserved_special_token_{i}|>" for i in range(4)]

# Invalid UTF-8 byte strings, one per case a decoder must survive.
INVALID_UTF8 = [b"\x80", b"abc\xbf", b"\xe6\x95", b"\xf0\x9f\xa4", b"\xc0\x80", b"\xed\xa0\x80", b"\xf5\x80\x80\x80",
                b"ok\xffok", b"\xe6\x95\xb0\x80"]


def training_corpus(texts):
    rng = random.Random(5)
    words = ["the", "student", "teacher", "policy", "distil", "token", "reverse", "forward", "über", "naïve",
             "数学", "测试", "🤖", "x^2", "\\boxed{4}", "def", "return", "    ", "\n", "\t", "2026", "3.14"]
    lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(2000)]
    return list(texts) * 3 + lines


def make_llama3_style(texts):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=LLAMA3_SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training_corpus(texts), trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    return tok


def make_mistral_style(texts):
    # Learn the merges on "▁"-joined text, then lay the vocabulary out as the
    # SentencePiece conversions do: <unk>, <s>, </s>, the 256 byte tokens, the rest.
    learner = Tokenizer(models.BPE(unk_token="<unk>"))
    learner.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    learner.pre_tokenizer = pre_tokenizers.Split(Regex("\n"), behavior="isolated")
    trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    learner.train_from_iterator(training_corpus(texts), trainer)
    learned = json.loads(learner.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(piece, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                       special_tokens=[("<s>", 1)])
    return tok


def gpt2_byte_map():
    """GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest for 256 + n."""
    mapping, n = {}, 0
    for b in range(256):
        printable = 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255
        mapping[b] = chr(b) if printable else chr(256 + n)
        n += 0 if printable else 1
    return mapping


def byte_ids(tok, data):
    """The ids of the byte tokens spelling `data` (<0xNN> byte-fallback tokens,
    or byte-level BPE's printable stand-ins), or None if the tokenizer has none."""
    if tok.token_to_id("<0x80>") is not None:
        ids = [tok.token_to_id(f"<0x{b:02X}>") for b in data]
    else:
        mapping = gpt2_byte_map()
        ids = [tok.token_to_id(mapping[b]) for b in data]
    return None if any(i is None for i in ids) else ids


def words(tokenizer_json, texts_json, out_json):
    tok = Tokenizer.from_file(tokenizer_json)
    texts = json.load(open(texts_json, encoding="utf-8"))
    unmapped = {c: bytes([b]) for b, c in gpt2_byte_map().items()}
    pieces = [[b"".join(unmapped[c] for c in piece).decode("utf-8")
               for piece, _ in tok.pre_tokenizer.pre_tokenize_str(t)] for t in texts]
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(pieces, f, ensure_ascii=False)


def encode(tokenizer_json, texts_json, out_json):
    tok = Tokenizer.from_file(tokenizer_json)
    texts = json.load(open(texts_json, encoding="utf-8"))
    ids = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    out = {
        "ids": ids,
        "ids_with_special": [tok.encode(t, add_special_tokens=True).ids for t in texts],
        "decoded": [tok.decode(i, skip_special_tokens=False) for i in ids],
        "decoded_skip_special": [tok.decode(i, skip_special_tokens=True) for i in ids],
        "vocab_size": tok.get_vocab_size(with_added_tokens=True),
        "invalid_utf8": {"ids": [], "decoded": []},
    }
    # Ids at or past the vocabulary (a model's embedding padded past its
    # tokenizer, as Qwen3's 151936 rows for 151669 ids): decode drops them.
    size = out["vocab_size"]
    first = ids[0] if ids else []
    past = first[:1] + [size, size + 125] + first[1:] + [size + 266]
    out["past_vocab"] = {"ids": past, "decoded": tok.decode(past, skip_special_tokens=False)}
    for data in INVALID_UTF8:
        case = byte_ids(tok, data)
        if case is not None:
            out["invalid_utf8"]["ids"].append(case)
            out["invalid_utf8"]["decoded"].append(tok.decode(case))
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


def main(argv):
    if len(argv) == 4 and argv[0] == "encode":
        encode(*argv[1:])
    elif len(argv) == 4 and argv[0] == "words":
        words(*argv[1:])
    elif len(argv) == 4 and argv[0] == "make" and argv[1] in ("llama3_style", "mistral_style"):
        texts = json.load(open(argv[2], encoding="utf-8"))
        tok = make_llama3_style(texts) if argv[1] == "llama3_style" else make_mistral_style(texts)
        os.makedirs(argv[3], exist_ok=True)
        tok.save(os.path.join(argv[3], "tokenizer.json"))
    else:
        sys.exit("usage: hf_tokenizer.py encode TOKENIZER_JSON TEXTS_JSON OUT_JSON | "
                 "make llama3_style|mistral_style TEXTS_JSON OUT_DIR")


if __name__ == "__main__":
    main(sys.argv[1:])
