// opd-tokenize: encode text to ids and decode ids to text with a model's
// tokenizer, so opd can be compared with any other tokenizer by eye or by diff.
//   opd-tokenize --tokenizer DIR encode --text "Hello"          -> [9707]
//   opd-tokenize --tokenizer DIR encode --jsonl < in.jsonl        one JSON array per line
//   opd-tokenize --tokenizer DIR decode --ids "[9707, 11]"       -> "Hello,"
//   opd-tokenize --tokenizer DIR decode --jsonl < ids.jsonl       one JSON string per line
// JSONL input lines are JSON strings or objects with the --field key
// ("text" for encode, "ids" for decode); a bad line names its number.
#include "cli_main.h"
#include "opd/tokenizer/tokenizer.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// The text of one JSONL line: a JSON string, or obj[field] holding one.
std::string text_of(const nlohmann::json& j, const std::string& field, int64_t line) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains(field) && j.at(field).is_string()) return j.at(field).get<std::string>();
  throw std::runtime_error("stdin:" + std::to_string(line) + ": expected a JSON string or an object with a string '" +
                           field + "'");
}

std::vector<int64_t> ids_of(const nlohmann::json& j, const std::string& field, int64_t line) {
  const auto& list = j.is_object() && j.contains(field) ? j.at(field) : j;
  if (!list.is_array()) {
    throw std::runtime_error("stdin:" + std::to_string(line) + ": expected a JSON list of ids or an object with '" +
                             field + "'");
  }
  std::vector<int64_t> ids;
  for (const auto& id : list) {
    if (!id.is_number_integer()) {
      throw std::runtime_error("stdin:" + std::to_string(line) + ": '" + id.dump() + "' is not a token id");
    }
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

nlohmann::json parse_line(const std::string& text, int64_t line) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error("stdin:" + std::to_string(line) + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Encode text to token ids, or decode ids to text, with a model's tokenizer."};
  opd::tools::standard_flags(app);
  std::string tokenizer_path, field;
  app.add_option("--tokenizer", tokenizer_path,
                 "model directory (tokenizer.json or tokenizer.model), or either file")
      ->required();
  app.require_subcommand(1);
  auto* encode = app.add_subcommand("encode", "text -> ids (JSON)");
  std::string text;
  bool encode_jsonl = false, add_special = false;
  encode->add_option("--text", text, "the text; without it, stdin (all of it, or JSONL with --jsonl)");
  encode->add_flag("--jsonl", encode_jsonl, "stdin holds one JSON string or {\"text\": ...} per line");
  encode->add_flag("--add-special-tokens", add_special, "add what the tokenizer adds around a sequence (e.g. BOS)");
  encode->add_option("--field", field, "JSONL key holding the text (default: text)");
  auto* decode = app.add_subcommand("decode", "ids (JSON) -> text (JSON string)");
  std::string ids_json;
  bool decode_jsonl = false, skip_special = false;
  decode->add_option("--ids", ids_json, "a JSON list of ids; without it, stdin");
  decode->add_flag("--jsonl", decode_jsonl, "stdin holds one JSON list or {\"ids\": [...]} per line");
  decode->add_flag("--skip-special", skip_special, "leave special tokens out");
  decode->add_option("--field", field, "JSONL key holding the ids (default: ids)");
  if (auto code = opd::tools::parse_flags("opd-tokenize", app, argc, argv)) return *code;

  return opd::tools::run_main("opd-tokenize", [&] {
    auto tok = opd::tokenizer::load_tokenizer(tokenizer_path);
    const bool jsonl = encode->parsed() ? encode_jsonl : decode_jsonl;
    if (field.empty()) field = encode->parsed() ? "text" : "ids";
    if (!jsonl) {
      if (encode->parsed()) {
        if (encode->count("--text") == 0) text.assign(std::istreambuf_iterator<char>(std::cin), {});
        std::cout << nlohmann::json(tok->encode(text, add_special)).dump() << "\n";
      } else {
        if (decode->count("--ids") == 0) ids_json.assign(std::istreambuf_iterator<char>(std::cin), {});
        std::cout << nlohmann::json(tok->decode(ids_of(parse_line(ids_json, 1), field, 1), skip_special)).dump()
                  << "\n";
      }
      return 0;
    }
    // JSONL: read every line first, then encode the texts in parallel.
    std::vector<std::pair<int64_t, nlohmann::json>> lines;  // (line number, content)
    int64_t number = 0;
    for (std::string line; std::getline(std::cin, line);) {
      ++number;
      if (line.find_first_not_of(" \t\r") != std::string::npos) lines.emplace_back(number, parse_line(line, number));
    }
    if (encode->parsed()) {
      std::vector<std::string> texts;
      for (const auto& [n, j] : lines) texts.push_back(text_of(j, field, n));
      for (const auto& ids : tok->encode_batch(texts, add_special)) std::cout << nlohmann::json(ids).dump() << "\n";
    } else {
      for (const auto& [n, j] : lines) {
        std::cout << nlohmann::json(tok->decode(ids_of(j, field, n), skip_special)).dump() << "\n";
      }
    }
    return 0;
  });
}
