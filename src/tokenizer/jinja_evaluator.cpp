#include "jinja_evaluator.h"

#include "jinja_filters.h"
#include "jinja_limits.h"
#include "jinja_methods.h"
#include "opd/tokenizer/jinja_template.h"

#include <algorithm>
#include <ctime>

namespace opd::tokenizer::jinja {
namespace {

struct Scope;
using ScopePtr = std::shared_ptr<Scope>;

// Variables set in one frame; lookups continue in the enclosing frame.
struct Scope {
  ScopePtr parent;
  Dict vars;
};

ScopePtr child_of(const ScopePtr& parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

// raise_exception(message): the message is the whole error.
class TemplateRaised : public ValueError {
 public:
  using ValueError::ValueError;
};

// The sandbox's MAX_RANGE.
constexpr int64_t kMaxRange = 100000;

Value range_global(CallArgs& args) {
  ArgBinder a("range", args, {"start", "stop", "step"});
  std::vector<int64_t> bounds;
  for (size_t i = 0; i < 3; ++i) {
    if (const Value* v = a.get(i)) {
      if (!v->is_int()) throw ValueError("range() arguments must be integers, not " + type_name(*v));
      bounds.push_back(v->as_int());
    }
  }
  if (bounds.empty()) throw ValueError("range expected at least 1 argument, got 0");
  const int64_t start = bounds.size() > 1 ? bounds[0] : 0;
  const int64_t stop = bounds.size() > 1 ? bounds[1] : bounds[0];
  const int64_t step = bounds.size() > 2 ? bounds[2] : 1;
  if (step == 0) throw ValueError("range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange) {
      throw ValueError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
    out.push_back(Value::integer(i));
  }
  return Value::list(std::move(out));
}

Value strftime_now_global(CallArgs& args) {
  ArgBinder a("strftime_now", args, {"format"});
  const Value* format = a.get(0);
  if (format == nullptr || !format->is_string()) throw ValueError("strftime_now() needs a format string");
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::string buf(256, '\0');
  const size_t n = std::strftime(buf.data(), buf.size(), format->as_string().c_str(), &local);
  buf.resize(n);
  return Value::string(buf);
}

Value namespace_global(CallArgs& args) {
  Dict attributes;
  if (args.positional.size() > 1) throw ValueError("namespace() takes at most one positional argument");
  if (!args.positional.empty()) {
    if (!args.positional[0].is_mapping()) throw ValueError("namespace() positional argument must be a mapping");
    attributes = args.positional[0].entries();
  }
  for (const auto& [k, v] : args.keywords) attributes.set(k, v);
  return Value::name_space(std::move(attributes));
}

Value dict_global(CallArgs& args) {
  Dict d;
  if (!args.positional.empty()) throw ValueError("dict() takes keyword arguments only here");
  for (const auto& [k, v] : args.keywords) d.set(k, v);
  return Value::dict(std::move(d));
}

Dict make_globals() {
  Dict g;
  g.set("raise_exception", Value::callable("raise_exception", [](CallArgs& args) -> Value {
          ArgBinder a("raise_exception", args, {"message"});
          throw TemplateRaised(to_str(a.get_or(0, Value::string(""))));
        }));
  g.set("strftime_now", Value::callable("strftime_now", strftime_now_global));
  g.set("namespace", Value::callable("namespace", namespace_global));
  g.set("range", Value::callable("range", range_global));
  g.set("dict", Value::callable("dict", dict_global));
  return g;
}

enum class Flow { Normal, Break, Continue };

class Evaluator {
 public:
  Evaluator(const std::string& origin, const Dict& context) : origin_(origin), context_(context), globals_(make_globals()) {}

  std::string run(const Body& body) {
    std::string out;
    render(body, std::make_shared<Scope>(), out);
    return out;
  }

 private:
  [[noreturn]] void fail(int line, const std::string& detail) const { throw JinjaError(origin_, line, detail); }

  Value lookup(const std::string& name, const ScopePtr& scope) const {
    for (const Scope* s = scope.get(); s != nullptr; s = s->parent.get()) {
      if (const Value* v = s->vars.find(name)) return *v;
    }
    if (const Value* v = context_.find(name)) return *v;
    if (const Value* v = globals_.find(name)) return *v;
    return Value::undefined(name);
  }

  Flow render(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& node : body) {
      const Flow flow = render_node(*node, scope, out);
      if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
  }

  // Appends to a text being rendered (the output, a macro's or a set
  // block's), which may not outgrow the limit of a string.
  void emit(std::string& out, const std::string& text, int line) const {
    out += text;
    if (out.size() > kMaxStringBytes) {
      fail(line, "the rendered text is longer than " + std::to_string(kMaxStringBytes >> 20) +
                     " MiB, the limit of a chat template's output");
    }
  }

  // One more for-loop iteration or macro call; a template past
  // kMaxIterations in one render fails.
  void count_iteration(int line) {
    if (++iterations_ > kMaxIterations) {
      fail(line, "more than " + std::to_string(kMaxIterations) +
                     " loop iterations and macro calls in one render, the limit of a chat template");
    }
  }

  // Evaluation steps, weighted by the size of what a step handles (a step
  // over a long string or list costs more): a loop of a million
  // iterations over a million-item list fails instead of running for hours.
  void charge(const Value& v, int line) {
    int64_t cost = 1;
    if (v.is_string()) cost += static_cast<int64_t>(v.as_string().size() >> 6);
    if (v.is_sequence()) cost += static_cast<int64_t>(v.items().size());
    if (v.is_mapping()) cost += static_cast<int64_t>(v.entries().entries.size());
    work_ += cost;
    if (work_ > kMaxWork) fail(line, "the template does too much work (more than " + std::to_string(kMaxWork) + " steps)");
  }

  Flow render_node(const Node& node, const ScopePtr& scope, std::string& out) {
    switch (node.kind) {
      case Node::Kind::Text: emit(out, node.text, node.line); return Flow::Normal;
      case Node::Kind::Print: emit(out, to_str(eval(*node.expr, scope)), node.line); return Flow::Normal;
      case Node::Kind::If:
        for (size_t i = 0; i < node.conditions.size(); ++i) {
          if (truthy(eval(*node.conditions[i], scope))) return render(node.bodies[i], scope, out);
        }
        return render(node.else_body, scope, out);
      case Node::Kind::For: render_for(node, scope, out); return Flow::Normal;
      case Node::Kind::Set: assign(node, eval(*node.expr, scope), scope); return Flow::Normal;
      case Node::Kind::SetBlock: {
        std::string text;
        render(node.bodies[0], child_of(scope), text);
        assign(node, Value::string(std::move(text)), scope);
        return Flow::Normal;
      }
      case Node::Kind::Macro: scope->vars.set(node.name, make_macro(node, scope)); return Flow::Normal;
      case Node::Kind::Break: return Flow::Break;
      case Node::Kind::Continue: return Flow::Continue;
      case Node::Kind::Generation: return render(node.bodies[0], scope, out);
    }
    return Flow::Normal;
  }

  void bind_targets(const std::vector<std::string>& targets, const Value& value, Scope& scope, int line) const {
    if (targets.size() == 1) {
      scope.vars.set(targets[0], value);
      return;
    }
    List parts;
    try {
      parts = iterate(value);
    } catch (const ValueError& e) {
      fail(line, std::string("cannot unpack: ") + e.what());
    }
    if (parts.size() != targets.size()) {
      fail(line, (parts.size() < targets.size() ? "not enough" : "too many") + std::string(" values to unpack (expected ") +
                     std::to_string(targets.size()) + ", got " + std::to_string(parts.size()) + ")");
    }
    for (size_t i = 0; i < parts.size(); ++i) scope.vars.set(targets[i], parts[i]);
  }

  void assign(const Node& node, const Value& value, const ScopePtr& scope) const {
    if (node.attribute.empty()) {
      bind_targets(node.targets, value, *scope, node.line);
      return;
    }
    const Value ns = lookup(node.targets[0], scope);
    if (ns.kind() != Value::Kind::Namespace) {
      fail(node.line, "cannot assign attribute '" + node.attribute + "' on non-namespace object '" + node.targets[0] + "'");
    }
    try {
      ns.set_attribute(node.attribute, value);
    } catch (const ValueError& e) {
      fail(node.line, e.what());
    }
  }

  void render_for(const Node& node, const ScopePtr& scope, std::string& out) {
    List items;
    try {
      items = iterate(eval(*node.expr, scope));
    } catch (const ValueError& e) {
      fail(node.line, e.what());
    }
    if (node.filter) {  // `for x in xs if cond`: filtered before loop.* is counted
      List kept;
      for (const auto& item : items) {
        count_iteration(node.line);
        const auto s = child_of(scope);
        bind_targets(node.targets, item, *s, node.line);
        if (truthy(eval(*node.filter, s))) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      render(node.else_body, child_of(scope), out);
      return;
    }
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      count_iteration(node.line);
      const auto s = child_of(scope);
      bind_targets(node.targets, items[static_cast<size_t>(i)], *s, node.line);
      Dict loop;
      loop.set("index", Value::integer(i + 1));
      loop.set("index0", Value::integer(i));
      loop.set("revindex", Value::integer(n - i));
      loop.set("revindex0", Value::integer(n - i - 1));
      loop.set("first", Value::boolean(i == 0));
      loop.set("last", Value::boolean(i == n - 1));
      loop.set("length", Value::integer(n));
      loop.set("depth", Value::integer(1));
      loop.set("depth0", Value::integer(0));
      loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem"));
      loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem"));
      loop.set("cycle", Value::callable("cycle", [i](CallArgs& args) {
                 if (args.positional.empty()) throw ValueError("no items for cycling given");
                 return args.positional[static_cast<size_t>(i) % args.positional.size()];
               }));
      s->vars.set("loop", Value::loop(std::move(loop)));
      if (render(node.bodies[0], s, out) == Flow::Break) break;
    }
  }

  // The macro holds its defining scope weakly: that scope holds the macro,
  // and a strong reference back would be a cycle, never freed. A macro
  // cannot outlive the scope (it is a scoped callable, which no namespace
  // attribute may hold, and nothing else outlives a scope); were it to, the
  // call fails.
  Value make_macro(const Node& node, const ScopePtr& scope) {
    const std::weak_ptr<Scope> weak = scope;
    return Value::callable("macro " + node.name, [this, &node, weak](CallArgs& args) {
      count_iteration(node.line);
      const ScopePtr closure = weak.lock();
      if (!closure) throw ValueError("macro '" + node.name + "' called after the scope that defines it ended");
      const size_t n = node.targets.size();
      if (args.positional.size() > n) {
        throw ValueError("macro '" + node.name + "' takes not more than " + std::to_string(n) + " argument(s)");
      }
      const auto s = child_of(closure);
      std::vector<bool> given(n, false);
      for (size_t i = 0; i < args.positional.size(); ++i) {
        s->vars.set(node.targets[i], args.positional[i]);
        given[i] = true;
      }
      for (const auto& [k, v] : args.keywords) {
        const auto it = std::find(node.targets.begin(), node.targets.end(), k);
        if (it == node.targets.end()) throw ValueError("macro '" + node.name + "' takes no keyword argument '" + k + "'");
        s->vars.set(k, v);
        given[static_cast<size_t>(it - node.targets.begin())] = true;
      }
      const size_t first_default = n - node.defaults.size();
      for (size_t i = 0; i < n; ++i) {
        if (given[i]) continue;
        s->vars.set(node.targets[i], i >= first_default ? eval(*node.defaults[i - first_default], s)
                                                        : Value::undefined(node.targets[i]));
      }
      std::string text;
      render(node.bodies[0], s, text);
      return Value::string(std::move(text));
    }, /*scoped=*/true);
  }

  CallArgs eval_args(const Expr& e, const ScopePtr& scope) {
    CallArgs args;
    for (const auto& a : e.call_args) args.positional.push_back(eval(*a, scope));
    for (const auto& [k, a] : e.kwargs) args.keywords.emplace_back(k, eval(*a, scope));
    return args;
  }

  // Evaluates `e`; a ValueError from anywhere below becomes a JinjaError
  // with the line of the innermost expression that failed.
  Value eval(const Expr& e, const ScopePtr& scope) {
    if (depth_ >= kMaxEvalDepth) {
      fail(e.line, "expressions and macro calls nest deeper than " + std::to_string(kMaxEvalDepth) +
                       " levels, the limit of a chat template");
    }
    struct Deeper {
      int& depth;
      explicit Deeper(int& d) : depth(++d) {}
      ~Deeper() { --depth; }
    } deeper(depth_);
    try {
      Value v = eval_unchecked(e, scope);
      charge(v, e.line);
      return v;
    } catch (const ValueError& err) {
      throw JinjaError(origin_, e.line, err.what());
    }
  }

  Value eval_unchecked(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.value;
      case Expr::Kind::Name: return lookup(e.name, scope);
      case Expr::Kind::List: case Expr::Kind::Tuple: {
        List items;
        for (const auto& a : e.args) items.push_back(eval(*a, scope));
        return e.kind == Expr::Kind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      case Expr::Kind::Dict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = eval(*e.args[i], scope);
          if (!key.is_string()) throw ValueError("dict literal keys must be strings here, got " + type_name(key));
          d.set(key.as_string(), eval(*e.args[i + 1], scope));
        }
        return Value::dict(std::move(d));
      }
      case Expr::Kind::Attr: return get_attribute(eval(*e.args[0], scope), e.name);
      case Expr::Kind::Item: return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope));
      case Expr::Kind::Slice: {
        const Value obj = eval(*e.args[0], scope);
        const auto bound = [&](size_t i) { return e.args[i] ? eval(*e.args[i], scope) : Value::none(); };
        return get_slice(obj, bound(1), bound(2), bound(3));
      }
      case Expr::Kind::Call: {
        const Value callee = eval(*e.args[0], scope);
        if (callee.is_undefined()) throw ValueError("'" + callee.undefined_name() + "' is undefined");
        if (callee.kind() != Value::Kind::Callable) throw ValueError("'" + type_name(callee) + "' object is not callable");
        CallArgs args = eval_args(e, scope);
        return callee.function().call(args);
      }
      case Expr::Kind::Filter: {
        const Value operand = eval(*e.args[0], scope);
        CallArgs args = eval_args(e, scope);
        return apply_filter(e.name, operand, args);
      }
      case Expr::Kind::Test: {
        const Value operand = eval(*e.args[0], scope);
        CallArgs args = eval_args(e, scope);
        return Value::boolean(apply_test(e.name, operand, args));
      }
      case Expr::Kind::Unary: {
        const Value v = eval(*e.args[0], scope);
        if (e.name == "not") return Value::boolean(!truthy(v));
        if (v.is_undefined()) throw ValueError("'" + v.undefined_name() + "' is undefined");
        if (!v.is_number()) throw ValueError("bad operand type for unary " + e.name + ": '" + type_name(v) + "'");
        if (e.name == "+") return v.is_int() ? Value::integer(v.as_int()) : v;
        return v.is_int() ? binary_operator("-", Value::integer(0), v) : Value::number(-v.as_double());
      }
      case Expr::Kind::Binary: {
        const Value left = eval(*e.args[0], scope);
        if (e.name == "and") return truthy(left) ? eval(*e.args[1], scope) : left;
        if (e.name == "or") return truthy(left) ? left : eval(*e.args[1], scope);
        return binary_operator(e.name, left, eval(*e.args[1], scope));
      }
      case Expr::Kind::Compare: {
        Value left = eval(*e.args[0], scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.args[i + 1], scope);
          if (!compare(e.ops[i], left, right)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case Expr::Kind::Condition:
        if (truthy(eval(*e.args[1], scope))) return eval(*e.args[0], scope);
        return e.args[2] ? eval(*e.args[2], scope) : Value::undefined("else");
    }
    return Value();
  }

  static bool compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "in") return contains(b, a);
    if (op == "notin") return !contains(b, a);
    for (const Value* v : {&a, &b}) {
      if (v->is_undefined()) throw ValueError("'" + v->undefined_name() + "' is undefined");
    }
    if (op == "<") return less(a, b);
    if (op == ">") return less(b, a);
    if (op == "<=") return !less(b, a);
    return !less(a, b);  // ">="
  }

  const std::string& origin_;
  const Dict& context_;
  Dict globals_;
  int64_t iterations_ = 0;
  int64_t work_ = 0;
  int depth_ = 0;
};

}  // namespace

std::string render_template(const Body& body, const std::string& origin, const Dict& context) {
  return Evaluator(origin, context).run(body);
}

}  // namespace opd::tokenizer::jinja
