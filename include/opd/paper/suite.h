// A paper suite: one table or figure of a paper as data (configs/paper/*.yaml).
// It names the cast (synthetic tasks and tiny models built by SFT, or real HF
// model directories), a recipe every row shares, the rows (each a method: a
// recipe overlay), the seeds and the evaluation. opd-bench trains and
// evaluates every (row, seed) and tabulates them (suite_runner.h).
#pragma once

#include "opd/data/synthetic_tasks.h"
#include "opd/model/tiny_model.h"
#include "opd/train/train_config.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace opd::paper {

// Supervised fine-tuning on the tasks' worked solutions (objective sft,
// targets dataset).
struct SftStage {
  int64_t steps = 0;    // 0 = the member is its starting weights
  double lr = 3e-3;     // peak; cosine to a tenth after `warmup` linear steps
  int64_t warmup = 20;
  int64_t batch = 32;   // solutions per step
  std::string domain;   // train only on this domain's problems; "" = all
  // A refinement template (configs/refinement): train on each problem and
  // on it as a refinement prompt around a faulty attempt
  // (data/refinement_examples.h), so the member can refine for TRD. "" = off.
  std::string refinement;
};

// Rejection-sampling fine-tuning (paper/rejection_sampling.h): `rounds`
// times, sample `samples` responses to each of the first `prompts` training
// problems at `temperature`, keep the right ones, and fine-tune on them by
// `sft` (its steps, lr, warmup and batch; domain and refinement unused).
struct RftStage {
  int64_t rounds = 0;  // 0 = none
  int64_t prompts = 1000;
  int64_t samples = 4;
  double temperature = 1.0;
  SftStage sft;
};

// One model of the cast: `init` (a random tiny Qwen3-shaped model reading the
// character tokenizer: YAML keys layers, hidden, intermediate, heads,
// kv_heads, head_dim, seed) or `from` (an earlier member), then `sft`. Built
// into <shared_dir>/cast/<name>.
struct CastMember {
  std::string name;
  std::optional<model::TinyModelSpec> init;
  std::string from;
  SftStage sft;
  RftStage rft;  // instead of sft: the "RL-like" teacher of G-OPD
};

struct EvalSpec {
  int64_t k = 4;                       // samples per problem (avg@k)
  std::vector<int64_t> pass_at = {1};  // pass@j reported, each <= k
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t max_new_tokens = 64;
  int64_t batch = 64;
  int64_t limit = 0;                   // first N problems of each split; 0 = all
  std::string verifier = "math_boxed";
  // Benchmark name -> problems file (JSONL with answers). With synthetic
  // tasks, `test` (the held-out split) is added when no split is named.
  std::vector<std::pair<std::string, std::string>> splits;
};

// A table row: a method, as a recipe overlay (YAML text of a map merged over
// the suite's recipe: objective, rollout, teachers, ...).
struct SuiteRow {
  std::string name;
  std::string overlay_yaml;
  int line = 0;  // where the row sits in the suite file
};

// A model evaluated as it is (the student before training, the teacher).
struct Baseline {
  std::string name;
  std::string path;  // an HF directory, or cast:<member>
};

// A claim of the paper the suite reruns: row `better` scores higher than
// the row or baseline `than` on `score`, a column of the results table
// ("test/all avg@4", "test/arith pass@2"). claim_verdicts.h tests it.
struct Claim {
  std::string name;  // e.g. "TrOPD above OPD (TrOPD Table 1)"
  std::string better, than, score;
};

// What must hold before any claim counts: row `row` (OPD, which every method
// compared builds on) must train visibly: its gradient must be mostly signal
// at this batch (the norm of batch B's gradient predicted from the
// split-batch cosine at least `min_noise_ratio` of batch B/4's: pure noise
// gives 0.5), its `metric` falls by at least `min_drop` from the first to the
// last tenth of its steps, and it scores significantly above baseline
// `baseline` (the untrained student) on `score`. A suite with a gate logs
// every row's gradient noise (train.log_gradient_noise).
struct LearningGate {
  std::string row, baseline, score;
  std::string metric = "kl_k1";
  double min_drop = 0.3;
  double min_noise_ratio = 0.75;
};

// A paper's premise, measured on the suite's own runs; a claim counts only
// when every premise holds. Either a training metric of `row` (its last
// step, mean over seeds) lies in [min, max] (e.g. TrOPD's teacher top-k mass
// at 0.6-0.95: the top-k leaves 5-40 % of the mass out), or, with `of`,
// `row`'s mean `score` reaches the fraction `min` of baseline `of`'s (OPD at
// >= 90 % of the teacher).
struct Premise {
  std::string name;
  std::string row;
  std::string metric;     // a metrics.jsonl key; "" when `of` is given
  std::string of, score;  // baseline and results column for the fraction form
  double min = -1e300, max = 1e300;
};

struct Suite {
  std::string path;  // the suite file, for errors
  std::string name;
  std::string title;        // the table's heading, e.g. "TrOPD Table 1 (synthetic)"
  std::string out_dir;      // the suite's rows, baselines and tables land here
  // Where tasks/ and cast/ are built (default: out_dir). Suites naming the
  // same shared_dir with the same tasks and cast members reuse them; a member
  // built from a different definition is an error, not silently reused.
  std::string shared_dir;
  std::optional<data::SyntheticTaskSpec> tasks;  // synthetic tasks, written to <out_dir>/tasks
  std::string chat_template = "chatml";          // how cast models read prompts
  // The cast's tokenizer: 0 = one token per character (64 ids); else a
  // byte-level BPE of this many ids trained on the training problems
  // (tokenizer/bpe_trainer.h), which every `init` member reads.
  int64_t bpe_vocab = 0;
  std::vector<CastMember> cast;
  std::string recipe_yaml;  // the shared recipe (a TrainConfig map) as YAML text
  std::vector<SuiteRow> rows;
  std::vector<Baseline> baselines;
  std::vector<uint64_t> seeds = {0};
  EvalSpec eval;
  // Dotted recipe key whose value is each row's x in the sweep plot, e.g.
  // objective.lambda; "" = no sweep plot.
  std::string sweep;
  std::vector<std::string> curves = {"kl_k1"};  // metrics plotted over training steps
  std::vector<Claim> claims;
  std::optional<LearningGate> gate;
  std::vector<Premise> premises;
};

// Reads a suite file. Every key is checked; errors are one line naming the
// file, line and key. The recipe and each row are checked by building their
// TrainConfig (row_config) for the first seed, so a typo in a row fails here,
// before any training.
Suite load_suite(const std::string& path, const std::vector<std::string>& overrides = {});

// Paths the suite writes (tasks and cast under shared_dir).
std::string cast_dir(const Suite& suite, const std::string& member);
std::string tasks_file(const Suite& suite, const std::string& split);  // train, test, train.<domain>
std::string row_dir(const Suite& suite, const std::string& row, uint64_t seed);
// A row name as a directory name: lower case, [a-z0-9._-], others as '_'.
std::string row_slug(const std::string& row);

// Replaces "cast:<member>" with the member's directory and "tasks:<split>"
// with the tasks file; other strings are returned as they are.
std::string resolve_path(const Suite& suite, const std::string& value);

// The TrainConfig of (row, seed): the recipe, the row's overlay merged over
// it (maps key by key, anything else replaced), cast:/tasks: paths resolved,
// data.train defaulting to tasks:train, and run_dir/seed set. Throws as the
// config loader does, naming the suite, row and seed.
train::TrainConfig row_config(const Suite& suite, const SuiteRow& row, uint64_t seed);

// The value of a dotted key in (row, seed)'s resolved config, as YAML text
// ("" when the config has no such key).
std::string resolved_value(const train::TrainConfig& config, const std::string& dotted_key);

}  // namespace opd::paper
