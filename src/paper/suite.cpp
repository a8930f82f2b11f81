#include "opd/paper/suite.h"

#include "opd/core/join.h"
#include "opd/core/config_yaml.h"
#include "opd/core/text_file.h"
#include "opd/data/refinement_template.h"
#include "opd/tokenizer/char_tokenizer.h"
#include "opd/train/config_loader.h"
#include "opd/train/train_config_schema.h"

#include <c10/util/Exception.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

namespace opd::paper {
namespace {

// "suite.yaml:12: " for a node, "suite.yaml: " without a position.
std::string at(const std::string& file, const YAML::Node& node) {
  const auto mark = node.Mark();
  if (!mark.is_null() && mark.line >= 0) return file + ":" + std::to_string(mark.line + 1) + ": ";
  return file + ": ";
}

// A map node whose keys must come from `allowed`: the recipe reader's
// MapReader (unknown and duplicate keys, file:line or the --set in errors)
// with typed reads of the suite's own shapes.
class Reader {
 public:
  Reader(const config::Context& ctx, const YAML::Node& node, const std::string& path,
         std::vector<std::string> allowed)
      : map_(ctx, node, path, std::move(allowed)) {}
  bool has(const std::string& key) const {
    const auto v = map_.find(key);
    return v && !v->IsNull();
  }
  YAML::Node node(const std::string& key) const { return map_.find(key).value_or(YAML::Node()); }
  std::string dotted(const std::string& key) const { return map_.path(key); }

  template <typename T>
  T get(const std::string& key, T fallback) const {
    if (!has(key)) return fallback;
    const auto n = node(key);
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      TORCH_CHECK(false, map_.where(key, n), ": cannot read ", config::describe(n), " as ", type_name<T>());
    }
  }
  int64_t positive(const std::string& key, int64_t fallback) const {
    const auto v = get<int64_t>(key, fallback);
    TORCH_CHECK(v > 0, map_.where(key, node(key)), " must be > 0, got ", v);
    return v;
  }

 private:
  template <typename T>
  static const char* type_name() {
    if constexpr (std::is_same_v<T, std::string>) return "text";
    if constexpr (std::is_floating_point_v<T>) return "a number";
    if constexpr (std::is_integral_v<T>) return "an integer";
    return "the expected list";
  }
  config::MapReader map_;
};

// The char tokenizer's vocabulary (its alphabet + the ChatML specials) and
// <|endoftext|> as EOS are fixed; the shape is the suite's.
model::TinyModelSpec read_initial_model(const config::Context& ctx, const YAML::Node& node, const std::string& path) {
  const std::string& file = ctx.file();
  Reader r(ctx, node, path, {"layers", "hidden", "intermediate", "heads", "kv_heads", "head_dim", "seed"});
  const auto& alphabet = tokenizer::default_char_alphabet();
  model::TinyModelSpec s;
  s.vocab_size = static_cast<int64_t>(alphabet.size()) + 3;
  s.eos_token_id = static_cast<int64_t>(alphabet.size());
  s.max_position_embeddings = 1024;
  s.num_hidden_layers = r.positive("layers", s.num_hidden_layers);
  s.hidden_size = r.positive("hidden", s.hidden_size);
  s.intermediate_size = r.positive("intermediate", s.intermediate_size);
  s.num_attention_heads = r.positive("heads", s.num_attention_heads);
  s.num_key_value_heads = r.positive("kv_heads", s.num_key_value_heads);
  s.head_dim = r.positive("head_dim", s.head_dim);
  s.seed = r.get<uint64_t>("seed", s.seed);
  TORCH_CHECK(s.num_attention_heads % s.num_key_value_heads == 0, at(file, node), path, ": heads (",
              s.num_attention_heads, ") must be a multiple of kv_heads (", s.num_key_value_heads, ")");
  return s;
}

SftStage read_sft(const config::Context& ctx, const YAML::Node& node, const std::string& path) {
  const std::string& file = ctx.file();
  Reader r(ctx, node, path, {"steps", "lr", "warmup", "batch", "domain", "refinement"});
  SftStage s;
  s.steps = r.get<int64_t>("steps", s.steps);
  TORCH_CHECK(s.steps >= 0, at(file, node), path, ".steps must be >= 0, got ", s.steps);
  s.lr = r.get<double>("lr", s.lr);
  TORCH_CHECK(s.lr > 0, at(file, node), path, ".lr must be > 0, got ", s.lr);
  s.warmup = r.get<int64_t>("warmup", s.warmup);
  s.batch = r.positive("batch", s.batch);
  s.domain = r.get<std::string>("domain", "");
  s.refinement = r.get<std::string>("refinement", "");
  if (!s.refinement.empty()) {
    try {
      data::find_refinement_template(s.refinement);
    } catch (const c10::Error& e) {
      TORCH_CHECK(false, at(file, r.node("refinement")), path, ".refinement: ", e.what_without_backtrace());
    } catch (const std::exception& e) {
      TORCH_CHECK(false, at(file, r.node("refinement")), path, ".refinement: ", e.what());
    }
  }
  return s;
}

RftStage read_rft(const config::Context& ctx, const YAML::Node& node, const std::string& path) {
  const std::string& file = ctx.file();
  Reader r(ctx, node, path, {"rounds", "prompts", "samples", "temperature", "steps", "lr", "warmup", "batch"});
  RftStage s;
  s.rounds = r.positive("rounds", 2);
  s.prompts = r.positive("prompts", s.prompts);
  s.samples = r.positive("samples", s.samples);
  s.temperature = r.get<double>("temperature", s.temperature);
  TORCH_CHECK(s.temperature > 0, at(file, node), path, ".temperature must be > 0 (sampling), got ", s.temperature);
  s.sft.steps = r.positive("steps", 100);
  s.sft.lr = r.get<double>("lr", 5e-4);
  TORCH_CHECK(s.sft.lr > 0, at(file, node), path, ".lr must be > 0, got ", s.sft.lr);
  s.sft.warmup = r.get<int64_t>("warmup", 10);
  s.sft.batch = r.positive("batch", s.sft.batch);
  return s;
}

std::vector<CastMember> read_cast(const config::Context& ctx, const YAML::Node& node) {
  const std::string& file = ctx.file();
  TORCH_CHECK(node.IsSequence(), at(file, node), "cast must be a list of members");
  std::vector<CastMember> cast;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = "cast[" + std::to_string(i) + "]";
    Reader r(ctx, node[i], path, {"name", "init", "from", "sft", "rft"});
    CastMember m;
    m.name = r.get<std::string>("name", "");
    TORCH_CHECK(!m.name.empty() && row_slug(m.name) == m.name, at(file, node[i]), path,
                ".name must be a plain name ([a-z0-9._-]), got '", m.name, "'");
    for (const auto& earlier : cast) {
      TORCH_CHECK(earlier.name != m.name, at(file, node[i]), path, ": member '", m.name, "' is listed twice");
    }
    TORCH_CHECK(r.has("init") != r.has("from"), at(file, node[i]), path, ": give exactly one of init and from");
    if (r.has("init")) m.init = read_initial_model(ctx, r.node("init"), path + ".init");
    m.from = r.get<std::string>("from", "");
    if (!m.from.empty()) {
      const bool known = std::any_of(cast.begin(), cast.end(), [&](const CastMember& c) { return c.name == m.from; });
      TORCH_CHECK(known, at(file, r.node("from")), path, ".from: '", m.from, "' is not an earlier cast member");
    }
    if (r.has("sft")) m.sft = read_sft(ctx, r.node("sft"), path + ".sft");
    TORCH_CHECK(!(r.has("sft") && r.has("rft")), at(file, node[i]), path, ": give sft or rft, not both");
    if (r.has("rft")) m.rft = read_rft(ctx, r.node("rft"), path + ".rft");
    cast.push_back(m);
  }
  return cast;
}

data::SyntheticTaskSpec read_tasks(const config::Context& ctx, const YAML::Node& node) {
  const std::string& file = ctx.file();
  Reader r(ctx, node, "tasks", {"domains", "train", "test", "seed"});
  data::SyntheticTaskSpec t;
  t.domains = r.get<std::vector<std::string>>("domains", t.domains);
  for (const auto& d : t.domains) {
    const auto& known = data::synthetic_domains();
    TORCH_CHECK(std::find(known.begin(), known.end(), d) != known.end(), at(file, r.node("domains")),
                "tasks.domains: unknown domain '", d, "' (known: ", config::join(known), ")");
  }
  t.train_size = r.positive("train", t.train_size);
  t.test_size = r.positive("test", t.test_size);
  t.seed = r.get<uint64_t>("seed", t.seed);
  return t;
}

EvalSpec read_eval(const config::Context& ctx, const YAML::Node& node) {
  const std::string& file = ctx.file();
  Reader r(ctx, node, "eval",
           {"k", "pass_at", "temperature", "top_p", "max_new_tokens", "batch", "limit", "verifier", "splits"});
  EvalSpec e;
  e.k = r.positive("k", e.k);
  e.pass_at = r.get<std::vector<int64_t>>("pass_at", e.pass_at);
  for (auto j : e.pass_at) {
    TORCH_CHECK(j >= 1 && j <= e.k, at(file, r.node("pass_at")), "eval.pass_at: ", j, " is outside [1, k = ", e.k, "]");
  }
  // Sampling is checked as the recipe's rollout section declares it.
  const auto sampling = [&](const char* key, double value) {
    const config::Range range = train::schema_field(train::rollout_schema(), key).check.range;
    TORCH_CHECK(range.contains(value), at(file, node), "eval.", key, " must be ", range.describe(), ", got ", value);
    return value;
  };
  e.temperature = sampling("temperature", r.get<double>("temperature", e.temperature));
  e.top_p = sampling("top_p", r.get<double>("top_p", e.top_p));
  e.max_new_tokens = r.positive("max_new_tokens", e.max_new_tokens);
  e.batch = r.positive("batch", e.batch);
  e.limit = r.get<int64_t>("limit", e.limit);
  e.verifier = r.get<std::string>("verifier", e.verifier);
  if (r.has("splits")) {
    const auto splits = r.node("splits");
    TORCH_CHECK(splits.IsMap(), at(file, splits), "eval.splits must map benchmark names to problem files");
    for (const auto& kv : splits) e.splits.emplace_back(kv.first.as<std::string>(), kv.second.as<std::string>());
  }
  return e;
}

// `over` merged into a copy of `base`: maps key by key, anything else replaced.
YAML::Node merged(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    const auto key = kv.first.as<std::string>();
    out[key] = out[key].IsDefined() ? merged(out[key], kv.second) : YAML::Clone(kv.second);
  }
  return out;
}

// Every string scalar of `node` passed through resolve_path.
void resolve_strings(const Suite& suite, YAML::Node node) {
  if (node.IsMap()) {
    for (auto kv : node) resolve_strings(suite, kv.second);
  } else if (node.IsSequence()) {
    for (auto item : node) resolve_strings(suite, item);
  } else if (node.IsScalar()) {
    const auto resolved = resolve_path(suite, node.Scalar());
    if (resolved != node.Scalar()) node = resolved;
  }
}

}  // namespace

std::string row_slug(const std::string& row) {
  std::string out;
  for (char c : row) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '.' || l == '-' || l == '_';
    out += ok ? l : '_';
  }
  return out;
}

std::string cast_dir(const Suite& suite, const std::string& member) { return suite.shared_dir + "/cast/" + member; }

std::string tasks_file(const Suite& suite, const std::string& split) {
  return suite.shared_dir + "/tasks/" + split + ".jsonl";
}

std::string row_dir(const Suite& suite, const std::string& row, uint64_t seed) {
  return suite.out_dir + "/rows/" + row_slug(row) + "/seed" + std::to_string(seed);
}

std::string resolve_path(const Suite& suite, const std::string& value) {
  if (value.rfind("cast:", 0) == 0) {
    const auto name = value.substr(5);
    const bool known = std::any_of(suite.cast.begin(), suite.cast.end(), [&](const CastMember& c) { return c.name == name; });
    TORCH_CHECK(known, suite.path, ": '", value, "' names no cast member");
    return cast_dir(suite, name);
  }
  if (value.rfind("tasks:", 0) == 0) {
    TORCH_CHECK(suite.tasks, suite.path, ": '", value, "' needs a tasks: section");
    return tasks_file(suite, value.substr(6));
  }
  return value;
}

train::TrainConfig row_config(const Suite& suite, const SuiteRow& row, uint64_t seed) {
  YAML::Node recipe = YAML::Load(suite.recipe_yaml);
  if (!recipe.IsMap()) recipe = YAML::Node(YAML::NodeType::Map);
  YAML::Node node = merged(recipe, YAML::Load(row.overlay_yaml));
  if (suite.tasks && !node["data"]["train"].IsDefined()) node["data"]["train"] = "tasks:train";
  resolve_strings(suite, node);
  node["run_dir"] = row_dir(suite, row.name, seed);
  node["seed"] = seed;
  // The gate reads the gradient noise of its row; every row logs it, so that
  // a (row, seed) trains the same in every suite that gates.
  if (suite.gate && !node["log_gradient_noise"].IsDefined()) node["log_gradient_noise"] = true;
  const std::string where = suite.path + ":" + std::to_string(row.line) + ": row '" + row.name + "' seed " +
                            std::to_string(seed);
  try {
    return train::parse_train_config(YAML::Dump(node), where);
  } catch (const c10::Error& e) {
    // The loader points at a line of the merged recipe, which is in no file:
    // drop it, so the error names the row's line in the suite.
    std::string message = e.what_without_backtrace();
    if (message.rfind(where + ":", 0) == 0) {
      size_t end = where.size() + 1;
      while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
      if (end > where.size() + 1 && end < message.size() && message[end] == ':') message.erase(where.size(), end - where.size());
    }
    TORCH_CHECK(false, message);
  }
}

std::string resolved_value(const train::TrainConfig& config, const std::string& dotted_key) {
  YAML::Node node = YAML::Load(train::train_config_yaml(config));
  std::stringstream ss(dotted_key);
  for (std::string part; std::getline(ss, part, '.');) {
    if (!node.IsMap() || !node[part].IsDefined()) return "";
    node = node[part];
  }
  return node.IsScalar() ? node.Scalar() : YAML::Dump(node);
}

namespace {

// A results-table column a claim or gate compares on: "<split>/<domain>
// avg@k" or "... pass@j" with a split of eval and a j it reports (domains
// are known only once results exist).
void check_score_column(const std::string& where, const std::string& score, const Suite& s) {
  const auto slash = score.find('/'), space = score.rfind(' ');
  const bool shaped = slash != std::string::npos && space != std::string::npos && slash < space;
  TORCH_CHECK(shaped, where, ": expected a results column like 'test/all avg@", s.eval.k, "', got '", score, "'");
  const std::string split = score.substr(0, slash), stat = score.substr(space + 1);
  const bool known_split = std::any_of(s.eval.splits.begin(), s.eval.splits.end(),
                                       [&](const auto& named) { return named.first == split; });
  TORCH_CHECK(known_split, where, ": '", split, "' is not a split of eval");
  bool known_stat = stat == "avg@" + std::to_string(s.eval.k);
  for (auto j : s.eval.pass_at) known_stat = known_stat || stat == "pass@" + std::to_string(j);
  TORCH_CHECK(known_stat, where, ": '", stat, "' is not reported (eval gives avg@", s.eval.k, " and pass@ of pass_at)");
}

bool has_row(const Suite& s, const std::string& name) {
  return std::any_of(s.rows.begin(), s.rows.end(), [&](const SuiteRow& r) { return r.name == name; });
}

bool has_baseline(const Suite& s, const std::string& name) {
  return std::any_of(s.baselines.begin(), s.baselines.end(), [&](const Baseline& b) { return b.name == name; });
}

std::vector<Claim> read_claims(const config::Context& ctx, const YAML::Node& node, const Suite& s) {
  const std::string& file = ctx.file();
  TORCH_CHECK(node.IsSequence(), at(file, node), "claims must be a list of {name, better, than, score}");
  std::vector<Claim> claims;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = "claims[" + std::to_string(i) + "]";
    Reader r(ctx, node[i], path, {"name", "better", "than", "score"});
    Claim c{r.get<std::string>("name", ""), r.get<std::string>("better", ""), r.get<std::string>("than", ""),
            r.get<std::string>("score", "")};
    const std::string where = at(file, node[i]) + path;
    TORCH_CHECK(!c.name.empty(), where, ": needs a name");
    TORCH_CHECK(has_row(s, c.better), where, ".better: no row named '", c.better, "'");
    TORCH_CHECK(has_row(s, c.than) || has_baseline(s, c.than), where, ".than: no row or baseline named '", c.than, "'");
    TORCH_CHECK(c.better != c.than, where, ": better and than are the same row");
    check_score_column(where + ".score", c.score, s);
    claims.push_back(c);
  }
  return claims;
}

LearningGate read_gate(const config::Context& ctx, const YAML::Node& node, const Suite& s) {
  const std::string where = at(ctx.file(), node) + "gate";
  Reader r(ctx, node, "gate", {"row", "baseline", "score", "metric", "min_drop", "min_noise_ratio"});
  LearningGate g;
  g.row = r.get<std::string>("row", "");
  g.baseline = r.get<std::string>("baseline", "");
  g.score = r.get<std::string>("score", "");
  g.metric = r.get<std::string>("metric", g.metric);
  g.min_drop = r.get<double>("min_drop", g.min_drop);
  g.min_noise_ratio = r.get<double>("min_noise_ratio", g.min_noise_ratio);
  TORCH_CHECK(has_row(s, g.row), where, ".row: no row named '", g.row, "'");
  TORCH_CHECK(has_baseline(s, g.baseline), where, ".baseline: no baseline named '", g.baseline, "'");
  check_score_column(where + ".score", g.score, s);
  TORCH_CHECK(g.min_drop > 0 && g.min_drop < 1, where, ".min_drop must lie in (0, 1), got ", g.min_drop);
  TORCH_CHECK(g.min_noise_ratio > 0.5 && g.min_noise_ratio < 1, where,
              ".min_noise_ratio must lie in (0.5, 1) (0.5: pure noise, 1: no noise), got ", g.min_noise_ratio);
  return g;
}

std::vector<Premise> read_premises(const config::Context& ctx, const YAML::Node& node, const Suite& s) {
  const std::string& file = ctx.file();
  TORCH_CHECK(node.IsSequence(), at(file, node), "premises must be a list of {name, row, metric | of + score, min, max}");
  std::vector<Premise> premises;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = "premises[" + std::to_string(i) + "]";
    const std::string where = at(file, node[i]) + path;
    Reader r(ctx, node[i], path, {"name", "row", "metric", "of", "score", "min", "max"});
    Premise p;
    p.name = r.get<std::string>("name", "");
    p.row = r.get<std::string>("row", "");
    p.metric = r.get<std::string>("metric", "");
    p.of = r.get<std::string>("of", "");
    p.score = r.get<std::string>("score", "");
    p.min = r.get<double>("min", p.min);
    p.max = r.get<double>("max", p.max);
    TORCH_CHECK(!p.name.empty(), where, ": needs a name");
    TORCH_CHECK(has_row(s, p.row), where, ".row: no row named '", p.row, "'");
    TORCH_CHECK(p.metric.empty() != p.of.empty(), where, ": give a metric, or of (a baseline) with a score");
    if (!p.of.empty()) {
      TORCH_CHECK(has_baseline(s, p.of), where, ".of: no baseline named '", p.of, "'");
      check_score_column(where + ".score", p.score, s);
      TORCH_CHECK(r.has("min"), where, ": give min, the fraction of '", p.of, "' to reach");
    } else {
      TORCH_CHECK(p.score.empty(), where, ": score goes with of, not with metric");
      TORCH_CHECK(r.has("min") || r.has("max"), where, ": give min, max or both");
    }
    TORCH_CHECK(p.min <= p.max, where, ": min ", p.min, " is above max ", p.max);
    premises.push_back(p);
  }
  return premises;
}

}  // namespace

Suite load_suite(const std::string& path, const std::vector<std::string>& overrides) {
  const std::string text = read_text_file(path);
  YAML::Node root = config::load_document(text, path);
  // Suite keys are checked where they are read (any depth: recipe.optim.lr).
  config::Context ctx(path, "the suite");
  const auto any_key = [](const std::vector<std::string>&, const std::string&) {};
  const auto no_listed_keys = [](const std::string&) { return std::vector<std::string>{}; };
  for (const auto& o : overrides) config::apply_override(root, o, ctx, any_key, no_listed_keys);
  Reader r(ctx, root, "",
           {"name", "title", "out_dir", "shared_dir", "tasks", "chat_template", "bpe_vocab", "cast", "recipe", "rows", "baselines", "seeds",
            "eval", "sweep", "curves", "claims", "gate", "premises"});
  Suite s;
  s.path = path;
  s.name = r.get<std::string>("name", "");
  TORCH_CHECK(!s.name.empty(), path, ": name is required");
  s.title = r.get<std::string>("title", s.name);
  s.out_dir = r.get<std::string>("out_dir", "runs/paper/" + row_slug(s.name));
  s.shared_dir = r.get<std::string>("shared_dir", s.out_dir);
  if (r.has("tasks")) s.tasks = read_tasks(ctx, r.node("tasks"));
  s.chat_template = r.get<std::string>("chat_template", s.chat_template);
  if (r.has("cast")) s.cast = read_cast(ctx, r.node("cast"));
  TORCH_CHECK(s.cast.empty() || s.tasks, path, ": a cast is trained on synthetic tasks; add a tasks: section");
  s.bpe_vocab = r.get<int64_t>("bpe_vocab", 0);
  if (s.bpe_vocab != 0) {
    const auto chars = static_cast<int64_t>(tokenizer::default_char_alphabet().size()) + 3;
    TORCH_CHECK(s.bpe_vocab > chars, at(path, r.node("bpe_vocab")), "bpe_vocab must be above the ", chars,
                " ids of the character tokenizer (0 keeps it), got ", s.bpe_vocab);
    TORCH_CHECK(s.tasks, at(path, r.node("bpe_vocab")), "bpe_vocab trains on the synthetic tasks; add a tasks: section");
    for (auto& m : s.cast) {
      if (!m.init) continue;
      m.init->vocab_size = s.bpe_vocab;
      m.init->eos_token_id = s.bpe_vocab - 3;  // <|endoftext|>, after the merged tokens
    }
  }
  for (const auto& m : s.cast) {
    if (m.sft.steps > 0 && !m.sft.domain.empty()) {
      const auto& d = s.tasks->domains;
      TORCH_CHECK(std::find(d.begin(), d.end(), m.sft.domain) != d.end(), path, ": cast member '", m.name,
                  "': sft.domain '", m.sft.domain, "' is not in tasks.domains");
    }
  }
  if (r.has("recipe")) {
    TORCH_CHECK(r.node("recipe").IsMap(), at(path, r.node("recipe")), "recipe must be a map (a training recipe)");
    s.recipe_yaml = YAML::Dump(r.node("recipe"));
  }
  s.seeds = r.get<std::vector<uint64_t>>("seeds", s.seeds);
  TORCH_CHECK(!s.seeds.empty(), path, ": seeds must list at least one seed");
  if (r.has("eval")) s.eval = read_eval(ctx, r.node("eval"));
  if (s.eval.splits.empty() && s.tasks) s.eval.splits.emplace_back("test", "tasks:test");
  TORCH_CHECK(!s.eval.splits.empty(), path, ": eval.splits must name at least one benchmark file");
  for (auto& [name, file] : s.eval.splits) file = resolve_path(s, file);
  s.sweep = r.get<std::string>("sweep", "");
  s.curves = r.get<std::vector<std::string>>("curves", s.curves);
  if (r.has("baselines")) {
    const auto node = r.node("baselines");
    TORCH_CHECK(node.IsSequence(), at(path, node), "baselines must be a list of {name, path}");
    for (size_t i = 0; i < node.size(); ++i) {
      Reader b(ctx, node[i], "baselines[" + std::to_string(i) + "]", {"name", "path"});
      Baseline base{b.get<std::string>("name", ""), b.get<std::string>("path", "")};
      TORCH_CHECK(!base.name.empty() && !base.path.empty(), at(path, node[i]), "baselines[", i,
                  "] needs a name and a path");
      base.path = resolve_path(s, base.path);
      s.baselines.push_back(base);
    }
  }
  TORCH_CHECK(r.has("rows"), path, ": rows is required (the methods to compare)");
  const auto rows = r.node("rows");
  TORCH_CHECK(rows.IsSequence() && rows.size() > 0, at(path, rows), "rows must be a non-empty list");
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto node = rows[i];
    TORCH_CHECK(node.IsMap() && node["name"].IsDefined(), at(path, node), "rows[", i, "] needs a name");
    SuiteRow row;
    row.name = node["name"].as<std::string>();
    row.line = node.Mark().line + 1;
    for (const auto& other : s.rows) {
      TORCH_CHECK(row_slug(other.name) != row_slug(row.name), at(path, node), "rows[", i, "]: '", row.name,
                  "' has the same directory name as row '", other.name, "'");
    }
    YAML::Node overlay = YAML::Clone(node);
    overlay.remove("name");
    row.overlay_yaml = YAML::Dump(overlay);
    row_config(s, row, s.seeds.front());  // checks the row now, before anything trains
    s.rows.push_back(row);
  }
  if (r.has("claims")) s.claims = read_claims(ctx, r.node("claims"), s);
  if (r.has("gate")) {
    s.gate = read_gate(ctx, r.node("gate"), s);
    for (const auto& row : s.rows) {
      TORCH_CHECK(row_config(s, row, s.seeds.front()).data.prompts_per_step >= 2, path, ":", row.line, ": row '",
                  row.name, "': the gate measures gradient noise between two halves of a step's prompts, so "
                  "data.prompts_per_step must be at least 2");
    }
  }
  if (r.has("premises")) s.premises = read_premises(ctx, r.node("premises"), s);
  return s;
}

}  // namespace opd::paper
