// Chat templates as data (configs/chat_templates) against transformers'
// apply_chat_template on the models' own tokenizer files: Qwen3's as
// published (tests/fixtures/tokenizers/qwen3), and Llama 3's where the user
// has them (OPD_LLAMA3_TOKENIZER_DIR: Meta's license keeps them out of this
// repository).
#include "opd/tokenizer/chat_template.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace opd::tokenizer {
namespace {

namespace fs = std::filesystem;
using opd::testing::expect_error;
using opd::testing::ScratchDir;

struct Case {
  std::vector<ChatMessage> messages;
  bool add_generation_prompt;
  bool enable_thinking;
};

std::vector<Case> cases() {
  const ChatMessage sys{"system", "You are a careful mathematician."};
  const ChatMessage q1{"user", "What is 2 + 2?"};
  const ChatMessage a1{"assistant", "<think>\nTwo plus two.\n</think>\n\nIt is \\boxed{4}."};
  const ChatMessage q2{"user", "  And 3 + 3?\n"};
  return {
      {{q1}, true, true},
      {{q1}, true, false},
      {{sys, q1}, true, true},
      {{sys, q1, a1, q2}, true, true},
      {{sys, q1, a1, q2}, true, false},
      {{q1, a1}, false, true},
  };
}

// What apply_chat_template renders for each case with the tokenizer files in `dir`.
std::vector<std::string> reference(const std::string& dir, const std::vector<Case>& cs) {
  ScratchDir scratch("opd-chat");
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : cs) {
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& m : c.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    j.push_back({{"messages", messages}, {"add_generation_prompt", c.add_generation_prompt},
                 {"enable_thinking", c.enable_thinking}});
  }
  opd::testing::write_file_bytes(scratch / "cases.json", j.dump());
  const auto r = opd::testing::run_reference(
      "hf_chat_template.py", "'" + dir + "' " + (scratch / "cases.json") + " " + (scratch / "out.json"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return {};
  return nlohmann::json::parse(opd::testing::read_file_bytes(scratch / "out.json")).get<std::vector<std::string>>();
}

TEST(ChatTemplate, Qwen3MatchesTheJinjaTemplate) {
  const auto cs = cases();
  const auto expected = reference(OPD_SOURCE_DIR "/tests/fixtures/tokenizers/qwen3", cs);
  ASSERT_EQ(expected.size(), cs.size());
  const auto t = find_chat_template("qwen3");
  for (size_t i = 0; i < cs.size(); ++i) {
    EXPECT_EQ(t.render(cs[i].messages, cs[i].add_generation_prompt, cs[i].enable_thinking), expected[i])
        << "case " << i;
  }
}

// A model directory's own template (what a recipe without chat_template
// reads) renders as transformers does; chat_template.jinja comes first, and a
// list of named templates gives its "default".
TEST(ChatTemplate, AModelsOwnTemplateIsItsJinja) {
  const auto cs = cases();
  const std::string qwen3 = OPD_SOURCE_DIR "/tests/fixtures/tokenizers/qwen3";
  const auto expected = reference(qwen3, cs);
  ASSERT_EQ(expected.size(), cs.size());
  const auto t = ChatTemplate::from_model_dir(qwen3);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->name.rfind("model:", 0), 0u) << t->name;
  EXPECT_EQ(t->stop, (std::vector<std::string>{"<|im_end|>"}));
  for (size_t i = 0; i < cs.size(); ++i) {
    EXPECT_EQ(t->render(cs[i].messages, cs[i].add_generation_prompt, cs[i].enable_thinking), expected[i])
        << "case " << i;
  }
  ScratchDir dir("opd-chat-own");
  EXPECT_FALSE(ChatTemplate::from_model_dir(dir.path().string()).has_value());
  opd::testing::write_file_bytes(dir / "tokenizer_config.json",
                                 R"({"chat_template": [{"name": "tool_use", "template": "T"},
                                                       {"name": "default", "template": "D{{ eos_token }}"}],
                                     "eos_token": "</s>"})");
  EXPECT_EQ(ChatTemplate::from_model_dir(dir.path().string())->render({{"user", "x"}}, true), "D</s>");
  opd::testing::write_file_bytes(dir / "chat_template.jinja", "J{{ messages | length }}");
  const auto jinja = ChatTemplate::from_model_dir(dir.path().string());
  EXPECT_EQ(jinja->render({{"user", "x"}}, true), "J1");
  EXPECT_NE(jinja->name, ChatTemplate::from_model_dir(qwen3)->name) << "the name says which template";
  opd::testing::write_file_bytes(dir / "chat_template.jinja", "{{ raise_exception('no system turns') }}");
  expect_error([&] { ChatTemplate::from_model_dir(dir.path().string())->render({{"user", "x"}}, true); },
               {"chat_template.jinja:1: ", "no system turns"});
}

TEST(ChatTemplate, Llama3MatchesTheJinjaTemplate) {
  const char* dir = std::getenv("OPD_LLAMA3_TOKENIZER_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "set OPD_LLAMA3_TOKENIZER_DIR to a directory with Llama 3's tokenizer.json and "
                    "tokenizer_config.json (not shipped: Meta Llama 3 Community License)";
  }
  // Llama 3's template always opens the assistant's turn: only such cases.
  std::vector<Case> cs;
  for (const auto& c : cases()) {
    if (c.add_generation_prompt) cs.push_back(c);
  }
  const auto expected = reference(dir, cs);
  ASSERT_EQ(expected.size(), cs.size());
  const auto t = find_chat_template("llama3");
  for (size_t i = 0; i < cs.size(); ++i) {
    // Llama 3 has no thinking switch: enable_thinking changes nothing.
    EXPECT_EQ(t.render(cs[i].messages, true, cs[i].enable_thinking), expected[i]) << "case " << i;
  }
}

TEST(ChatTemplate, PatternIsFilledOnceAndStopsAreRead) {
  const auto t = find_chat_template("chatml");
  EXPECT_EQ(t.render({{"user", "write {role} and {content} literally"}}, true),
            "<|im_start|>user\nwrite {role} and {content} literally<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t.stop, (std::vector<std::string>{"<|im_end|>", "<|endoftext|>"}));
  EXPECT_EQ(find_chat_template((fs::path(OPD_SOURCE_DIR) / "configs/chat_templates/llama3.yaml").string()).name,
            "llama3");
}

TEST(ChatTemplate, BadTemplatesNameFileAndKey) {
  ScratchDir dir("opd-chat-bad");
  opd::testing::write_file_bytes(dir / "typo.yaml", "name: x\nmesage: \"{content}\"\n");
  expect_error([&] { ChatTemplate::from_yaml(dir / "typo.yaml"); }, {"typo.yaml", "mesage", "unknown key"});
  opd::testing::write_file_bytes(dir / "nocontent.yaml", "message: \"<|{role}|>\"\n");
  expect_error([&] { ChatTemplate::from_yaml(dir / "nocontent.yaml"); }, {"nocontent.yaml", "message", "{content}"});
  opd::testing::write_file_bytes(dir / "type.yaml", "message: \"{content}\"\ntrim_content: maybe\n");
  expect_error([&] { ChatTemplate::from_yaml(dir / "type.yaml"); }, {"type.yaml:2"});
  expect_error([] { find_chat_template("no_such_template"); }, {"no_such_template", "tried"});
}

}  // namespace
}  // namespace opd::tokenizer
