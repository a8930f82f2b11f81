#include "opd/rollout/trajectory_writer.h"

#include "opd/core/seed_streams.h"
#include "opd/rollout/sequence_packing.h"

#include <c10/util/Exception.h>

#include <algorithm>

namespace opd::rollout {

TrajectoryWriter::TrajectoryWriter(TrajectorySettings settings, TrajectorySources sources)
    : settings_(std::move(settings)), sources_(std::move(sources)) {
  TORCH_CHECK(sources_.student && sources_.student_format && sources_.teachers && sources_.dataset,
              "TrajectoryWriter: the student, its format, the teachers and the dataset are required");
  TORCH_CHECK(static_cast<int64_t>(sources_.teacher_of.size()) == sources_.dataset->size(),
              "TrajectoryWriter: ", sources_.teacher_of.size(), " row teachers for ", sources_.dataset->size(),
              " dataset lines");
  TORCH_CHECK(!sources_.opsd || sources_.refinement, "TrajectoryWriter: OPSD needs a refinement template");
}

GenerationConfig TrajectoryWriter::student_generation(uint64_t seed, int64_t first_row) const {
  const auto& student = sources_.student->config();
  auto g = generation_settings(settings_.sampling, student, *sources_.student_format, seed, first_row);
  for (int64_t t = 0; t < sources_.teachers->size(); ++t) {
    g.vocab_limit =
        vocab_limit_for_scorer(g.vocab_limit, student.vocab_size, (*sources_.teachers)[t].model->config().vocab_size);
  }
  return g;
}

GenerationConfig TrajectoryWriter::teacher_generation(const Teacher& teacher, uint64_t seed,
                                                      int64_t first_row) const {
  const auto& model = teacher.model->config();
  auto g = generation_settings(settings_.sampling, model, teacher.format, seed, first_row);
  g.vocab_limit = vocab_limit_for_scorer(g.vocab_limit, model.vocab_size, sources_.student->config().vocab_size);
  return g;
}

Trajectories TrajectoryWriter::prompts_of(const std::vector<int64_t>& rows) const {
  Trajectories out;
  for (int64_t i : rows) {
    const auto& line = (*sources_.dataset)[i];
    out.teacher_prompts.push_back(line.teacher_prompt());
    out.teacher_reads_differently = out.teacher_reads_differently || !line.teacher_ids.empty();
    out.row_teacher.push_back(sources_.teacher_of.at(static_cast<size_t>(i)));
  }
  return out;
}

Trajectories TrajectoryWriter::write(int64_t step, const std::vector<int64_t>& rows, int64_t first_row,
                                     Metrics* metrics) {
  Trajectories out = prompts_of(rows);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i : rows) prompts.push_back((*sources_.dataset)[i].ids);
  sources_.student->eval();

  RolloutBatch& batch = out.batch;
  double generated = 0;
  switch (settings_.trajectory) {
    case Trajectory::kStudent:
      batch = settings_.prefix.max_length > 0
                  ? guided(step, prompts, out, first_row, metrics)
                  : generate(sources_.student, prompts,
                             student_generation(draw_seed(settings_.seed, SeedStream::kStudentRollout, step), first_row));
      generated = batch.response_lengths.sum().item<double>();
      break;
    case Trajectory::kTeacher: {  // SeqKD: the teacher's samples are the off-policy targets
      const uint64_t teacher_seed = draw_seed(settings_.seed, SeedStream::kTeacherRollout, step);
      const auto written = sources_.teachers->generate(out.teacher_prompts, out.row_teacher, [&](const Teacher& t) {
        return teacher_generation(t, teacher_seed, first_row);
      });
      generated = written.tokens();
      batch = pack_sequences(prompts, written.ids, TokenSource::kTeacherPrefix);
      break;
    }
    case Trajectory::kDataset: {
      std::vector<std::vector<int64_t>> responses;
      for (int64_t i : rows) responses.push_back((*sources_.dataset)[i].response_ids);
      batch = pack_sequences(prompts, responses, TokenSource::kTeacherPrefix);
      break;
    }
    case Trajectory::kRefined:
      batch = refined(step, prompts, rows, out, first_row, generated, metrics);
      break;
  }
  if (metrics) {
    metrics->set("response_length", batch.response_lengths.sum().item<double>() / double(batch.batch_size()));
    metrics->add_total("generated_tokens", generated);
  }
  return out;
}

RolloutBatch TrajectoryWriter::refined(int64_t step, const std::vector<std::vector<int64_t>>& prompts,
                                       const std::vector<int64_t>& rows, Trajectories& out, int64_t first_row,
                                       double& generated, Metrics* metrics) {
  const auto& refinement = sources_.refinement;
  const bool opsd = sources_.opsd;
  auto attempt = generate(sources_.student, prompts,
                          student_generation(draw_seed(settings_.seed, SeedStream::kStudentRollout, step), first_row));
  const auto attempts = response_ids(attempt);
  std::vector<std::vector<int64_t>> refinement_prompts;
  for (size_t b = 0; b < prompts.size(); ++b) {
    if (!refinement) {  // no template: the teacher's prompt + the attempt's ids
      refinement_prompts.push_back(out.teacher_prompts[b]);
      refinement_prompts.back().insert(refinement_prompts.back().end(), attempts[b].begin(), attempts[b].end());
      continue;
    }
    const auto& line = (*sources_.dataset)[rows[b]];
    auto messages = line.messages;
    auto& question = messages.back();
    const std::string attempt_text = sources_.student_format->tokenizer->decode(attempts[b], /*skip_special=*/true);
    const std::string problem = question.content;
    question.content = refinement->refinement_message(problem, attempt_text, opsd ? line.solution : "");
    const auto& format = (*sources_.teachers)[out.row_teacher[b]].format;
    refinement_prompts.push_back(format.prompt_ids(messages));
    if (opsd) {  // the teacher side reads the problem with the solution
      question.content = refinement->privileged_problem(problem, line.solution);
      out.teacher_prompts[b] = format.prompt_ids(messages);
      out.teacher_reads_differently = true;
    }
  }
  const uint64_t teacher_seed = draw_seed(settings_.seed, SeedStream::kTeacherRollout, step);
  const auto written = sources_.teachers->generate(refinement_prompts, out.row_teacher, [&](const Teacher& t) {
    return teacher_generation(t, teacher_seed, first_row);
  });
  const double attempted = attempt.response_lengths.sum().item<double>();
  generated = attempted + written.tokens();
  if (metrics) metrics->set("attempt_length", attempted / double(attempt.batch_size()));
  if (metrics && refinement && sources_.is_correct) {
    double checked = 0, attempts_right = 0, refined_right = 0;
    for (size_t b = 0; b < prompts.size(); ++b) {
      const auto& refiner = (*sources_.teachers)[out.row_teacher[b]].format;
      const auto attempt_right = sources_.is_correct(
          rows[b], sources_.student_format->tokenizer->decode(attempts[b], /*skip_special=*/true));
      if (!attempt_right) continue;
      checked += 1;
      attempts_right += *attempt_right ? 1 : 0;
      refined_right += *sources_.is_correct(rows[b], refiner.tokenizer->decode(written.ids[b], true)) ? 1 : 0;
    }
    metrics->add("attempt_pass_rate", attempts_right, checked);
    metrics->add("refined_pass_rate", refined_right, checked);
    metrics->add("refinement_gain", refined_right - attempts_right, checked);
  }
  return pack_parts(prompts, {{written.ids, TokenSource::kRefined, written.logprobs}});
}

RolloutBatch TrajectoryWriter::guided(int64_t step, const std::vector<std::vector<int64_t>>& prompts,
                                      const Trajectories& rows, int64_t first_row, Metrics* metrics) {
  const auto& schedule = settings_.prefix;
  const int64_t B = static_cast<int64_t>(prompts.size());
  // The global batch's lengths, this rank's slice of them.
  const auto global_lengths = schedule.lengths(step, B * settings_.world_size,
                                               draw_seed(settings_.seed, SeedStream::kPrefixLengths, step));
  const std::vector<int64_t> lengths(global_lengths.begin() + first_row, global_lengths.begin() + first_row + B);
  auto student = student_generation(draw_seed(settings_.seed, SeedStream::kStudentRollout, step), first_row);
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  if (metrics) metrics->set("prefix_cap", double(schedule.cap(step)));
  if (longest == 0) {
    if (metrics) metrics->set("prefix_length", 0.0);
    return generate(sources_.student, prompts, student);
  }
  // 1. Each row's teacher writes its prefix, behind its own prompt.
  const uint64_t prefix_seed = draw_seed(settings_.seed, SeedStream::kTeacherPrefix, step);
  const auto written = sources_.teachers->generate(rows.teacher_prompts, rows.row_teacher, [&](const Teacher& t) {
    auto g = teacher_generation(t, prefix_seed, first_row);
    g.max_new_tokens = longest;
    g.row_max_new_tokens = lengths;
    return g;
  });
  // 2. The student continues each row after the prefix, unless the teacher
  //    already ended it.
  std::vector<std::vector<int64_t>> continued(prompts);
  std::vector<int64_t> caps(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = written.ids[b];
    continued[b].insert(continued[b].end(), p.begin(), p.end());
    caps[b] = written.ended[b] ? 0 : settings_.sampling.max_new_tokens - static_cast<int64_t>(p.size());
  }
  student.row_max_new_tokens = caps;
  const auto continuation = generate(sources_.student, continued, student);
  if (metrics) metrics->set("prefix_length", written.tokens() / double(B));
  return pack_parts(prompts, {{written.ids, TokenSource::kTeacherPrefix, written.logprobs},
                              {response_ids(continuation), TokenSource::kStudent, response_logprobs(continuation)}});
}

}  // namespace opd::rollout
