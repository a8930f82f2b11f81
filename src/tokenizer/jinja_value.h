// Private to src/tokenizer: the values a Jinja template computes with, and
// the Python semantics jinja2 gives them (str/repr, truth, ==, <, json.dumps).
// Lists and dicts are shared and never changed after they are built (the
// sandbox is immutable); only a namespace() is written to, by `set ns.x = v`.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace opd::tokenizer::jinja {

class Value;
using List = std::vector<Value>;

// A Python dict with string keys, in insertion order (JSON object order).
struct Dict {
  std::vector<std::pair<std::string, Value>> entries;
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value value);  // replaces in place or appends
};

// Positional and keyword arguments of a call, in source order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
};

// A global function, a bound method ("abc".upper) or a macro.
struct Callable {
  std::string name;  // for messages: "strip", "raise_exception", "macro m"
  std::function<Value(CallArgs&)> call;
};

// A failure without a place: the evaluator adds origin and line.
class ValueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Tuple, Dict, Namespace, Loop, Callable };

  Value() = default;  // Undefined
  // Every constructor of a string or a container throws ValueError past
  // the limits of jinja_limits.h (size, items, nesting depth).
  static Value undefined(std::string name) { Value v; v.text_ = std::move(name); return v; }
  static Value none() { return Value(Kind::None); }
  static Value boolean(bool b) { Value v(Kind::Bool); v.int_ = b; return v; }
  static Value integer(int64_t i) { Value v(Kind::Int); v.int_ = i; return v; }
  static Value number(double d) { Value v(Kind::Float); v.float_ = d; return v; }
  static Value string(std::string s);
  static Value list(List items);
  static Value tuple(List items);
  static Value dict(Dict d);
  static Value name_space(Dict attributes);  // mutable: set_attribute
  static Value loop(Dict attributes);        // the `loop` of a for block
  // `scoped`: a macro, reading a scope that ends before the render does; it
  // counts as nested past kMaxNamespaceValueDepth, so no namespace holds it.
  static Value callable(std::string name, std::function<Value(CallArgs&)> call, bool scoped = false);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_int() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // Python: bool is an int
  bool is_number() const { return is_int() || kind_ == Kind::Float; }
  bool is_sequence() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }
  bool is_mapping() const { return kind_ == Kind::Dict; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }
  double as_double() const { return kind_ == Kind::Float ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return text_; }
  const std::string& undefined_name() const { return text_; }  // what was looked up
  const List& items() const { return *list_; }
  const Dict& entries() const { return *dict_; }
  // `set ns.name = value` on a namespace: throws ValueError when value holds
  // a namespace or nests deeper than kMaxNamespaceValueDepth (no cycles).
  void set_attribute(const std::string& name, Value value) const;
  const Callable& function() const { return *callable_; }
  bool same_object(const Value& other) const;  // Python `is`
  int depth() const { return depth_; }  // 0 for scalars; 1 + the deepest item for containers

 private:
  explicit Value(Kind kind) : kind_(kind) {}
  static Value container(Kind kind, std::shared_ptr<List> list, std::shared_ptr<Dict> dict);
  Kind kind_ = Kind::Undefined;
  int depth_ = 0;
  int64_t int_ = 0;
  double float_ = 0;
  std::string text_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Callable> callable_;
};

// Python's type name, for messages: "str", "int", "dict", "NoneType", ...
std::string type_name(const Value& v);
// Throws ValueError when `text`, being built, is past kMaxStringBytes;
// `what` names it ("the rendered text", "join").
void check_string_size(const std::string& text, const char* what);

// Python str(v); Undefined is "".
std::string to_str(const Value& v);
// Python repr(v).
std::string to_repr(const Value& v);
// Python float.__repr__: "1.0", "0.1", "1e+16", "inf".
std::string format_float(double d);
// Python bool(v).
bool truthy(const Value& v);
// Python a == b (jinja2's Undefined equals only Undefined).
bool equals(const Value& a, const Value& b);
// Python a < b for numbers, strings and sequences; throws ValueError otherwise.
bool less(const Value& a, const Value& b);
// The items `for` visits: a list's elements, a dict's keys, a string's
// characters, nothing for Undefined; throws ValueError for other types.
List iterate(const Value& v);
// Python `item in container`: a substring, a dict key, an element; throws
// ValueError for containers that are none of these.
bool contains(const Value& container, const Value& item);
// Python `a <op> b` for + - * / // % ** and jinja2's ~ (str concatenation);
// throws ValueError for operands Python refuses (and for Undefined, but in ~).
Value binary_operator(const std::string& op, const Value& a, const Value& b);
// Number of code points of a string, items of a list or dict (Python len).
int64_t length(const Value& v);

// The value of a JSON document (objects keep their order).
Value from_json(const nlohmann::ordered_json& j);

// Python json.dumps(v, ensure_ascii, indent, separators, sort_keys), as
// transformers' tojson filter calls it.
struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // json.dumps(indent=4) -> "    "
  std::optional<std::pair<std::string, std::string>> separators;  // (item, key)
  bool sort_keys = false;
};
std::string json_dumps(const Value& v, const JsonDumpOptions& options);

}  // namespace opd::tokenizer::jinja
