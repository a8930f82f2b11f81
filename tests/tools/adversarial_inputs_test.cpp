// The adversarial user's inputs (issue 20), rerun against the built tools as
// one table: every bad recipe, --set, flag, dataset line, model directory,
// checkpoint state and launch variable must end in one clear line naming what
// is wrong (exit 1 or 2), never a crash, a hang or a run that goes ahead. The
// test prints the tally (clear / crash / hang / accepted / unclear).
#include "support/test_support.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace opd::adversarial_inputs {
namespace {

namespace fs = std::filesystem;
using opd::testing::ScratchDir;

const std::string kBin = OPD_BIN_DIR;
const std::string kSource = OPD_SOURCE_DIR;

// One bad input: how it is given (files it needs are made by `prepare`), and
// the words the one line of error must hold.
struct BadInput {
  std::string what;
  std::string command;  // run by sh in the scratch directory; $BIN is the tools' directory
  std::vector<std::string> says;
};

enum class Outcome { kClear, kCrash, kHang, kAccepted, kUnclear };

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kClear: return "clear";
    case Outcome::kCrash: return "crash";
    case Outcome::kHang: return "hang";
    case Outcome::kAccepted: return "accepted";
    case Outcome::kUnclear: return "unclear";
  }
  return "?";
}

Outcome classify(const opd::testing::CommandResult& r, const BadInput& input) {
  if (r.exit_code == 124) return Outcome::kHang;  // timeout(1)
  if (r.exit_code < 0 || r.exit_code > 2) return Outcome::kCrash;  // a signal, an abort, bad_alloc's 134
  if (r.exit_code == 0) return Outcome::kAccepted;
  if (std::count(r.output.begin(), r.output.end(), '\n') != 1) return Outcome::kUnclear;
  for (const auto& part : input.says) {
    if (r.output.find(part) == std::string::npos) return Outcome::kUnclear;
  }
  return Outcome::kClear;
}

void write(const std::string& path, const std::string& bytes) { opd::testing::write_file_bytes(path, bytes); }

// A copy of model `from` as `to` with config.json's `key` set to `value`, as
// JSON text spliced in (1e400 and 2^63 are not values a json object holds).
void model_with(const std::string& from, const std::string& to, const std::string& key, const std::string& value) {
  fs::copy(from, to, fs::copy_options::recursive);
  auto config = nlohmann::json::parse(opd::testing::read_file_bytes(from + "/config.json"));
  config.erase(key);
  std::string text = config.dump(1);
  text.insert(1, "\n \"" + key + "\": " + value + ",");
  write(to + "/config.json", text);
}

class AdversarialInputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("opd-adversarial");
    const std::string d = dir_->path().string();
    auto r = opd::testing::run_command("cd " + d + " && " + kBin + "/opd-make-tiny --out student --vocab-size 64 --seed 2 && " +
                                       kBin + "/opd-make-tiny --out teacher --vocab-size 64 --seed 1 && " + kBin +
                                       "/opd-make-tiny --char-tokenizer --out chars");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::string path(const std::string& name) { return (dir_->path() / name).string(); }

  // opd-train on the smoke recipe with these models, plus `extra`.
  static std::string train(const std::string& extra) {
    return "$BIN/opd-train --config " + kSource + "/configs/smoke/opd_tiny.yaml --set student.path=student " +
           "--set teacher.path=teacher --set data.train=" + kSource +
           "/configs/smoke/prompts.jsonl --set run_dir=run --set steps=1 " + extra;
  }

  static ScratchDir* dir_;
};

ScratchDir* AdversarialInputs::dir_ = nullptr;

TEST_F(AdversarialInputs, EachIsOneClearLine) {
  const std::string nan_weights = path("nan");
  {
    // The student with one weight turned NaN, as a diverged run might have saved it.
    fs::copy(path("chars"), nan_weights, fs::copy_options::recursive);
    std::string st = opd::testing::read_file_bytes(nan_weights + "/model.safetensors");
    const uint64_t header = *reinterpret_cast<const uint64_t*>(st.data());
    const uint32_t nan = 0x7fc00000u;
    std::memcpy(&st[8 + header + 64], &nan, sizeof nan);
    write(nan_weights + "/model.safetensors", st);
  }
  const std::string weights = opd::testing::read_file_bytes(path("student/model.safetensors"));
  struct ConfigEdit {
    std::string name, key, value;
  };
  const std::vector<ConfigEdit> configs = {
      {"layers", "num_hidden_layers", "1000000000"}, {"vocab", "vocab_size", "1000000000000"},
      {"eos_out", "eos_token_id", "1000000"},       {"eos_neg", "eos_token_id", "-5"},
      {"hidden0", "hidden_size", "0"},              {"heads7", "num_attention_heads", "7"},
      {"eps_inf", "rms_norm_eps", "1e400"},         {"rope_str", "rope_theta", "\"fast\""},
  };
  for (const auto& c : configs) model_with(path("student"), path("cfg_" + c.name), c.key, c.value);
  // Each size within its bound, together 4 TB of weights: more than any machine's memory.
  model_with(path("student"), path("cfg_wide"), "hidden_size", "65536");
  model_with(path("cfg_wide"), path("cfg_huge"), "vocab_size", "16000000");
  fs::create_directories(path("noconfig"));
  fs::copy(path("student/model.safetensors"), path("noconfig/model.safetensors"));
  fs::copy(path("student"), path("notjson"), fs::copy_options::recursive);
  write(path("notjson/config.json"), "{\"vocab_size\": 64,");
  fs::copy(path("student"), path("truncated"), fs::copy_options::recursive);
  write(path("truncated/model.safetensors"), weights.substr(0, weights.size() / 2));
  fs::copy(path("student"), path("badheader"), fs::copy_options::recursive);
  write(path("badheader/model.safetensors"), std::string("\x10\0\0\0\0\0\0\0{\"a\": [1, 2, 3]}", 24));

  write(path("comma.yaml"), ",");
  write(path("comma_a.yaml"), ", a: 1");
  write(path("garbage.yaml"), std::string("\x7f" "ELF\x02\x01\x01\0\0\0\0\xff\xfe:\n\t- [", 20));
  write(path("list.yaml"), "- 1\n- 2\n");
  write(path("notjson.jsonl"), "{\"prompt_ids\": [1]}\n{\"prompt_ids\": \n");
  write(path("noprompt.jsonl"), "{\"question\": \"a\"}\n");
  write(path("numprompt.jsonl"), "{\"prompt_ids\": [1, 2]}\n{\"prompt_ids\": 7}\n");
  write(path("badid.jsonl"), "{\"prompt_ids\": [1, 64]}\n");
  write(path("empty.jsonl"), "");
  write(path("long.jsonl"), "{\"prompt_ids\": [" + [] {
    std::string ids = "1";
    for (int i = 0; i < 5000; ++i) ids += ", 1";
    return ids;
  }() + "]}\n");
  write(path("emptytext.jsonl"), "{\"prompt\": \"hi\"}\n{\"prompt\": \"\"}\n");
  write(path("file.txt"), "keep\n");
  fs::copy(path("student"), path("realmodel"), fs::copy_options::recursive);
  fs::remove(path("realmodel/.opd-make-tiny"));  // as a downloaded model is

  const std::string gen = "$BIN/opd-generate --model chars --prompt hi --max-new-tokens 2 ";
  const std::vector<BadInput> inputs = {
      // recipes and --set
      {"a missing recipe", "$BIN/opd-train --config nope.yaml", {"nope.yaml"}},
      {"a recipe that is ','", "$BIN/opd-train --config comma.yaml", {"comma.yaml"}},
      {"a recipe that is ', a: 1'", "$BIN/opd-train --config comma_a.yaml", {"comma_a.yaml"}},
      {"a binary recipe", "$BIN/opd-train --config garbage.yaml", {"garbage.yaml"}},
      {"a recipe that is a list", "$BIN/opd-train --config list.yaml", {"list.yaml"}},
      {"an unknown key", train("--set optim.lrr=1"), {"optim.lrr"}},
      {"a word for a count", train("--set steps=x"), {"steps"}},
      {"a negative count", train("--set steps=-1"), {"steps"}},
      {"--set with two documents", train("--set $'a: 1\\n---\\nb: 2'"), {"--set"}},
      {"--set without '='", train("--set steps"), {"--set"}},
      {"dist_timeout_s at 2^63 - 1", train("--set dist_timeout_s=9223372036854775807"), {"dist_timeout_s"}},
      {"dist_timeout_s past 2^63", train("--set dist_timeout_s=99999999999999999999"), {"dist_timeout_s"}},
      {"10^12 prompts per step", train("--set data.prompts_per_step=1000000000000"), {"prompts_per_step"}},
      {"10^12 samples per prompt", train("--set data.samples_per_prompt=1000000000000"), {"samples_per_prompt"}},
      {"10^12 new tokens", train("--set rollout.max_new_tokens=1000000000000"), {"max_new_tokens"}},
      {"a zero micro-batch", train("--set micro_batch_size=0"), {"micro_batch_size"}},
      {"a negative temperature", train("--set rollout.temperature=-1"), {"temperature"}},
      {"a NaN learning rate", train("--set optim.lr=.nan"), {"optim.lr"}},
      {"an unknown objective", train("--set objective.name=ppo"), {"objective.name"}},
      {"float16 on the CPU", train("--set student.dtype=float16"), {"float16"}},
      {"a missing student", train("--set student.path=nowhere"), {"student.path", "nowhere"}},
      {"a missing dataset", train("--set data.train=nowhere.jsonl"), {"nowhere.jsonl"}},
      {"an unknown flag", train("--frobnicate"), {"frobnicate"}},
      // model directories
      {"a model without config.json", train("--set student.path=noconfig"), {"noconfig", "config.json"}},
      {"a config.json that is not JSON", train("--set student.path=notjson"), {"notjson", "config.json"}},
      {"10^9 layers", train("--set student.path=cfg_layers"), {"num_hidden_layers"}},
      {"a vocabulary of 10^12", train("--set student.path=cfg_vocab"), {"vocab_size"}},
      {"an eos outside the vocabulary", train("--set student.path=cfg_eos_out"), {"eos_token_id"}},
      {"a negative eos", train("--set student.path=cfg_eos_neg"), {"eos_token_id"}},
      {"hidden_size 0", train("--set student.path=cfg_hidden0"), {"hidden_size"}},
      {"heads that do not divide hidden_size", train("--set student.path=cfg_heads7"), {"num_attention_heads"}},
      {"rms_norm_eps 1e400", train("--set student.path=cfg_eps_inf"), {"cfg_eps_inf", "rms_norm_eps"}},
      {"rope_theta a string", train("--set student.path=cfg_rope_str"), {"rope_theta"}},
      {"weights larger than memory", train("--set student.path=cfg_huge"), {"cfg_huge/config.json", "GB of memory"}},
      {"opd-make-tiny larger than memory", "$BIN/opd-make-tiny --vocab-size 16000000 --hidden-size 65536 --out m",
       {"GB of memory"}},
      {"truncated weights", train("--set student.path=truncated"), {"truncated", "model.safetensors"}},
      {"a safetensors header of the wrong shape", train("--set student.path=badheader"), {"model.safetensors"}},
      {"NaN weights in opd-generate", "$BIN/opd-generate --model nan --prompt hi --max-new-tokens 2", {"NaN"}},
      // datasets
      {"a dataset line that is not JSON", train("--set data.train=notjson.jsonl"), {"notjson.jsonl:2"}},
      {"a dataset line without a prompt", train("--set data.train=noprompt.jsonl"), {"noprompt.jsonl:1"}},
      {"prompt_ids that are a number", train("--set data.train=numprompt.jsonl"), {"numprompt.jsonl:2"}},
      {"a prompt id outside the vocabulary", train("--set data.train=badid.jsonl"), {"badid.jsonl:1"}},
      {"an empty dataset", train("--set data.train=empty.jsonl"), {"empty.jsonl"}},
      {"a prompt longer than the context", train("--set data.train=long.jsonl"), {"long.jsonl:1"}},
      {"a prompt that renders to nothing", gen + "--prompts emptytext.jsonl", {"emptytext.jsonl:2"}},
      // tool flags
      {"opd-eval --pass-at 1,x", "$BIN/opd-eval --model chars --data emptytext.jsonl --pass-at 1,x", {"--pass-at"}},
      {"opd-generate --seed -1", gen + "--seed -1", {"--seed"}},
      {"opd-generate --max-new-tokens x", gen + "--max-new-tokens x", {"--max-new-tokens"}},
      {"opd-generate --temperature -1", gen + "--temperature -1", {"temperature"}},
      {"opd-generate --dtype float16", gen + "--dtype float16", {"float16"}},
      {"opd-generate on no model", "$BIN/opd-generate --model nowhere --prompt hi", {"nowhere"}},
      {"opd-make-tiny over a file", "$BIN/opd-make-tiny --out file.txt", {"file.txt"}},
      {"opd-make-tiny over a real model", "$BIN/opd-make-tiny --out realmodel", {"realmodel", "did not write"}},
      {"opd-make-tiny --out ''", "$BIN/opd-make-tiny --out ''", {"--out"}},
      {"opd-make-tiny --eos-id outside", "$BIN/opd-make-tiny --vocab-size 64 --eos-id 64 --out m", {"--eos-id"}},
      {"opd-make-tiny --vocab-size 0", "$BIN/opd-make-tiny --vocab-size 0 --out m", {"--vocab-size"}},
      {"opd-tokenize on no tokenizer", "$BIN/opd-tokenize --tokenizer nowhere encode --text x", {"nowhere"}},
      // launch variables
      {"WORLD_SIZE=x", "WORLD_SIZE=x RANK=0 " + train(""), {"WORLD_SIZE"}},
      {"RANK past WORLD_SIZE", "WORLD_SIZE=2 RANK=3 " + train(""), {"rank 3 (RANK)", "WORLD_SIZE"}},
      {"MASTER_PORT=abc", "WORLD_SIZE=2 RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=abc " + train(""), {"MASTER_PORT"}},
      {"LOCAL_RANK=-1", "LOCAL_RANK=-1 " + train(""), {"LOCAL_RANK"}},
      {"OPD_CPU_CACHE_MB=4GB", "OPD_CPU_CACHE_MB=4GB " + train(""), {"OPD_CPU_CACHE_MB=4GB"}},
      {"OPD_CPU_PACKED_LINEAR=yes", "OPD_CPU_PACKED_LINEAR=yes " + train(""), {"OPD_CPU_PACKED_LINEAR=yes"}},
  };

  std::map<Outcome, int> tally;
  for (const auto& input : inputs) {
    const std::string command = "cd " + dir_->path().string() + " && BIN=" + kBin + " timeout 120 bash -c " +
                                "'" + [&] {
                                  std::string quoted;
                                  for (char c : input.command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
                                  return quoted;
                                }() + "'";
    const auto r = opd::testing::run_command(command);
    const Outcome o = classify(r, input);
    ++tally[o];
    EXPECT_STREQ(outcome_name(o), outcome_name(Outcome::kClear))
        << input.what << " (exit " << r.exit_code << "): " << input.command << "\n" << r.output;
    fs::remove_all(path("run"));
    fs::remove_all(path("m"));
  }
  std::cout << inputs.size() << " bad inputs:";
  for (Outcome o : {Outcome::kClear, Outcome::kCrash, Outcome::kHang, Outcome::kAccepted, Outcome::kUnclear}) {
    std::cout << " " << tally[o] << " " << outcome_name(o);
  }
  std::cout << std::endl;
}

}  // namespace
}  // namespace opd::adversarial_inputs
