#include "jinja_parser.h"

#include "jinja_filters.h"
#include "jinja_limits.h"
#include "opd/tokenizer/jinja_template.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace opd::tokenizer::jinja {
namespace {

using Type = Token::Type;

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& origin) : tokens_(tokens), origin_(origin) {}

  Body parse() {
    Body body;
    try {
      const std::string end = parse_body(body, {});
      if (!end.empty()) fail(current(), "unexpected '" + end + "'");
    } catch (const ValueError& e) {  // a literal past the limits of a value
      fail(current(), e.what());
    }
    return body;
  }

 private:
  // One level deeper into nested blocks or expressions, for as long as it
  // lives; past kMaxParseDepth the template fails (the parser recurses, and
  // a template of 100000 '(' must not overflow the stack).
  class Nested {
   public:
    explicit Nested(Parser& p) : p_(p) {
      if (++p_.nesting_ > kMaxParseDepth) {
        p_.fail(p_.current(), "blocks and expressions nest deeper than " + std::to_string(kMaxParseDepth) +
                                  " levels, the limit of a chat template");
      }
    }
    ~Nested() { --p_.nesting_; }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;

   private:
    Parser& p_;
  };

  // The token stream.
  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& advance() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool is_op(const std::string& op) const { return current().type == Type::Operator && current().value == op; }
  bool is_name(const std::string& name) const { return current().type == Type::Name && current().value == name; }
  bool skip_op(const std::string& op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const std::string& name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail(const Token& at, const std::string& detail) const { throw JinjaError(origin_, at.line, detail); }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Type::End: return "end of template";
      case Type::BlockEnd: return "end of statement block";
      case Type::VariableEnd: return "end of print statement";
      case Type::String: return "string";
      default: return "'" + t.value + "'";
    }
  }

  void expect_op(const std::string& op) {
    if (!skip_op(op)) fail(current(), "expected '" + op + "', got " + describe(current()));
  }
  std::string expect_name() {
    if (current().type != Type::Name) fail(current(), "expected a name, got " + describe(current()));
    return advance().value;
  }
  void expect_block_end() {
    if (current().type != Type::BlockEnd) fail(current(), "expected end of statement block, got " + describe(current()));
    advance();
  }

  // Statements.
  // Parses nodes into `body` until a block tag named in `ends` (consumed up
  // to its name, which is returned) or the end of the template ("").
  std::string parse_body(Body& body, const std::vector<std::string>& ends) {
    const Nested nested(*this);
    while (true) {
      const Token& t = current();
      switch (t.type) {
        case Type::End:
          if (!ends.empty()) fail(t, "unexpected end of template, expected '" + ends.back() + "'");
          return "";
        case Type::Data: {
          auto node = make_node(Node::Kind::Text, t.line);
          node->text = t.value;
          body.push_back(std::move(node));
          advance();
          break;
        }
        case Type::VariableBegin: {
          advance();
          auto node = make_node(Node::Kind::Print, t.line);
          node->expr = parse_tuple();
          if (current().type != Type::VariableEnd) fail(current(), "expected end of print statement, got " + describe(current()));
          advance();
          body.push_back(std::move(node));
          break;
        }
        case Type::BlockBegin: {
          advance();
          const Token& tag = current();
          if (tag.type != Type::Name) fail(tag, "expected a tag name after '{%', got " + describe(tag));
          if (std::find(ends.begin(), ends.end(), tag.value) != ends.end()) {
            advance();
            return tag.value;
          }
          body.push_back(parse_statement());
          break;
        }
        default: fail(t, "unexpected " + describe(t));
      }
    }
  }

  static NodePtr make_node(Node::Kind kind, int line) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->line = line;
    return n;
  }

  NodePtr parse_statement() {
    const Token& tag = current();
    const std::string& name = tag.value;
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "macro") return parse_macro();
    if (name == "break" || name == "continue") {
      advance();
      expect_block_end();
      if (loop_depth_ == 0) fail(tag, "'" + name + "' outside of a loop");
      return make_node(name == "break" ? Node::Kind::Break : Node::Kind::Continue, tag.line);
    }
    if (name == "generation") {
      advance();
      expect_block_end();
      auto node = make_node(Node::Kind::Generation, tag.line);
      node->bodies.emplace_back();
      parse_body(node->bodies.back(), {"endgeneration"});
      expect_block_end();
      return node;
    }
    if (name == "print") {
      advance();
      auto node = make_node(Node::Kind::Print, tag.line);
      node->expr = parse_tuple();
      expect_block_end();
      return node;
    }
    static const char* const kEnds[] = {"endif", "endfor", "endmacro", "endset", "endgeneration", "elif", "else"};
    for (const char* end : kEnds) {
      if (name == end) fail(tag, "unexpected '" + name + "'");
    }
    fail(tag, "unsupported tag '" + name + "'");
  }

  NodePtr parse_if() {
    auto node = make_node(Node::Kind::If, advance().line);
    while (true) {
      node->conditions.push_back(parse_tuple(false));
      expect_block_end();
      node->bodies.emplace_back();
      const std::string end = parse_body(node->bodies.back(), {"elif", "else", "endif"});
      if (end == "elif") continue;
      if (end == "else") {
        expect_block_end();
        parse_body(node->else_body, {"endif"});
      }
      expect_block_end();
      return node;
    }
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    const bool parenthesised = skip_op("(");
    do {
      names.push_back(expect_name());
    } while (skip_op(","));
    if (parenthesised) expect_op(")");
    return names;
  }

  NodePtr parse_for() {
    auto node = make_node(Node::Kind::For, advance().line);
    node->targets = parse_targets();
    if (!skip_name("in")) fail(current(), "expected 'in' in a for loop, got " + describe(current()));
    node->expr = parse_tuple(false);
    if (skip_name("if")) node->filter = parse_expression();
    if (is_name("recursive")) fail(current(), "unsupported recursive for loop");
    expect_block_end();
    node->bodies.emplace_back();
    ++loop_depth_;
    const std::string end = parse_body(node->bodies.back(), {"else", "endfor"});
    --loop_depth_;
    if (end == "else") {
      expect_block_end();
      parse_body(node->else_body, {"endfor"});
    }
    expect_block_end();
    return node;
  }

  NodePtr parse_set() {
    auto node = make_node(Node::Kind::Set, advance().line);
    if (current().type == Type::Name && peek().type == Type::Operator && peek().value == ".") {
      node->targets.push_back(advance().value);
      advance();
      node->attribute = expect_name();
    } else {
      node->targets = parse_targets();
    }
    if (skip_op("=")) {
      node->expr = parse_tuple();
      expect_block_end();
      return node;
    }
    if (is_op("|")) fail(current(), "unsupported filter on a block set");
    if (node->targets.size() != 1 || !node->attribute.empty()) fail(current(), "expected '=' in a set statement");
    expect_block_end();
    node->kind = Node::Kind::SetBlock;
    node->bodies.emplace_back();
    const int saved_depth = loop_depth_;
    loop_depth_ = 0;
    parse_body(node->bodies.back(), {"endset"});
    loop_depth_ = saved_depth;
    expect_block_end();
    return node;
  }

  NodePtr parse_macro() {
    auto node = make_node(Node::Kind::Macro, advance().line);
    node->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!node->targets.empty()) expect_op(",");
      if (is_op("*") || is_op("**")) fail(current(), "unsupported *args in a macro signature");
      node->targets.push_back(expect_name());
      if (skip_op("=")) {
        node->defaults.push_back(parse_expression());
      } else if (!node->defaults.empty()) {
        fail(current(), "macro parameter '" + node->targets.back() + "' without a default follows one with a default");
      }
    }
    advance();
    expect_block_end();
    node->bodies.emplace_back();
    const int saved_depth = loop_depth_;
    loop_depth_ = 0;
    parse_body(node->bodies.back(), {"endmacro"});
    loop_depth_ = saved_depth;
    if (current().type == Type::Name && current().value == node->name) advance();
    expect_block_end();
    return node;
  }

  // Expressions, in jinja2's precedence, loosest first.
  static ExprPtr make_expr(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }
  static ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
    auto e = make_expr(Expr::Kind::Binary, line);
    e->name = op;
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  // a, b, c (a tuple) or a single expression; `explicit_parentheses` allows ().
  ExprPtr parse_tuple(bool with_condition = true, bool explicit_parentheses = false) {
    const int line = current().line;
    std::vector<ExprPtr> items;
    bool saw_comma = false;
    while (true) {
      if (!items.empty()) {
        if (!skip_op(",")) break;
        saw_comma = true;
      }
      if (is_tuple_end()) break;
      items.push_back(with_condition ? parse_expression() : parse_or());
    }
    if (items.empty() && !explicit_parentheses) {
      fail(current(), "expected an expression, got " + describe(current()));
    }
    if (items.size() == 1 && !saw_comma) return std::move(items[0]);
    auto t = make_expr(Expr::Kind::Tuple, line);
    t->args = std::move(items);
    return t;
  }

  bool is_tuple_end() const {
    const Token& t = current();
    if (t.type == Type::VariableEnd || t.type == Type::BlockEnd || t.type == Type::End) return true;
    if (t.type == Type::Operator && t.value == ")") return true;
    return t.type == Type::Name && (t.value == "in" || t.value == "if");
  }

  ExprPtr parse_expression() {
    auto e = parse_or();
    while (is_name("if")) {
      const int line = advance().line;
      auto cond = make_expr(Expr::Kind::Condition, line);
      auto test = parse_or();
      ExprPtr otherwise;
      if (skip_name("else")) otherwise = parse_expression();
      cond->args.push_back(std::move(e));
      cond->args.push_back(std::move(test));
      cond->args.push_back(std::move(otherwise));
      e = std::move(cond);
    }
    return e;
  }

  ExprPtr parse_or() {
    const Nested nested(*this);
    auto e = parse_and();
    while (is_name("or")) {
      const int line = advance().line;
      e = binary("or", std::move(e), parse_and(), line);
    }
    return e;
  }

  ExprPtr parse_and() {
    auto e = parse_not();
    while (is_name("and")) {
      const int line = advance().line;
      e = binary("and", std::move(e), parse_not(), line);
    }
    return e;
  }

  ExprPtr parse_not() {
    const Nested nested(*this);
    if (is_name("not")) {
      const int line = advance().line;
      auto e = make_expr(Expr::Kind::Unary, line);
      e->name = "not";
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = current().line;
    auto first = parse_math1();
    auto cmp = make_expr(Expr::Kind::Compare, line);
    cmp->args.push_back(std::move(first));
    while (true) {
      const Token& t = current();
      if (t.type == Type::Operator && (t.value == "==" || t.value == "!=" || t.value == "<" || t.value == "<=" ||
                                       t.value == ">" || t.value == ">=")) {
        cmp->ops.push_back(advance().value);
      } else if (skip_name("in")) {
        cmp->ops.push_back("in");
      } else if (is_name("not") && peek().type == Type::Name && peek().value == "in") {
        advance();
        advance();
        cmp->ops.push_back("notin");
      } else {
        break;
      }
      cmp->args.push_back(parse_math1());
    }
    if (cmp->ops.empty()) return std::move(cmp->args[0]);
    return cmp;
  }

  ExprPtr parse_math1() {
    auto e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& op = advance();
      e = binary(op.value, std::move(e), parse_concat(), op.line);
    }
    return e;
  }

  ExprPtr parse_concat() {
    auto e = parse_math2();
    while (is_op("~")) {
      const int line = advance().line;
      e = binary("~", std::move(e), parse_math2(), line);
    }
    return e;
  }

  ExprPtr parse_math2() {
    auto e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& op = advance();
      e = binary(op.value, std::move(e), parse_pow(), op.line);
    }
    return e;
  }

  ExprPtr parse_pow() {
    auto e = parse_unary(true);
    while (is_op("**")) {
      const int line = advance().line;
      e = binary("**", std::move(e), parse_unary(true), line);
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
    const Nested nested(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& op = advance();
      e = make_expr(Expr::Kind::Unary, op.line);
      e->name = op.value;
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    switch (t.type) {
      case Type::Name: {
        advance();
        if (t.value == "true" || t.value == "True") return literal(Value::boolean(true), t.line);
        if (t.value == "false" || t.value == "False") return literal(Value::boolean(false), t.line);
        if (t.value == "none" || t.value == "None") return literal(Value::none(), t.line);
        auto e = make_expr(Expr::Kind::Name, t.line);
        e->name = t.value;
        return e;
      }
      case Type::String: {
        std::string s = advance().value;
        while (current().type == Type::String) s += advance().value;  // adjacent literals concatenate
        return literal(Value::string(std::move(s)), t.line);
      }
      case Type::Integer: {
        advance();
        errno = 0;
        const long long v = std::strtoll(t.value.c_str(), nullptr, 10);
        if (errno == ERANGE) fail(t, "integer literal " + t.value + " does not fit in 64 bits");
        return literal(Value::integer(v), t.line);
      }
      case Type::Float:
        advance();
        return literal(Value::number(std::strtod(t.value.c_str(), nullptr)), t.line);
      case Type::Operator:
        if (t.value == "(") {
          advance();
          auto e = parse_tuple(true, true);
          expect_op(")");
          return e;
        }
        if (t.value == "[") return parse_list();
        if (t.value == "{") return parse_dict();
        break;
      default: break;
    }
    fail(t, "unexpected " + describe(t));
  }

  static ExprPtr literal(Value v, int line) {
    auto e = make_expr(Expr::Kind::Literal, line);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_list() {
    auto e = make_expr(Expr::Kind::List, advance().line);
    while (!is_op("]")) {
      if (!e->args.empty()) {
        expect_op(",");
        if (is_op("]")) break;
      }
      e->args.push_back(parse_expression());
    }
    advance();
    return e;
  }

  ExprPtr parse_dict() {
    auto e = make_expr(Expr::Kind::Dict, advance().line);
    while (!is_op("}")) {
      if (!e->args.empty()) {
        expect_op(",");
        if (is_op("}")) break;
      }
      e->args.push_back(parse_expression());
      expect_op(":");
      e->args.push_back(parse_expression());
    }
    advance();
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter(std::move(e));
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    const Token& op = advance();
    if (op.value == ".") {
      const Token& attr = current();
      if (attr.type == Type::Name) {
        advance();
        auto e = make_expr(Expr::Kind::Attr, op.line);
        e->name = attr.value;
        e->args.push_back(std::move(obj));
        return e;
      }
      if (attr.type == Type::Integer) {
        advance();
        auto e = make_expr(Expr::Kind::Item, op.line);
        e->args.push_back(std::move(obj));
        e->args.push_back(literal(Value::integer(std::strtoll(attr.value.c_str(), nullptr, 10)), attr.line));
        return e;
      }
      fail(attr, "expected an attribute name after '.', got " + describe(attr));
    }
    // [index] or [start:stop:step]
    ExprPtr bounds[3];
    bool is_slice = false;
    for (int part = 0; part < 3; ++part) {
      if (!is_op(":") && !is_op("]")) bounds[part] = parse_expression();
      if (part < 2 && skip_op(":")) {
        is_slice = true;
        continue;
      }
      break;
    }
    if (is_op(",")) fail(current(), "unsupported tuple subscript");
    expect_op("]");
    if (!is_slice) {
      if (!bounds[0]) fail(op, "empty subscript");
      auto e = make_expr(Expr::Kind::Item, op.line);
      e->args.push_back(std::move(obj));
      e->args.push_back(std::move(bounds[0]));
      return e;
    }
    auto e = make_expr(Expr::Kind::Slice, op.line);
    e->args.push_back(std::move(obj));
    for (auto& b : bounds) e->args.push_back(std::move(b));
    return e;
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (!e.call_args.empty() || !e.kwargs.empty()) expect_op(",");
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail(current(), "unsupported *args / **kwargs in a call");
      if (current().type == Type::Name && peek().type == Type::Operator && peek().value == "=") {
        std::string key = advance().value;
        advance();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail(current(), "positional argument follows keyword argument");
        e.call_args.push_back(parse_expression());
      }
    }
    advance();
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make_expr(Expr::Kind::Call, current().line);
    e->args.push_back(std::move(callee));
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (is_op(".")) {
      advance();
      name += "." + expect_name();
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr operand) {
    const int line = advance().line;
    auto e = make_expr(Expr::Kind::Filter, line);
    const Token& at = current();
    e->name = dotted_name();
    if (!is_known_filter(e->name)) fail(at, "unsupported filter '" + e->name + "'");
    e->args.push_back(std::move(operand));
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  ExprPtr parse_test(ExprPtr operand) {
    const int line = advance().line;  // "is"
    const bool negated = skip_name("not");
    auto e = make_expr(Expr::Kind::Test, line);
    const Token& at = current();
    e->name = dotted_name();
    if (!is_known_test(e->name)) fail(at, "unsupported test '" + e->name + "'");
    e->args.push_back(std::move(operand));
    const Token& t = current();
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((t.type == Type::Name || t.type == Type::String || t.type == Type::Integer || t.type == Type::Float ||
                is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail(t, "cannot chain tests with 'is'");
      e->call_args.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return e;
    auto n = make_expr(Expr::Kind::Unary, line);
    n->name = "not";
    n->args.push_back(std::move(e));
    return n;
  }

  const std::vector<Token>& tokens_;
  const std::string& origin_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int nesting_ = 0;  // see Nested
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens, const std::string& origin) {
  return Parser(tokens, origin).parse();
}

}  // namespace opd::tokenizer::jinja
