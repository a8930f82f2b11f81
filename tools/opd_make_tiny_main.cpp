// opd-make-tiny: writes a random HF model directory of a chosen shape, seeded.
#include "cli_main.h"
#include "opd/core/atomic_file.h"
#include "opd/model/compute_dtype.h"
#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/tokenizer/char_tokenizer.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <map>

int main(int argc, char** argv) {
  using namespace opd::model;
  CLI::App app{"Write a random tiny HF-format model directory (config.json + safetensors)."};
  opd::tools::standard_flags(app);
  std::string out, arch = "qwen3", dtype = "float32";
  TinyModelSpec spec;
  bool untied = false, char_tokenizer = false;
  app.add_option("--out", out, "output model directory")->required();
  app.add_option("--arch", arch, "qwen3 | qwen2 | llama | mistral")
      ->check(CLI::IsMember({"qwen3", "qwen2", "llama", "mistral"}));
  app.add_option("--vocab-size", spec.vocab_size)->check(opd::tools::positive());
  app.add_option("--hidden-size", spec.hidden_size)->check(opd::tools::positive());
  app.add_option("--intermediate-size", spec.intermediate_size)->check(opd::tools::positive());
  app.add_option("--layers", spec.num_hidden_layers)->check(opd::tools::positive());
  app.add_option("--heads", spec.num_attention_heads)->check(opd::tools::positive());
  app.add_option("--kv-heads", spec.num_key_value_heads)->check(opd::tools::positive());
  app.add_option("--head-dim", spec.head_dim)->check(opd::tools::positive());
  app.add_option("--max-positions", spec.max_position_embeddings)->check(opd::tools::positive());
  app.add_option("--rope-theta", spec.rope_theta)->check(opd::tools::positive());
  app.add_option("--init-std", spec.init_std, "weights ~ N(0, std^2)")->check(opd::tools::positive());
  app.add_option("--embed-std", spec.embed_std, "embedding/lm_head std (default: --init-std)")
      ->check(opd::tools::non_negative());
  app.add_option("--eos-id", spec.eos_token_id,
                 "config.json's eos_token_id; with a real tokenizer give its end of text or turn (Qwen3: 151645, "
                 "<|im_end|>): 1 is '\"' in Qwen3's vocabulary, and opd warns when the EOS is not a special token")
      ->check(opd::tools::non_negative());
  app.add_option("--seed", spec.seed);
  app.add_option("--dtype", dtype, "compute dtype")
      ->check(CLI::IsMember(opd::config::choice_names<ComputeDtype>()));
  app.add_flag("--untied", untied, "separate lm_head instead of tied embeddings");
  app.add_flag("--char-tokenizer", char_tokenizer,
               "also write a character-level tokenizer.json (61 characters + ChatML specials; needs "
               "a vocabulary of 64, the default with it; EOS becomes <|endoftext|> unless --eos-id is given)");
  if (auto code = opd::tools::parse_flags("opd-make-tiny", app, argc, argv)) return *code;

  return opd::tools::run_main("opd-make-tiny", [&] {
    static const std::map<std::string, Architecture> kArch = {{"qwen3", Architecture::kQwen3},
                                                              {"qwen2", Architecture::kQwen2},
                                                              {"llama", Architecture::kLlama},
                                                              {"mistral", Architecture::kMistral}};
    spec.architecture = kArch.at(arch);
    spec.dtype = dtype_from_name(dtype, "--dtype");
    spec.tie_word_embeddings = !untied;
    const auto& alphabet = opd::tokenizer::default_char_alphabet();
    const int64_t char_vocab = static_cast<int64_t>(alphabet.size()) + 3;
    if (char_tokenizer) {
      if (app.count("--vocab-size") == 0) spec.vocab_size = char_vocab;
      if (spec.vocab_size != char_vocab) {
        throw std::runtime_error("--char-tokenizer needs --vocab-size " + std::to_string(char_vocab) +
                                 ", got " + std::to_string(spec.vocab_size));
      }
      if (app.count("--eos-id") == 0) spec.eos_token_id = static_cast<int64_t>(alphabet.size());
    }
    namespace fs = std::filesystem;
    TORCH_CHECK(!out.empty(), "--out: give a directory to write the model to");
    // Only what opd-make-tiny wrote is replaced (its marker file says so): never a file, a folder of
    // something else, or a real model (models/Qwen3-8B given by mistake).
    const fs::path marker = fs::path(out) / ".opd-make-tiny";
    TORCH_CHECK(!fs::exists(out) || fs::is_directory(out), "--out ", out, ": is a file; refusing to replace it");
    TORCH_CHECK(!fs::is_directory(out) || fs::is_empty(out) || fs::exists(fs::path(out) / "config.json"), "--out ",
                out, ": a non-empty directory that is not a model directory (no config.json); refusing to replace it");
    TORCH_CHECK(!fs::is_directory(out) || fs::is_empty(out) || fs::exists(marker), "--out ", out,
                ": holds a model opd-make-tiny did not write; refusing to replace it (delete it first, or choose "
                "another --out)");
    TORCH_CHECK(spec.eos_token_id < spec.vocab_size, "--eos-id ", spec.eos_token_id,
                " is outside the vocabulary [0, ", spec.vocab_size, ")");
    auto model = make_tiny_model(spec);
    save_pretrained(model, out);
    if (char_tokenizer) opd::write_file_atomically(out + "/tokenizer.json", opd::tokenizer::char_tokenizer_json(alphabet));
    opd::write_file_atomically(marker.string(), "written by opd-make-tiny; it may replace this directory\n");
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    std::printf("wrote %s: %s, %lld parameters, vocab %lld, %lld layers, seed %llu\n", out.c_str(),
                arch.c_str(), static_cast<long long>(params), static_cast<long long>(spec.vocab_size),
                static_cast<long long>(spec.num_hidden_layers),
                static_cast<unsigned long long>(spec.seed));
    return 0;
  });
}
