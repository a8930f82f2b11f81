// Private to src/tokenizer: the parsed form of a template, one node type for
// expressions and one for statements (the evaluator switches on `kind`).
#pragma once

#include "jinja_value.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace opd::tokenizer::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,   // value
    Name,      // name
    List,      // args: items
    Tuple,     // args: items
    Dict,      // args: key, value, key, value, ...
    Attr,      // args[0].name
    Item,      // args[0][args[1]]
    Slice,     // args[0][args[1]:args[2]:args[3]], each bound may be null
    Call,      // args[0](call_args, kwargs)
    Filter,    // args[0] | name(call_args, kwargs)
    Test,      // args[0] is name(call_args, kwargs)
    Unary,     // name ("-", "+", "not") args[0]
    Binary,    // args[0] name args[1]: + - * / // % ** ~ and or
    Compare,   // args[0] ops[0] args[1] ops[1] args[2] ...: == != < <= > >= in notin
    Condition  // args[0] if args[1] else args[2] (args[2] may be null)
  };
  Kind kind;
  int line;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<ExprPtr> call_args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;

  Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;
  // Iterative: a chain like 1+1+1+... (the parser builds it in a loop, to any
  // length) would otherwise free itself one stack frame per operator.
  ~Expr() {
    std::vector<ExprPtr> pending;
    const auto take_children = [&pending](Expr& e) {
      for (auto& a : e.args) pending.push_back(std::move(a));
      for (auto& a : e.call_args) pending.push_back(std::move(a));
      for (auto& kv : e.kwargs) pending.push_back(std::move(kv.second));
    };
    take_children(*this);
    while (!pending.empty()) {
      ExprPtr e = std::move(pending.back());
      pending.pop_back();
      if (e) take_children(*e);
    }
  }
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    Text,        // text
    Print,       // {{ expr }}
    If,          // conditions[i] -> bodies[i]; else_body
    For,         // for targets in expr [if filter]: bodies[0]; else_body
    Set,         // targets = expr, or targets[0].attribute = expr
    SetBlock,    // {% set targets[0] %}bodies[0]{% endset %}
    Macro,       // {% macro name(targets = defaults) %}bodies[0]
    Break,
    Continue,
    Generation   // transformers' {% generation %}bodies[0]{% endgeneration %}
  };
  Kind kind;
  int line;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body else_body;
  std::vector<std::string> targets;  // names bound by for / set / macro parameters
  std::string attribute;             // set ns.attribute
  std::string name;                  // macro name
  std::vector<ExprPtr> defaults;     // macro defaults, for the last parameters
};

}  // namespace opd::tokenizer::jinja
