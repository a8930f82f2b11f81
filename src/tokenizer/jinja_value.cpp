#include "jinja_value.h"

#include "jinja_limits.h"
#include "jinja_python_text.h"
#include "utf8.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace opd::tokenizer::jinja {

const Value* Dict::find(const std::string& key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Dict::set(const std::string& key, Value value) {
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(key, std::move(value));
}

void check_string_size(const std::string& text, const char* what) {
  if (text.size() > kMaxStringBytes) {
    throw ValueError(std::string(what) + " is longer than " + std::to_string(kMaxStringBytes >> 20) +
                     " MiB, the limit of a chat template's strings");
  }
}

Value Value::string(std::string s) {
  check_string_size(s, "a string");
  Value v(Kind::String);
  v.text_ = std::move(s);
  return v;
}

Value Value::container(Kind kind, std::shared_ptr<List> list, std::shared_ptr<Dict> dict) {
  const size_t n = list ? list->size() : dict->entries.size();
  if (n > kMaxListItems) {
    throw ValueError("a " + std::string(list ? "list" : "dict") + " of " + std::to_string(n) +
                     " items is past the limit of a chat template's values (" + std::to_string(kMaxListItems) + ")");
  }
  int depth = 0;
  if (list) {
    for (const auto& item : *list) depth = std::max(depth, item.depth_);
  } else {
    for (const auto& entry : dict->entries) depth = std::max(depth, entry.second.depth_);
  }
  if (depth + 1 > kMaxValueDepth) {
    throw ValueError("values nest deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  Value v(kind);
  v.depth_ = depth + 1;
  v.list_ = std::move(list);
  v.dict_ = std::move(dict);
  return v;
}

Value Value::list(List items) { return container(Kind::List, std::make_shared<List>(std::move(items)), nullptr); }

Value Value::tuple(List items) { return container(Kind::Tuple, std::make_shared<List>(std::move(items)), nullptr); }

Value Value::dict(Dict d) { return container(Kind::Dict, nullptr, std::make_shared<Dict>(std::move(d))); }

namespace {

void check_namespace_value(const std::string& name, const Value& value) {
  if (value.depth() > kMaxNamespaceValueDepth) {
    throw ValueError("namespace attribute '" + name + "' cannot hold " +
                     (value.kind() == Value::Kind::Namespace  ? std::string("a namespace")
                      : value.kind() == Value::Kind::Callable ? std::string("a macro")
                                                              : "this value (it holds a namespace or a macro, or nests deeper than " +
                                                                    std::to_string(kMaxNamespaceValueDepth) + " levels)"));
  }
}

}  // namespace

Value Value::name_space(Dict attributes) {
  for (const auto& [name, value] : attributes.entries) check_namespace_value(name, value);
  Value v = container(Kind::Namespace, nullptr, std::make_shared<Dict>(std::move(attributes)));
  // Deeper than any attribute may be: a namespace never goes into another.
  v.depth_ = kMaxNamespaceValueDepth + 1;
  return v;
}

void Value::set_attribute(const std::string& name, Value value) const {
  check_namespace_value(name, value);
  dict_->set(name, std::move(value));
}

Value Value::loop(Dict attributes) { return container(Kind::Loop, nullptr, std::make_shared<Dict>(std::move(attributes))); }

Value Value::callable(std::string name, std::function<Value(CallArgs&)> call, bool scoped) {
  Value v(Kind::Callable);
  if (scoped) v.depth_ = kMaxNamespaceValueDepth + 1;
  v.callable_ = std::make_shared<Callable>(Callable{std::move(name), std::move(call)});
  return v;
}

bool Value::same_object(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::Undefined: case Kind::None: return true;
    case Kind::Bool: case Kind::Int: return int_ == other.int_;  // small ints and bools are singletons
    case Kind::Float: return false;
    case Kind::String: return text_ == other.text_;
    case Kind::List: case Kind::Tuple: return list_ == other.list_;
    case Kind::Dict: case Kind::Namespace: case Kind::Loop: return dict_ == other.dict_;
    case Kind::Callable: return callable_ == other.callable_;
  }
  return false;
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "NoneType";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::List: return "list";
    case Value::Kind::Tuple: return "tuple";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Namespace: return "Namespace";
    case Value::Kind::Loop: return "LoopContext";
    case Value::Kind::Callable: return "function";
  }
  return "object";
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  // The shortest digits that read back as d, then CPython's layout: fixed
  // notation for decimal exponents in [-4, 16), else d.ddde+XX.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::stoi(sci.substr(e + 1));
  const int point = exponent + 1;  // digits d1d2... mean 0.d1d2... * 10^point
  std::string out;
  if (point > -4 && point <= 16) {
    if (point <= 0) {
      out = "0." + std::string(static_cast<size_t>(-point), '0') + digits;
    } else if (static_cast<size_t>(point) >= digits.size()) {
      out = digits + std::string(static_cast<size_t>(point) - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(static_cast<size_t>(point));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    std::snprintf(buf, sizeof buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += buf;
  }
  return sign + out;
}

namespace {

std::string repr_items(const Value& v, const char* open, const char* close) {
  std::string out = open;
  const auto& items = v.items();
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += to_repr(items[i]);
    check_string_size(out, "a repr");
  }
  if (v.kind() == Value::Kind::Tuple && items.size() == 1) out += ",";
  return out + close;
}

std::string repr_entries(const Dict& d) {
  std::string out = "{";
  for (size_t i = 0; i < d.entries.size(); ++i) {
    if (i) out += ", ";
    out += py_repr_string(d.entries[i].first) + ": " + to_repr(d.entries[i].second);
    check_string_size(out, "a repr");
  }
  return out + "}";
}

}  // namespace

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::String: return v.as_string();
    default: return to_repr(v);
  }
}

std::string to_repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.as_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.as_int());
    case Value::Kind::Float: return format_float(v.as_double());
    case Value::Kind::String: return py_repr_string(v.as_string());
    case Value::Kind::List: return repr_items(v, "[", "]");
    case Value::Kind::Tuple: return repr_items(v, "(", ")");
    case Value::Kind::Dict: return repr_entries(v.entries());
    case Value::Kind::Namespace: return "<Namespace " + repr_entries(v.entries()) + ">";
    case Value::Kind::Loop: return "<LoopContext>";
    case Value::Kind::Callable: return "<function " + v.function().name + ">";
  }
  return "";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: case Value::Kind::None: return false;
    case Value::Kind::Bool: case Value::Kind::Int: return v.as_int() != 0;
    case Value::Kind::Float: return v.as_double() != 0.0;
    case Value::Kind::String: return !v.as_string().empty();
    case Value::Kind::List: case Value::Kind::Tuple: return !v.items().empty();
    case Value::Kind::Dict: return !v.entries().entries.empty();
    default: return true;
  }
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) {
    return false;  // Python: list != tuple, None != anything else
  }
  // Python compares a container with itself as equal without a walk; a
  // list sharing its items at every level (x = [x, x], 30 times over) would
  // otherwise take 2^30 comparisons.
  if ((a.is_sequence() || a.is_mapping()) && a.same_object(b)) return true;
  switch (a.kind()) {
    case Value::Kind::Undefined: case Value::Kind::None: return true;
    case Value::Kind::String: return a.as_string() == b.as_string();
    case Value::Kind::List: case Value::Kind::Tuple: {
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::Dict: {
      const auto& x = a.entries();
      const auto& y = b.entries();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* other = y.find(k);
        if (other == nullptr || !equals(v, *other)) return false;
      }
      return true;
    }
    default: return a.same_object(b);
  }
}

bool less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) {
    return code_points(a.as_string()) < code_points(b.as_string());  // Python orders by code point
  }
  if (a.kind() == b.kind() && a.is_sequence()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  throw ValueError("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: case Value::Kind::Tuple: return v.items();
    case Value::Kind::Dict: {
      List keys;
      for (const auto& entry : v.entries().entries) keys.push_back(Value::string(entry.first));
      return keys;
    }
    case Value::Kind::String: {
      List chars;
      const std::string& s = v.as_string();
      for (size_t i = 0; i < s.size();) {
        std::string one;
        append_utf8(one, next_code_point(s, i));
        chars.push_back(Value::string(std::move(one)));
      }
      return chars;
    }
    default: throw ValueError("'" + type_name(v) + "' object is not iterable");
  }
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) throw ValueError("'in <string>' requires string as left operand, not " + type_name(item));
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_mapping()) return item.is_string() && container.entries().find(item.as_string()) != nullptr;
  const List items = iterate(container);
  return std::any_of(items.begin(), items.end(), [&](const Value& x) { return equals(x, item); });
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<int64_t>(code_points(v.as_string()).size());
    case Value::Kind::List: case Value::Kind::Tuple: return static_cast<int64_t>(v.items().size());
    case Value::Kind::Dict: return static_cast<int64_t>(v.entries().entries.size());
    default: throw ValueError("object of type '" + type_name(v) + "' has no len()");
  }
}

namespace {

// Depth-first, so the depth is checked before the recursion goes further:
// a context nested 100000 levels deep must not overflow the stack.
Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxValueDepth) throw ValueError("values nest deeper than " + std::to_string(kMaxValueDepth) + " levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw ValueError("integer " + std::to_string(u) + " does not fit in 64 bits");
      }
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_at(e, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      d.entries.reserve(j.size());
      for (const auto& [k, e] : j.items()) d.entries.emplace_back(k, from_json_at(e, depth + 1));
      return Value::dict(std::move(d));
    }
    default: throw ValueError("unsupported JSON value (binary or discarded)");
  }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

namespace {

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const char32_t cp = next_code_point(s, i);
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp > 0x7E)) {
      if (cp >= 0x10000) {  // a surrogate pair, as Python writes it
        const char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 | (v >> 10)),
                      static_cast<unsigned>(0xDC00 | (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      }
      out += buf;
    } else {
      append_utf8(out, cp);
    }
  }
  out += '"';
}

struct JsonWriter {
  const JsonDumpOptions& options;
  std::string item_separator;
  std::string key_separator;
  std::string out;

  void newline(int level) {
    out += '\n';
    for (int i = 0; i < level; ++i) out += *options.indent;
  }

  void write(const Value& v, int level) {
    check_string_size(out, "tojson's text");
    switch (v.kind()) {
      case Value::Kind::None: out += "null"; return;
      case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
      case Value::Kind::Int: out += std::to_string(v.as_int()); return;
      case Value::Kind::Float: {
        const double d = v.as_double();
        out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity") : format_float(d);
        return;
      }
      case Value::Kind::String: json_string(out, v.as_string(), options.ensure_ascii); return;
      case Value::Kind::List: case Value::Kind::Tuple: {
        const auto& items = v.items();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_separator;
          if (options.indent) newline(level + 1);
          write(items[i], level + 1);
        }
        if (options.indent) newline(level);
        out += ']';
        return;
      }
      case Value::Kind::Dict: {
        std::vector<const std::pair<std::string, Value>*> entries;
        for (const auto& e : v.entries().entries) entries.push_back(&e);
        if (entries.empty()) {
          out += "{}";
          return;
        }
        if (options.sort_keys) {
          std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
            return code_points(a->first) < code_points(b->first);
          });
        }
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_separator;
          if (options.indent) newline(level + 1);
          json_string(out, entries[i]->first, options.ensure_ascii);
          out += key_separator;
          write(entries[i]->second, level + 1);
        }
        if (options.indent) newline(level);
        out += '}';
        return;
      }
      default:
        throw ValueError("Object of type " + type_name(v) + " is not JSON serializable");
    }
  }
};

}  // namespace

std::string json_dumps(const Value& v, const JsonDumpOptions& options) {
  // Python's defaults: (", ", ": "), or ("," , ": ") once there is an indent.
  JsonWriter writer{options, options.indent ? "," : ", ", ": ", {}};
  if (options.separators) {
    writer.item_separator = options.separators->first;
    writer.key_separator = options.separators->second;
  }
  writer.write(v, 0);
  return std::move(writer.out);
}

namespace {

[[noreturn]] void unsupported_operands(const std::string& op, const Value& a, const Value& b) {
  throw ValueError("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

// a <op> b on int64, or a ValueError where Python would grow a big integer.
template <typename Op>
int64_t checked(Op op, int64_t a, int64_t b) {
  int64_t result = 0;
  if (op(a, b, &result)) throw ValueError("integer overflow (Python would use a big integer)");
  return result;
}
bool add_overflows(int64_t a, int64_t b, int64_t* r) { return __builtin_add_overflow(a, b, r); }
bool sub_overflows(int64_t a, int64_t b, int64_t* r) { return __builtin_sub_overflow(a, b, r); }
bool mul_overflows(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

Value repeat(const Value& seq, int64_t times) {
  const size_t size = seq.is_string() ? seq.as_string().size() : seq.items().size();
  if (times > 0 && size > 0 && static_cast<uint64_t>(times) > (seq.is_string() ? kMaxStringBytes : kMaxListItems) / size) {
    throw ValueError(std::string(seq.is_string() ? "a string" : "a list") + " of " + std::to_string(size) +
                     (seq.is_string() ? " bytes" : " items") + " repeated " + std::to_string(times) +
                     " times is past the limit of a chat template's values");
  }
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value::string(out);
  }
  List out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return seq.kind() == Value::Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

// Python's float divmod: the remainder takes the divisor's sign.
std::pair<double, double> float_divmod(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0.0 && ((y < 0) != (mod < 0))) {
    mod += y;
    div -= 1.0;
  }
  if (div != 0.0) {
    const double floored = std::floor(div);
    if (div - floored > 0.5) div = floored + 1.0;
    else div = floored;
  }
  return {div, mod};
}

}  // namespace

Value binary_operator(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value::string(to_str(a) + to_str(b));
  if (a.is_undefined()) throw ValueError("'" + a.undefined_name() + "' is undefined");
  if (b.is_undefined()) throw ValueError("'" + b.undefined_name() + "' is undefined");
  const bool ints = a.is_int() && b.is_int();
  const bool numbers = a.is_number() && b.is_number();
  if (op == "+") {
    if (ints) return Value::integer(checked(add_overflows, a.as_int(), b.as_int()));
    if (numbers) return Value::number(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) return Value::string(a.as_string() + b.as_string());
    if (a.is_sequence() && a.kind() == b.kind()) {
      List out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return a.kind() == Value::Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    unsupported_operands(op, a, b);
  }
  if (op == "-") {
    if (ints) return Value::integer(checked(sub_overflows, a.as_int(), b.as_int()));
    if (numbers) return Value::number(a.as_double() - b.as_double());
    unsupported_operands(op, a, b);
  }
  if (op == "*") {
    if (ints) return Value::integer(checked(mul_overflows, a.as_int(), b.as_int()));
    if (numbers) return Value::number(a.as_double() * b.as_double());
    if ((a.is_string() || a.is_sequence()) && b.is_int()) return repeat(a, b.as_int());
    if (a.is_int() && (b.is_string() || b.is_sequence())) return repeat(b, a.as_int());
    unsupported_operands(op, a, b);
  }
  if (op == "/" || op == "//" || op == "%") {
    if (a.is_string() && op == "%") throw ValueError("printf-style string formatting with % is not supported");
    if (!numbers) unsupported_operands(op, a, b);
    if (b.as_double() == 0.0) throw ValueError(ints && op != "/" ? "integer division or modulo by zero" : "division by zero");
    if (op == "/") return Value::number(a.as_double() / b.as_double());
    if (ints) {
      const int64_t x = a.as_int(), y = b.as_int();
      if (x == std::numeric_limits<int64_t>::min() && y == -1) throw ValueError("integer overflow (Python would use a big integer)");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        m += y;
        q -= 1;
      }
      return Value::integer(op == "//" ? q : m);
    }
    const auto [div, mod] = float_divmod(a.as_double(), b.as_double());
    return Value::number(op == "//" ? div : mod);
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), exponent = b.as_int(), result = 1;
      while (exponent > 0) {  // by squaring
        if (exponent & 1) result = checked(mul_overflows, result, base);
        exponent >>= 1;
        if (exponent) base = checked(mul_overflows, base, base);
      }
      return Value::integer(result);
    }
    if (numbers) return Value::number(std::pow(a.as_double(), b.as_double()));
    unsupported_operands(op, a, b);
  }
  throw ValueError("unsupported operator '" + op + "'");
}

}  // namespace opd::tokenizer::jinja
