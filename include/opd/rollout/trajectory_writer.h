// Writes the trajectories a step trains on, as the objective asks
// (core/trajectory.h): student rollouts (behind a teacher prefix when TrOPD's
// guidance is on), teacher-written responses (SeqKD), the dataset's
// solutions, or TRD/OPSD refinements of the student's attempts. Every draw is
// keyed by the row's place in the step's global batch, so any world size
// writes the same tokens for it.
#pragma once

#include "opd/core/metrics.h"
#include "opd/core/rollout_batch.h"
#include "opd/core/trajectory.h"
#include "opd/data/prompt_dataset.h"
#include "opd/data/prompt_format.h"
#include "opd/data/refinement_template.h"
#include "opd/model/causal_lm.h"
#include "opd/rollout/generation_settings.h"
#include "opd/rollout/prefix_schedule.h"
#include "opd/rollout/teacher_pool.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace opd::rollout {

// A step's batch, each row's teacher (an index into the pool) and the
// prompt that teacher reads the same response behind (its own chat template).
struct Trajectories {
  RolloutBatch batch;
  std::vector<int64_t> row_teacher;
  std::vector<std::vector<int64_t>> teacher_prompts;
  bool teacher_reads_differently = false;  // some teacher prompt differs from the batch's own

  // What scoring passes take as contexts (scoring_context.h): the teacher
  // prompts when they differ, else none.
  const std::vector<std::vector<int64_t>>* teacher_contexts() const {
    return teacher_reads_differently ? &teacher_prompts : nullptr;
  }
};

struct TrajectorySettings {
  Trajectory trajectory = Trajectory::kStudent;
  RolloutSampling sampling;
  PrefixSchedule prefix;   // TrOPD's teacher-prefix guidance (kStudent only); max_length 0 = off
  uint64_t seed = 0;       // the run's seed; the streams are core/seed_streams.h's
  int64_t world_size = 1;  // ranks sharing a step: prefix lengths are drawn for the global batch
};

// What the writer reads; borrowed, so it must outlive the writer.
struct TrajectorySources {
  model::CausalLM student{nullptr};
  const data::PromptFormat* student_format = nullptr;
  TeacherPool* teachers = nullptr;
  const data::PromptDataset* dataset = nullptr;
  std::vector<int64_t> teacher_of;  // dataset row -> its teacher in `teachers`
  // TRD: the refinement prompt (none: the teacher's prompt + the attempt's
  // ids), and whether the refiner is the frozen student reading the solution (OPSD).
  std::optional<data::RefinementTemplate> refinement;
  bool opsd = false;
  // Whether a response to dataset row `row` gives its answer (nullopt: the
  // row has none to check). Set, TRD logs how often the attempts and their
  // refinements are right (attempt_pass_rate, refined_pass_rate, and their
  // difference refinement_gain): the refiner's premise is that it fixes attempts.
  std::function<std::optional<bool>(int64_t row, const std::string& response)> is_correct;
};

class TrajectoryWriter {
 public:
  TrajectoryWriter(TrajectorySettings settings, TrajectorySources sources);

  // The rows' prompts and teachers, without a batch: rows[b] is the dataset
  // line of batch row b.
  Trajectories prompts_of(const std::vector<int64_t>& rows) const;
  // Step `step`'s trajectories of dataset lines `rows`, the first of them at
  // global row first_row. Adds rollout metrics (response_length,
  // generated_tokens, prefix_cap, attempt_length, ...) to `metrics` when given.
  Trajectories write(int64_t step, const std::vector<int64_t>& rows, int64_t first_row, Metrics* metrics);
  // The student's sampling from `seed`, rows keyed from first_row.
  GenerationConfig student_generation(uint64_t seed, int64_t first_row) const;

  const TrajectorySettings& settings() const { return settings_; }

 private:
  GenerationConfig teacher_generation(const Teacher& teacher, uint64_t seed, int64_t first_row) const;
  // Student rollouts behind a teacher prefix of each row's scheduled length:
  // prompt | teacher prefix | student continuation.
  RolloutBatch guided(int64_t step, const std::vector<std::vector<int64_t>>& prompts, const Trajectories& rows,
                      int64_t first_row, Metrics* metrics);
  // TRD: the student attempts, the refiner rewrites each attempt from the
  // refinement prompt; the student trains on its prompt + the refined response.
  RolloutBatch refined(int64_t step, const std::vector<std::vector<int64_t>>& prompts, const std::vector<int64_t>& rows,
                       Trajectories& out, int64_t first_row, double& generated, Metrics* metrics);

  TrajectorySettings settings_;
  TrajectorySources sources_;
};

}  // namespace opd::rollout
