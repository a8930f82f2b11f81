// Is a response's answer right? One interface, chosen per dataset by name:
//   math_boxed   the last \boxed{...} of the response against the reference,
//                normalised (spaces, \left/\right, \dfrac, \frac{a}{b} = a/b,
//                trailing units and degrees, thousands separators, x = ...)
//                and compared as text or, when both are numbers, by value;
//   exact_match  the whole response, trimmed, against the reference (synthetic tasks).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opd::eval {

class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual std::string_view name() const = 0;
  // The answer the response gives, as the verifier reads it (nullopt: none).
  virtual std::optional<std::string> extract(std::string_view response) const = 0;
  // Whether the response's answer equals `reference`.
  virtual bool correct(std::string_view response, std::string_view reference) const = 0;
};

// Throws naming the verifier names when `name` is none of them.
std::unique_ptr<Verifier> make_verifier(const std::string& name);
std::vector<std::string> verifier_names();

// The content of the last \boxed{...} (or \fbox{...}) with balanced braces.
std::optional<std::string> last_boxed(std::string_view text);

// A math answer in a canonical text form (see math_boxed above).
std::string normalize_math_answer(std::string_view answer);

}  // namespace opd::eval
