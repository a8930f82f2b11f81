#include "jinja_filters.h"

#include "jinja_limits.h"
#include "jinja_methods.h"
#include "jinja_python_text.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace opd::tokenizer::jinja {

ArgBinder::ArgBinder(const std::string& function, CallArgs& args, std::vector<std::string> parameters)
    : bound_(parameters.size(), nullptr) {
  if (args.positional.size() > parameters.size()) {
    throw ValueError(function + "() takes at most " + std::to_string(parameters.size()) + " argument(s), got " +
                     std::to_string(args.positional.size()));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound_[i] = &args.positional[i];
  for (const auto& [key, value] : args.keywords) {
    const auto it = std::find(parameters.begin(), parameters.end(), key);
    if (it == parameters.end()) throw ValueError(function + "() got an unexpected keyword argument '" + key + "'");
    const size_t i = static_cast<size_t>(it - parameters.begin());
    if (bound_[i] != nullptr) throw ValueError(function + "() got multiple values for argument '" + key + "'");
    bound_[i] = &value;
  }
}

const Value* ArgBinder::get(size_t index) const { return bound_[index]; }

Value ArgBinder::get_or(size_t index, Value fallback) const { return bound_[index] ? *bound_[index] : fallback; }

namespace {

const char* const kFilters[] = {"trim", "tojson", "length", "count", "first", "last", "join", "lower", "upper",
                                "capitalize", "title", "replace", "default", "d", "string", "int", "float", "list",
                                "items", "selectattr", "rejectattr", "select", "reject", "map", "safe", "e",
                                "escape", "unique", "dictsort", "reverse", "sort", "abs", "sum", "min", "max"};
const char* const kTests[] = {"defined", "undefined", "none", "string", "mapping", "iterable", "sequence",
                              "number", "integer", "float", "boolean", "true", "false", "even", "odd",
                              "divisibleby", "equalto", "eq", "==", "ne", "!=", "lt", "<", "lessthan", "le", "<=",
                              "gt", ">", "greaterthan", "ge", ">=", "in", "sameas", "lower", "upper", "callable"};

template <size_t N>
bool listed(const char* const (&names)[N], const std::string& name) {
  return std::find_if(std::begin(names), std::end(names), [&](const char* n) { return name == n; }) != std::end(names);
}

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0.
Value get_path(const Value& obj, const std::string& path) {
  Value v = obj;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = get_item(v, numeric ? Value::integer(std::stoll(part)) : Value::string(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

std::string attribute_arg(const Value* v) {
  if (v == nullptr || v->is_none()) return "";
  if (v->is_int()) return std::to_string(v->as_int());
  if (!v->is_string()) throw ValueError("attribute must be a string");
  return v->as_string();
}

// The key a sort or unique compares by: lower-cased strings unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value::string(py_lower(v.as_string())) : v;
}

// select / reject / selectattr / rejectattr.
Value select_items(const std::string& name, const Value& operand, CallArgs& args) {
  const bool by_attribute = name == "selectattr" || name == "rejectattr";
  const bool keep_matching = name == "select" || name == "selectattr";
  CallArgs rest;
  std::string attribute;
  size_t next = 0;
  if (by_attribute) {
    if (args.positional.empty()) throw ValueError(name + "() needs an attribute name");
    attribute = attribute_arg(&args.positional[0]);
    next = 1;
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) throw ValueError(name + "(): the test name must be a string");
    test = args.positional[next].as_string();
    if (!is_known_test(test)) throw ValueError(name + "(): unsupported test '" + test + "'");
    rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next) + 1, args.positional.end());
  }
  rest.keywords = args.keywords;
  List out;
  for (const auto& item : iterate(operand)) {
    const Value subject = by_attribute ? get_path(item, attribute) : item;
    CallArgs test_args = rest;
    const bool passes = test.empty() ? truthy(subject) : apply_test(test, subject, test_args);
    if (passes == keep_matching) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value map_items(const Value& operand, CallArgs& args) {
  List out;
  const auto attribute = std::find_if(args.keywords.begin(), args.keywords.end(), [](const auto& kw) { return kw.first == "attribute"; });
  if (attribute != args.keywords.end()) {
    const std::string path = attribute_arg(&attribute->second);
    const Value* fallback = nullptr;
    for (const auto& [k, v] : args.keywords) {
      if (k == "default") fallback = &v;
      else if (k != "attribute") throw ValueError("map() got an unexpected keyword argument '" + k + "'");
    }
    for (const auto& item : iterate(operand)) {
      Value v = get_path(item, path);
      out.push_back(v.is_undefined() && fallback ? *fallback : v);
    }
    return Value::list(std::move(out));
  }
  if (args.positional.empty() || !args.positional[0].is_string()) throw ValueError("map() needs a filter name or attribute=");
  const std::string filter = args.positional[0].as_string();
  if (!is_known_filter(filter)) throw ValueError("map(): unsupported filter '" + filter + "'");
  for (const auto& item : iterate(operand)) {
    CallArgs filter_args{{args.positional.begin() + 1, args.positional.end()}, args.keywords};
    out.push_back(apply_filter(filter, item, filter_args));
  }
  return Value::list(std::move(out));
}

Value to_int(const Value& v, const Value& fallback, int64_t base) {
  if (v.is_undefined()) throw ValueError("'" + v.undefined_name() + "' is undefined");
  if (v.is_int()) return Value::integer(v.as_int());
  if (v.kind() == Value::Kind::Float) {
    const double d = v.as_double();
    return std::isfinite(d) ? Value::integer(static_cast<int64_t>(d)) : fallback;
  }
  if (!v.is_string()) return fallback;
  std::string s = py_strip(v.as_string(), std::nullopt, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long i = std::strtoll(s.c_str(), &end, static_cast<int>(base));
  if (errno == 0 && *end == '\0') return Value::integer(i);
  const double d = std::strtod(s.c_str(), &end);  // jinja2 retries int(float(value))
  if (*end == '\0' && std::isfinite(d)) return Value::integer(static_cast<int64_t>(d));
  return fallback;
}

Value to_float(const Value& v, const Value& fallback) {
  if (v.is_undefined()) throw ValueError("'" + v.undefined_name() + "' is undefined");
  if (v.is_number()) return Value::number(v.as_double());
  if (!v.is_string()) return fallback;
  const std::string s = py_strip(v.as_string(), std::nullopt, true, true);
  if (s.empty()) return fallback;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  return *end == '\0' ? Value::number(d) : fallback;
}

Value tojson(const Value& operand, CallArgs& args) {
  // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  ArgBinder a("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions options;
  options.ensure_ascii = truthy(a.get_or(0, Value::boolean(false)));
  if (const Value* indent = a.get(1); indent != nullptr && !indent->is_none()) {
    if (indent->is_int()) {
      if (indent->as_int() > kMaxJsonIndent) {
        throw ValueError("tojson indent " + std::to_string(indent->as_int()) + " is past the limit of " +
                         std::to_string(kMaxJsonIndent));
      }
      options.indent = std::string(static_cast<size_t>(std::max<int64_t>(indent->as_int(), 0)), ' ');
    } else if (indent->is_string()) {
      options.indent = indent->as_string();
      if (static_cast<int64_t>(options.indent->size()) > kMaxJsonIndent) {
        throw ValueError("tojson indent of " + std::to_string(options.indent->size()) + " characters is past the limit of " +
                         std::to_string(kMaxJsonIndent));
      }
    } else {
      throw ValueError("tojson indent must be an int or a str");
    }
  }
  if (const Value* sep = a.get(2); sep != nullptr && !sep->is_none()) {
    if (!sep->is_sequence() || sep->items().size() != 2 || !sep->items()[0].is_string() || !sep->items()[1].is_string()) {
      throw ValueError("tojson separators must be a pair of strings");
    }
    options.separators = std::make_pair(sep->items()[0].as_string(), sep->items()[1].as_string());
  }
  options.sort_keys = truthy(a.get_or(3, Value::boolean(false)));
  if (operand.is_undefined()) throw ValueError("Object of type Undefined is not JSON serializable");
  return Value::string(json_dumps(operand, options));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Value sorted_items(const Value& operand, CallArgs& args) {
  ArgBinder a("sort", args, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = truthy(a.get_or(0, Value::boolean(false)));
  const bool case_sensitive = truthy(a.get_or(1, Value::boolean(false)));
  const std::string attribute = attribute_arg(a.get(2));
  List items = iterate(operand);
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    const Value kx = sort_key(attribute.empty() ? x : get_path(x, attribute), case_sensitive);
    const Value ky = sort_key(attribute.empty() ? y : get_path(y, attribute), case_sensitive);
    return reverse ? less(ky, kx) : less(kx, ky);
  });
  return Value::list(std::move(items));
}

Value extreme(const std::string& name, const Value& operand, CallArgs& args) {
  ArgBinder a(name, args, {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(a.get_or(0, Value::boolean(false)));
  const std::string attribute = attribute_arg(a.get(1));
  const List items = iterate(operand);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const Value* best = &items[0];
  for (const auto& item : items) {
    const Value k = sort_key(attribute.empty() ? item : get_path(item, attribute), case_sensitive);
    const Value kb = sort_key(attribute.empty() ? *best : get_path(*best, attribute), case_sensitive);
    if (name == "min" ? less(k, kb) : less(kb, k)) best = &item;
  }
  return *best;
}

}  // namespace

bool is_known_filter(const std::string& name) { return listed(kFilters, name); }
bool is_known_test(const std::string& name) { return listed(kTests, name); }

Value apply_filter(const std::string& name, const Value& operand, CallArgs& args) {
  if (name == "tojson") return tojson(operand, args);
  if (name == "trim") {
    ArgBinder a(name, args, {"chars"});
    const Value* chars = a.get(0);
    return Value::string(py_strip(to_str(operand), chars && chars->is_string() ? std::optional(chars->as_string()) : std::nullopt,
                                  true, true));
  }
  if (name == "length" || name == "count") {
    ArgBinder a(name, args, {});
    return Value::integer(length(operand));
  }
  if (name == "first" || name == "last") {
    ArgBinder a(name, args, {});
    const List items = iterate(operand);
    if (items.empty()) return Value::undefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    ArgBinder a(name, args, {"d", "attribute"});
    const std::string sep = to_str(a.get_or(0, Value::string("")));
    const std::string attribute = attribute_arg(a.get(1));
    std::string out;
    bool first = true;
    for (const auto& item : iterate(operand)) {
      if (!first) out += sep;
      out += to_str(attribute.empty() ? item : get_path(item, attribute));
      check_string_size(out, "join's text");
      first = false;
    }
    return Value::string(out);
  }
  if (name == "lower" || name == "upper" || name == "capitalize" || name == "title") {
    ArgBinder a(name, args, {});
    const Value s = Value::string(to_str(operand));
    if (name == "title") return Value::string(jinja_title(s.as_string()));  // not str.title(): words also break at - ( [ { <
    CallArgs none;
    return get_attribute(s, name).function().call(none);  // str.lower() and the like
  }
  if (name == "replace") {
    ArgBinder a(name, args, {"old", "new", "count"});
    const Value* count = a.get(2);
    return Value::string(py_replace(to_str(operand), to_str(a.get_or(0, Value::string(""))),
                                    to_str(a.get_or(1, Value::string(""))),
                                    count && count->is_int() ? count->as_int() : -1));
  }
  if (name == "default" || name == "d") {
    ArgBinder a(name, args, {"default_value", "boolean"});
    const bool use_default = operand.is_undefined() || (truthy(a.get_or(1, Value::boolean(false))) && !truthy(operand));
    return use_default ? a.get_or(0, Value::string("")) : operand;
  }
  if (name == "string" || name == "safe") {
    ArgBinder a(name, args, {});
    return operand.is_string() ? operand : Value::string(to_str(operand));
  }
  if (name == "e" || name == "escape") {
    ArgBinder a(name, args, {});
    return Value::string(html_escape(to_str(operand)));
  }
  if (name == "int") {
    ArgBinder a(name, args, {"default", "base"});
    return to_int(operand, a.get_or(0, Value::integer(0)), a.get_or(1, Value::integer(10)).as_int());
  }
  if (name == "float") {
    ArgBinder a(name, args, {"default"});
    return to_float(operand, a.get_or(0, Value::number(0.0)));
  }
  if (name == "list") {
    ArgBinder a(name, args, {});
    return Value::list(iterate(operand));
  }
  if (name == "items") {
    ArgBinder a(name, args, {});
    if (operand.is_undefined()) return Value::list({});
    if (!operand.is_mapping()) throw ValueError("items filter: can only get item pairs from a mapping, not " + type_name(operand));
    CallArgs none;
    return get_attribute(operand, "items").function().call(none);
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return select_items(name, operand, args);
  }
  if (name == "map") return map_items(operand, args);
  if (name == "unique") {
    ArgBinder a(name, args, {"case_sensitive", "attribute"});
    const bool case_sensitive = truthy(a.get_or(0, Value::boolean(false)));
    const std::string attribute = attribute_arg(a.get(1));
    List out, seen;
    for (const auto& item : iterate(operand)) {
      const Value key = sort_key(attribute.empty() ? item : get_path(item, attribute), case_sensitive);
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return Value::list(std::move(out));
  }
  if (name == "dictsort") {
    ArgBinder a(name, args, {"case_sensitive", "by", "reverse"});
    if (!operand.is_mapping()) throw ValueError("dictsort filter: not a mapping");
    const bool case_sensitive = truthy(a.get_or(0, Value::boolean(false)));
    const std::string by = to_str(a.get_or(1, Value::string("key")));
    if (by != "key" && by != "value") throw ValueError("dictsort: You can only sort by either 'key' or 'value'");
    const bool reverse = truthy(a.get_or(2, Value::boolean(false)));
    List pairs;
    for (const auto& [k, v] : operand.entries().entries) pairs.push_back(Value::tuple({Value::string(k), v}));
    const size_t index = by == "key" ? 0 : 1;
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
      const Value kx = sort_key(x.items()[index], case_sensitive);
      const Value ky = sort_key(y.items()[index], case_sensitive);
      return reverse ? less(ky, kx) : less(kx, ky);
    });
    return Value::list(std::move(pairs));
  }
  if (name == "reverse") {
    ArgBinder a(name, args, {});
    if (operand.is_string()) return get_slice(operand, Value::none(), Value::none(), Value::integer(-1));
    List items = iterate(operand);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "sort") return sorted_items(operand, args);
  if (name == "abs") {
    ArgBinder a(name, args, {});
    if (operand.is_int()) return Value::integer(std::llabs(operand.as_int()));
    if (operand.is_number()) return Value::number(std::fabs(operand.as_double()));
    throw ValueError("bad operand type for abs(): '" + type_name(operand) + "'");
  }
  if (name == "sum") {
    ArgBinder a(name, args, {"attribute", "start"});
    const std::string attribute = attribute_arg(a.get(0));
    Value total = a.get_or(1, Value::integer(0));
    for (const auto& item : iterate(operand)) total = binary_operator("+", total, attribute.empty() ? item : get_path(item, attribute));
    return total;
  }
  if (name == "min" || name == "max") return extreme(name, operand, args);
  throw ValueError("unsupported filter '" + name + "'");
}

bool apply_test(const std::string& name, const Value& v, CallArgs& args) {
  const auto arg = [&](const char* parameter) {
    ArgBinder a(name, args, {parameter});
    if (a.get(0) == nullptr) throw ValueError("test '" + name + "' needs an argument");
    return *a.get(0);
  };
  const auto no_args = [&] { ArgBinder a(name, args, {}); };
  using K = Value::Kind;
  if (name == "defined" || name == "undefined") {
    no_args();
    return v.is_undefined() == (name == "undefined");
  }
  if (name == "none") return no_args(), v.is_none();
  if (name == "string") return no_args(), v.is_string();
  if (name == "mapping") return no_args(), v.is_mapping();
  if (name == "iterable") {
    no_args();
    return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_mapping();
  }
  if (name == "sequence") {
    no_args();  // len() and [] both work: str, list, tuple, dict (and Undefined's len)
    return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_mapping();
  }
  if (name == "number") return no_args(), v.is_number();
  if (name == "integer") return no_args(), v.kind() == K::Int;
  if (name == "float") return no_args(), v.kind() == K::Float;
  if (name == "boolean") return no_args(), v.kind() == K::Bool;
  if (name == "true" || name == "false") return no_args(), v.kind() == K::Bool && v.as_bool() == (name == "true");
  if (name == "callable") return no_args(), v.kind() == K::Callable;
  if (name == "lower" || name == "upper") {
    no_args();
    const std::string s = to_str(v);
    return name == "lower" ? py_lower(s) == s : py_upper(s) == s;
  }
  if (name == "even" || name == "odd" || name == "divisibleby") {
    const Value divisor = name == "divisibleby" ? arg("num") : (no_args(), Value::integer(2));
    if (v.is_undefined()) throw ValueError("'" + v.undefined_name() + "' is undefined");
    if (!v.is_number() || !divisor.is_number()) throw ValueError("test '" + name + "' needs numbers");
    bool divisible;
    if (v.is_int() && divisor.is_int()) {
      if (divisor.as_int() == 0) throw ValueError("integer division or modulo by zero");
      divisible = v.as_int() % divisor.as_int() == 0;
    } else {
      divisible = std::fmod(v.as_double(), divisor.as_double()) == 0;
    }
    return name == "odd" ? !divisible : divisible;
  }
  if (name == "equalto" || name == "eq" || name == "==") return equals(v, arg("other"));
  if (name == "ne" || name == "!=") return !equals(v, arg("other"));
  if (name == "lt" || name == "<" || name == "lessthan") return less(v, arg("other"));
  if (name == "le" || name == "<=") return !less(arg("other"), v);
  if (name == "gt" || name == ">" || name == "greaterthan") return less(arg("other"), v);
  if (name == "ge" || name == ">=") return !less(v, arg("other"));
  if (name == "sameas") return v.same_object(arg("other"));
  if (name == "in") {
    return contains(arg("seq"), v);
  }
  throw ValueError("unsupported test '" + name + "'");
}

}  // namespace opd::tokenizer::jinja
