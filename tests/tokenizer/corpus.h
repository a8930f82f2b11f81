// Shared by the tokenizer tests and bench_tokenizer's check: a varied corpus
// (English, code, CJK, emoji, digits, whitespace runs, special tokens, ...).
#pragma once

#include <string>
#include <vector>

namespace opd::tokenizer {

std::vector<std::string> tokenizer_corpus();

// The NFC form of `text` (what Qwen3's normalizer makes of it).
std::string nfc_form(const std::string& text);

}  // namespace opd::tokenizer
