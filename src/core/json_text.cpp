#include "opd/core/json_text.h"

#include <nlohmann/json.hpp>

namespace opd {
namespace {

struct TooDeep {};

template <typename Json>
std::string parse_bounded(std::string_view text, Json& out, int max_depth) {
  std::string last_key;
  const auto after_key = [&] { return last_key.empty() ? std::string() : " (after key '" + last_key + "')"; };
  // The callback sees every event with its depth, before the value is
  // stored: a nesting past the bound stops the parse there.
  const typename Json::parser_callback_t bound = [&](int depth, nlohmann::detail::parse_event_t event, Json& parsed) {
    if (event == nlohmann::detail::parse_event_t::key) {
      last_key = parsed.template get<std::string>();
      if (last_key.size() > 64) last_key = last_key.substr(0, 64) + "...";
    }
    if (depth > max_depth) throw TooDeep{};
    return true;
  };
  try {
    out = Json::parse(text.begin(), text.end(), bound);
  } catch (const TooDeep&) {
    return "arrays and objects nest deeper than " + std::to_string(max_depth) + " levels" + after_key();
  } catch (const nlohmann::json::out_of_range& e) {  // 406: a number past a double
    return e.what() + after_key();
  } catch (const nlohmann::json::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

std::string parse_json_text(std::string_view text, nlohmann::json& out, int max_depth) {
  return parse_bounded(text, out, max_depth);
}

std::string parse_json_text(std::string_view text, nlohmann::ordered_json& out, int max_depth) {
  return parse_bounded(text, out, max_depth);
}

}  // namespace opd
