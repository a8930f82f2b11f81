// One round's data of rejection-sampling fine-tuning (RFT): a model's own
// sampled solutions to the training problems, verified, the right ones kept.
// A few rounds of it (sample, verify, fine-tune at a low learning rate) make
// the "RL-like" teacher G-OPD's premise is about: the student's own
// distribution, sharpened toward what the verifier rewards.
#pragma once

#include "opd/data/synthetic_tasks.h"
#include "opd/paper/suite.h"

#include <cstdint>
#include <string>
#include <vector>

namespace opd::paper {

struct RejectionSamples {
  std::vector<data::SyntheticProblem> kept;  // one per distinct right response, its solution that response
  int64_t sampled = 0;
  int64_t right = 0;  // sampled responses the verifier accepted (repeats counted)
};

// `samples` responses of the model in `model_dir` to each of `problems`
// (the first problems.size() lines of `problems_file`, which holds them in
// that order), drawn at `temperature` from `seed`, with the suite's chat
// template, length cap and verifier.
RejectionSamples sample_right_solutions(const Suite& suite, const std::string& model_dir,
                                        const std::string& problems_file,
                                        const std::vector<data::SyntheticProblem>& problems, int64_t samples,
                                        double temperature, uint64_t seed);

}  // namespace opd::paper
