// Shared by the tokenizer tests and bench_tokenizer's check: a varied corpus
// (English, code, CJK, emoji, digits, whitespace runs, special tokens, ...).
#pragma once

#include <string>
#include <vector>

namespace opd::tokenizer {

std::vector<std::string> tokenizer_corpus();

}  // namespace opd::tokenizer
