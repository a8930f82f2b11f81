#include "opd/core/config_yaml.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace opd::config {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

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

bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

const char* quoted_note(const YAML::Node& node) {
  return is_quoted(node) ? " (quoted, so a string)" : "";
}

}  // namespace

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

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

void Context::record_override(const std::string& key, const std::string& text) {
  overrides_.emplace_back(key, text);
}

std::string Context::at(const std::string& path, const YAML::Mark& mark) const {
  for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it) {
    const std::string& k = it->first;
    const bool under = path.size() > k.size() && path.compare(0, k.size(), k) == 0 &&
                       (path[k.size()] == '.' || path[k.size()] == '[');
    if (path == k || under) return file_ + ": --set " + printable(it->second) + ": ";
  }
  if (!mark.is_null() && mark.line >= 0) return file_ + ":" + std::to_string(mark.line + 1) + ": ";
  return file_ + ": ";
}

namespace {

// The line (1-based) where a second YAML document starts in `text`, or 0:
// a "---" or "..." marker at column 0 followed by more content. Found by
// reading lines because yaml-cpp 0.7's LoadAll never returns on some
// malformed input (a recipe of just ","), growing memory without bound;
// Load reads only the first document. Content at column 0 cannot be inside
// a block scalar of the top level, so the markers are unambiguous.
int64_t second_document_line(const std::string& text) {
  bool content = false, ended = false;
  int64_t line_number = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto is_marker = [&](const char* m) {
      return line.compare(0, 3, m) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
    };
    if (is_marker("---")) {
      if (content) return line_number;
      content = line.find_first_not_of(" \t", 3) != std::string::npos && line[line.find_first_not_of(" \t", 3)] != '#';
      continue;
    }
    if (is_marker("...")) {
      ended = content;
      continue;
    }
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#' || (!content && line[0] == '%')) continue;
    if (ended) return line_number;
    content = true;
  }
  return 0;
}

}  // namespace

YAML::Node load_document(const std::string& text, const std::string& file) {
  YAML::Node root;
  const int64_t second = second_document_line(text);
  TORCH_CHECK(second == 0, file, ":", second, ": a second YAML document starts here; expected one");
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const std::string line = e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1) + ":" +
                                                         std::to_string(e.mark.column + 1);
    TORCH_CHECK(false, file, line, ": malformed YAML: ", printable(e.msg));
  }
  return root;
}

void check_map(const Context& ctx, const YAML::Node& node, const std::string& path,
               const std::vector<std::string>& keys) {
  if (!node.IsDefined() || node.IsNull() || node.IsMap()) return;
  TORCH_CHECK(false, ctx.at(path, node.Mark()), path.empty() ? ctx.document() : path,
              " must be a map", keys.empty() ? "" : " (keys: " + join(keys) + ")", ", got ", describe(node));
}

namespace {

// An unquoted scalar `parse` accepts, else one error naming `what` it must be.
template <typename T, typename Parse>
T read_scalar(const YAML::Node& node, const std::string& where, const char* what, Parse parse) {
  bool out_of_range = false;
  std::optional<T> v;
  if (node.IsScalar() && !is_quoted(node)) v = parse(node.Scalar(), &out_of_range);
  TORCH_CHECK(v.has_value(), where, " must be ", what, ", got ", describe(node),
              out_of_range ? " (out of range)" : quoted_note(node));
  return *v;
}

}  // namespace

int64_t read_int(const YAML::Node& node, const std::string& where) {
  return read_scalar<int64_t>(node, where, "an integer", parse_int64);
}

double read_number(const YAML::Node& node, const std::string& where) {
  return read_scalar<double>(node, where, "a number", parse_number);
}

bool read_bool(const YAML::Node& node, const std::string& where) {
  if (node.IsScalar() && !is_quoted(node)) {
    const std::string& s = node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  TORCH_CHECK(false, where, " must be true or false, got ", describe(node), quoted_note(node));
}

uint64_t read_unsigned(const YAML::Node& node, const std::string& where) {
  bool out_of_range = false;
  if (node.IsScalar() && !is_quoted(node)) {
    if (auto x = parse_uint64(node.Scalar(), &out_of_range)) return *x;
    bool ignored = false;
    TORCH_CHECK(!parse_int64(node.Scalar(), &ignored).has_value(), where, " must be >= 0, got ", node.Scalar());
  }
  TORCH_CHECK(false, where, " must be a non-negative integer, got ", describe(node),
              out_of_range ? " (out of range)" : quoted_note(node));
}

std::string read_string(const YAML::Node& node, const std::string& where) {
  TORCH_CHECK(node.IsScalar(), where, " must be a string, got ", describe(node));
  return node.Scalar();
}


MapReader::MapReader(const Context& ctx, const YAML::Node& node, std::string path, std::vector<std::string> allowed)
    : ctx_(ctx), path_(std::move(path)), allowed_(std::move(allowed)) {
  if (node.IsDefined()) mark_ = node.Mark();
  check_map(ctx_, node, path_, allowed_);
  if (!node.IsDefined() || node.IsNull()) return;
  const std::string self = path_.empty() ? ctx_.document() : path_;
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    TORCH_CHECK(key.IsScalar(), ctx_.at(path_, key.Mark()), self, ": keys must be names, got ", describe(key));
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

std::string MapReader::key_where(const std::string& key) const {
  return ctx_.at(path(key), entries_.at(key).first.Mark()) + path(key);
}

std::string MapReader::where(const std::string& key, const YAML::Node& value) const {
  return ctx_.at(path(key), value.Mark()) + path(key);
}

std::optional<YAML::Node> MapReader::find(const std::string& key) const {
  TORCH_INTERNAL_ASSERT(contains(allowed_, key), "config reader reads unlisted key ", path(key));
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.second;
}

YAML::Node MapReader::required(const std::string& key) const {
  auto v = find(key);
  TORCH_CHECK(v.has_value(), ctx_.at(path(key), mark_), path(key), ": missing required key");
  return *v;
}

Value MapReader::read(const std::string& key, ValueType type, const Check& check,
                      const std::vector<std::string>& names, const Value& fallback) const {
  if (!check.required && !find(key)) return fallback;
  const YAML::Node v = required(key);
  const std::string w = where(key, v);
  const Range& range = check.range;
  switch (type) {
    case ValueType::kInteger: {
      const int64_t x = read_int(v, w);
      TORCH_CHECK(range.contains(static_cast<double>(x)), w, " must be ", range.describe(), ", got ", x);
      return x;
    }
    case ValueType::kUnsigned: return read_unsigned(v, w);
    case ValueType::kNumber: {
      const double x = read_number(v, w);
      TORCH_CHECK(range.contains(x), w, " must be ", range.describe(), ", got ", v.Scalar());
      return x;
    }
    case ValueType::kBool: return read_bool(v, w);
    case ValueType::kString: {
      std::string s = read_string(v, w);
      TORCH_CHECK(!check.nonempty || !s.empty(), w, " must be a non-empty string, got ''");
      return s;
    }
    case ValueType::kChoice:
      TORCH_CHECK(v.IsScalar() && contains(names, v.Scalar()), w, " must be one of: ", join(names), "; got ",
                  describe(v));
      return v.Scalar();
    case ValueType::kStringList: {
      TORCH_CHECK(v.IsSequence() && v.size() > 0, w, " must be a non-empty list of ", join(check.items),
                  ", got ", describe(v));
      std::vector<std::string> out;
      for (size_t i = 0; i < v.size(); ++i) {
        const YAML::Node e = v[i];
        const std::string item = path(key) + "[" + std::to_string(i) + "]";
        const std::string at = ctx_.at(item, e.Mark()) + item;
        TORCH_CHECK(e.IsScalar() && contains(check.items, e.Scalar()), at, " must be one of: ", join(check.items),
                    "; got ", describe(e));
        TORCH_CHECK(!contains(out, e.Scalar()), at, ": ", e.Scalar(), " is listed twice");
        out.push_back(e.Scalar());
      }
      return out;
    }
    case ValueType::kNumberPair: {
      TORCH_CHECK(v.IsSequence() && v.size() == 2, w, " must be a list of two numbers (each ", range.describe(), "), got ",
                  describe(v));
      double b[2];
      for (size_t i = 0; i < 2; ++i) {
        const YAML::Node e = v[i];
        const std::string item = path(key) + "[" + std::to_string(i) + "]";
        const std::string at = ctx_.at(item, e.Mark()) + item;
        b[i] = read_number(e, at);
        TORCH_CHECK(range.contains(b[i]), at, " must be ", range.describe(), ", got ", e.Scalar());
      }
      return std::make_pair(b[0], b[1]);
    }
  }
  TORCH_INTERNAL_ASSERT(false, "unknown ValueType");
}

void apply_override(YAML::Node& root, const std::string& text, Context& ctx,
                    const std::function<void(const std::vector<std::string>&, const std::string&)>& check_key,
                    const std::function<std::vector<std::string>(const std::string&)>& keys_at) {
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
    TORCH_CHECK(!p.empty(), at, "malformed key '", printable(key), "' (expected a dotted path such as optim.lr)");
  }
  check_key(parts, at);

  YAML::Node value;
  TORCH_CHECK(second_document_line(text.substr(eq + 1)) == 0, at, "the value holds a second YAML document (---)");
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    TORCH_CHECK(false, at, "malformed YAML value: ", printable(e.msg));
  }

  // yaml-cpp turns a list or scalar into a map when indexed by name; refuse
  // first so a malformed file is reported, not silently replaced.
  check_map(ctx, root, "", keys_at(""));
  if (!root.IsMap()) root.reset(YAML::Node(YAML::NodeType::Map));
  YAML::Node map = root;
  std::string dotted;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    dotted = join_path(dotted, parts[i]);
    YAML::Node next = map[parts[i]];
    check_map(ctx, next, dotted, keys_at(dotted));
    if (!next.IsDefined() || next.IsNull()) {
      map[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(map[parts[i]]);
    }
    map.reset(next);
  }
  map[parts.back()] = value;
  ctx.record_override(key, text);
}

std::string format_double(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), x);
  TORCH_INTERNAL_ASSERT(r.ec == std::errc());
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string value_text(ValueType type, const Value& value) {
  switch (type) {
    case ValueType::kInteger: return std::to_string(std::get<int64_t>(value));
    case ValueType::kUnsigned: return std::to_string(std::get<uint64_t>(value));
    case ValueType::kNumber: return format_double(std::get<double>(value));
    case ValueType::kBool: return std::get<bool>(value) ? "true" : "false";
    case ValueType::kString: {
      const auto& s = std::get<std::string>(value);
      return s.empty() ? "\"\"" : s;
    }
    case ValueType::kChoice: return std::get<std::string>(value);
    case ValueType::kStringList: return "[" + join(std::get<std::vector<std::string>>(value)) + "]";
    case ValueType::kNumberPair: {
      const auto& [a, b] = std::get<std::pair<double, double>>(value);
      return "[" + format_double(a) + ", " + format_double(b) + "]";
    }
  }
  TORCH_INTERNAL_ASSERT(false, "unknown ValueType");
}

std::string type_text(ValueType type, const Check& check, const std::vector<std::string>& names) {
  const std::string range = check.range.bounded() ? " " + check.range.describe() : "";
  switch (type) {
    case ValueType::kInteger: return "integer" + range;
    case ValueType::kUnsigned: return "integer >= 0";
    case ValueType::kNumber: return "number" + range;
    case ValueType::kBool: return "bool";
    case ValueType::kString: return check.nonempty ? "non-empty string" : "string";
    case ValueType::kChoice: {
      std::string out;
      for (const auto& n : names) out += (out.empty() ? "`" : " \\| `") + n + "`";
      return out;
    }
    case ValueType::kStringList: return "list of distinct " + join(check.items);
    case ValueType::kNumberPair: return "[number, number], each" + range;
  }
  TORCH_INTERNAL_ASSERT(false, "unknown ValueType");
}

void emit_value(YAML::Emitter& out, const std::string& key, ValueType type, const Value& value) {
  out << YAML::Key << key << YAML::Value;
  switch (type) {
    case ValueType::kBool: out << std::get<bool>(value); return;
    case ValueType::kString: out << YAML::DoubleQuoted << std::get<std::string>(value); return;
    case ValueType::kStringList:
      out << YAML::Flow << YAML::BeginSeq;
      for (const auto& s : std::get<std::vector<std::string>>(value)) out << s;
      out << YAML::EndSeq;
      return;
    case ValueType::kNumberPair: {
      const auto& [a, b] = std::get<std::pair<double, double>>(value);
      out << YAML::Flow << YAML::BeginSeq << format_double(a) << format_double(b) << YAML::EndSeq;
      return;
    }
    case ValueType::kInteger:
    case ValueType::kUnsigned:
    case ValueType::kNumber:
    case ValueType::kChoice: out << value_text(type, value); return;
  }
}

}  // namespace opd::config
