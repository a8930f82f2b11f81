#include "opd/train/config_loader.h"

#include "opd/core/join.h"
#include "opd/core/text_file.h"

#include <c10/util/Exception.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

namespace opd::train {
namespace {

// The recipe's shape. Sections are exactly one level deep (but for
// `objective.terms`, a list of objective maps); everything else at the top
// level is a scalar. Both the file and `--set` keys are checked against these
// lists, and MapReader refuses to read a key not listed here, so the accepted
// keys cannot drift from the ones converted.
const std::vector<std::string> kTopScalars = {"run_dir",         "seed",           "steps",
                                              "micro_batch_size", "log_every",      "save_every",
                                              "keep_checkpoints", "max_skipped_steps", "dist_timeout_s",
                                              "dist_bucket_mb",   "activation_checkpointing"};
// The `objective` section: name, normalization, then every objective's
// options (objective_option_keys) in first-seen order; which of them a given
// objective accepts is checked once its name is known (read_objective).
std::vector<std::string> objective_keys() {
  std::vector<std::string> keys = {"name", "normalization"};
  for (const auto& name : opd::objective_names()) {
    for (const auto& k : opd::objective_option_keys(opd::objective_kind_from_name(name, name))) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  }
  return keys;
}

const std::vector<std::string> kModelKeys = {"path", "dtype", "chat_template"};
const std::vector<std::pair<std::string, std::vector<std::string>>> kSections = {
    {"student", kModelKeys},
    {"teacher", kModelKeys},
    {"data", {"train", "prompts_per_step", "samples_per_prompt", "shuffle", "system_prompt", "enable_thinking"}},
    {"rollout", {"max_new_tokens", "temperature", "top_k", "top_p", "min_p", "teacher_prefix_length",
                 "teacher_prefix_anneal_steps", "teacher_prefix_sampling", "refinement_template", "refiner"}},
    {"lora", {"rank", "alpha", "dropout", "targets"}},
    {"objective", objective_keys()},
    {"optim",
     {"lr", "weight_decay", "betas", "eps", "grad_clip", "warmup_steps", "schedule",
      "min_lr_ratio", "zero_stage"}},
};
const std::vector<std::string> kDtypes = {"float32", "bfloat16", "float16"};
// `teachers` maps prompt domains (free names) to models, e.g.
// {math: {path: ...}, code: {path: ...}}.
const char* const kTeachers = "teachers";
const std::vector<std::string> kAnyDomain = {"<domain>"};

const std::vector<std::string>& top_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = kTopScalars;
    for (const auto& s : kSections) k.push_back(s.first);
    k.push_back(kTeachers);
    return k;
  }();
  return keys;
}

const std::vector<std::string>* section_keys(const std::string& name) {
  for (const auto& s : kSections) {
    if (s.first == name) return &s.second;
  }
  return nullptr;
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// Keeps error messages on one line and of bounded length.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  if (out.size() > 80) out = out.substr(0, 77) + "...";
  return out;
}

// What a node is, for "got ..." in errors: the scalar text quoted, else its kind.
std::string describe(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  switch (node.Type()) {
    case YAML::NodeType::Null: return "null (an empty value)";
    case YAML::NodeType::Scalar: return "'" + printable(node.Scalar()) + "'";
    case YAML::NodeType::Sequence:
      return "a list of " + std::to_string(node.size()) + (node.size() == 1 ? " item" : " items");
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "nothing";
}

// Where errors point: the file, then the `--set` that put the value there or
// else the line the value sits on.
class Context {
 public:
  explicit Context(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  // Remembers that `key` (dotted) was set by the override `text`.
  void record_override(const std::string& key, const std::string& text) {
    overrides_.emplace_back(key, text);
  }

  // "file:12: " or "file: --set optim.lr=x: " or "file: ", for the value at
  // dotted `path` whose node (or key) sits at `mark`.
  std::string at(const std::string& path, const YAML::Mark& mark) const {
    for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it) {
      const std::string& k = it->first;
      const bool under = path.size() > k.size() && path.compare(0, k.size(), k) == 0 &&
                         (path[k.size()] == '.' || path[k.size()] == '[');
      if (path == k || under) return file_ + ": --set " + printable(it->second) + ": ";
    }
    if (!mark.is_null() && mark.line >= 0) return file_ + ":" + std::to_string(mark.line + 1) + ": ";
    return file_ + ": ";
  }

 private:
  std::string file_;
  std::vector<std::pair<std::string, std::string>> overrides_;  // (dotted key, "--set" text)
};

// Strict decimal integer: optional sign, digits. No floats, no hex.
std::optional<int64_t> parse_int64(const std::string& s, bool* out_of_range) {
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t j = i; j < s.size(); ++j) {
    if (s[j] < '0' || s[j] > '9') return std::nullopt;
  }
  const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
  int64_t v = 0;
  auto r = std::from_chars(begin, s.data() + s.size(), v);
  if (r.ec == std::errc::result_out_of_range) {
    *out_of_range = true;
    return std::nullopt;
  }
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Strict decimal non-negative integer up to 2^64 - 1.
std::optional<uint64_t> parse_uint64(const std::string& s, bool* out_of_range) {
  const size_t skip = (!s.empty() && s[0] == '+') ? 1 : 0;
  if (skip == s.size()) return std::nullopt;
  for (size_t j = skip; j < s.size(); ++j) {
    if (s[j] < '0' || s[j] > '9') return std::nullopt;
  }
  uint64_t v = 0;
  auto r = std::from_chars(s.data() + skip, s.data() + s.size(), v);
  if (r.ec == std::errc::result_out_of_range) {
    *out_of_range = true;
    return std::nullopt;
  }
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Decimal number as YAML writes it (`3`, `-0.5`, `3e-4`, `1.0e-8`, `.5`);
// nothing else strtod would take (hex, inf, nan).
std::optional<double> parse_number(const std::string& s, bool* out_of_range) {
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
  double v = 0;
  auto r = std::from_chars(begin, s.data() + s.size(), v);
  if (r.ec == std::errc::result_out_of_range || (r.ec == std::errc() && !std::isfinite(v))) {
    *out_of_range = true;
    return std::nullopt;
  }
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// An interval of allowed numbers, and how to say it in an error.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;

  bool contains(double x) const {
    const bool above = lo_open ? x > lo : x >= lo;
    const bool below = hi_open ? x < hi : x <= hi;
    return above && below;
  }
  std::string describe() const {
    std::ostringstream s;
    if (std::isinf(hi)) {
      s << (lo_open ? "> " : ">= ") << lo;
    } else {
      s << "in " << (lo_open ? "(" : "[") << lo << ", " << hi << (hi_open ? ")" : "]");
    }
    return s.str();
  }
};
Range at_least(double lo) { return Range{lo, std::numeric_limits<double>::infinity(), false, false}; }
Range above(double lo) { return Range{lo, std::numeric_limits<double>::infinity(), true, false}; }
Range between(double lo, bool lo_open, double hi, bool hi_open) {
  return Range{lo, hi, lo_open, hi_open};
}

// A map, or nothing / null (read as empty); else the error a user sees for it.
void check_map(const Context& ctx, const YAML::Node& node, const std::string& path,
               const std::vector<std::string>& keys) {
  if (!node.IsDefined() || node.IsNull() || node.IsMap()) return;
  TORCH_CHECK(false, ctx.at(path, node.Mark()), path.empty() ? std::string("the recipe") : path,
              " must be a map (keys: ", join(keys), "), got ", describe(node));
}

const char* schedule_name(LrSchedule s) {
  switch (s) {
    case LrSchedule::kConstant: return "constant";
    case LrSchedule::kCosine: return "cosine";
  }
  TORCH_INTERNAL_ASSERT(false, "unknown LrSchedule");
}

LrSchedule schedule_from_name(const std::string& name) {
  for (LrSchedule s : {LrSchedule::kConstant, LrSchedule::kCosine}) {
    if (name == schedule_name(s)) return s;
  }
  TORCH_INTERNAL_ASSERT(false, "unchecked schedule ", name);
}

// Typed reads of scalar nodes; `where` is Context::at(...) + the dotted path.
bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

const char* quoted_note(const YAML::Node& node) {
  return is_quoted(node) ? " (quoted, so a string)" : "";
}

int64_t read_int(const YAML::Node& node, const std::string& where) {
  bool out_of_range = false;
  std::optional<int64_t> v;
  if (node.IsScalar() && !is_quoted(node)) v = parse_int64(node.Scalar(), &out_of_range);
  TORCH_CHECK(v.has_value(), where, " must be an integer, got ", describe(node),
              out_of_range ? " (out of range)" : quoted_note(node));
  return *v;
}

double read_number(const YAML::Node& node, const std::string& where) {
  bool out_of_range = false;
  std::optional<double> v;
  if (node.IsScalar() && !is_quoted(node)) v = parse_number(node.Scalar(), &out_of_range);
  TORCH_CHECK(v.has_value(), where, " must be a number, got ", describe(node),
              out_of_range ? " (out of range)" : quoted_note(node));
  return *v;
}

bool read_bool(const YAML::Node& node, const std::string& where) {
  if (node.IsScalar() && !is_quoted(node)) {
    const std::string& s = node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  TORCH_CHECK(false, where, " must be true or false, got ", describe(node), quoted_note(node));
}

std::string read_string(const YAML::Node& node, const std::string& where) {
  TORCH_CHECK(node.IsScalar(), where, " must be a string, got ", describe(node));
  return node.Scalar();
}

// One YAML map (the top level, a section or one of a sum's terms): checks its
// keys on construction and reads typed values with defaults. A missing or null
// node reads as empty.
class MapReader {
 public:
  MapReader(const Context& ctx, const YAML::Node& node, std::string path,
            const std::vector<std::string>& allowed)
      : ctx_(ctx), path_(std::move(path)), allowed_(allowed) {
    if (node.IsDefined()) mark_ = node.Mark();
    check_map(ctx_, node, path_, allowed_);
    if (!node.IsDefined() || node.IsNull()) return;
    for (const auto& kv : node) {
      const YAML::Node& key = kv.first;
      TORCH_CHECK(key.IsScalar(), ctx_.at(path_, key.Mark()),
                  path_.empty() ? std::string("the recipe") : path_,
                  ": keys must be names, got ", describe(key));
      const std::string name = key.Scalar();
      const std::string full = join_path(path_, name);
      TORCH_CHECK(contains(allowed_, name), ctx_.at(full, key.Mark()), printable(full),
                  ": unknown key (allowed: ", join(allowed_), ")");
      auto found = entries_.find(name);
      TORCH_CHECK(found == entries_.end(), ctx_.at(full, key.Mark()), full,
                  ": duplicate key (first at line ", found->second.first.Mark().line + 1, ")");
      entries_.emplace(name, std::make_pair(key, kv.second));
      order_.push_back(name);
    }
  }

  std::string path(const std::string& key) const { return join_path(path_, key); }

  // The keys present, in file order.
  const std::vector<std::string>& keys() const { return order_; }

  // Error prefix plus dotted path for a present `key`, at the key itself.
  std::string key_where(const std::string& key) const {
    return ctx_.at(path(key), entries_.at(key).first.Mark()) + path(key);
  }

  // The value under `key`; throws "<path>: missing required key" without it.
  YAML::Node required(const std::string& key) const {
    auto v = find(key);
    TORCH_CHECK(v.has_value(), ctx_.at(path(key), mark_), path(key), ": missing required key");
    return *v;
  }

  // The value under `key`, if present.
  std::optional<YAML::Node> find(const std::string& key) const {
    TORCH_INTERNAL_ASSERT(contains(allowed_, key), "config_loader reads unlisted key ", path(key));
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second.second;
  }

  // Error prefix plus dotted path for the value under `key`.
  std::string where(const std::string& key, const YAML::Node& value) const {
    return ctx_.at(path(key), value.Mark()) + path(key);
  }

  MapReader section(const std::string& key) const {
    const std::vector<std::string>* keys = section_keys(key);
    TORCH_INTERNAL_ASSERT(keys != nullptr && path_.empty(), "not a section: ", path(key));
    auto v = find(key);
    return MapReader(ctx_, v ? *v : YAML::Node(), path(key), *keys);
  }

  int64_t integer(const std::string& key, int64_t fallback, int64_t min) const {
    auto v = find(key);
    if (!v) return fallback;
    const int64_t x = read_int(*v, where(key, *v));
    TORCH_CHECK(x >= min, where(key, *v), " must be >= ", min, ", got ", x);
    return x;
  }

  uint64_t unsigned_integer(const std::string& key, uint64_t fallback) const {
    auto v = find(key);
    if (!v) return fallback;
    const std::string w = where(key, *v);
    bool out_of_range = false;
    if (v->IsScalar() && !is_quoted(*v)) {
      if (auto x = parse_uint64(v->Scalar(), &out_of_range)) return *x;
      bool ignored = false;
      const auto as_signed = parse_int64(v->Scalar(), &ignored);
      TORCH_CHECK(!as_signed.has_value(), w, " must be >= 0, got ", v->Scalar());
    }
    TORCH_CHECK(false, w, " must be a non-negative integer, got ", describe(*v),
                out_of_range ? " (out of range)" : quoted_note(*v));
  }

  double number(const std::string& key, double fallback, const Range& range) const {
    auto v = find(key);
    if (!v) return fallback;
    const double x = read_number(*v, where(key, *v));
    TORCH_CHECK(range.contains(x), where(key, *v), " must be ", range.describe(), ", got ",
                v->Scalar());
    return x;
  }

  bool boolean(const std::string& key, bool fallback) const {
    auto v = find(key);
    return v ? read_bool(*v, where(key, *v)) : fallback;
  }

  // A string that must not be empty; `fallback` nullopt makes the key required.
  std::string nonempty_string(const std::string& key,
                              const std::optional<std::string>& fallback) const {
    if (fallback.has_value() && !find(key)) return *fallback;
    const YAML::Node v = required(key);
    std::string s = read_string(v, where(key, v));
    TORCH_CHECK(!s.empty(), where(key, v), " must be a non-empty string, got ''");
    return s;
  }

  // Any string, empty included.
  std::string text(const std::string& key, const std::string& fallback) const {
    auto v = find(key);
    return v ? read_string(*v, where(key, *v)) : fallback;
  }

  // A string from a fixed list of names.
  std::string choice(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& allowed) const {
    auto v = find(key);
    if (!v) return fallback;
    const std::string w = where(key, *v);
    TORCH_CHECK(v->IsScalar() && contains(allowed, v->Scalar()), w, " must be one of: ",
                join(allowed), "; got ", describe(*v));
    return v->Scalar();
  }

 private:
  const Context& ctx_;
  std::string path_;
  const std::vector<std::string>& allowed_;
  YAML::Mark mark_ = YAML::Mark::null_mark();
  std::map<std::string, std::pair<YAML::Node, YAML::Node>> entries_;  // name -> (key, value)
  std::vector<std::string> order_;  // the names in entries_, in file order
};

ModelSpec read_model(const MapReader& m, const ModelSpec& d) {
  ModelSpec s;
  s.path = m.nonempty_string("path", std::nullopt);
  s.dtype = m.choice("dtype", d.dtype, kDtypes);
  s.chat_template = m.text("chat_template", d.chat_template);
  return s;
}

std::map<std::string, ModelSpec> read_teachers(const Context& ctx, const MapReader& top, const ModelSpec& d) {
  std::map<std::string, ModelSpec> teachers;
  const auto node = top.find(kTeachers);
  if (!node || node->IsNull()) return teachers;
  TORCH_CHECK(node->IsMap(), top.where(kTeachers, *node),
              " must be a map from a prompt domain to a model (e.g. math: {path: /models/math-teacher}), got ",
              describe(*node));
  for (const auto& kv : *node) {
    TORCH_CHECK(kv.first.IsScalar() && !kv.first.Scalar().empty(), ctx.at(kTeachers, kv.first.Mark()),
                "teachers: keys must be domain names, got ", describe(kv.first));
    const std::string domain = kv.first.Scalar();
    const std::string path = std::string(kTeachers) + "." + domain;
    TORCH_CHECK(!teachers.count(domain), ctx.at(path, kv.first.Mark()), printable(path), ": duplicate domain");
    teachers[domain] = read_model(MapReader(ctx, kv.second, path, kModelKeys), d);
  }
  return teachers;
}

std::pair<double, double> read_betas(const Context& ctx, const MapReader& m, double b1,
                                     double b2) {
  auto v = m.find("betas");
  if (!v) return {b1, b2};
  TORCH_CHECK(v->IsSequence() && v->size() == 2, m.where("betas", *v),
              " must be a list of two numbers [beta1, beta2], got ", describe(*v));
  const YAML::Node& seq = *v;
  double b[2];
  for (size_t i = 0; i < 2; ++i) {
    const YAML::Node e = seq[i];
    const std::string path = m.path("betas") + "[" + std::to_string(i) + "]";
    const std::string where = ctx.at(path, e.Mark()) + path;
    b[i] = read_number(e, where);
    const Range r = between(0, false, 1, true);
    TORCH_CHECK(r.contains(b[i]), where, " must be ", r.describe(), ", got ", e.Scalar());
  }
  return {b[0], b[1]};
}

// lora.targets: a non-empty list of distinct projection names.
std::vector<std::string> read_lora_targets(const Context& ctx, const MapReader& m,
                                           const std::vector<std::string>& fallback) {
  auto v = m.find("targets");
  if (!v) return fallback;
  const std::vector<std::string> known = LoraConfig{}.targets;
  TORCH_CHECK(v->IsSequence() && v->size() > 0, m.where("targets", *v),
              " must be a non-empty list of projections (", join(known), "), got ", describe(*v));
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const YAML::Node e = (*v)[i];
    const std::string path = m.path("targets") + "[" + std::to_string(i) + "]";
    const std::string where = ctx.at(path, e.Mark()) + path;
    TORCH_CHECK(e.IsScalar() && contains(known, e.Scalar()), where, " must be one of: ", join(known), "; got ",
                describe(e));
    TORCH_CHECK(!contains(out, e.Scalar()), where, ": ", e.Scalar(), " is listed twice");
    out.push_back(e.Scalar());
  }
  return out;
}

// A string from `values`' names (`name_of`), as the enum value.
template <typename E>
E read_enum(const MapReader& m, const std::string& key, E fallback,
            std::initializer_list<E> values, const char* (*name_of)(E)) {
  std::vector<std::string> names;
  for (E v : values) names.emplace_back(name_of(v));
  const std::string s = m.choice(key, name_of(fallback), names);
  for (E v : values) {
    if (s == name_of(v)) return v;
  }
  TORCH_INTERNAL_ASSERT(false, "unchecked ", key, " ", s);
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
// (default_objective_config) and the option keys the map may hold.
ObjectiveConfig read_objective(const Context& ctx, const MapReader& m, bool term) {
  ObjectiveKind kind = ObjectiveConfig{}.kind;
  if (auto v = term ? std::optional<YAML::Node>(m.required("name")) : m.find("name")) {
    const std::string w = m.where("name", *v);
    kind = opd::objective_kind_from_name(read_string(*v, w), w);
    TORCH_CHECK(!term || kind != ObjectiveKind::kSum, w, ": a sum cannot nest a sum");
  }
  const std::vector<std::string>& options = opd::objective_option_keys(kind);
  for (const auto& key : m.keys()) {
    if (key == "name" || (term && key == "weight")) continue;
    TORCH_CHECK(!term || key != "normalization", m.key_where(key),
                ": not an option of a term (one normalization for the whole objective; set "
                "objective.normalization)");
    TORCH_CHECK(key == "normalization" || contains(options, key), m.key_where(key),
                ": not an option of ", opd::objective_name(kind), " (its options: ",
                join(options), ")");
  }

  // Keys the objective does not accept are absent (checked above), so every
  // read below but the objective's own returns its default.
  const ObjectiveConfig d = opd::default_objective_config(kind);
  ObjectiveConfig c = d;
  c.normalization = read_enum(m, "normalization", d.normalization,
                              {LossNormalization::kToken, LossNormalization::kSequence},
                              opd::loss_normalization_name);
  c.lambda = m.number("lambda", d.lambda, above(0));
  if (auto v = m.find("reference")) c.reference = read_string(*v, m.where("reference", *v));
  c.entropy_rho = m.number("entropy_rho", d.entropy_rho,
                           between(0, kind == ObjectiveKind::kEntropyOpd, 1, false));
  c.switch_step = m.integer("switch_step", d.switch_step, 0);
  c.top_k = m.integer("top_k", d.top_k, 1);
  c.renormalize = m.boolean("renormalize", d.renormalize);
  c.beta = m.number("beta", d.beta, between(0, true, 1, true));
  c.entropy_threshold = m.number("entropy_threshold", d.entropy_threshold, at_least(0));
  c.alpha = m.number("alpha", d.alpha, at_least(0));
  c.reward_floor = m.number("reward_floor", d.reward_floor, Range{});
  c.mask_threshold = m.number("mask_threshold", d.mask_threshold, Range{});
  c.outlier = read_enum(m, "outlier", d.outlier,
                        {OutlierVariant::kFkl, OutlierVariant::kMask, OutlierVariant::kClip},
                        opd::outlier_variant_name);
  c.prefix_beta = m.number("prefix_beta", d.prefix_beta, at_least(0));
  c.kl_clip = m.number("kl_clip", d.kl_clip, at_least(0));
  c.support_k = m.integer("support_k", d.support_k, 0);
  c.sft_targets = read_enum(m, "targets", d.sft_targets,
                            {SftTargets::kTeacher, SftTargets::kDataset}, opd::sft_targets_name);
  if (kind == ObjectiveKind::kSum) c.terms = read_terms(ctx, m);

  // The cross-field rule of validate_objective_config, here too so that the
  // error points at the line that set `reference`.
  if (auto v = m.find("reference")) {
    TORCH_CHECK(c.reference.empty() || c.lambda != 1.0, m.where("reference", *v),
                " is set but ", m.path("lambda"),
                " = 1 uses no reference model (set lambda != 1, or drop reference)");
  }
  return c;
}

// `terms` of a sum: a non-empty list of objective maps, each with a `weight`.
std::vector<WeightedObjective> read_terms(const Context& ctx, const MapReader& m) {
  const YAML::Node list = m.required("terms");
  TORCH_CHECK(list.IsSequence() && list.size() > 0, m.where("terms", list),
              " must be a non-empty list of objectives ([{weight: 1.0, name: opd}, ...]), got ",
              describe(list));
  std::vector<WeightedObjective> terms;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node entry = list[i];
    const MapReader t(ctx, entry, m.path("terms") + "[" + std::to_string(i) + "]", term_keys());
    WeightedObjective w;
    w.objective = read_objective(ctx, t, /*term=*/true);
    w.weight = t.number("weight", w.weight, above(0));
    terms.push_back(std::move(w));
  }
  return terms;
}

TrainConfig convert(const YAML::Node& root, const Context& ctx) {
  const TrainConfig d;
  TrainConfig c;
  const MapReader top(ctx, root, "", top_keys());
  c.run_dir = top.nonempty_string("run_dir", d.run_dir);
  c.seed = top.unsigned_integer("seed", d.seed);
  c.steps = top.integer("steps", d.steps, 1);
  c.micro_batch_size = top.integer("micro_batch_size", d.micro_batch_size, 1);
  c.log_every = top.integer("log_every", d.log_every, 1);
  c.save_every = top.integer("save_every", d.save_every, 0);
  c.keep_checkpoints = top.integer("keep_checkpoints", d.keep_checkpoints, 0);
  c.max_skipped_steps = top.integer("max_skipped_steps", d.max_skipped_steps, 0);
  c.dist_timeout_s = top.integer("dist_timeout_s", d.dist_timeout_s, 1);
  c.dist_bucket_mb = top.number("dist_bucket_mb", d.dist_bucket_mb, above(0));
  c.activation_checkpointing = top.boolean("activation_checkpointing", d.activation_checkpointing);

  c.student = read_model(top.section("student"), d.student);
  // OPSD (rollout.refiner: student) needs no teacher: the frozen student is
  // one. With `teachers`, `teacher` is the optional default for other domains.
  const auto refiner = top.section("rollout").find("refiner");
  const bool opsd = refiner && refiner->IsScalar() && refiner->Scalar() == "student";
  c.teachers = read_teachers(ctx, top, d.teacher);
  TORCH_CHECK(!opsd || c.teachers.empty(), top.key_where(kTeachers),
              ": rollout.refiner: student (OPSD) has one teacher, the frozen student; remove teachers");
  if (top.find("teacher") || (!opsd && c.teachers.empty())) {
    c.teacher = read_model(top.section("teacher"), d.teacher);
  } else if (opsd) {
    c.teacher = c.student;
  }

  const MapReader lora = top.section("lora");
  c.lora.rank = lora.integer("rank", d.lora.rank, 0);
  c.lora.alpha = lora.number("alpha", d.lora.alpha, above(0));
  c.lora.dropout = lora.number("dropout", d.lora.dropout, between(0, false, 1, true));
  c.lora.targets = read_lora_targets(ctx, lora, d.lora.targets);

  const MapReader data = top.section("data");
  c.data.train_path = data.nonempty_string("train", std::nullopt);
  c.data.prompts_per_step = data.integer("prompts_per_step", d.data.prompts_per_step, 1);
  c.data.samples_per_prompt = data.integer("samples_per_prompt", d.data.samples_per_prompt, 1);
  c.data.shuffle = data.boolean("shuffle", d.data.shuffle);
  c.data.system_prompt = data.text("system_prompt", d.data.system_prompt);
  c.data.enable_thinking = data.boolean("enable_thinking", d.data.enable_thinking);

  const MapReader rollout = top.section("rollout");
  c.rollout.max_new_tokens = rollout.integer("max_new_tokens", d.rollout.max_new_tokens, 1);
  c.rollout.temperature = rollout.number("temperature", d.rollout.temperature, at_least(0));
  c.rollout.top_k = rollout.integer("top_k", d.rollout.top_k, 0);
  c.rollout.top_p = rollout.number("top_p", d.rollout.top_p, between(0, true, 1, false));
  c.rollout.min_p = rollout.number("min_p", d.rollout.min_p, between(0, false, 1, true));
  c.rollout.teacher_prefix_length = rollout.integer("teacher_prefix_length", d.rollout.teacher_prefix_length, 0);
  c.rollout.teacher_prefix_anneal_steps =
      rollout.integer("teacher_prefix_anneal_steps", d.rollout.teacher_prefix_anneal_steps, 0);
  c.rollout.teacher_prefix_sampling =
      rollout.choice("teacher_prefix_sampling", d.rollout.teacher_prefix_sampling, {"cap", "uniform"});
  c.rollout.refinement_template = rollout.text("refinement_template", d.rollout.refinement_template);
  c.rollout.refiner = rollout.choice("refiner", d.rollout.refiner, {"teacher", "student"});
  if (c.rollout.teacher_prefix_length > c.rollout.max_new_tokens) {
    TORCH_CHECK(false, rollout.key_where("teacher_prefix_length"), " = ", c.rollout.teacher_prefix_length,
                " exceeds rollout.max_new_tokens = ", c.rollout.max_new_tokens);
  }

  c.objective = read_objective(ctx, top.section("objective"), /*term=*/false);
  // Every rule is checked above with its line; this catches any rule the
  // objectives add later, still naming the key.
  opd::validate_objective_config(c.objective, ctx.file() + ": objective");

  const MapReader optim = top.section("optim");
  c.optim.lr = optim.number("lr", d.optim.lr, above(0));
  c.optim.weight_decay = optim.number("weight_decay", d.optim.weight_decay, at_least(0));
  std::tie(c.optim.beta1, c.optim.beta2) = read_betas(ctx, optim, d.optim.beta1, d.optim.beta2);
  c.optim.eps = optim.number("eps", d.optim.eps, above(0));
  c.optim.grad_clip = optim.number("grad_clip", d.optim.grad_clip, at_least(0));
  c.optim.warmup_steps = optim.integer("warmup_steps", d.optim.warmup_steps, 0);
  c.optim.schedule = schedule_from_name(
      optim.choice("schedule", schedule_name(d.optim.schedule),
                   {schedule_name(LrSchedule::kConstant), schedule_name(LrSchedule::kCosine)}));
  c.optim.min_lr_ratio =
      optim.number("min_lr_ratio", d.optim.min_lr_ratio, between(0, false, 1, false));
  c.optim.zero_stage = optim.integer("zero_stage", d.optim.zero_stage, 0);
  if (c.optim.zero_stage > 1) {
    TORCH_CHECK(false, optim.key_where("zero_stage"), " must be 0 or 1 (ZeRO-1 shards the optimizer state), got ",
                c.optim.zero_stage);
  }
  return c;
}

// Applies one "dotted.key=value" to the tree, creating the section map if
// needed. The key is checked against the schema here (so `optim.lrr=1` fails
// like a typo in the file); the value is checked later with the rest.
void apply_override(YAML::Node& root, const std::string& text, Context& ctx) {
  const std::string at = ctx.file() + ": --set " + printable(text) + ": ";
  const size_t eq = text.find('=');
  TORCH_CHECK(eq != std::string::npos, at, "expected key=value (e.g. optim.lr=3e-4)");
  const std::string key = text.substr(0, eq);
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts) {
    TORCH_CHECK(!p.empty(), at, "malformed key '", printable(key),
                "' (expected a dotted path such as optim.lr)");
  }
  TORCH_CHECK(contains(top_keys(), parts[0]), at, printable(parts[0]),
              ": unknown key (allowed: ", join(top_keys()), ")");
  const bool domains = parts[0] == kTeachers;  // teachers.<domain>={path: ...}
  const std::vector<std::string>* sub = domains ? &kAnyDomain : section_keys(parts[0]);
  if (domains) {
    TORCH_CHECK(parts.size() <= 2, at, printable(key), ": unknown key (set a whole teacher: ", parts[0], ".",
                parts[1], "={path: ...})");
  } else if (parts.size() > 1) {
    TORCH_CHECK(sub != nullptr, at, printable(key), ": unknown key (", parts[0],
                " is not a map)");
    const std::string two = parts[0] + "." + parts[1];
    TORCH_CHECK(contains(*sub, parts[1]), at, printable(two), ": unknown key (allowed: ",
                join(*sub), ")");
    TORCH_CHECK(parts.size() == 2, at, printable(key), ": unknown key (", two, " is not a map)");
  }

  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    TORCH_CHECK(false, at, "malformed YAML value: ", printable(e.msg));
  }

  // yaml-cpp turns a list or scalar into a map when indexed by name; refuse
  // first so a malformed file is reported, not silently replaced.
  check_map(ctx, root, "", top_keys());
  if (!root.IsMap()) root.reset(YAML::Node(YAML::NodeType::Map));
  if (parts.size() == 1) {
    root[parts[0]] = value;
  } else {
    YAML::Node section = root[parts[0]];
    check_map(ctx, section, parts[0], *sub);
    if (!section.IsDefined() || section.IsNull()) {
      root[parts[0]] = YAML::Node(YAML::NodeType::Map);
      section.reset(root[parts[0]]);
    }
    section[parts[1]] = value;
  }
  ctx.record_override(key, text);
}

// Shortest text that reads back to exactly `x`, always with a '.' or exponent
// so a reader sees a float.
std::string format_double(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), x);
  TORCH_INTERNAL_ASSERT(r.ec == std::errc());
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// Writes one objective map: `weight` for a term, name, normalization for the
// section, then every option key of the objective with its value.
void emit_objective(YAML::Emitter& out, const ObjectiveConfig& o, const double* term_weight) {
  auto plain = [&](const std::string& key, const std::string& v) {
    out << YAML::Key << key << YAML::Value << v;
  };
  out << YAML::BeginMap;
  if (term_weight != nullptr) plain("weight", format_double(*term_weight));
  plain("name", opd::objective_name(o.kind));
  if (term_weight == nullptr) plain("normalization", opd::loss_normalization_name(o.normalization));
  for (const std::string& key : opd::objective_option_keys(o.kind)) {
    if (key == "lambda") {
      plain(key, format_double(o.lambda));
    } else if (key == "reference") {
      out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << o.reference;
    } else if (key == "entropy_rho") {
      plain(key, format_double(o.entropy_rho));
    } else if (key == "switch_step") {
      plain(key, std::to_string(o.switch_step));
    } else if (key == "top_k") {
      plain(key, std::to_string(o.top_k));
    } else if (key == "renormalize") {
      out << YAML::Key << key << YAML::Value << o.renormalize;
    } else if (key == "beta") {
      plain(key, format_double(o.beta));
    } else if (key == "entropy_threshold") {
      plain(key, format_double(o.entropy_threshold));
    } else if (key == "alpha") {
      plain(key, format_double(o.alpha));
    } else if (key == "reward_floor") {
      plain(key, format_double(o.reward_floor));
    } else if (key == "mask_threshold") {
      plain(key, format_double(o.mask_threshold));
    } else if (key == "outlier") {
      plain(key, opd::outlier_variant_name(o.outlier));
    } else if (key == "prefix_beta") {
      plain(key, format_double(o.prefix_beta));
    } else if (key == "kl_clip") {
      plain(key, format_double(o.kl_clip));
    } else if (key == "support_k") {
      plain(key, std::to_string(o.support_k));
    } else if (key == "targets") {
      plain(key, opd::sft_targets_name(o.sft_targets));
    } else if (key == "terms") {
      out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
      for (const auto& t : o.terms) emit_objective(out, t.objective, &t.weight);
      out << YAML::EndSeq;
    } else {
      TORCH_INTERNAL_ASSERT(false, "train_config_yaml: no writer for objective.", key);
    }
  }
  out << YAML::EndMap;
}

}  // namespace

TrainConfig parse_train_config(const std::string& yaml_text, const std::string& where,
                               const std::vector<std::string>& overrides) {
  Context ctx(where);
  YAML::Node root;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(yaml_text);
    TORCH_CHECK(docs.size() <= 1, where, ": expected one YAML document, found ", docs.size());
    if (!docs.empty()) root.reset(docs[0]);
  } catch (const YAML::Exception& e) {
    const std::string line = e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1) + ":" +
                                                         std::to_string(e.mark.column + 1);
    TORCH_CHECK(false, where, line, ": malformed YAML: ", printable(e.msg));
  }
  for (const auto& o : overrides) apply_override(root, o, ctx);
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
  auto str = [&](const char* key, const std::string& v) {
    out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << v;
  };
  auto plain = [&](const char* key, const std::string& v) {
    out << YAML::Key << key << YAML::Value << v;
  };
  auto integer = [&](const char* key, auto v) { plain(key, std::to_string(v)); };
  auto number = [&](const char* key, double v) { plain(key, format_double(v)); };
  auto model_body = [&](const ModelSpec& m) {
    out << YAML::Value << YAML::BeginMap;
    str("path", m.path);
    plain("dtype", m.dtype);
    str("chat_template", m.chat_template);
    out << YAML::EndMap;
  };
  auto model = [&](const char* key, const ModelSpec& m) {
    out << YAML::Key << key;
    model_body(m);
  };

  out << YAML::BeginMap;
  str("run_dir", c.run_dir);
  integer("seed", c.seed);
  integer("steps", c.steps);
  integer("micro_batch_size", c.micro_batch_size);
  integer("log_every", c.log_every);
  integer("save_every", c.save_every);
  integer("keep_checkpoints", c.keep_checkpoints);
  integer("max_skipped_steps", c.max_skipped_steps);
  integer("dist_timeout_s", c.dist_timeout_s);
  number("dist_bucket_mb", c.dist_bucket_mb);
  out << YAML::Key << "activation_checkpointing" << YAML::Value << c.activation_checkpointing;
  model("student", c.student);
  if (!c.teacher.path.empty()) model("teacher", c.teacher);
  if (!c.teachers.empty()) {
    out << YAML::Key << kTeachers << YAML::Value << YAML::BeginMap;
    for (const auto& [domain, spec] : c.teachers) {
      out << YAML::Key << YAML::DoubleQuoted << domain;
      model_body(spec);
    }
    out << YAML::EndMap;
  }

  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  str("train", c.data.train_path);
  integer("prompts_per_step", c.data.prompts_per_step);
  integer("samples_per_prompt", c.data.samples_per_prompt);
  out << YAML::Key << "shuffle" << YAML::Value << c.data.shuffle;
  str("system_prompt", c.data.system_prompt);
  out << YAML::Key << "enable_thinking" << YAML::Value << c.data.enable_thinking;
  out << YAML::EndMap;

  out << YAML::Key << "rollout" << YAML::Value << YAML::BeginMap;
  integer("max_new_tokens", c.rollout.max_new_tokens);
  number("temperature", c.rollout.temperature);
  integer("top_k", c.rollout.top_k);
  number("top_p", c.rollout.top_p);
  number("min_p", c.rollout.min_p);
  integer("teacher_prefix_length", c.rollout.teacher_prefix_length);
  integer("teacher_prefix_anneal_steps", c.rollout.teacher_prefix_anneal_steps);
  plain("teacher_prefix_sampling", c.rollout.teacher_prefix_sampling);
  str("refinement_template", c.rollout.refinement_template);
  plain("refiner", c.rollout.refiner);
  out << YAML::EndMap;

  out << YAML::Key << "lora" << YAML::Value << YAML::BeginMap;
  integer("rank", c.lora.rank);
  number("alpha", c.lora.alpha);
  number("dropout", c.lora.dropout);
  out << YAML::Key << "targets" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& t : c.lora.targets) out << t;
  out << YAML::EndSeq << YAML::EndMap;

  out << YAML::Key << "objective" << YAML::Value;
  emit_objective(out, c.objective, /*term_weight=*/nullptr);

  out << YAML::Key << "optim" << YAML::Value << YAML::BeginMap;
  number("lr", c.optim.lr);
  number("weight_decay", c.optim.weight_decay);
  out << YAML::Key << "betas" << YAML::Value << YAML::Flow << YAML::BeginSeq
      << format_double(c.optim.beta1) << format_double(c.optim.beta2) << YAML::EndSeq;
  number("eps", c.optim.eps);
  number("grad_clip", c.optim.grad_clip);
  integer("warmup_steps", c.optim.warmup_steps);
  plain("schedule", schedule_name(c.optim.schedule));
  number("min_lr_ratio", c.optim.min_lr_ratio);
  integer("zero_stage", c.optim.zero_stage);
  out << YAML::EndMap;

  out << YAML::EndMap;
  TORCH_INTERNAL_ASSERT(out.good(), "config_loader: YAML emitter failed: ", out.GetLastError());
  return std::string("# Resolved training config: every field, defaults included.\n") +
         out.c_str() + "\n";
}

}  // namespace opd::train
