// opd-prepare: tokenizes a recipe's JSONL prompts once, in the student's
// format and in that of each prompt's teacher (tokenizers, chat templates,
// system prompt, thinking switch), into one HDF5 file the recipe can then
// point data.train at.
//   opd-prepare --config recipe.yaml [--set data.train=raw.jsonl ...] --out train.h5
#include "cli_main.h"
#include "opd/data/prompt_store.h"
#include "opd/train/config_loader.h"
#include "opd/train/prompt_formats.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
  CLI::App app{"Pre-tokenize a recipe's JSONL prompts into an HDF5 prompt store."};
  opd::tools::standard_flags(app);
  std::string config_path, out;
  std::vector<std::string> overrides;
  app.add_option("--config", config_path, "YAML recipe (its student, teacher and data blocks)")->required();
  app.add_option("--set", overrides, "override a recipe key, e.g. --set data.train=raw.jsonl (repeatable)");
  app.add_option("--out", out, "the .h5 file to write")->required();
  if (auto code = opd::tools::parse_flags("opd-prepare", app, argc, argv)) return *code;

  return opd::tools::run_main("opd-prepare", [&] {
    using namespace opd;
    const auto config = train::load_train_config(config_path, overrides);
    const auto student = train::load_prompt_format(config.student, config.data, "student");
    const auto teachers = train::load_teacher_formats(config);
    std::error_code ec;
    const auto bytes = static_cast<int64_t>(std::filesystem::file_size(config.data.train_path, ec));
    tools::Progress progress("bytes read", ec ? 0 : bytes);
    auto dataset = data::PromptDataset::from_jsonl(
        config.data.train_path, &student,
        [&](const std::string& domain) -> const data::PromptFormat* {
          const auto it = teachers.find(train::teacher_key(config, domain));
          return it == teachers.end() ? nullptr : &it->second;
        },
        [&](int64_t read, int64_t) { progress.update(read); });
    progress.finish();
    dataset.set_made_with(train::format_record(student, teachers));
    data::write_prompt_store(dataset, out);
    int64_t tokens = 0, differ = 0;
    for (const auto& p : dataset.prompts()) {
      tokens += static_cast<int64_t>(p.ids.size() + p.response_ids.size());
      differ += !p.teacher_ids.empty();
    }
    std::printf("wrote %s: %lld prompts, %lld tokens, %lld read differently by the teacher\n", out.c_str(),
                static_cast<long long>(dataset.size()), static_cast<long long>(tokens),
                static_cast<long long>(differ));
    return 0;
  });
}
