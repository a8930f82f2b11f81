// Private to src/tokenizer: `obj.name`, `obj[key]` and `obj[a:b:c]` as
// jinja2's sandbox resolves them, including the Python methods of str and
// dict that chat templates call ("x".strip(), d.items(), d.get(k)).
#pragma once

#include "jinja_value.h"

#include <string>

namespace opd::tokenizer::jinja {

// obj.name: a dict key (after dict methods), a namespace or loop attribute,
// a bound str/dict method, else Undefined. Throws ValueError on Undefined.
Value get_attribute(const Value& obj, const std::string& name);
// obj[key]: an item, a negative index from the end; a missing key or an
// index out of range is Undefined (as jinja2's getitem). Throws ValueError on Undefined.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] of a string (by code point), list or tuple; a null
// bound is Python's None.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

}  // namespace opd::tokenizer::jinja
