#include "opd/data/prompt_dataset.h"
#include "opd/tokenizer/char_tokenizer.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace opd::data {
namespace {

using opd::testing::error_message;
using opd::testing::ScratchDir;

std::string write(const ScratchDir& dir, const std::string& text) {
  const std::string path = dir / "prompts.jsonl";
  std::ofstream(path) << text;
  return path;
}

TEST(PromptDataset, ReadsIdsAndSkipsBlankLines) {
  ScratchDir dir;
  auto ds = PromptDataset::from_jsonl(write(dir, "{\"prompt_ids\": [1, 2, 3]}\n\n{\"prompt_ids\": [4], \"domain\": \"math\"}\n"));
  ASSERT_EQ(ds.size(), 2);
  EXPECT_EQ(ds[0].ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(ds[1].ids, (std::vector<int64_t>{4}));
  EXPECT_EQ(ds[1].line, 3);
}

TEST(PromptDataset, MalformedLinesNameFileAndLine) {
  ScratchDir dir;
  const std::string good = "{\"prompt_ids\": [1]}\n";
  auto err = [&](const std::string& bad) {
    return error_message([&] { PromptDataset::from_jsonl(write(dir, good + good + bad)); });
  };
  EXPECT_NE(err("{\"prompt_ids\": [1,\n").find("prompts.jsonl:3: not valid JSON"), std::string::npos);
  EXPECT_NE(err("{\"question\": \"hi\"}\n").find("prompts.jsonl:3: missing the prompt: 'prompt' (text), 'messages'"), std::string::npos);
  EXPECT_NE(err("{\"prompt\": \"hi\", \"prompt_ids\": [1]}\n").find(":3: holds more than one of"), std::string::npos);
  EXPECT_NE(err("{\"prompt\": \"hi\"}\n").find(":3: a text prompt needs the student's tokenizer"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": [1], \"answer\": [1]}\n").find(":3: 'answer' must be a string or a number"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": [1], \"domain\": 3}\n").find(":3: 'domain' must be a string"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": []}\n").find(":3: 'prompt_ids' must be a non-empty list"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": [1, \"a\"]}\n").find(":3: 'prompt_ids' holds \"a\""), std::string::npos);
  EXPECT_NE(err("[1, 2]\n").find(":3: expected a JSON object"), std::string::npos);
  EXPECT_NE(error_message([&] { PromptDataset::from_jsonl(dir / "missing.jsonl"); }).find("cannot be opened"), std::string::npos);
  auto ds = PromptDataset::from_jsonl(write(dir, good + "{\"prompt_ids\": [7, 300]}\n"));
  EXPECT_NE(error_message([&] { ds.check_vocab(256, "student"); }).find(":2: token id 300 is outside the student vocabulary of 256"), std::string::npos);
}

TEST(PromptDataset, ReadsOptionalResponseIds) {
  ScratchDir dir;
  auto ds = PromptDataset::from_jsonl(
      write(dir, "{\"prompt_ids\": [1, 2], \"response_ids\": [5, 6, 7]}\n{\"prompt_ids\": [3]}\n"));
  ASSERT_EQ(ds.size(), 2);
  EXPECT_EQ(ds[0].response_ids, (std::vector<int64_t>{5, 6, 7}));
  EXPECT_TRUE(ds[1].response_ids.empty());
  EXPECT_EQ(ds.path(), dir / "prompts.jsonl");

  auto err = [&](const std::string& bad) {
    return error_message([&] { PromptDataset::from_jsonl(write(dir, "{\"prompt_ids\": [1]}\n" + bad)); });
  };
  EXPECT_NE(err("{\"prompt_ids\": [1], \"response_ids\": []}\n").find(":2: 'response_ids' must be a non-empty list"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": [1], \"response_ids\": [2, -1]}\n").find(":2: 'response_ids' holds -1"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": [1], \"response_ids\": 4}\n").find(":2: 'response_ids' must be a non-empty list"), std::string::npos);
  // check_vocab covers the responses too.
  auto big = PromptDataset::from_jsonl(write(dir, "{\"prompt_ids\": [1]}\n{\"prompt_ids\": [2], \"response_ids\": [3, 64]}\n"));
  EXPECT_NE(error_message([&] { big.check_vocab(64, "student"); }).find(":2: token id 64 is outside the student vocabulary of 64"), std::string::npos);
}

// The character tokenizer of tiny models, in the student's and a teacher's format.
PromptFormat char_format(const ScratchDir& dir, const std::string& chat_template) {
  opd::testing::write_file_bytes(dir / "tokenizer.json", tokenizer::char_tokenizer_json());
  PromptFormat f;
  f.tokenizer = tokenizer::load_tokenizer(dir / "tokenizer.json");
  if (!chat_template.empty()) f.chat_template = tokenizer::find_chat_template(chat_template);
  return f;
}

TEST(PromptDataset, TextIsRenderedInEachModelsFormat) {
  ScratchDir dir;
  auto student = char_format(dir, "qwen3");
  auto teacher = char_format(dir, "");  // the teacher reads plain text
  student.system_prompt = "be brief.";
  student.enable_thinking = false;
  auto ds = PromptDataset::from_jsonl(
      write(dir, "{\"prompt\": \"what is 2+3?\", \"answer\": 5, \"solution\": \"2+3=5\", \"domain\": \"math\"}\n"
                 "{\"messages\": [{\"role\": \"system\", \"content\": \"no.\"}, {\"role\": \"user\", \"content\": \"hi\"}]}\n"),
      &student, [&](const std::string& domain) { return domain == "math" ? &teacher : &student; });
  ASSERT_EQ(ds.size(), 2);
  const auto& p = ds[0];
  EXPECT_EQ(student.tokenizer->decode(p.ids),
            "<|im_start|>system\nbe brief.<|im_end|>\n<|im_start|>user\nwhat is 2+3?<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(teacher.tokenizer->decode(p.teacher_ids), "what is 2+3?");
  EXPECT_EQ(p.teacher_prompt(), p.teacher_ids);
  // The solution becomes the reference response, closed by the template's end of turn.
  EXPECT_EQ(student.tokenizer->decode(p.response_ids), "2+3=5<|im_end|>");
  EXPECT_EQ(p.answer, "5");
  EXPECT_EQ(p.domain, "math");
  // An empty text in plain format is nothing to continue: named at load, not when it is sampled.
  EXPECT_NE(error_message([&] { PromptDataset::from_jsonl(write(dir, "{\"prompt_ids\": [1]}\n{\"prompt\": \"\"}\n"), &teacher); })
                .find("prompts.jsonl:2: the prompt renders to no tokens"),
            std::string::npos);
  EXPECT_EQ(p.messages.size(), 1u);
  // A conversation's own system message wins over the configured one.
  EXPECT_EQ(student.tokenizer->decode(ds[1].ids).rfind("<|im_start|>system\nno.<|im_end|>", 0), 0u);
  // Each line is rendered for its own domain's teacher: the second has none
  // of its own, and its teacher reads the student's format.
  EXPECT_TRUE(ds[1].teacher_ids.empty());
  EXPECT_EQ(ds.domains(), (std::vector<std::string>{"math", ""}));
  // A teacher in the student's own format reads the student's ids.
  auto same = PromptDataset::from_jsonl(ds.path(), &student, [&](const std::string&) { return &student; });
  EXPECT_TRUE(same[0].teacher_ids.empty());
  EXPECT_EQ(same[0].teacher_prompt(), same[0].ids);
  // Text the tokenizer cannot encode names the line.
  EXPECT_NE(error_message([&] { PromptDataset::from_jsonl(write(dir, "{\"prompt\": \"caf\u00e9\"}\n"), &student); })
                .find("not in the vocabulary"), std::string::npos);
}

// Found by the fuzz target tests/fuzz/jsonl_fuzzer.cpp: a number past a
// double escaped as nlohmann's exception, without the file or line; a chat
// template's or the tokenizer's refusal named neither the line nor the field.
TEST(PromptDataset, NumbersAndRenderErrorsNameFileLineAndField) {
  ScratchDir dir;
  const std::string good = "{\"prompt_ids\": [1]}\n";
  std::string msg = error_message([&] { PromptDataset::from_jsonl(write(dir, good + "{\"prompt_ids\": [1], \"answer\": 1e400}\n")); });
  EXPECT_NE(msg.find("prompts.jsonl:2: not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1e400"), std::string::npos) << msg;
  EXPECT_NE(msg.find("after key 'answer'"), std::string::npos) << msg;
  msg = error_message([&] { PromptDataset::answers_from_file(write(dir, good + "{\"answer\": -1e400}\n")); });
  EXPECT_NE(msg.find("prompts.jsonl:2: not valid JSON"), std::string::npos) << msg;

  auto student = char_format(dir, "qwen3");
  opd::testing::write_file_bytes(dir / "chat_template.jinja",
                                 "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here') }}"
                                 "{% endif %}{{ m.content }}{% endfor %}");
  PromptFormat jinja = student;
  jinja.chat_template = tokenizer::ChatTemplate::from_model_dir(dir.path().string());
  msg = error_message([&] {
    PromptDataset::from_jsonl(
        write(dir, good + "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}, {\"role\": \"user\", \"content\": \"y\"}]}\n"),
        &jinja);
  });
  EXPECT_NE(msg.find("prompts.jsonl:2: 'messages' cannot be rendered in the student's format"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no tools here"), std::string::npos) << msg;
  msg = error_message([&] { PromptDataset::from_jsonl(write(dir, good + "{\"prompt\": \"caf\u00e9\"}\n"), &student); });
  EXPECT_NE(msg.find("prompts.jsonl:2: 'prompt' cannot be rendered in the student's format"), std::string::npos) << msg;
  msg = error_message([&] {
    PromptDataset::from_jsonl(write(dir, "{\"prompt\": \"hi\", \"solution\": \"caf\u00e9\"}\n"), &student);
  });
  EXPECT_NE(msg.find("prompts.jsonl:1: 'solution' cannot be rendered"), std::string::npos) << msg;
}

// The rows TRL users have: GKD's {"messages": [system, user, assistant]}
// (the assistant's turn is the reference reply, not part of the prompt) and
// prompt/completion, plain and conversational. Each is the same problem as
// the prompt + solution row.
TEST(PromptDataset, TrlRowsAreAPromptAndItsSolution) {
  ScratchDir dir;
  auto student = char_format(dir, "qwen3");
  const std::string sys = "{\"role\": \"system\", \"content\": \"be brief.\"}";
  const std::string user = "{\"role\": \"user\", \"content\": \"what is 2+3?\"}";
  const std::string reply = "{\"role\": \"assistant\", \"content\": \"2+3=5\"}";
  auto ds = PromptDataset::from_jsonl(
      write(dir, "{\"messages\": [" + sys + ", " + user + "], \"solution\": \"2+3=5\"}\n"
                 "{\"messages\": [" + sys + ", " + user + ", " + reply + "]}\n"
                 "{\"prompt\": [" + sys + ", " + user + "], \"completion\": [" + reply + "]}\n"
                 "{\"prompt\": [" + sys + ", " + user + "], \"completion\": \"2+3=5\"}\n"
                 "{\"prompt\": \"what is 2+3?\", \"completion\": \"2+3=5\"}\n"),
      &student);
  ASSERT_EQ(ds.size(), 5);
  const auto prompt = student.tokenizer->decode(ds[0].ids);
  EXPECT_EQ(prompt.find("2+3=5"), std::string::npos) << "the answer is not in the prompt: " << prompt;
  for (int64_t i = 1; i < 4; ++i) {
    EXPECT_EQ(ds[i].ids, ds[0].ids) << "row " << i + 1;
    EXPECT_EQ(ds[i].solution, "2+3=5") << "row " << i + 1;
    EXPECT_EQ(ds[i].response_ids, ds[0].response_ids) << "row " << i + 1;
  }
  EXPECT_EQ(ds[4].solution, "2+3=5");
  EXPECT_EQ(student.tokenizer->decode(ds[4].response_ids), "2+3=5<|im_end|>");

  auto err = [&](const std::string& line) {
    return error_message([&] { PromptDataset::from_jsonl(write(dir, line + "\n"), &student); });
  };
  EXPECT_NE(err("{\"messages\": [" + user + ", " + reply + "], \"solution\": \"7\"}").find(":1: the conversation ends in the assistant's reply, and 'solution'"), std::string::npos);
  EXPECT_NE(err("{\"messages\": [" + reply + "]}").find(":1: the conversation holds only the assistant's reply"), std::string::npos);
  EXPECT_NE(err("{\"prompt\": \"x\", \"completion\": [" + user + "]}").find(":1: 'completion' must be a text or one assistant message"), std::string::npos);
  EXPECT_NE(err("{\"prompt\": \"x\", \"completion\": \"a\", \"solution\": \"b\"}").find(":1: holds both 'solution' and 'completion'"), std::string::npos);
  EXPECT_NE(err("{\"prompt\": [{\"role\": \"user\"}]}").find(":1: prompt[0] must be {\"role\": string"), std::string::npos);
}

}  // namespace
}  // namespace opd::data
