#include "opd/train/checkpoint.h"

#include "opd/core/atomic_file.h"
#include "opd/core/text_file.h"
#include "opd/model/safetensors.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <sstream>
#include <vector>

namespace opd::train {
namespace {

namespace fs = std::filesystem;

const char* const kStateFile = "trainer_state.json";
const char* const kOptimizerFile = "optimizer.safetensors";

// Complete checkpoints of run_dir as (step, path), oldest first.
std::vector<std::pair<int64_t, fs::path>> complete_checkpoints(const std::string& run_dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) return out;
  static const std::regex name("checkpoint-([0-9]+)");
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    std::smatch m;
    const std::string file = entry.path().filename().string();
    if (!entry.is_directory() || !std::regex_match(file, m, name)) continue;
    if (!fs::exists(entry.path() / kStateFile)) continue;
    // A stray number no run reaches (checkpoint-99999999999999999999) is not a checkpoint of ours.
    if (m[1].str().size() > 18) continue;
    out.emplace_back(std::stoll(m[1].str()), entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// optimizer.safetensors, or a ZeRO-1 rank's shard of it.
std::string optimizer_file(int64_t shard) {
  return shard < 0 ? kOptimizerFile : "optimizer.rank" + std::to_string(shard) + ".safetensors";
}

}  // namespace

std::string checkpoint_name(int64_t step) { return "checkpoint-" + std::to_string(step); }

std::string checkpoint_temp_dir(const std::string& run_dir, int64_t step) {
  return (fs::path(run_dir) / ("." + checkpoint_name(step) + ".tmp")).string();
}

void write_optimizer_state(const std::string& dir, const std::map<std::string, at::Tensor>& optimizer,
                           int64_t shard) {
  model::write_safetensors((fs::path(dir) / optimizer_file(shard)).string(), optimizer);
}

void write_trainer_state(const std::string& dir, const TrainerState& state) {
  const nlohmann::json j = {{"step", state.step},
                            {"seed", state.seed},
                            {"sampler", {{"epoch", state.sampler.epoch}, {"cursor", state.sampler.cursor}}},
                            {"consecutive_skips", state.consecutive_skips},
                            {"optimizer_shards", state.optimizer_shards}};
  write_file_atomically((fs::path(dir) / kStateFile).string(), j.dump(2) + "\n");
}

TrainerState read_trainer_state(const std::string& dir) {
  const auto path = (fs::path(dir) / kStateFile).string();
  TORCH_CHECK(fs::is_regular_file(path), "not a checkpoint: no ", path);
  try {
    const auto j = nlohmann::json::parse(read_text_file(path));
    TrainerState s;
    s.step = j.at("step").get<int64_t>();
    s.seed = j.at("seed").get<uint64_t>();
    s.sampler.epoch = j.at("sampler").at("epoch").get<int64_t>();
    s.sampler.cursor = j.at("sampler").at("cursor").get<int64_t>();
    s.consecutive_skips = j.at("consecutive_skips").get<int64_t>();
    s.optimizer_shards = j.value("optimizer_shards", int64_t{0});
    for (const auto& [key, value] : {std::pair<const char*, int64_t>{"step", s.step}, {"sampler.cursor", s.sampler.cursor},
                                     {"consecutive_skips", s.consecutive_skips}, {"optimizer_shards", s.optimizer_shards}}) {
      TORCH_CHECK(value >= 0, path, ": '", key, "' is ", value, "; a checkpoint's counts are never negative");
    }
    TORCH_CHECK(s.sampler.epoch >= -1, path, ": 'sampler.epoch' is ", s.sampler.epoch, " (-1 is the least: nothing drawn)");
    return s;
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, path, ": ", e.what());
  }
}

std::map<std::string, at::Tensor> read_optimizer_state(const std::string& dir, int64_t shard) {
  auto file = model::read_safetensors((fs::path(dir) / optimizer_file(shard)).string());
  return {file.tensors.begin(), file.tensors.end()};
}

void commit_checkpoint(const std::string& run_dir, int64_t step, int64_t keep) {
  const fs::path temp = checkpoint_temp_dir(run_dir, step);
  const fs::path final_dir = fs::path(run_dir) / checkpoint_name(step);
  fs::remove_all(final_dir);
  fs::rename(temp, final_dir);
  auto all = complete_checkpoints(run_dir);
  for (size_t i = 0; keep > 0 && i + static_cast<size_t>(keep) < all.size(); ++i) fs::remove_all(all[i].second);
}

bool resume_has_work(const std::string& run_dir, int64_t steps) {
  const fs::path run(run_dir);
  if (!fs::exists(run / "final") || !fs::exists(run / "metrics.jsonl")) return true;
  std::istringstream lines(read_text_file((run / "metrics.jsonl").string()));
  int64_t finished = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("step") && j["step"].is_number_integer()) finished = j["step"].get<int64_t>() + 1;
  }
  TORCH_CHECK(finished <= steps, run_dir, " holds a run that finished at step ", finished,
              " (final/, metrics.jsonl); resuming it to steps ", steps,
              " would replace final/ with older weights and cut metrics.jsonl: raise steps above ", finished,
              " to continue it, or give another run_dir");
  return finished < steps;
}

std::string latest_checkpoint(const std::string& run_dir) {
  const auto all = complete_checkpoints(run_dir);
  return all.empty() ? "" : all.back().second.string();
}

}  // namespace opd::train
