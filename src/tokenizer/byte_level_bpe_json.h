// Private to src/tokenizer: the tokenizer.json of a byte-level BPE with the
// ChatML special tokens after its vocabulary, as the character tokenizer and
// the BPE trainer write it.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <utility>
#include <vector>

namespace opd::tokenizer {

// The "Split" pre-tokenizer (Isolated) of `pattern`, as tokenizer.json writes it.
nlohmann::json split_pre_tokenizer(const std::string& pattern);

// `tokens` are the vocabulary's raw bytes in id order; `merges` the raw
// bytes of each merge's two tokens, in rank order. <|endoftext|>,
// <|im_start|> and <|im_end|> get the ids after the tokens. With a
// `split_pattern`, texts are cut by that regex (pieces and the text between
// them kept) before BPE merges within each piece; without, a text is one piece.
std::string byte_level_bpe_json(const std::vector<std::string>& tokens,
                                const std::vector<std::pair<std::string, std::string>>& merges,
                                const std::string& split_pattern = "");

}  // namespace opd::tokenizer
