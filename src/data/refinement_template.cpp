#include "opd/data/refinement_template.h"

#include "opd/core/config_files.h"
#include "opd/core/placeholders.h"

#include <c10/util/Exception.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

namespace opd::data {

RefinementTemplate RefinementTemplate::from_yaml(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    TORCH_CHECK(false, path, ": cannot read the refinement template (", e.what(), ")");
  }
  TORCH_CHECK(root.IsMap(), path, ": a refinement template is a YAML mapping");
  RefinementTemplate t;
  for (const auto& kv : root) {
    const auto key = kv.first.as<std::string>();
    TORCH_CHECK(key == "name" || key == "prompt" || key == "privileged", path, ": ", key,
                ": unknown key (allowed: name, prompt, privileged)");
  }
  t.name = root["name"] ? root["name"].as<std::string>() : std::filesystem::path(path).stem().string();
  TORCH_CHECK(root["prompt"].IsDefined(), path, ": prompt: missing");
  t.prompt = root["prompt"].as<std::string>();
  for (const char* field : {"{problem}", "{attempt}"}) {
    TORCH_CHECK(t.prompt.find(field) != std::string::npos, path, ": prompt: has no ", field);
  }
  if (root["privileged"]) t.privileged = root["privileged"].as<std::string>();
  return t;
}

std::string RefinementTemplate::refinement_message(const std::string& problem, const std::string& attempt,
                                                   const std::string& solution) const {
  const std::string extra = solution.empty() ? "" : fill_placeholders(privileged, {{"solution", solution}});
  return fill_placeholders(prompt, {{"problem", problem}, {"attempt", attempt}, {"privileged", extra}});
}

std::string RefinementTemplate::privileged_problem(const std::string& problem, const std::string& solution) const {
  return problem + fill_placeholders(privileged, {{"solution", solution}});
}

RefinementTemplate find_refinement_template(const std::string& name_or_path) {
  return RefinementTemplate::from_yaml(find_config_file("refinement", name_or_path));
}

}  // namespace opd::data
