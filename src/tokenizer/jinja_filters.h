// Private to src/tokenizer: jinja2's filters and tests that chat templates
// use, with transformers' tojson (json.dumps, keys in order, no HTML escapes).
#pragma once

#include "jinja_value.h"

#include <string>

namespace opd::tokenizer::jinja {

bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

// `operand | name(args)`; throws ValueError for bad arguments.
Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
// `operand is name(args)`.
bool apply_test(const std::string& name, const Value& operand, CallArgs& args);

// Binds call arguments to a Python signature: positional first, then by
// keyword; what is left over or unknown is a ValueError naming `function`.
class ArgBinder {
 public:
  ArgBinder(const std::string& function, CallArgs& args, std::vector<std::string> parameters);
  // The argument bound to parameter `index`, or nullptr when not given.
  const Value* get(size_t index) const;
  Value get_or(size_t index, Value fallback) const;

 private:
  std::vector<const Value*> bound_;
};

}  // namespace opd::tokenizer::jinja
