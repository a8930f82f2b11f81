// The trajectory writer on tiny in-memory models, without a trainer: each
// trajectory kind writes what its objective trains on, and every row's draws
// are keyed by its place in the global batch, so a rank's slice of the batch
// is exactly those rows of the one-process batch.
#include "opd/rollout/trajectory_writer.h"

#include "opd/core/seed_streams.h"
#include "opd/rollout/sequence_packing.h"
#include "support/test_support.h"
#include "support/tiny_lm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <memory>

namespace opd::rollout {
namespace {

// Four dataset lines, each with a reference solution, all read by one teacher.
struct Fixture {
  data::PromptFormat format;  // ids only: no tokenizer
  TeacherPool teachers;
  data::PromptDataset dataset;
  model::CausalLM student = opd::testing::tiny_lm(2, 0.02, 0.02);  // near uniform: samples vary with the draws

  Fixture() {
    teachers.add({"teacher", "mem:teacher", opd::testing::tiny_lm(1, 0.1, 0.3), {}});
    std::vector<data::Prompt> lines(4);
    for (int64_t i = 0; i < 4; ++i) {
      lines[i].ids = {1 + i, 9, 3 + 2 * i};
      lines[i].response_ids = {20 + i, 21, 22 + i};
      lines[i].line = i + 1;
    }
    dataset = data::PromptDataset::from_prompts(lines, "mem.jsonl");
  }

  TrajectoryWriter writer(Trajectory kind, int64_t world_size = 1, int64_t prefix = 0) {
    TrajectorySettings s;
    s.trajectory = kind;
    s.sampling.max_new_tokens = 8;
    s.prefix.max_length = prefix;
    s.prefix.anneal_steps = 10;
    s.prefix.uniform = true;
    s.seed = 5;
    s.world_size = world_size;
    TrajectorySources src;
    src.student = student;
    src.student_format = &format;
    src.teachers = &teachers;
    src.dataset = &dataset;
    src.teacher_of = {0, 0, 0, 0};
    return TrajectoryWriter(s, src);
  }
};

const std::vector<int64_t> kAll = {0, 1, 2, 3};
const std::vector<int64_t> kSecondHalf = {2, 3};

// Row b of `batch`'s tokens, its prompt and response only.
std::vector<int64_t> row_tokens(const RolloutBatch& batch, int64_t b) {
  const int64_t n = batch.prompt_lengths[b].item<int64_t>() + batch.response_lengths[b].item<int64_t>();
  const auto row = batch.tokens[b].slice(0, 0, n).contiguous();
  return std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + n);
}

void expect_rank_slice(const RolloutBatch& whole, const RolloutBatch& slice, int64_t first_row) {
  for (int64_t b = 0; b < slice.batch_size(); ++b) {
    EXPECT_EQ(row_tokens(slice, b), row_tokens(whole, first_row + b)) << "row " << first_row + b;
  }
}

TEST(TrajectoryWriter, StudentRowsAreKeyedByTheirGlobalRow) {
  Fixture f;
  auto one = f.writer(Trajectory::kStudent);
  Metrics m;
  const auto whole = one.write(/*step=*/3, kAll, /*first_row=*/0, &m);
  EXPECT_TRUE(m.has("response_length"));
  EXPECT_EQ(m.value("generated_tokens"), whole.batch.response_lengths.sum().item<double>());
  // Rank 1 of 2 writes rows 2 and 3 of the same global batch.
  const auto slice = f.writer(Trajectory::kStudent, 2).write(3, kSecondHalf, 2, nullptr);
  expect_rank_slice(whole.batch, slice.batch, 2);
  // Another step draws other tokens (the draws are keyed by step too).
  const auto later = one.write(4, kAll, 0, nullptr);
  bool differs = false;
  for (int64_t b = 0; b < 4; ++b) differs = differs || row_tokens(later.batch, b) != row_tokens(whole.batch, b);
  EXPECT_TRUE(differs);
}

TEST(TrajectoryWriter, TeacherPrefixLengthsAreDrawnForTheGlobalBatch) {
  Fixture f;
  Metrics m;
  const auto whole = f.writer(Trajectory::kStudent, 1, /*prefix=*/6).write(0, kAll, 0, &m);
  EXPECT_EQ(m.value("prefix_cap"), 6.0);
  const auto slice = f.writer(Trajectory::kStudent, 2, 6).write(0, kSecondHalf, 2, nullptr);
  expect_rank_slice(whole.batch, slice.batch, 2);
  for (int64_t b = 0; b < 2; ++b) {
    EXPECT_TRUE(at::equal(slice.batch.source[b], whole.batch.source[2 + b].slice(0, 0, slice.batch.seq_len())));
  }
  int64_t prefix_tokens = 0;
  for (int64_t b = 0; b < 4; ++b) {
    prefix_tokens += (whole.batch.source[b] == static_cast<int8_t>(TokenSource::kTeacherPrefix)).sum().item<int64_t>();
  }
  EXPECT_GT(prefix_tokens, 0);
}

TEST(TrajectoryWriter, SeqKdTargetsAreTheTeachersOwnSamples) {
  Fixture f;
  const auto t = f.writer(Trajectory::kTeacher).write(2, kAll, 0, nullptr);
  auto g = generation_settings({{}, 8}, f.teachers[0].model->config(), f.format,
                               draw_seed(5, SeedStream::kTeacherRollout, 2), 0);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i : kAll) prompts.push_back(f.dataset[i].ids);
  const auto alone = generate(f.teachers[0].model, prompts, g);
  for (int64_t b = 0; b < 4; ++b) {
    EXPECT_EQ(row_tokens(t.batch, b), row_tokens(alone, b)) << "row " << b;
    const int64_t P = t.batch.prompt_lengths[b].item<int64_t>(), R = t.batch.response_lengths[b].item<int64_t>();
    for (int64_t i = P; i < P + R; ++i) {
      EXPECT_EQ(t.batch.source[b][i].item<int8_t>(), static_cast<int8_t>(TokenSource::kTeacherPrefix));
    }
  }
  EXPECT_EQ(t.row_teacher, (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(t.teacher_contexts(), nullptr);  // the teacher reads the student's prompts
}

TEST(TrajectoryWriter, DatasetTargetsAreTheReferenceSolutions) {
  Fixture f;
  const std::vector<int64_t> rows = {3, 0, 3};
  const auto t = f.writer(Trajectory::kDataset).write(0, rows, 0, nullptr);
  for (size_t b = 0; b < rows.size(); ++b) {
    auto expected = f.dataset[rows[b]].ids;
    const auto& response = f.dataset[rows[b]].response_ids;
    expected.insert(expected.end(), response.begin(), response.end());
    EXPECT_EQ(row_tokens(t.batch, static_cast<int64_t>(b)), expected);
  }
}

TEST(TrajectoryWriter, BadSourcesAreRefused) {
  Fixture f;
  TrajectorySources src;
  src.student = f.student;
  src.student_format = &f.format;
  src.teachers = &f.teachers;
  src.dataset = &f.dataset;
  src.teacher_of = {0, 0};
  testing::expect_error([&] { TrajectoryWriter w({}, src); }, {"2 row teachers for 4 dataset lines"});
  src.teacher_of = {0, 0, 0, 0};
  src.opsd = true;
  testing::expect_error([&] { TrajectoryWriter w({}, src); }, {"OPSD needs a refinement template"});
}

}  // namespace
}  // namespace opd::rollout
