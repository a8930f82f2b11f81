#include "jinja_methods.h"

#include "jinja_filters.h"
#include "jinja_limits.h"
#include "jinja_python_text.h"
#include "utf8.h"

#include <algorithm>

namespace opd::tokenizer::jinja {
namespace {

int64_t code_point_count(std::string_view s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); i += static_cast<size_t>(utf8_length(static_cast<unsigned char>(s[i])))) ++n;
  return n;
}

std::optional<std::string> optional_string(const Value* v, const std::string& what) {
  if (v == nullptr || v->is_none()) return std::nullopt;
  if (!v->is_string()) throw ValueError(what + " must be str or None, not " + type_name(*v));
  return v->as_string();
}

const std::string& string_arg(const Value* v, const std::string& what) {
  if (v == nullptr || !v->is_string()) {
    throw ValueError(what + " must be str, not " + (v ? type_name(*v) : std::string("missing")));
  }
  return v->as_string();
}

int64_t int_arg(const Value* v, int64_t fallback, const std::string& what) {
  if (v == nullptr || v->is_none()) return fallback;
  if (!v->is_int()) throw ValueError(what + " must be int, not " + type_name(*v));
  return v->as_int();
}

// The strings of a prefix argument: one str or a tuple of them.
std::vector<std::string> affixes(const Value* v, const std::string& method) {
  if (v != nullptr && v->is_string()) return {v->as_string()};
  if (v != nullptr && v->kind() == Value::Kind::Tuple) {
    std::vector<std::string> out;
    for (const auto& item : v->items()) out.push_back(string_arg(&item, method + " argument"));
    return out;
  }
  throw ValueError(method + " first arg must be str or a tuple of str");
}

Value string_list(const std::vector<std::string>& parts) {
  List items;
  for (const auto& p : parts) items.push_back(Value::string(p));
  return Value::list(std::move(items));
}

// str.format with {}, {0}, {name}, {!r}/{!s} and {{ }}; format specs are refused.
std::string py_format(const std::string& format, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool automatic = false, manual = false;  // {} and {0} do not mix
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') ++i;
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string::npos) throw ValueError("Single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    char conversion = 's';
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : 's';
      field.erase(bang);
    }
    if (field.find(':') != std::string::npos || field.find('.') != std::string::npos ||
        field.find('[') != std::string::npos) {
      throw ValueError("str.format: format specs, attributes and indexes in fields are not supported");
    }
    const Value* v = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      (field.empty() ? automatic : manual) = true;
      if (automatic && manual) throw ValueError("cannot switch from manual field specification to automatic field numbering");
      // (Not std::stoul: "{99999999999999999999}" would throw std::out_of_range.)
      size_t index = field.empty() ? auto_index++ : 0;
      for (char d : field) index = std::min<size_t>(index * 10 + static_cast<size_t>(d - '0'), kMaxListItems);
      if (index >= args.positional.size()) throw ValueError("Replacement index " + std::to_string(index) + " out of range");
      v = &args.positional[index];
    } else {
      for (const auto& [k, kv] : args.keywords) {
        if (k == field) v = &kv;
      }
      if (v == nullptr) throw ValueError("str.format: no argument named '" + field + "'");
    }
    out += conversion == 'r' ? to_repr(*v) : to_str(*v);
    check_string_size(out, "str.format's text");
  }
  return out;
}

bool all_code_points(const std::string& s, bool (*pred)(char32_t)) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();) {
    if (!pred(next_code_point(s, i))) return false;
  }
  return true;
}

Value string_method(const std::string& self, const std::string& name, CallArgs& args) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    ArgBinder a(name, args, {"chars"});
    return Value::string(py_strip(self, optional_string(a.get(0), name + " arg"), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    ArgBinder a(name, args, {"sep", "maxsplit"});
    try {
      return string_list(py_split(self, optional_string(a.get(0), name + " sep"), int_arg(a.get(1), -1, "maxsplit"),
                                  name == "rsplit"));
    } catch (const std::invalid_argument&) {
      throw ValueError("empty separator");
    }
  }
  if (name == "startswith" || name == "endswith") {
    ArgBinder a(name, args, {"prefix"});
    for (const auto& affix : affixes(a.get(0), name)) {
      const bool match = affix.size() <= self.size() &&
                         (name == "startswith" ? self.compare(0, affix.size(), affix) == 0
                                               : self.compare(self.size() - affix.size(), affix.size(), affix) == 0);
      if (match) return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    ArgBinder a(name, args, {});
    if (name == "upper") return Value::string(py_upper(self));
    if (name == "lower") return Value::string(py_lower(self));
    if (name == "title") return Value::string(py_title(self));
    return Value::string(py_capitalize(self));
  }
  if (name == "replace") {
    ArgBinder a(name, args, {"old", "new", "count"});
    return Value::string(py_replace(self, string_arg(a.get(0), "replace old"), string_arg(a.get(1), "replace new"),
                                    int_arg(a.get(2), -1, "count")));
  }
  if (name == "find" || name == "rfind" || name == "count") {
    ArgBinder a(name, args, {"sub"});
    const std::string& sub = string_arg(a.get(0), name + " arg");
    if (name == "count") {
      if (sub.empty()) return Value::integer(code_point_count(self) + 1);
      int64_t n = 0;
      for (size_t at = self.find(sub); at != std::string::npos; at = self.find(sub, at + sub.size())) ++n;
      return Value::integer(n);
    }
    const size_t at = name == "find" ? self.find(sub) : self.rfind(sub);
    return Value::integer(at == std::string::npos ? -1 : code_point_count(std::string_view(self).substr(0, at)));
  }
  if (name == "join") {
    ArgBinder a(name, args, {"iterable"});
    std::string out;
    bool first = true;
    for (const auto& item : iterate(a.get_or(0, Value::list({})))) {
      if (!first) out += self;
      out += string_arg(&item, "join item");
      check_string_size(out, "join's text");
      first = false;
    }
    return Value::string(out);
  }
  if (name == "format") return Value::string(py_format(self, args));
  if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum") {
    ArgBinder a(name, args, {});
    if (name == "isspace") return Value::boolean(all_code_points(self, is_python_space));
    const auto ascii = [&](bool (*pred)(char32_t)) { return Value::boolean(all_code_points(self, pred)); };
    if (name == "isdigit") return ascii([](char32_t c) { return c >= '0' && c <= '9'; });
    if (name == "isalpha") return ascii([](char32_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; });
    return ascii([](char32_t c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); });
  }
  if (name == "splitlines") {
    ArgBinder a(name, args, {"keepends"});
    const bool keep = truthy(a.get_or(0, Value::boolean(false)));
    std::vector<std::string> lines;
    std::string line;
    for (size_t i = 0; i < self.size();) {
      const size_t start = i;
      const char32_t cp = next_code_point(self, i);
      const bool is_break = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
                            cp == 0x85 || cp == 0x2028 || cp == 0x2029;
      if (!is_break) {
        line.append(self, start, i - start);
        continue;
      }
      if (cp == '\r' && i < self.size() && self[i] == '\n') ++i;
      if (keep) line.append(self, start, i - start);
      lines.push_back(std::move(line));
      line.clear();
    }
    if (!line.empty()) lines.push_back(std::move(line));
    return string_list(lines);
  }
  throw ValueError("unsupported str method '" + name + "'");
}

Value dict_method(const Value& self, const std::string& name, CallArgs& args) {
  ArgBinder a(name, args, name == "get" ? std::vector<std::string>{"key", "default"} : std::vector<std::string>{});
  const Dict& d = self.entries();
  if (name == "get") {
    const Value* key = a.get(0);
    if (key == nullptr) throw ValueError("get expected at least 1 argument, got 0");
    const Value* found = key->is_string() ? d.find(key->as_string()) : nullptr;
    return found ? *found : a.get_or(1, Value::none());
  }
  List out;
  for (const auto& [k, v] : d.entries) {
    if (name == "items") out.push_back(Value::tuple({Value::string(k), v}));
    if (name == "keys") out.push_back(Value::string(k));
    if (name == "values") out.push_back(v);
  }
  return Value::list(std::move(out));
}

bool is_string_method(const std::string& name) {
  static const char* const kNames[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith",
                                       "upper", "lower", "title", "capitalize", "replace", "find", "rfind", "count",
                                       "join", "format", "isdigit", "isspace", "isalpha", "isalnum", "splitlines"};
  return std::find_if(std::begin(kNames), std::end(kNames), [&](const char* n) { return name == n; }) != std::end(kNames);
}

// Python methods of dict and list that change the object: the immutable
// sandbox forbids them, other Python ones are not supported here.
bool is_other_method(const Value& obj, const std::string& name) {
  static const char* const kDict[] = {"pop", "popitem", "setdefault", "update", "clear", "copy", "fromkeys"};
  static const char* const kList[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear",
                                      "copy", "index", "count"};
  const auto has = [&](const auto& names) {
    return std::find_if(std::begin(names), std::end(names), [&](const char* n) { return name == n; }) != std::end(names);
  };
  return obj.is_mapping() ? has(kDict) : obj.is_sequence() ? has(kList) : false;
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      throw ValueError("'" + obj.undefined_name() + "' is undefined");
    case Value::Kind::String:
      if (!is_string_method(name)) return Value::undefined(name);
      return Value::callable(name, [self = obj.as_string(), name](CallArgs& args) { return string_method(self, name, args); });
    case Value::Kind::Dict:
      // Python's getattr finds the method before jinja2 falls back to the key.
      if (name == "items" || name == "keys" || name == "values" || name == "get") {
        return Value::callable(name, [obj, name](CallArgs& args) { return dict_method(obj, name, args); });
      }
      if (!is_other_method(obj, name)) {
        const Value* v = obj.entries().find(name);
        return v ? *v : Value::undefined(name);
      }
      break;
    case Value::Kind::Namespace: case Value::Kind::Loop: {
      const Value* v = obj.entries().find(name);
      return v ? *v : Value::undefined(name);
    }
    default:
      break;
  }
  if (is_other_method(obj, name)) {
    return Value::callable(name, [type = type_name(obj), name](CallArgs&) -> Value {
      throw ValueError("unsupported method '" + name + "' of " + type + " (the sandbox is immutable)");
    });
  }
  return Value::undefined(name);
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      throw ValueError("'" + obj.undefined_name() + "' is undefined");
    case Value::Kind::Dict: {
      if (!key.is_string()) return Value::undefined(to_str(key));
      const Value* v = obj.entries().find(key.as_string());
      return v ? *v : get_attribute(obj, key.as_string());
    }
    case Value::Kind::List: case Value::Kind::Tuple: case Value::Kind::String: {
      if (key.is_string()) return get_attribute(obj, key.as_string());
      if (!key.is_int()) return Value::undefined(to_str(key));
      if (obj.is_string()) {
        const auto cps = code_points(obj.as_string());
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(cps.size());
        if (i < 0 || i >= static_cast<int64_t>(cps.size())) return Value::undefined(to_str(key));
        return Value::string(from_code_points(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1));
      }
      const auto& items = obj.items();
      int64_t i = key.as_int();
      if (i < 0) i += static_cast<int64_t>(items.size());
      if (i < 0 || i >= static_cast<int64_t>(items.size())) return Value::undefined(to_str(key));
      return items[static_cast<size_t>(i)];
    }
    default:
      return key.is_string() ? get_attribute(obj, key.as_string()) : Value::undefined(to_str(key));
  }
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) throw ValueError("'" + obj.undefined_name() + "' is undefined");
  if (!obj.is_string() && !obj.is_sequence()) return Value::undefined("slice");
  const auto bound = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!v.is_int()) throw ValueError(std::string("slice ") + what + " must be an integer or None");
    return v.as_int();
  };
  const int64_t st = bound(step, "step").value_or(1);
  if (st == 0) throw ValueError("slice step cannot be zero");
  std::vector<char32_t> cps;
  if (obj.is_string()) cps = code_points(obj.as_string());
  const int64_t n = obj.is_string() ? static_cast<int64_t>(cps.size()) : static_cast<int64_t>(obj.items().size());
  // PySlice_AdjustIndices.
  const auto adjust = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t i = *v;
    if (i < 0) {
      i += n;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= n) {
      i = st < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t b = adjust(bound(start, "start"), st < 0 ? n - 1 : 0);
  const int64_t e = adjust(bound(stop, "stop"), st < 0 ? -1 : n);
  std::vector<size_t> picked;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) picked.push_back(static_cast<size_t>(i));
  if (obj.is_string()) {
    std::string out;
    for (size_t i : picked) append_utf8(out, cps[i]);
    return Value::string(out);
  }
  List out;
  for (size_t i : picked) out.push_back(obj.items()[i]);
  return obj.kind() == Value::Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace opd::tokenizer::jinja
