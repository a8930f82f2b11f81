// Prompt datasets (data/prompt_dataset.h): the input is a .jsonl file. Text
// lines are rendered with a Jinja chat template that refuses roles it does
// not know (as real templates do) and tokenized with the character
// tokenizer of tiny models; a teacher reads them in a second, pattern
// format. Every refusal must be a c10::Error naming the file and line.
#include "fuzz_support.h"

#include "opd/data/prompt_dataset.h"
#include "opd/tokenizer/char_tokenizer.h"
#include "opd/tokenizer/hf_tokenizer.h"

#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

constexpr const char* kStudentTemplate =
    "{%- for m in messages %}"
    "{%- if m.role not in ['system', 'user', 'assistant'] %}"
    "{{- raise_exception('Unknown role: ' ~ m.role) }}"
    "{%- endif %}"
    "{{- '<|im_start|>' + m.role + '\\n' + m.content | trim + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

struct Formats {
  opd::data::PromptFormat student, teacher;
};

const Formats& formats() {
  static const Formats f = [] {
    namespace fs = std::filesystem;
    Formats out;
    const std::shared_ptr<const opd::tokenizer::Tokenizer> chars =
        opd::tokenizer::HfTokenizer::from_json_text(opd::tokenizer::char_tokenizer_json(), "char tokenizer");
    const fs::path dir = fs::temp_directory_path() / ("opd-fuzz-model-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "chat_template.jinja") << kStudentTemplate;
    out.student.tokenizer = chars;
    out.student.chat_template = opd::tokenizer::ChatTemplate::from_model_dir(dir.string());
    fs::remove_all(dir);
    out.teacher.tokenizer = chars;
    opd::tokenizer::ChatTemplate pattern;
    pattern.name = "pattern";
    pattern.message = "[{role}] {content}\n";
    pattern.generation_prompt = "[assistant] ";
    pattern.stop = {"\n"};
    out.teacher.chat_template = pattern;
    out.teacher.system_prompt = "be brief";
    return out;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static opd::fuzz::ScratchFile file(".jsonl");
  const auto& f = formats();
  const std::string& path = file.write(data, size);
  opd::fuzz::expect_refusal_or_success<c10::Error>([&] {
    const auto ds = opd::data::PromptDataset::from_jsonl(
        path, &f.student, [&](const std::string& domain) { return domain == "math" ? &f.teacher : nullptr; });
    ds.check_vocab(64, "student");
  });
  opd::fuzz::expect_refusal_or_success<c10::Error>([&] { (void)opd::data::PromptDataset::answers_from_file(path); });
  return 0;
}
