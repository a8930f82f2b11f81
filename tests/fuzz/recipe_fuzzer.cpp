// Recipes and their --set overrides (train/config_loader.h). The input is the
// recipe text, then each override after a NUL byte: "model: ...\0optim.lr=3e-4".
// Every refusal must be a c10::Error; an accepted recipe must survive the
// round trip the trainer makes when it saves the resolved config beside the
// run (train_config_yaml, then parse again, the same text).
#include "fuzz_support.h"

#include "opd/train/config_loader.h"

#include <c10/util/Exception.h>

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts(1);  // the recipe, then each override
  for (char c : input) {
    if (c == '\0') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  const std::string recipe = parts.front();
  const std::vector<std::string> overrides(parts.begin() + 1, parts.end());
  opd::fuzz::expect_refusal_or_success<c10::Error>([&] {
    const auto config = opd::train::parse_train_config(recipe, "recipe.yaml", overrides);
    const std::string resolved = opd::train::train_config_yaml(config);
    std::string again;
    try {
      again = opd::train::train_config_yaml(opd::train::parse_train_config(resolved, "config.yaml"));
    } catch (const c10::Error& e) {
      std::fprintf(stderr, "fuzz: the resolved config does not parse again: %s\n%s\n", e.what_without_backtrace(),
                   resolved.c_str());
      std::abort();
    }
    opd::fuzz::require(again == resolved, "train_config_yaml(parse(train_config_yaml(c))) == train_config_yaml(c)");
  });
  return 0;
}
