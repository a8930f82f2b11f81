// The variables transformers' apply_chat_template gives a chat template
// (transformers 5: render_jinja_template called with the tokenizer's
// special_tokens_map merged under the caller's keyword arguments), so that
// JinjaTemplate::render(hf_chat_context(...)) is the text HF renders.
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace opd::tokenizer {

// {"messages": messages, "tools": tools (null for none), "documents": null,
//  "add_generation_prompt": ..., then special_tokens, then extra} with extra
// (e.g. {"enable_thinking": false}) overriding a special token of the same
// name, as in transformers. Throws std::invalid_argument when messages is
// not an array or special_tokens / extra are not objects.
nlohmann::ordered_json hf_chat_context(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                       const nlohmann::ordered_json& special_tokens,
                                       const nlohmann::ordered_json& extra, const nlohmann::ordered_json& tools);

// The special_tokens_map transformers builds from a tokenizer_config.json:
// bos/eos/unk/sep/pad/cls/mask_token that are set, as strings (an AddedToken
// object gives its "content").
nlohmann::ordered_json special_tokens_from_tokenizer_config(const nlohmann::ordered_json& config);

}  // namespace opd::tokenizer
