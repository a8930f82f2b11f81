#include "opd/paper/cast_builder.h"

#include "opd/core/atomic_file.h"
#include "opd/core/text_file.h"
#include "opd/data/refinement_examples.h"
#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/paper/rejection_sampling.h"
#include "opd/tokenizer/bpe_trainer.h"
#include "opd/train/checkpoint.h"
#include "opd/train/trainer.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <stdexcept>

namespace opd::paper {
namespace fs = std::filesystem;
namespace {

bool built(const std::string& dir) { return fs::exists(fs::path(dir) / "config.json"); }

constexpr const char* kFingerprintFile = "opd_cast.json";

nlohmann::json tasks_fingerprint(const data::SyntheticTaskSpec& t) {
  return {{"domains", t.domains}, {"train", t.train_size}, {"test", t.test_size}, {"seed", t.seed}};
}

// Everything a member's weights follow from: the tasks, the prompt format,
// its start (recursively) and its sft stage.
nlohmann::json member_fingerprint(const Suite& suite, const CastMember& m) {
  nlohmann::json j{{"tasks", tasks_fingerprint(*suite.tasks)}, {"chat_template", suite.chat_template}};
  if (suite.bpe_vocab > 0) j["bpe_vocab"] = suite.bpe_vocab;  // absent for characters, as casts built before it
  if (m.init) {
    const auto& i = *m.init;
    j["init"] = {{"layers", i.num_hidden_layers}, {"hidden", i.hidden_size}, {"intermediate", i.intermediate_size},
                 {"heads", i.num_attention_heads}, {"kv_heads", i.num_key_value_heads}, {"head_dim", i.head_dim},
                 {"seed", i.seed}};
  } else {
    for (const auto& other : suite.cast) {
      if (other.name == m.from) j["from"] = member_fingerprint(suite, other);
    }
  }
  j["sft"] = {{"steps", m.sft.steps}, {"lr", m.sft.lr}, {"warmup", m.sft.warmup}, {"batch", m.sft.batch},
              {"domain", m.sft.domain}};
  if (m.rft.rounds > 0) {
    const auto& r = m.rft;
    j["rft"] = {{"rounds", r.rounds}, {"prompts", r.prompts}, {"samples", r.samples}, {"temperature", r.temperature},
                {"steps", r.sft.steps}, {"lr", r.sft.lr}, {"warmup", r.sft.warmup}, {"batch", r.sft.batch}};
  }
  if (!m.sft.refinement.empty()) {  // the template's text, so editing it rebuilds the member
    const auto t = data::find_refinement_template(m.sft.refinement);
    j["sft"]["refinement"] = {{"prompt", t.prompt}, {"privileged", t.privileged}};
  }
  return j;
}

// Whether `dir` holds `what` built from `fingerprint`; throws when it holds
// one built from something else.
bool built_from(const std::string& dir, const nlohmann::json& fingerprint, const std::string& what) {
  const auto file = fs::path(dir) / kFingerprintFile;
  if (!fs::exists(file)) return false;
  const auto stored = nlohmann::json::parse(read_text_file(file.string()), nullptr, false);
  TORCH_CHECK(stored == fingerprint, what, " in ", dir, " was built from a different definition than this suite's; "
              "use another shared_dir (or out_dir), or delete it to rebuild");
  return true;
}

void write_fingerprint(const std::string& dir, const nlohmann::json& fingerprint) {
  write_file_atomically((fs::path(dir) / kFingerprintFile).string(), fingerprint.dump(1) + "\n");
}

// The tokenizer.json every `init` member reads: characters, or with
// bpe_vocab a BPE trained on the training problems' prompts and solutions.
std::string cast_tokenizer_json(const Suite& suite) {
  if (suite.bpe_vocab == 0) return tokenizer::char_tokenizer_json();
  std::vector<std::string> texts;
  for (const auto& p : data::make_synthetic_splits(*suite.tasks).train) {
    texts.push_back(p.prompt);
    texts.push_back(p.solution);
  }
  try {
    return tokenizer::train_bpe(texts, suite.bpe_vocab).tokenizer_json;
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(suite.path + ": bpe_vocab: " + e.what());
  }
}

// The member's random initial model with the cast's tokenizer, in `dir`.
void write_initial_model(const model::TinyModelSpec& spec, const std::string& tokenizer_json, const std::string& dir) {
  auto model = model::make_tiny_model(spec);
  model::save_pretrained(model, dir);
  write_file_atomically(dir + "/tokenizer.json", tokenizer_json);
}

// The problems a member's sft trains on.
std::string problems_file(const Suite& suite, const CastMember& m) {
  return tasks_file(suite, m.sft.domain.empty() ? "train" : "train." + m.sft.domain);
}

// With sft.refinement, those problems and their refinement examples, written
// beside the member's directory.
std::string refinement_file(const Suite& suite, const CastMember& m) { return cast_dir(suite, m.name) + ".refine.jsonl"; }

std::string sft_data(const Suite& suite, const CastMember& m) {
  return m.sft.refinement.empty() ? problems_file(suite, m) : refinement_file(suite, m);
}

void write_refinement_file(const Suite& suite, const CastMember& m) {
  std::vector<data::SyntheticProblem> problems;  // problems_file's, drawn again
  for (auto& p : data::make_synthetic_splits(*suite.tasks).train) {
    if (m.sft.domain.empty() || p.domain == m.sft.domain) problems.push_back(std::move(p));
  }
  const auto refinement = data::find_refinement_template(m.sft.refinement);
  data::write_synthetic_jsonl(data::with_refinement_examples(problems, refinement, suite.tasks->seed),
                              refinement_file(suite, m));
}

// An sft run of `stage` from the model in `start` on the problems in
// `train_path`, in `run_dir`.
train::TrainConfig sft_config(const Suite& suite, const SftStage& stage, const std::string& start,
                              const std::string& run_dir, const std::string& train_path) {
  train::TrainConfig c;
  c.run_dir = run_dir;
  c.seed = 0;
  c.steps = stage.steps;
  c.micro_batch_size = stage.batch;
  c.log_every = std::max<int64_t>(1, stage.steps / 5);
  c.keep_checkpoints = 1;
  c.student.path = start;
  c.student.dtype = model::ComputeDtype::kFloat32;
  c.student.chat_template = suite.chat_template;
  c.teacher = c.student;  // sft on dataset solutions reads no teacher; the trainer still loads one
  c.data.train_path = train_path;
  c.data.prompts_per_step = stage.batch;
  c.data.samples_per_prompt = 1;
  c.rollout.max_new_tokens = suite.eval.max_new_tokens;
  c.objective = default_objective_config(ObjectiveKind::kSft);
  c.objective.sft_targets = SftTargets::kDataset;
  c.optim.lr = stage.lr;
  c.optim.warmup_steps = std::min(stage.warmup, stage.steps);
  c.optim.schedule = train::LrSchedule::kCosine;
  c.optim.min_lr_ratio = 0.1;
  return c;
}

// Whether the sft run `sft` stopped before its end resumes: it has a
// checkpoint and trains this same definition.
std::string resumable_checkpoint(const train::TrainConfig& sft, const nlohmann::json& fingerprint,
                                 const std::string& what) {
  if (!fs::exists(fs::path(sft.run_dir) / kFingerprintFile)) return "";
  const auto checkpoint = train::latest_checkpoint(sft.run_dir);
  return !checkpoint.empty() && built_from(sft.run_dir, fingerprint, "the sft run of " + what) ? checkpoint : "";
}

// Runs `sft` (from `checkpoint` when given) and moves its final weights, with
// `fingerprint`, to `into`. False when a stop request ended it: checkpointed,
// and the next call resumes it.
bool run_sft(const train::TrainConfig& sft, const std::string& checkpoint, const nlohmann::json& fingerprint,
             const std::string& into, const std::string& what) {
  if (checkpoint.empty()) {
    fs::remove_all(sft.run_dir);
    fs::create_directories(sft.run_dir);
    write_fingerprint(sft.run_dir, fingerprint);
  }
  train::Trainer trainer(sft);
  if (!checkpoint.empty()) trainer.resume(checkpoint);
  if (trainer.run().stopped) {
    spdlog::warn("opd-bench: {} stopped during its sft; rerun to finish it", what);
    return false;
  }
  write_fingerprint(sft.run_dir + "/final", fingerprint);
  fs::remove_all(into);
  fs::rename(sft.run_dir + "/final", into);
  return true;
}

// Rejection-sampling fine-tuning (suite.h's RftStage): each round samples
// from the last round's model, keeps the right responses and fine-tunes on
// them into <member>.rft-<round>; the last round becomes the member, with
// rft_rounds.json (each round's sampled, right and kept responses). A round
// built before is kept; a round's sft a stop interrupted resumes.
bool build_by_rejection_sampling(const Suite& suite, const CastMember& m, const std::string& start,
                                 const nlohmann::json& fingerprint) {
  const std::string target = cast_dir(suite, m.name);
  const std::string problems_path = tasks_file(suite, "train");
  auto problems = data::make_synthetic_splits(*suite.tasks).train;  // problems_path's lines, drawn again
  problems.resize(std::min<size_t>(problems.size(), static_cast<size_t>(m.rft.prompts)));
  nlohmann::json rounds = nlohmann::json::array();
  std::string current = start;
  for (int64_t round = 0; round < m.rft.rounds; ++round) {
    const std::string dir = target + ".rft-" + std::to_string(round);
    const std::string what = "cast member '" + m.name + "' (rft round " + std::to_string(round) + ")";
    auto round_fingerprint = fingerprint;
    round_fingerprint["rft_round"] = round;
    const std::string data_path = dir + ".jsonl";
    const auto sft = sft_config(suite, m.rft.sft, current, dir + ".sft", data_path);
    if (!built_from(dir, round_fingerprint, what)) {
      const std::string checkpoint = resumable_checkpoint(sft, round_fingerprint, what);
      if (checkpoint.empty()) {
        const auto s = sample_right_solutions(suite, current, problems_path, problems, m.rft.samples,
                                              m.rft.temperature, static_cast<uint64_t>(round));
        TORCH_CHECK(!s.kept.empty(), suite.path, ": ", what, ": none of the ", s.sampled,
                    " sampled responses was right, so there is nothing to fine-tune on");
        spdlog::info("opd-bench: {}: {} of {} sampled responses right, {} distinct kept", what, s.right, s.sampled,
                     s.kept.size());
        data::write_synthetic_jsonl(s.kept, data_path);
        write_file_atomically(dir + ".json", nlohmann::json{{"round", round}, {"sampled", s.sampled},
                                                            {"right", s.right}, {"kept", s.kept.size()}}
                                                 .dump() + "\n");
      }
      if (!run_sft(sft, checkpoint, round_fingerprint, dir, what)) return false;
    }
    rounds.push_back(nlohmann::json::parse(read_text_file(dir + ".json")));
    current = dir;
  }
  fs::rename(current, target);  // a stop before the fingerprint below leaves the member unbuilt
  write_file_atomically(target + "/rft_rounds.json", rounds.dump(1) + "\n");
  write_fingerprint(target, fingerprint);
  for (int64_t round = 0; round < m.rft.rounds; ++round) fs::remove_all(target + ".rft-" + std::to_string(round));
  if (m.init) fs::remove_all(start);
  return true;
}

}  // namespace

void write_tasks(const Suite& suite) {
  if (!suite.tasks) return;
  const std::string dir = suite.shared_dir + "/tasks";
  const auto fingerprint = tasks_fingerprint(*suite.tasks);
  if (built_from(dir, fingerprint, "the synthetic tasks")) return;
  const auto splits = data::make_synthetic_splits(*suite.tasks);
  for (const auto& d : suite.tasks->domains) {
    std::vector<data::SyntheticProblem> mine;
    std::copy_if(splits.train.begin(), splits.train.end(), std::back_inserter(mine),
                 [&](const data::SyntheticProblem& p) { return p.domain == d; });
    data::write_synthetic_jsonl(mine, tasks_file(suite, "train." + d));
  }
  data::write_synthetic_jsonl(splits.test, tasks_file(suite, "test"));
  data::write_synthetic_jsonl(splits.train, tasks_file(suite, "train"));
  write_fingerprint(dir, fingerprint);  // last: the tasks are complete
  spdlog::info("opd-bench: wrote {} training and {} test problems to {}", splits.train.size(), splits.test.size(), dir);
}

CastBuild build_cast(const Suite& suite) {
  write_tasks(suite);
  CastBuild build;
  std::optional<std::string> tokenizer_json;
  for (const auto& m : suite.cast) {
    const std::string target = cast_dir(suite, m.name);
    const auto fingerprint = member_fingerprint(suite, m);
    const std::string what = "cast member '" + m.name + "'";
    if (built_from(target, fingerprint, what)) continue;
    spdlog::info("opd-bench: building {}", what);
    const std::string start = m.init ? target + ".init" : cast_dir(suite, m.from);
    const auto config = m.sft.steps > 0 ? std::optional(sft_config(suite, m.sft, start, target + ".sft", sft_data(suite, m)))
                                        : std::nullopt;
    // An sft stage a stop interrupted resumes from its checkpoint, when it
    // trains this same definition (and, for an `init` member, from the same
    // initial model, which is kept until the member is built).
    const std::string checkpoint = config ? resumable_checkpoint(*config, fingerprint, what) : "";
    if (m.init && checkpoint.empty()) {
      fs::remove_all(start);
      if (!tokenizer_json) tokenizer_json = cast_tokenizer_json(suite);  // trained once for the whole cast
      write_initial_model(*m.init, *tokenizer_json, start);
    }
    TORCH_CHECK(built(start), suite.path, ": cast member '", m.name, "' starts from '", start, "', which is not built");
    fs::remove_all(target);
    if (m.rft.rounds > 0) {
      if (!build_by_rejection_sampling(suite, m, start, fingerprint)) {
        build.stopped = true;
        return build;
      }
    } else if (!config) {
      if (m.init) {
        write_fingerprint(start, fingerprint);
        fs::rename(start, target);
      } else {
        fs::remove_all(target + ".tmp");
        fs::copy(start, target + ".tmp", fs::copy_options::recursive);
        write_fingerprint(target + ".tmp", fingerprint);
        fs::rename(target + ".tmp", target);
      }
    } else {
      if (!m.sft.refinement.empty()) write_refinement_file(suite, m);
      if (!run_sft(*config, checkpoint, fingerprint, target, what)) {
        build.stopped = true;
        return build;
      }
      if (m.init) fs::remove_all(start);
    }
    ++build.built;
  }
  return build;
}

}  // namespace opd::paper
