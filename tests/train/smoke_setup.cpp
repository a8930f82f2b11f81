#include "train/smoke_setup.h"

#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/train/config_loader.h"

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

}  // namespace opd::train
