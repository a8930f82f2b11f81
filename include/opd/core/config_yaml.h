// Reading config_schema.h's tables from YAML and writing them back: the one
// strict YAML reader of recipes and suites. Every error is one c10::Error
// line naming the file (and line, or the `--set` that caused it), the full
// dotted key, the bad value and what is allowed.
#pragma once

#include "opd/core/config_schema.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace opd::config {

// `s` on one line and at most 80 characters, for error messages.
std::string printable(const std::string& s);
// What a node is, for "got ..." in errors: the scalar text quoted, else its kind.
std::string describe(const YAML::Node& node);
std::string join_path(const std::string& prefix, const std::string& key);

// Where errors point: the file, then the `--set` that put the value there or
// else the line the value sits on. `document` names the whole file in errors.
class Context {
 public:
  explicit Context(std::string file, std::string document = "the recipe")
      : file_(std::move(file)), document_(std::move(document)) {}

  const std::string& file() const { return file_; }
  const std::string& document() const { return document_; }

  // Remembers that `key` (dotted) was set by the override `text`.
  void record_override(const std::string& key, const std::string& text);

  // "file:12: " or "file: --set optim.lr=x: " or "file: ", for the value at
  // dotted `path` whose node (or key) sits at `mark`.
  std::string at(const std::string& path, const YAML::Mark& mark) const;

 private:
  std::string file_, document_;
  std::vector<std::pair<std::string, std::string>> overrides_;  // (dotted key, "--set" text)
};

// Loads one YAML document (none reads as null); throws "file:line:col:
// malformed YAML: ..." or when there are several.
YAML::Node load_document(const std::string& text, const std::string& file);

// Throws unless `node` is a map, nothing, or null (read as empty).
void check_map(const Context& ctx, const YAML::Node& node, const std::string& path,
               const std::vector<std::string>& keys);

// Typed reads of scalar nodes; `where` is Context::at(...) + the dotted path.
int64_t read_int(const YAML::Node& node, const std::string& where);
double read_number(const YAML::Node& node, const std::string& where);
bool read_bool(const YAML::Node& node, const std::string& where);
uint64_t read_unsigned(const YAML::Node& node, const std::string& where);
std::string read_string(const YAML::Node& node, const std::string& where);

// One YAML map (the top level, a section, a list entry): checks its keys on
// construction and reads typed values with defaults. A missing or null node
// reads as empty.
class MapReader {
 public:
  MapReader(const Context& ctx, const YAML::Node& node, std::string path, std::vector<std::string> allowed);

  const Context& context() const { return ctx_; }
  std::string path(const std::string& key) const { return join_path(path_, key); }
  // The keys present, in file order.
  const std::vector<std::string>& keys() const { return order_; }

  // Error prefix plus dotted path for a present `key`, at the key itself.
  std::string key_where(const std::string& key) const;
  // Error prefix plus dotted path for the value under `key`.
  std::string where(const std::string& key, const YAML::Node& value) const;

  // The value under `key`, if present.
  std::optional<YAML::Node> find(const std::string& key) const;
  // The value under `key`; throws "<path>: missing required key" without it.
  YAML::Node required(const std::string& key) const;

  // The value under `key` read as `type` and checked, or `fallback` when
  // absent (unless the check says required).
  Value read(const std::string& key, ValueType type, const Check& check,
             const std::vector<std::string>& names, const Value& fallback) const;

  // Every field of `schema` present in the map, read into `out` (whose
  // values are the defaults).
  template <typename S>
  void read_fields(const Schema<S>& schema, S& out) const {
    for (const auto& f : schema) f.set(out, read(f.key, f.type, f.check, f.names, f.get(out)));
  }

 private:
  const Context& ctx_;
  std::string path_;
  std::vector<std::string> allowed_;
  YAML::Mark mark_ = YAML::Mark::null_mark();
  std::map<std::string, std::pair<YAML::Node, YAML::Node>> entries_;  // name -> (key, value)
  std::vector<std::string> order_;  // the names in entries_, in file order
};

// Applies one "dotted.key=value" to `root`, creating maps on the way. Before
// the value is read, `check_key(parts, at)` throws (prefixed by `at`) for a
// key the caller's schema lacks, so `optim.lrr=1` fails like a typo in the
// file; `keys_at(dotted)` lists the keys of a map on the way, for errors.
// The value itself is checked later, with the rest of the file.
void apply_override(YAML::Node& root, const std::string& text, Context& ctx,
                    const std::function<void(const std::vector<std::string>&, const std::string&)>& check_key,
                    const std::function<std::vector<std::string>(const std::string&)>& keys_at);

// Shortest text that reads back to exactly `x`, always with a '.' or exponent.
std::string format_double(double x);
// A value as the resolved config writes it (and the reference shows it).
std::string value_text(ValueType type, const Value& value);
// "integer", "number", "`a` | `b`", ... for the reference.
std::string type_text(ValueType type, const Check& check, const std::vector<std::string>& names);

// Writes `key: value` into the open map of `out`; strings double-quoted so
// that they read back as strings.
void emit_value(YAML::Emitter& out, const std::string& key, ValueType type, const Value& value);

template <typename S>
void emit_fields(YAML::Emitter& out, const Schema<S>& schema, const S& s) {
  for (const auto& f : schema) emit_value(out, f.key, f.type, f.get(s));
}

}  // namespace opd::config
