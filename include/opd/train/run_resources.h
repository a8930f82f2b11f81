// What a run loads before its first step: the student, the teachers with
// their prompt formats, the prompts routed to their teachers, TRD's
// refinement prompt and the reference model; checked against each other
// (vocabularies, dataset targets, domains without a teacher) so a bad recipe
// fails before any compute. The trajectory writer and the scorer read these.
#pragma once

#include "opd/core/trajectory.h"
#include "opd/data/prompt_dataset.h"
#include "opd/data/prompt_format.h"
#include "opd/data/refinement_template.h"
#include "opd/model/causal_lm.h"
#include "opd/objectives/objective.h"
#include "opd/rollout/teacher_pool.h"
#include "opd/rollout/trajectory_writer.h"
#include "opd/train/train_config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace opd::train {

struct RunResources {
  model::CausalLM student{nullptr};
  data::PromptFormat student_format;
  rollout::TeacherPool teachers;
  data::PromptDataset dataset;
  std::optional<data::PromptDataset> eval_set;  // data.eval's problems, when named
  std::vector<int64_t> teacher_of;  // dataset line -> its teacher in `teachers`
  std::optional<data::RefinementTemplate> refinement;
  bool opsd = false;                // the teacher is the frozen student and reads the reference solution
  model::CausalLM reference{nullptr};  // frozen; loaded only when the objective needs r_t
};

// Loads everything `config` names for an objective with `needs` (`objective`
// names it in errors), each model on its configured device ("auto" is
// cuda:`local_rank` when a GPU is visible); throws one clear error on a bad model directory,
// prompt file, template, or a vocabulary the objective cannot use (a teacher
// smaller than the student, top_k above the vocabulary).
RunResources load_run_resources(const TrainConfig& config, const ObjectiveNeeds& needs, const std::string& objective,
                                int64_t local_rank = 0);

// The trajectory writer of a run of world_size ranks over `resources`
// (which must outlive it).
rollout::TrajectoryWriter make_trajectory_writer(const TrainConfig& config, Trajectory trajectory,
                                                 RunResources& resources, int64_t world_size = 1);

// Loads the HF model directory of `spec` onto its device; `key` names it in errors.
model::CausalLM load_model(const ModelSpec& spec, const std::string& key, int64_t local_rank = 0);

}  // namespace opd::train
