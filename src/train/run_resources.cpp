#include "opd/train/run_resources.h"

#include "opd/eval/verifier.h"
#include "opd/model/device.h"
#include "opd/model/pretrained.h"
#include "opd/objectives/registry.h"
#include "opd/train/prompt_formats.h"

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <utility>

namespace opd::train {
namespace fs = std::filesystem;
namespace {

void freeze(model::CausalLM& model) {
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  model->eval();
}

bool accepts_key(ObjectiveKind kind, const std::string& key) {
  const auto& keys = objective_option_keys(kind);
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// top_k and support_k select among the student's vocabulary, in every term of a sum.
void check_k_fits(const ObjectiveConfig& c, const std::string& where, int64_t vocab) {
  if (accepts_key(c.kind, "top_k")) {
    TORCH_CHECK(c.top_k <= vocab, where, ".top_k = ", c.top_k, " exceeds the student's vocab_size of ", vocab);
  }
  if (accepts_key(c.kind, "support_k")) {
    TORCH_CHECK(c.support_k <= vocab, where, ".support_k = ", c.support_k, " exceeds the student's vocab_size of ",
                vocab);
  }
  for (size_t i = 0; i < c.terms.size(); ++i) {
    check_k_fits(c.terms[i].objective, where + ".terms[" + std::to_string(i) + "]", vocab);
  }
}

// The configured reference model and its YAML key: objective.reference, or
// the first term of a sum that sets one; an empty path when none does.
std::pair<std::string, std::string> configured_reference(const ObjectiveConfig& c) {
  if (!c.reference.empty()) return {c.reference, "objective.reference"};
  for (size_t i = 0; i < c.terms.size(); ++i) {
    const auto& path = c.terms[i].objective.reference;
    if (!path.empty()) return {path, "objective.terms[" + std::to_string(i) + "].reference"};
  }
  return {"", "objective.reference"};
}

// Loading in construction order; each step may check what the earlier ones loaded.
class Loader {
 public:
  Loader(const TrainConfig& config, const ObjectiveNeeds& needs, const std::string& objective, int64_t local_rank,
         RunResources& out)
      : c_(config), needs_(needs), objective_(objective), local_rank_(local_rank), out_(out) {}

  void load() {
    out_.student = load_model(c_.student, "student", local_rank_);
    out_.student_format = load_prompt_format(c_.student, c_.data, "student");
    warn_about_eos(out_.student->config().eos_token_ids, out_.student_format, "student", c_.student.path);
    load_refinement();
    load_teachers();
    check_vocabularies();
    load_dataset();
    if (!c_.data.eval_path.empty()) load_eval_set();
    if (needs_.reference_logprobs) load_reference();
  }

 private:
  // TRD's refinement prompt, and whether the refiner is the frozen student (OPSD).
  void load_refinement() {
    const auto& r = c_.rollout;
    if (needs_.trajectory != Trajectory::kRefined) return;
    if (!r.refinement_template.empty()) {
      try {
        out_.refinement = data::find_refinement_template(r.refinement_template);
      } catch (const std::exception& e) {
        TORCH_CHECK(false, "rollout.refinement_template: ", e.what());
      }
    }
    out_.opsd = r.refiner == Refiner::kStudent;
    TORCH_CHECK(!out_.opsd || out_.refinement, "rollout.refiner: student (OPSD) needs rollout.refinement_template, "
                "which puts the reference solution in the refiner's and the teacher side's context");
  }

  // The teacher and each domain's teacher with their formats
  // (prompt_formats.h), warning of each disagreement with the student's; in
  // OPSD the student's initial weights, frozen, in the student's format.
  void load_teachers() {
    if (out_.opsd) {
      // The student's initial weights, frozen, are the teacher and the refiner;
      // they read problems as the student does (plus the solution).
      rollout::Teacher t{"teacher", c_.student.path, load_model(c_.student, "student", local_rank_),
                         out_.student_format};
      freeze(t.model);
      out_.teachers.add(std::move(t));
      spdlog::info("OPSD: the teacher is the student's initial weights with the reference solution in context");
      return;
    }
    auto formats = load_teacher_formats(c_);
    const auto& student = out_.student->config();
    auto add = [&](const std::string& key, const ModelSpec& spec) {
      rollout::Teacher t{key, spec.path, load_model(spec, key, local_rank_), std::move(formats.at(key))};
      freeze(t.model);
      warn_about_eos(t.model->config().eos_token_ids, t.format, key, spec.path);
      const int64_t sv = student.vocab_size, tv = t.model->config().vocab_size;
      if (sv < tv) {
        spdlog::info("{} vocab_size {} > student vocab_size {}: its logits are cut to the student's vocabulary "
                     "(both must share a tokenizer)", key, tv, sv);
      } else if (sv > tv) {
        spdlog::warn("student vocab_size {} > {} vocab_size {}: both must share a tokenizer; the student's rollouts "
                     "draw only the first {} ids", sv, key, tv, tv);
      }
      for (const auto& d :
           format_disagreements(out_.student_format, student.eos_token_ids, t.format, t.model->config().eos_token_ids)) {
        spdlog::warn("student and {} tokenizers disagree: {}; the teacher's scores of the student's tokens may be "
                     "meaningless", key, d);
      }
      out_.teachers.add(std::move(t));
    };
    if (!c_.teacher.path.empty()) add("teacher", c_.teacher);
    for (const auto& [domain, spec] : c_.teachers) add("teachers." + domain, spec);
  }

  void check_vocabularies() const {
    const int64_t student_vocab = out_.student->config().vocab_size;
    // Qwen pads the vocabulary of larger models: a larger teacher is cut to the
    // student's vocabulary, but a smaller one cannot give a distribution over it.
    const bool needs_distribution = needs_.teacher_topk > 0 || needs_.teacher_logits;
    for (int64_t t = 0; t < out_.teachers.size(); ++t) {
      const int64_t teacher_vocab = out_.teachers[t].model->config().vocab_size;
      TORCH_CHECK(teacher_vocab >= student_vocab || !needs_distribution, "objective ", objective_, " needs the teacher's ",
                  needs_.teacher_logits ? "logits" : "top-k", " over the student's vocabulary, but ",
                  out_.teachers[t].key, "'s vocab_size ", teacher_vocab, " is smaller than the student's vocab_size ",
                  student_vocab);
    }
    check_k_fits(c_.objective, "objective", student_vocab);
  }

  // Every prompt must leave room for max_new_tokens in each model's
  // positions: found here, naming file:line, not when it is drawn hours in.
  void check_prompt_lengths() {
    int64_t positions = out_.student->config().max_position_embeddings;
    for (int64_t t = 0; t < out_.teachers.size(); ++t) {
      positions = std::min(positions, out_.teachers[t].model->config().max_position_embeddings);
    }
    fit_prompt_lengths(out_.dataset, positions, c_.rollout.max_new_tokens, "rollout.max_new_tokens");
  }

  // Refuses (or, with data.overlong_prompts: drop, leaves out) each prompt of
  // `set` longer than `positions` - `max_new` tokens; `max_new_key` names max_new.
  void fit_prompt_lengths(data::PromptDataset& set, int64_t positions, int64_t max_new,
                          const std::string& max_new_key) const {
    const int64_t room = positions - max_new;
    const auto& path = set.path();
    std::vector<data::Prompt> kept;
    int64_t first_dropped = 0;
    for (int64_t i = 0; i < set.size(); ++i) {
      const auto& p = set[i];
      const int64_t length = static_cast<int64_t>(std::max(p.ids.size(), p.teacher_prompt().size()));
      if (length <= room) {
        kept.push_back(p);
        continue;
      }
      TORCH_CHECK(c_.data.overlong_prompts == OverlongPrompts::kDrop, path, ":", p.line, ": the prompt has ", length,
                  " tokens, and ", max_new_key, " ", max_new, " leaves room for ", std::max<int64_t>(room, 0),
                  " in the models' ", positions, " positions (data.overlong_prompts: drop leaves such prompts out)");
      if (first_dropped == 0) first_dropped = p.line;
    }
    const int64_t dropped = set.size() - static_cast<int64_t>(kept.size());
    if (dropped == 0) return;
    TORCH_CHECK(!kept.empty(), path, ": every prompt is longer than the ", room, " tokens ", max_new_key, " ",
                max_new, " leaves in the models' ", positions, " positions");
    spdlog::warn("{}: left out {} of {} prompts longer than {} tokens (the first at line {}; data.overlong_prompts: drop)",
                 path, dropped, set.size(), room, first_dropped);
    set = data::PromptDataset::from_prompts(std::move(kept), path);
  }

  // data.eval: problems with answers, in the student's format, that fit its
  // positions with eval.max_new_tokens.
  void load_eval_set() {
    const auto& path = c_.data.eval_path;
    TORCH_CHECK(out_.student_format.tokenizer, "data.eval: answers are verified as text, and the student at '",
                c_.student.path, "' has no tokenizer.json or tokenizer.model");
    auto set = data::PromptDataset::from_file(path, &out_.student_format);
    TORCH_CHECK(set.size() > 0, "data.eval: '", path, "' holds no problems");
    set.check_vocab(out_.student->config().vocab_size, "student");
    for (const auto& p : set.prompts()) {
      TORCH_CHECK(!p.answer.empty(), path, ":", p.line, ": no 'answer' to verify against (data.eval)");
    }
    const int64_t max_new = c_.eval.max_new_tokens > 0 ? c_.eval.max_new_tokens : c_.rollout.max_new_tokens;
    fit_prompt_lengths(set, out_.student->config().max_position_embeddings, max_new,
                       c_.eval.max_new_tokens > 0 ? "eval.max_new_tokens" : "rollout.max_new_tokens");
    out_.eval_set = std::move(set);
  }

  // The prompts, each routed to its domain's teacher, checked against the
  // models' vocabularies and what the trajectory needs of every line.
  void load_dataset() {
    auto& teachers = out_.teachers;
    const auto teacher_formats = [&](const std::string& domain) -> const data::PromptFormat* {
      const int64_t t = teachers.index_of(teacher_key(c_, domain));
      return t < 0 ? nullptr : &teachers[t].format;
    };
    const auto& path = c_.data.train_path;
    out_.dataset = data::PromptDataset::from_file(path, &out_.student_format, teacher_formats);
    if (!out_.dataset.made_with().empty()) {  // an .h5 rendered by opd-prepare: in this recipe's formats?
      std::map<std::string, data::PromptFormat> formats;
      for (int64_t t = 0; t < teachers.size(); ++t) formats[teachers[t].key] = teachers[t].format;
      check_format_record(out_.dataset.made_with(), format_record(out_.student_format, formats), path);
    }
    int64_t vocab = out_.student->config().vocab_size;
    for (int64_t t = 0; t < teachers.size(); ++t) vocab = std::min(vocab, teachers[t].model->config().vocab_size);
    out_.dataset.check_vocab(vocab, teachers.size() > 1 ? "student/teachers" : "student/teacher");
    check_prompt_lengths();
    check_dataset_targets();
    for (int64_t i = 0; i < out_.dataset.size(); ++i) {
      const auto& p = out_.dataset[i];
      const int64_t t = teachers.index_of(teacher_key(c_, p.domain));
      TORCH_CHECK(t >= 0 || !needs_.uses_teacher(), path, ":", p.line, ": domain '", p.domain, "' has no teacher: add teachers.",
                  p.domain.empty() ? "<domain>" : p.domain, " or a default teacher (have: ", teachers.describe(), ")");
      out_.teacher_of.push_back(t);  // -1: no teacher, and the objective reads none
      if (!out_.refinement) continue;
      TORCH_CHECK(!p.messages.empty(), "rollout.refinement_template: needs text prompts, and ",
                  path, ":", p.line, " holds ids");
      TORCH_CHECK(!out_.opsd || !p.solution.empty(),
                  "rollout.refiner: student (OPSD) needs a 'solution' on every line; ", path, ":", p.line, " has none");
    }
  }

  void check_dataset_targets() const {
    if (needs_.trajectory != Trajectory::kDataset) return;
    const int64_t max_positions = out_.student->config().max_position_embeddings;
    for (int64_t i = 0; i < out_.dataset.size(); ++i) {
      const auto& p = out_.dataset[i];
      TORCH_CHECK(!p.response_ids.empty(), "objective.targets: dataset needs \"response_ids\" on every line of ",
                  c_.data.train_path, " (line ", p.line, " has none)");
      const int64_t length = static_cast<int64_t>(p.ids.size() + p.response_ids.size());
      TORCH_CHECK(length <= max_positions, c_.data.train_path, ":", p.line, ": prompt + response (", length,
                  " tokens) exceeds the student's max_position_embeddings ", max_positions);
    }
  }

  void load_reference() {
    auto [path, key] = configured_reference(c_.objective);
    // G-OPD's default reference is the student's initialisation: its weights
    // as loaded now, before any step.
    const bool student_init = path.empty();
    if (student_init) path = c_.student.path;
    TORCH_CHECK(fs::is_directory(path), key, ": no model directory at '", path, "'");
    const auto dtype = model::scalar_type(c_.student.dtype);
    const auto device = c_.reference_device.empty()
                            ? out_.student->device()
                            : model::resolve_device(c_.reference_device, local_rank_, "reference_device");
    model::check_dtype_runs_on(dtype, device, "student.dtype (the reference model's)");
    out_.reference = model::load_pretrained(path, model::LoadOptions{dtype, device});
    freeze(out_.reference);
    const int64_t student_vocab = out_.student->config().vocab_size;
    TORCH_CHECK(out_.reference->config().vocab_size >= student_vocab, key, ": the reference model at '", path,
                "' has vocab_size ", out_.reference->config().vocab_size, ", smaller than the student's ",
                student_vocab);
    spdlog::info("reference model: {}{}", path, student_init ? " (the student's initial weights)" : "");
  }

  const TrainConfig& c_;
  const ObjectiveNeeds& needs_;
  const std::string& objective_;
  int64_t local_rank_;
  RunResources& out_;
};

}  // namespace

model::CausalLM load_model(const ModelSpec& spec, const std::string& key, int64_t local_rank) {
  TORCH_CHECK(fs::is_directory(spec.path), key, ".path: no model directory at '", spec.path,
              "' (create one with opd-make-tiny, or point to an HF model directory)");
  const auto device = model::resolve_device(spec.device, local_rank, key + ".device");
  model::check_dtype_runs_on(model::scalar_type(spec.dtype), device, key + ".dtype");
  const double gb = double(model::weights_bytes(spec.path)) / 1e9;
  if (gb >= 0.25) spdlog::info("loading {} {} ({:.1f} GB, {}, {})", key, spec.path, gb, device.str(), config::choice_name(spec.dtype));
  return model::load_pretrained(spec.path, model::LoadOptions{model::scalar_type(spec.dtype), device});
}

RunResources load_run_resources(const TrainConfig& config, const ObjectiveNeeds& needs, const std::string& objective,
                                int64_t local_rank) {
  RunResources out;
  Loader(config, needs, objective, local_rank, out).load();
  return out;
}

rollout::TrajectoryWriter make_trajectory_writer(const TrainConfig& config, Trajectory trajectory,
                                                 RunResources& resources, int64_t world_size) {
  const auto& r = config.rollout;
  rollout::TrajectorySettings settings;
  settings.trajectory = trajectory;
  settings.sampling = {{r.temperature, r.top_k, r.top_p, r.min_p}, r.max_new_tokens};
  settings.prefix.max_length = r.teacher_prefix_length;
  settings.prefix.anneal_steps = r.teacher_prefix_anneal_steps > 0 ? r.teacher_prefix_anneal_steps : config.steps;
  settings.prefix.uniform = r.teacher_prefix_sampling == TeacherPrefixSampling::kUniform;
  settings.seed = config.seed;
  settings.world_size = world_size;
  rollout::TrajectorySources sources;
  sources.student = resources.student;
  sources.student_format = &resources.student_format;
  sources.teachers = &resources.teachers;
  sources.dataset = &resources.dataset;
  sources.teacher_of = resources.teacher_of;
  sources.refinement = resources.refinement;
  sources.opsd = resources.opsd;
  if (trajectory == Trajectory::kRefined) {
    std::shared_ptr<const eval::Verifier> verifier = eval::make_verifier(config::choice_name(config.eval.verifier));
    const data::PromptDataset* dataset = &resources.dataset;
    sources.is_correct = [verifier, dataset](int64_t row, const std::string& response) -> std::optional<bool> {
      const auto& answer = (*dataset)[row].answer;
      if (answer.empty()) return std::nullopt;
      return verifier->correct(response, answer);
    };
  }
  return rollout::TrajectoryWriter(settings, sources);
}

}  // namespace opd::train
