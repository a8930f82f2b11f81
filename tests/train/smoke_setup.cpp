#include "train/smoke_setup.h"

#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/tokenizer/char_tokenizer.h"
#include "opd/train/config_loader.h"

#include <fstream>

namespace opd::train {

TrainConfig smoke_config(const opd::testing::ScratchDir& dir, int64_t steps, const std::vector<std::string>& overrides) {
  model::TinyModelSpec teacher;
  teacher.vocab_size = 64;
  teacher.seed = 1;
  teacher.init_std = 0.1;
  teacher.embed_std = 0.3;
  model::TinyModelSpec student;
  student.vocab_size = 64;
  student.seed = 2;
  student.init_std = 0.02;
  auto t = model::make_tiny_model(teacher);
  auto s = model::make_tiny_model(student);
  model::save_pretrained(t, dir / "teacher");
  model::save_pretrained(s, dir / "student");
  std::vector<std::string> all = {"student.path=" + (dir / "student"), "teacher.path=" + (dir / "teacher"),
                                  "data.train=" OPD_SOURCE_DIR "/configs/smoke/prompts.jsonl",
                                  "run_dir=" + (dir / "run"), "steps=" + std::to_string(steps)};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return load_train_config(OPD_SOURCE_DIR "/configs/smoke/opd_tiny.yaml", all);
}

TrainConfig text_smoke_config(const opd::testing::ScratchDir& dir, int64_t steps) {
  auto c = smoke_config(dir, steps);
  for (const char* model : {"student", "teacher"}) {
    opd::testing::write_file_bytes(dir / (std::string(model) + "/tokenizer.json"), tokenizer::char_tokenizer_json());
  }
  std::ofstream(dir / "text.jsonl") << "{\"prompt\": \"what is 2+3?\", \"answer\": \"5\"}\n"
                                       "{\"prompt\": \"add 7 and 8.\", \"domain\": \"math\"}\n"
                                       "{\"messages\": [{\"role\": \"user\", \"content\": \"hi!\"}]}\n";
  c.data.train_path = dir / "text.jsonl";
  c.data.prompts_per_step = 3;
  c.data.samples_per_prompt = 2;
  c.data.enable_thinking = false;
  c.student.chat_template = "qwen3";
  c.rollout.max_new_tokens = 10;
  return c;
}

}  // namespace opd::train
