"""The reference side of opd's SentencePiece tests: the `sentencepiece`
Python package (the library's own trainer and encoder).

    python sentencepiece_reference.py train bpe|unigram CORPUS_TXT PREFIX
        Trains PREFIX.model on CORPUS_TXT (vocabulary 400, byte fallback).
    python sentencepiece_reference.py encode MODEL TEXTS_JSON OUT_JSON
        For every string of TEXTS_JSON: the ids (without and with <s>), the
        text decoded from them, and the model's size.
"""
import json
import sys

import sentencepiece as spm


def main(argv):
    if len(argv) == 4 and argv[0] == "train" and argv[1] in ("bpe", "unigram"):
        spm.SentencePieceTrainer.train(input=argv[2], model_prefix=argv[3], vocab_size=400, model_type=argv[1],
                                       byte_fallback=True, character_coverage=1.0, hard_vocab_limit=False,
                                       minloglevel=2)
    elif len(argv) == 4 and argv[0] == "encode":
        sp = spm.SentencePieceProcessor(model_file=argv[1])
        texts = json.load(open(argv[2], encoding="utf-8"))
        ids = [sp.encode(t) for t in texts]
        out = {"ids": ids, "ids_with_bos": [sp.encode(t, add_bos=True) for t in texts],
               "decoded": [sp.decode(i) for i in ids], "vocab_size": sp.get_piece_size()}
        with open(argv[3], "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False)
    else:
        sys.exit("usage: sentencepiece_reference.py train bpe|unigram CORPUS PREFIX | encode MODEL TEXTS OUT")


if __name__ == "__main__":
    main(sys.argv[1:])
