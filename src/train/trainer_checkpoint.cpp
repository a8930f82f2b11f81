// The trainer's checkpoint orchestration: which rank writes what, in which
// order (checkpoint.h has the file formats and the atomic commit).
#include "opd/dist/zero_one.h"
#include "opd/model/lora.h"
#include "opd/model/peft_adapter.h"
#include "opd/model/pretrained.h"
#include "opd/model/safetensors.h"
#include "opd/train/checkpoint.h"
#include "trainer_impl.h"

#include <ATen/core/grad_mode.h>
#include <spdlog/spdlog.h>

#include <filesystem>

namespace opd::train {
namespace fs = std::filesystem;
namespace {

// A LoRA checkpoint's adapters, beside the merged HF weights.
const char* const kAdapterFile = "adapter.safetensors";

}  // namespace

void Trainer::Impl::save_student(const std::string& name) {
  model::SaveOptions options;
  options.copy_files_from = config.student.path;  // tokenizer files travel with the weights
  model::save_pretrained(resources.student, (fs::path(config.run_dir) / name).string(), options);
  if (config.lora.rank > 0) {  // and, beside the merged model, the adapters alone for PEFT users
    const auto& l = config.lora;
    model::save_peft_adapter(resources.student, model::LoraSpec{l.rank, l.alpha, l.dropout, l.targets},
                             (fs::path(config.run_dir) / (name + "_adapter")).string(),
                             fs::absolute(config.student.path).string());
  }
}

void Trainer::Impl::save_checkpoint() {
  const std::string temp = checkpoint_temp_dir(config.run_dir, next_step);
  try {
    auto& student = resources.student;
    const int64_t shards = updater->optimizer_shards();
    if (rank == 0) {
      fs::remove_all(temp);
      model::SaveOptions options;
      options.copy_files_from = config.student.path;
      options.dtype = student->dtype();                 // the weights exactly as they train
      model::save_pretrained(student, temp, options);  // throws on non-finite weights: no checkpoint holds them
      if (config.lora.rank > 0) {  // the merged weights above are for use; a resume needs the adapters
        model::write_safetensors((fs::path(temp) / kAdapterFile).string(), model::lora_weights(student));
      }
    }
    if (shards > 0) {  // every rank adds its shard once rank 0 made the directory
      barrier("checkpoint directory");
      write_optimizer_state(temp, updater->optimizer_state(), rank);
      barrier("checkpoint optimizer shards");
    } else if (rank == 0) {
      write_optimizer_state(temp, updater->optimizer_state());
    }
    if (rank != 0) return;
    TrainerState state;
    state.step = next_step;
    state.seed = config.seed;
    state.sampler = sampler->state();
    state.consecutive_skips = consecutive_skips;
    state.optimizer_shards = shards;
    write_trainer_state(temp, state);
    commit_checkpoint(config.run_dir, next_step, config.keep_checkpoints);
    spdlog::info("checkpoint: {}", (fs::path(config.run_dir) / checkpoint_name(next_step)).string());
  } catch (const c10::Error& e) {  // a full disk, a failing device: say which checkpoint is safe
    std::error_code ignored;
    if (rank == 0) fs::remove_all(temp, ignored);
    const auto latest = latest_checkpoint(config.run_dir);
    TORCH_CHECK(false, (fs::path(config.run_dir) / checkpoint_name(next_step)).string(), ": not written (",
                latest.empty() ? std::string("there is no earlier checkpoint")
                               : fs::path(latest).filename().string() + " is the latest",
                "): ", e.what_without_backtrace());
  }
}

void Trainer::Impl::resume(const std::string& checkpoint_dir) {
  auto& student = resources.student;
  const auto state = read_trainer_state(checkpoint_dir);
  TORCH_CHECK(state.seed == config.seed, checkpoint_dir, ": written by a run with seed ", state.seed,
              ", this recipe has seed ", config.seed, " (the draws would not continue)");
  TORCH_CHECK(state.step <= config.steps, checkpoint_dir, ": at step ", state.step, ", past the recipe's steps (",
              config.steps, ")");
  resume_has_work(config.run_dir, config.steps);  // throws when a finished run would be cut back
  // With LoRA the base weights are the student's as loaded; the adapters resume.
  const bool lora = config.lora.rank > 0;
  model::CausalLM saved{nullptr};
  if (!lora) saved = model::load_pretrained(checkpoint_dir, model::LoadOptions{student->dtype(), student->device()});
  auto from = lora ? model::read_safetensors((fs::path(checkpoint_dir) / kAdapterFile).string()).tensors
                   : model::named_weights(saved);
  auto to = lora ? model::lora_weights(student) : model::named_weights(student);
  TORCH_CHECK(from.size() == to.size(), checkpoint_dir, ": ", from.size(), " weights, the student has ", to.size());
  {
    at::NoGradGuard no_grad;
    for (auto& [name, param] : to) {
      const auto it = from.find(name);
      TORCH_CHECK(it != from.end() && it->second.sizes() == param.sizes(), checkpoint_dir, ": weight '", name,
                  "' is missing or of another shape than the student's");
      param.copy_(it->second);
    }
  }
  const int64_t shards = updater->optimizer_shards();
  dist::check_optimizer_shards(checkpoint_dir, state.optimizer_shards, shards);
  updater->load_optimizer_state(read_optimizer_state(checkpoint_dir, shards > 0 ? rank : -1));
  sampler->restore(state.sampler);
  consecutive_skips = state.consecutive_skips;
  next_step = state.step;
  spdlog::info("resumed from {} at step {}", checkpoint_dir, next_step);
}

}  // namespace opd::train
