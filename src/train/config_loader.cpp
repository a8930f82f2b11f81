#include "opd/train/config_loader.h"

#include "opd/core/config_yaml.h"
#include "opd/core/join.h"
#include "opd/core/text_file.h"
#include "opd/objectives/registry.h"
#include "opd/train/train_config_schema.h"

#include <c10/util/Exception.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <utility>

namespace opd::train {
namespace {

using config::Context;
using config::MapReader;

// The recipe's shape: the schemas' keys. Sections are exactly one level deep
// (but for `objective.terms`, a list of objective maps, and `teachers`, a map
// of models); everything else at the top level is a scalar. Both the file
// and `--set` keys are checked against these lists, and MapReader refuses to
// read a key not listed here, so the accepted keys cannot drift from the
// ones converted.

// The `objective` section: name, normalization, then every objective's
// options in first-seen order; which of them a given objective accepts is
// checked once its name is known (read_objective).
std::vector<std::string> objective_keys() {
  std::vector<std::string> keys = {"name", "normalization"};
  for (const auto& spec : opd::objective_specs()) {
    for (const auto& k : spec.options) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  }
  return keys;
}

const std::vector<std::pair<std::string, std::vector<std::string>>>& sections() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> list = {
      {"student", config::keys_of(model_spec_schema())},
      {"teacher", config::keys_of(model_spec_schema())},
      {"data", config::keys_of(data_schema())},
      {"rollout", config::keys_of(rollout_schema())},
      {"eval", config::keys_of(eval_schema())},
      {"lora", config::keys_of(lora_schema())},
      {"objective", objective_keys()},
      {"optim", config::keys_of(optim_schema())},
  };
  return list;
}

// `teachers` maps prompt domains (free names) to models, e.g.
// {math: {path: ...}, code: {path: ...}}.
const char* const kTeachers = "teachers";
const std::vector<std::string> kAnyDomain = {"<domain>"};

const std::vector<std::string>& top_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = config::keys_of(train_schema());
    for (const auto& s : sections()) k.push_back(s.first);
    k.push_back(kTeachers);
    return k;
  }();
  return keys;
}

const std::vector<std::string>* section_keys(const std::string& name) {
  for (const auto& s : sections()) {
    if (s.first == name) return &s.second;
  }
  return nullptr;
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

MapReader section(const MapReader& top, const std::string& key) {
  auto v = top.find(key);
  return MapReader(top.context(), v ? *v : YAML::Node(), top.path(key), *section_keys(key));
}

ModelSpec read_model(const MapReader& m, const ModelSpec& defaults) {
  ModelSpec s = defaults;
  m.read_fields(model_spec_schema(), s);
  return s;
}

std::map<std::string, ModelSpec> read_teachers(const Context& ctx, const MapReader& top, const ModelSpec& d) {
  std::map<std::string, ModelSpec> teachers;
  const auto node = top.find(kTeachers);
  if (!node || node->IsNull()) return teachers;
  TORCH_CHECK(node->IsMap(), top.where(kTeachers, *node),
              " must be a map from a prompt domain to a model (e.g. math: {path: /models/math-teacher}), got ",
              config::describe(*node));
  for (const auto& kv : *node) {
    TORCH_CHECK(kv.first.IsScalar() && !kv.first.Scalar().empty(), ctx.at(kTeachers, kv.first.Mark()),
                "teachers: keys must be domain names, got ", config::describe(kv.first));
    const std::string domain = kv.first.Scalar();
    const std::string path = std::string(kTeachers) + "." + domain;
    TORCH_CHECK(!teachers.count(domain), ctx.at(path, kv.first.Mark()), config::printable(path),
                ": duplicate domain");
    teachers[domain] = read_model(MapReader(ctx, kv.second, path, *section_keys("teacher")), d);
  }
  return teachers;
}

// The keys of one `objective.terms` entry: those of the section plus `weight`.
const std::vector<std::string>& term_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = {"weight"};
    const std::vector<std::string>& section = *section_keys("objective");
    k.insert(k.end(), section.begin(), section.end());
    return k;
  }();
  return keys;
}

std::vector<WeightedObjective> read_terms(const Context& ctx, const MapReader& m);

// One objective map: the `objective` section, or (`term`) one entry of its
// `terms`, where `name` is required, `sum` is refused and `normalization`
// belongs to the section. `name` is read first: it picks the defaults
// (default_objective_config) and the option fields the map may hold
// (objective_schema), which are then read and checked as declared.
ObjectiveConfig read_objective(const Context& ctx, const MapReader& m, const std::string& path, bool term) {
  ObjectiveKind kind = ObjectiveConfig{}.kind;
  if (auto v = term ? std::optional<YAML::Node>(m.required("name")) : m.find("name")) {
    const std::string w = m.where("name", *v);
    kind = opd::objective_kind_from_name(config::read_string(*v, w), w);
    TORCH_CHECK(!term || kind != ObjectiveKind::kSum, w, ": a sum cannot nest a sum");
  }
  const std::vector<std::string>& options = opd::objective_option_keys(kind);
  for (const auto& key : m.keys()) {
    if (key == "name" || (term && key == "weight")) continue;
    TORCH_CHECK(!term || key != "normalization", m.key_where(key),
                ": not an option of a term (one normalization for the whole objective; set "
                "objective.normalization)");
    TORCH_CHECK(key == "normalization" || contains(options, key), m.key_where(key),
                ": not an option of ", opd::objective_name(kind), " (its options: ", config::join(options), ")");
  }

  ObjectiveConfig c = opd::default_objective_config(kind);
  m.read_fields(opd::objective_schema(kind), c);
  if (kind == ObjectiveKind::kSum) c.terms = read_terms(ctx, m);
  if (auto bad = opd::objective_rule_violation(c, path)) {
    const std::string key = bad->first.substr(0, bad->first.find_first_of(".["));
    const auto v = m.find(key);
    TORCH_CHECK(false, v ? m.where(key, *v) : ctx.file() + ": " + m.path(key),
                bad->first.substr(key.size()), bad->second);
  }
  return c;
}

// `terms` of a sum: a non-empty list of objective maps, each with a `weight`.
std::vector<WeightedObjective> read_terms(const Context& ctx, const MapReader& m) {
  const YAML::Node list = m.required("terms");
  TORCH_CHECK(list.IsSequence() && list.size() > 0, m.where("terms", list),
              " must be a non-empty list of objectives ([{weight: 1.0, name: opd}, ...]), got ",
              config::describe(list));
  std::vector<WeightedObjective> terms;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = m.path("terms") + "[" + std::to_string(i) + "]";
    const MapReader t(ctx, list[i], path, term_keys());
    WeightedObjective w;
    w.objective = read_objective(ctx, t, path, /*term=*/true);
    w.weight = std::get<double>(t.read("weight", config::ValueType::kNumber, config::above(0), {}, w.weight));
    terms.push_back(std::move(w));
  }
  return terms;
}

TrainConfig convert(const YAML::Node& root, const Context& ctx) {
  const TrainConfig d;
  TrainConfig c;
  const MapReader top(ctx, root, "", top_keys());
  top.read_fields(train_schema(), c);

  c.student = read_model(section(top, "student"), d.student);
  // OPSD (rollout.refiner: student) needs no teacher: the frozen student is
  // one. With `teachers`, `teacher` is the optional default for other domains.
  const auto refiner = section(top, "rollout").find("refiner");
  const bool opsd = refiner && refiner->IsScalar() && refiner->Scalar() == config::choice_name(Refiner::kStudent);
  c.teachers = read_teachers(ctx, top, d.teacher);
  TORCH_CHECK(!opsd || c.teachers.empty(), top.key_where(kTeachers),
              ": rollout.refiner: student (OPSD) has one teacher, the frozen student; remove teachers");
  const bool teacher_named = top.find("teacher").has_value();
  if (teacher_named) {
    c.teacher = read_model(section(top, "teacher"), d.teacher);
  } else if (opsd) {
    c.teacher = c.student;
  }

  section(top, "eval").read_fields(eval_schema(), c.eval);
  section(top, "lora").read_fields(lora_schema(), c.lora);
  const MapReader data = section(top, "data");
  data.read_fields(data_schema(), c.data);
  // Each rollout of a step is held whole (tokens, scores, masks): refuse a
  // step no machine holds, before anything is allocated for it.
  constexpr int64_t kMaxRowsPerStep = int64_t{1} << 24;
  TORCH_CHECK(c.data.prompts_per_step <= kMaxRowsPerStep / c.data.samples_per_prompt,
              data.key_where(c.data.prompts_per_step > kMaxRowsPerStep ? "prompts_per_step" : "samples_per_prompt"),
              ": data.prompts_per_step x data.samples_per_prompt = ", c.data.prompts_per_step, " x ",
              c.data.samples_per_prompt, " rollouts per step; at most ", kMaxRowsPerStep, " (2^24) are supported");
  const MapReader rollout = section(top, "rollout");
  rollout.read_fields(rollout_schema(), c.rollout);
  if (c.rollout.teacher_prefix_length > c.rollout.max_new_tokens) {
    TORCH_CHECK(false, rollout.key_where("teacher_prefix_length"), " = ", c.rollout.teacher_prefix_length,
                " exceeds rollout.max_new_tokens = ", c.rollout.max_new_tokens);
  }
  c.objective = read_objective(ctx, section(top, "objective"), "objective", /*term=*/false);
  // Without `teacher` or `teachers`, only an objective that reads no
  // teacher (sft on the dataset's solutions) runs; for the others the
  // missing teacher is reported as the missing key it is.
  if (!teacher_named && !opsd && c.teachers.empty() && make_objective(c.objective)->needs().uses_teacher()) {
    c.teacher = read_model(section(top, "teacher"), d.teacher);
  }
  section(top, "optim").read_fields(optim_schema(), c.optim);
  return c;
}

// Refuses a `--set` key the schema lacks, as a typo in the file would be.
void check_override_key(const std::vector<std::string>& parts, const std::string& at) {
  TORCH_CHECK(contains(top_keys(), parts[0]), at, config::printable(parts[0]),
              ": unknown key (allowed: ", config::join(top_keys()), ")");
  std::string key;
  for (const auto& p : parts) key = config::join_path(key, p);
  if (parts.size() == 1) return;
  const std::string two = parts[0] + "." + parts[1];
  if (parts[0] == kTeachers) {  // teachers.<domain>={path: ...}
    TORCH_CHECK(parts.size() == 2, at, config::printable(key), ": unknown key (set a whole teacher: ", two,
                "={path: ...})");
    return;
  }
  const std::vector<std::string>* sub = section_keys(parts[0]);
  TORCH_CHECK(sub != nullptr, at, config::printable(key), ": unknown key (", parts[0], " is not a map)");
  TORCH_CHECK(contains(*sub, parts[1]), at, config::printable(two), ": unknown key (allowed: ", config::join(*sub),
              ")");
  TORCH_CHECK(parts.size() == 2, at, config::printable(key), ": unknown key (", two, " is not a map)");
}

std::vector<std::string> override_map_keys(const std::string& path) {
  if (path.empty()) return top_keys();
  if (path == kTeachers) return kAnyDomain;
  const auto* keys = section_keys(path);
  return keys ? *keys : std::vector<std::string>{};
}

// Writes one objective map: `weight` for a term, name, normalization for the
// section, then every option key of the objective with its value.
void emit_objective(YAML::Emitter& out, const ObjectiveConfig& o, const double* term_weight) {
  out << YAML::BeginMap;
  if (term_weight != nullptr) config::emit_value(out, "weight", config::ValueType::kNumber, *term_weight);
  out << YAML::Key << "name" << YAML::Value << opd::objective_name(o.kind);
  for (const auto& f : opd::objective_schema(o.kind)) {
    if (term_weight == nullptr || f.key != "normalization") config::emit_value(out, f.key, f.type, f.get(o));
  }
  if (o.kind == ObjectiveKind::kSum) {
    out << YAML::Key << "terms" << YAML::Value << YAML::BeginSeq;
    for (const auto& t : o.terms) emit_objective(out, t.objective, &t.weight);
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

// `key: {fields}`; a free name (a teacher's domain) is quoted so that it reads back as a string.
template <typename S>
void emit_section(YAML::Emitter& out, const std::string& key, const config::Schema<S>& schema, const S& s,
                  bool free_name = false) {
  out << YAML::Key;
  if (free_name) out << YAML::DoubleQuoted;
  out << key << YAML::Value << YAML::BeginMap;
  config::emit_fields(out, schema, s);
  out << YAML::EndMap;
}

}  // namespace

TrainConfig parse_train_config(const std::string& yaml_text, const std::string& where,
                               const std::vector<std::string>& overrides) {
  Context ctx(where);
  YAML::Node root = config::load_document(yaml_text, where);
  for (const auto& o : overrides) config::apply_override(root, o, ctx, check_override_key, override_map_keys);
  return convert(root, ctx);
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  TORCH_CHECK(!std::filesystem::is_directory(path, ec), "cannot read recipe ", path,
              ": is a directory");
  return parse_train_config(read_text_file(path), path, overrides);
}

std::string train_config_yaml(const TrainConfig& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  config::emit_fields(out, train_schema(), c);
  emit_section(out, "student", model_spec_schema(), c.student);
  if (!c.teacher.path.empty()) emit_section(out, "teacher", model_spec_schema(), c.teacher);
  if (!c.teachers.empty()) {
    out << YAML::Key << kTeachers << YAML::Value << YAML::BeginMap;
    for (const auto& [domain, spec] : c.teachers) emit_section(out, domain, model_spec_schema(), spec, /*free_name=*/true);
    out << YAML::EndMap;
  }
  emit_section(out, "data", data_schema(), c.data);
  emit_section(out, "rollout", rollout_schema(), c.rollout);
  emit_section(out, "eval", eval_schema(), c.eval);
  emit_section(out, "lora", lora_schema(), c.lora);
  out << YAML::Key << "objective" << YAML::Value;
  emit_objective(out, c.objective, /*term_weight=*/nullptr);
  emit_section(out, "optim", optim_schema(), c.optim);
  out << YAML::EndMap;
  TORCH_INTERNAL_ASSERT(out.good(), "config_loader: YAML emitter failed: ", out.GetLastError());
  return std::string("# Resolved training config: every field, defaults included.\n") +
         out.c_str() + "\n";
}

}  // namespace opd::train
