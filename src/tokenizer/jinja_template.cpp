#include "opd/tokenizer/jinja_template.h"

#include "jinja_evaluator.h"
#include "jinja_lexer.h"
#include "jinja_parser.h"

#include <nlohmann/json.hpp>

namespace opd::tokenizer {

JinjaError::JinjaError(const std::string& origin, int line, const std::string& detail)
    : std::runtime_error(origin + ":" + std::to_string(line) + ": " + detail), origin_(origin), line_(line), detail_(detail) {}

struct JinjaTemplate::Parsed {
  std::string origin;
  jinja::Body body;
};

JinjaTemplate::JinjaTemplate(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}

JinjaTemplate JinjaTemplate::parse(const std::string& source, const std::string& origin) {
  auto parsed = std::make_shared<Parsed>();
  parsed->origin = origin;
  parsed->body = jinja::parse_template(jinja::tokenize(source, origin), origin);
  return JinjaTemplate(std::move(parsed));
}

std::string JinjaTemplate::render(const nlohmann::ordered_json& context) const {
  if (!context.is_object()) {
    throw JinjaError(parsed_->origin, 0, std::string("the context must be a JSON object, got ") + context.type_name());
  }
  jinja::Value variables;
  try {
    variables = jinja::from_json(context);
  } catch (const jinja::ValueError& e) {
    throw JinjaError(parsed_->origin, 0, std::string("context: ") + e.what());
  }
  return jinja::render_template(parsed_->body, parsed_->origin, variables.entries());
}

const std::string& JinjaTemplate::origin() const { return parsed_->origin; }

}  // namespace opd::tokenizer
