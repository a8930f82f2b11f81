// A character-level tokenizer.json for tiny models and synthetic tasks: one
// token per character of an ASCII alphabet (byte-level BPE without merges)
// and the ChatML special tokens after them, so every id of a tiny model
// reads as text and chat templates work unchanged.
#pragma once

#include <string>

namespace opd::tokenizer {

// The default alphabet, 61 characters: space, newline, a-z, 0-9 and the
// punctuation of arithmetic and LaTeX answers (+-*/=.,:?!()[]{}\^_'"<>).
// With the 3 special tokens it fills a 64-id vocabulary.
const std::string& default_char_alphabet();

// The tokenizer.json text: ids 0..A-1 are the alphabet in order, then
// <|endoftext|> (A), <|im_start|> (A + 1) and <|im_end|> (A + 2). Throws
// when the alphabet repeats a character or holds a non-printable one other
// than space and newline.
std::string char_tokenizer_json(const std::string& alphabet = default_char_alphabet());

}  // namespace opd::tokenizer
