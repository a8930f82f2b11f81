// The smoke setting of configs/smoke/opd_tiny.yaml for the trainer tests: a
// sharp teacher and a near-uniform student (vocab 64) made as
// tools/quickstart.sh makes them.
#pragma once

#include "opd/train/train_config.h"
#include "support/test_support.h"

#include <cstdint>
#include <string>
#include <vector>

namespace opd::train {

// Writes the two models to `dir`/teacher and `dir`/student and returns the
// recipe pointed at them, its run in `dir`/run, with `steps` steps and then
// `overrides` ("objective.name=tropd", as --set) applied.
TrainConfig smoke_config(const opd::testing::ScratchDir& dir, int64_t steps,
                         const std::vector<std::string>& overrides = {});

// The smoke setting with text: both models get the character tokenizer, the
// prompts are dir/text.jsonl (three lines, text and messages), the student
// reads them in Qwen3's chat format (thinking off) and the teacher as plain
// text; 3 prompts x 2 samples, 10 new tokens.
TrainConfig text_smoke_config(const opd::testing::ScratchDir& dir, int64_t steps);

}  // namespace opd::train
