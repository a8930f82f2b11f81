// The flags that name a model and how it reads prompts, shared by opd-eval
// and opd-generate, and the loading they imply.
#pragma once

#include "opd/data/prompt_format.h"
#include "opd/model/pretrained.h"
#include "opd/dist/launch_env.h"
#include "opd/model/device.h"
#include "opd/train/prompt_formats.h"
#include "opd/train/train_config.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>

namespace opd::tools {

struct ModelOptions {
  train::ModelSpec spec;
  train::DataConfig data;  // system prompt and thinking switch
  bool no_thinking = false;
};

// The compute dtypes by their one list of names (model/compute_dtype.h).
inline std::map<std::string, model::ComputeDtype> dtype_by_name() {
  std::map<std::string, model::ComputeDtype> by_name;
  for (const auto& [dtype, name] : choices(model::ComputeDtype{})) by_name[name] = dtype;
  return by_name;
}

inline void add_model_options(CLI::App& app, ModelOptions& o, const std::string& model_help, bool required = true) {
  app.add_option("--model", o.spec.path, model_help)->required(required);
  app.add_option("--dtype", o.spec.dtype, "compute dtype")->transform(CLI::CheckedTransformer(dtype_by_name()));
  app.add_option("--device", o.spec.device, "auto (cuda:$LOCAL_RANK when a GPU is visible, else cpu) | cpu | cuda | cuda:N")
      ->capture_default_str();
  app.add_option("--chat-template", o.spec.chat_template, "qwen3 | llama3 | chatml | a file | none (plain text); default: the model's own Jinja template, else plain text");
  app.add_option("--system-prompt", o.data.system_prompt, "system message for prompts without one");
  app.add_flag("--no-thinking", o.no_thinking, "Qwen3: turn thinking off");
}

// The model on its device in eval mode, and the format its prompts are read in.
struct LoadedModel {
  model::CausalLM model{nullptr};
  data::PromptFormat format;
};

inline LoadedModel load_model(ModelOptions& o) {
  o.data.enable_thinking = !o.no_thinking;
  LoadedModel m;
  const auto device = model::resolve_device(o.spec.device, dist::read_launch_env().local_rank, "--device");
  model::check_dtype_runs_on(model::scalar_type(o.spec.dtype), device, "--dtype");
  const double gb = double(model::weights_bytes(o.spec.path)) / 1e9;
  if (gb >= 0.25) std::fprintf(stderr, "loading %s (%.1f GB, %s)\n", o.spec.path.c_str(), gb, device.str().c_str());
  m.model = model::load_pretrained(o.spec.path, model::LoadOptions{model::scalar_type(o.spec.dtype), device});
  m.model->eval();
  m.format = train::load_prompt_format(o.spec, o.data, "--chat-template");
  train::warn_about_eos(m.model->config().eos_token_ids, m.format, "--model", o.spec.path);
  return m;
}

}  // namespace opd::tools
