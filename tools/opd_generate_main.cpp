// opd-generate: samples n responses per prompt from any model directory with
// the rollout engine and writes one JSON line per sample, to check a model by
// eye or feed another tool.
//   opd-generate --model DIR --prompts prompts.jsonl [--prompt "text" ...] --n 4
//                [--chat-template qwen3] [--stop "\n\n"] [--out samples.jsonl]
// Each line: {"index", "line", "sample", "domain", "prompt", "response", "prompt_ids",
// "response_ids", "finish_reason": "stop" | "length", "logprobs" (--logprobs)};
// the text fields need the model's tokenizer.
#include "cli_main.h"
#include "model_options.h"
#include "sampling_options.h"
#include "opd/core/atomic_file.h"
#include "opd/data/prompt_dataset.h"
#include "opd/model/pretrained.h"
#include "opd/rollout/generation_settings.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/sequence_packing.h"
#include "opd/train/prompt_formats.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

namespace {

// Backslash escapes typed on a command line (\n, \t, \\) as the characters they name.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sample responses from a model on prompts and write them as JSONL."};
  opd::tools::standard_flags(app);
  opd::tools::ModelOptions model_options;
  std::string prompts_path, out_path;
  std::vector<std::string> texts, stops;
  int64_t n = 1, batch = 32, limit = 0;
  bool logprobs = false;
  opd::rollout::GenerationConfig generation;
  generation.max_new_tokens = 256;
  opd::tools::add_model_options(app, model_options, "HF model directory");
  app.add_option("--prompts", prompts_path, "JSONL (prompt, messages or prompt_ids per line) or opd-prepare's .h5");
  app.add_option("--prompt", texts, "a prompt text (repeatable; after those of --prompts)");
  app.add_option("--n", n, "samples per prompt")->check(opd::tools::positive());
  app.add_option("--stop", stops,
                 "stop string (\\n, \\t read as newline, tab), tokenized by the model's tokenizer (repeatable)");
  app.add_option("--batch", batch, "sequences generated together")->check(opd::tools::positive());
  app.add_option("--limit", limit, "only the first N prompts (0 = all)")->check(opd::tools::non_negative());
  app.add_flag("--logprobs", logprobs, "write each token's sampler log-prob");
  app.add_option("--out", out_path, "write JSONL here (default: stdout)");
  opd::tools::add_sampling_options(app, generation);
  if (auto code = opd::tools::parse_flags("opd-generate", app, argc, argv)) return *code;

  return opd::tools::run_main("opd-generate", [&] {
    using namespace opd;
    TORCH_CHECK(!prompts_path.empty() || !texts.empty(), "give prompts with --prompts FILE or --prompt TEXT");
    auto [model, format] = tools::load_model(model_options);
    const auto& tok = format.tokenizer;
    TORCH_CHECK(tok || (texts.empty() && stops.empty()), "--prompt and --stop are text: '", model_options.spec.path,
                "' has no tokenizer.json or tokenizer.model");

    std::vector<data::Prompt> prompts;
    if (!prompts_path.empty()) {
      const auto file = data::PromptDataset::from_file(prompts_path, tok ? &format : nullptr);
      for (int64_t i = 0; i < file.size(); ++i) prompts.push_back(file[i]);
    }
    for (const auto& text : texts) {
      data::Prompt p;
      p.messages = {{"user", text}};
      p.ids = format.prompt_ids(p.messages);
      prompts.push_back(std::move(p));
    }
    if (limit > 0 && limit < static_cast<int64_t>(prompts.size())) prompts.resize(static_cast<size_t>(limit));
    const auto dataset = data::PromptDataset::from_prompts(std::move(prompts), prompts_path);
    dataset.check_vocab(model->config().vocab_size, "--model");

    generation.stop_token_ids = rollout::stop_token_ids(model->config(), format);
    generation.vocab_limit = rollout::drawable_vocabulary(model->config(), format);
    for (const auto& s : stops) {
      auto ids = tok->encode(unescape(s));
      TORCH_CHECK(!ids.empty(), "--stop: an empty stop string");
      generation.stop_sequences.push_back(std::move(ids));
    }

    // Streamed into a temporary beside --out, renamed over it at the end: no
    // half-written --out. When generation fails midway, the samples finished
    // before it are kept as --out.partial and the error says so.
    std::optional<AtomicFileWriter> file;
    if (!out_path.empty()) file.emplace(out_path);
    const int64_t total = dataset.size() * n;
    int64_t generated = 0;
    const auto t0 = std::chrono::steady_clock::now();
    tools::Progress progress("samples", total);
    int64_t finished = 0;  // samples written
    try {
      for (int64_t first = 0; first < total; first += batch) {
        const int64_t last = std::min(total, first + batch);
        std::vector<std::vector<int64_t>> ids;
        for (int64_t s = first; s < last; ++s) ids.push_back(dataset[s / n].ids);
        generation.first_row = first;  // sample s draws as row s: the output does not depend on --batch
        const auto rollout = rollout::generate(model, ids, generation);
        const auto responses = rollout::response_ids(rollout);
        const auto response_logprobs = rollout::response_logprobs(rollout);
        for (int64_t s = first; s < last; ++s) {
          const auto& prompt = dataset[s / n];
          const auto& response = responses[static_cast<size_t>(s - first)];
          nlohmann::json j;
          j["index"] = s / n;  // the prompt's place in the input (file lines first, then --prompt)
          if (prompt.line > 0) j["line"] = prompt.line;
          j["sample"] = s % n;
          if (!prompt.domain.empty()) j["domain"] = prompt.domain;
          if (tok) {
            j["prompt"] = tok->decode(prompt.ids);
            j["response"] = tok->decode(response, true);
          }
          j["prompt_ids"] = prompt.ids;
          j["response_ids"] = response;
          j["finish_reason"] =
              rollout::ended_on_its_own(response, generation.max_new_tokens, generation) ? "stop" : "length";
          if (logprobs) j["logprobs"] = response_logprobs[static_cast<size_t>(s - first)];
          const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
          if (file) {
            file->write(line);
          } else {
            std::cout << line;
          }
          generated += static_cast<int64_t>(response.size());
          ++finished;
        }
        progress.update(last);
      }
    } catch (const std::exception& e) {
      progress.finish();
      if (!file || finished == 0) throw;
      const std::string partial = out_path + ".partial";
      file->commit_to(partial);
      throw std::runtime_error(tools::error_text(e) + " (the " + std::to_string(finished) +
                               " samples finished before it are in " + partial + ")");
    }
    progress.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%lld samples, %lld tokens in %.1f s (%.0f tokens/s)\n", static_cast<long long>(total),
                 static_cast<long long>(generated), seconds, double(generated) / std::max(seconds, 1e-9));
    if (file) file->commit();
    return 0;
  });
}
