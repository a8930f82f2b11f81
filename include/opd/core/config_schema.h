// One declaration per config field: its YAML key, the member it fills, the
// check on its value and a one-line doc (STYLE "Configuration", after TRL's
// GKDConfig). The YAML reader, the resolved-config writer, `--set`, the CLI
// options and the generated reference all read these tables, so a key, its
// range and its doc are spelled once. Header-only and free of YAML so that
// tools and objectives can read a field's range and doc cheaply.
#pragma once

#include "opd/core/join.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace opd::config {

using opd::join;  // core/join.h: lists in error messages and the reference

// An interval of allowed numbers, and how an error or the reference says it.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;

  bool contains(double x) const {
    return (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
  }
  bool bounded() const { return !std::isinf(lo) || !std::isinf(hi); }
  // ">= 0", "> 0", "in (0, 1]"; "any" when unbounded.
  std::string describe() const {
    std::ostringstream s;
    if (!bounded()) return "any";
    if (std::isinf(hi)) {
      s << (lo_open ? "> " : ">= ") << lo;
    } else {
      s << "in " << (lo_open ? "(" : "[") << lo << ", " << hi << (hi_open ? ")" : "]");
    }
    return s.str();
  }
};

// What a value must satisfy besides its type.
struct Check {
  Range range;            // numbers and integers
  bool nonempty = false;  // strings: '' is refused
  bool required = false;  // no default: a recipe without the key is refused
  std::vector<std::string> items;  // string lists: the allowed entries (each at most once)
};

inline Check in_range(Range r) {
  Check c;
  c.range = r;
  return c;
}
inline Check any() { return {}; }
inline Check at_least(double lo) { return in_range({lo, Range{}.hi, false, false}); }
inline Check above(double lo) { return in_range({lo, Range{}.hi, true, false}); }
inline Check closed(double lo, double hi) { return in_range({lo, hi, false, false}); }       // [lo, hi]
inline Check open_closed(double lo, double hi) { return in_range({lo, hi, true, false}); }  // (lo, hi]
inline Check closed_open(double lo, double hi) { return in_range({lo, hi, false, true}); }  // [lo, hi)
inline Check open(double lo, double hi) { return in_range({lo, hi, true, true}); }          // (lo, hi)
inline Check nonempty() {
  Check c;
  c.nonempty = true;
  return c;
}
inline Check required() {
  Check c = nonempty();
  c.required = true;
  return c;
}
inline Check items(std::vector<std::string> allowed) {
  Check c;
  c.items = std::move(allowed);
  return c;
}

// The YAML shape of a field.
enum class ValueType {
  kInteger,     // int64_t
  kUnsigned,    // uint64_t
  kNumber,      // double
  kBool,
  kString,
  kChoice,      // an enum, by name
  kStringList,  // std::vector<std::string>
  kNumberPair,  // two doubles, YAML [a, b]
};

// A field's value in a type-neutral form; a choice is its name.
using Value = std::variant<int64_t, uint64_t, double, bool, std::string, std::vector<std::string>,
                           std::pair<double, double>>;

// An enum's names, in declaration order: each config enum declares one
// `choices(E)` next to itself (found by ADL), its one list of names.
template <typename E>
using Choices = std::vector<std::pair<E, const char*>>;

template <typename E>
const char* choice_name(E value) {
  for (const auto& [v, name] : choices(E{})) {
    if (v == value) return name;
  }
  return "?";
}

template <typename E>
std::vector<std::string> choice_names() {
  std::vector<std::string> names;
  for (const auto& c : choices(E{})) names.emplace_back(c.second);
  return names;
}

// One field of config struct S.
template <typename S>
struct Field {
  std::string key;     // YAML key within its section
  ValueType type;
  Check check;
  std::vector<std::string> names;  // kChoice: the allowed names
  std::string doc;     // one line for the reference and --help
  std::function<Value(const S&)> get;
  std::function<void(S&, const Value&)> set;
};

template <typename S>
using Schema = std::vector<Field<S>>;

template <typename T>
constexpr ValueType value_type_of() {
  if constexpr (std::is_same_v<T, int64_t>) return ValueType::kInteger;
  if constexpr (std::is_same_v<T, uint64_t>) return ValueType::kUnsigned;
  if constexpr (std::is_same_v<T, double>) return ValueType::kNumber;
  if constexpr (std::is_same_v<T, bool>) return ValueType::kBool;
  if constexpr (std::is_same_v<T, std::string>) return ValueType::kString;
  if constexpr (std::is_same_v<T, std::vector<std::string>>) return ValueType::kStringList;
  if constexpr (std::is_enum_v<T>) return ValueType::kChoice;
}

// The field `key` stored in `member`; enums go by the names of choices(T).
template <typename S, typename T>
Field<S> field(std::string key, T S::*member, Check check, std::string doc) {
  Field<S> f;
  f.key = std::move(key);
  f.type = value_type_of<T>();
  f.check = std::move(check);
  f.doc = std::move(doc);
  if constexpr (std::is_enum_v<T>) {
    f.names = choice_names<T>();
    f.get = [member](const S& s) { return Value(std::string(choice_name(s.*member))); };
    f.set = [member](S& s, const Value& v) {
      for (const auto& [e, name] : choices(T{})) {
        if (std::get<std::string>(v) == name) s.*member = e;
      }
    };
  } else {
    f.get = [member](const S& s) { return Value(s.*member); };
    f.set = [member](S& s, const Value& v) { s.*member = std::get<T>(v); };
  }
  return f;
}

// Two doubles under one key, e.g. optim.betas = [beta1, beta2].
template <typename S>
Field<S> number_pair(std::string key, double S::*first, double S::*second, Check check, std::string doc) {
  Field<S> f;
  f.key = std::move(key);
  f.type = ValueType::kNumberPair;
  f.check = std::move(check);
  f.doc = std::move(doc);
  f.get = [first, second](const S& s) { return Value(std::make_pair(s.*first, s.*second)); };
  f.set = [first, second](S& s, const Value& v) {
    std::tie(s.*first, s.*second) = std::get<std::pair<double, double>>(v);
  };
  return f;
}

// The field named `key`, or nullptr.
template <typename S>
const Field<S>* find_field(const Schema<S>& schema, const std::string& key) {
  for (const auto& f : schema) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

// The keys of `schema`, in declaration order.
template <typename S>
std::vector<std::string> keys_of(const Schema<S>& schema) {
  std::vector<std::string> keys;
  for (const auto& f : schema) keys.push_back(f.key);
  return keys;
}

// Expands a struct's field list (X(type, member, key, default, check, doc))
// into its members, each with its default.
#define OPD_CONFIG_MEMBER(type, member, key, default_value, check, doc) type member = default_value;
// ... and, with `using S = <the struct>;` in scope and opd::config visible,
// into the entries of its Schema<S>.
#define OPD_CONFIG_FIELD(type, member, key, default_value, check, doc) field(key, &S::member, check, doc),

}  // namespace opd::config
