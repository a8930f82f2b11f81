// Encoding speed of a tokenizer (default: Qwen3's tokenizer.json from the
// test fixtures) on a mixed text: this repository's README and sources
// (English, code) interleaved with CJK, emoji, digits and whitespace runs.
// Checks first that every document decodes back to its NFC form.
//   build/bin/bench_tokenizer [--tokenizer PATH] [--mb 8] [--repeats 3]
#include "bench_cli.h"
#include "median_timer.h"
#include "opd/core/cpu_allocator.h"
#include "opd/core/text_file.h"
#include "opd/tokenizer/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Documents of about 4 KB until `bytes` are reached.
std::vector<std::string> make_documents(size_t bytes) {
  std::vector<std::string> sources;
  sources.push_back(opd::read_text_file((fs::path(OPD_SOURCE_DIR) / "README.md").string()));
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(OPD_SOURCE_DIR) / "src")) {
    if (entry.path().extension() == ".cpp") sources.push_back(opd::read_text_file(entry.path().string()));
  }
  const std::vector<std::string> mixed = {
      "数学题：已知三角形的三边长分别为3、4、5，求它的面积。答案是6。\n",
      "日本語のテキストと、カタカナ、ひらがな。한국어 문장도 있습니다.\n",
      "Emoji 🤖🚀🎉 👨\u200d👩\u200d👧 numbers 12345 3.14159 2026-11-23\n",
      std::string(40, ' ') + "\t\t\n\n" + std::string(12, ' ') + "\n"};
  std::vector<std::string> docs;
  size_t total = 0, s = 0, m = 0;
  while (total < bytes) {
    std::string& doc = docs.emplace_back();
    while (doc.size() < 4096) {
      const auto& src = sources[s++ % sources.size()];
      const size_t start = (s * 7919) % std::max<size_t>(1, src.size());
      doc += src.substr(start, 1500) + mixed[m++ % mixed.size()];
    }
    total += doc.size();
  }
  return docs;
}

std::string nfc(const std::string& text) {
  auto* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(text.c_str()));
  std::string result(reinterpret_cast<char*>(out));
  std::free(out);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  opd::bench::keep_freed_cpu_memory_or_exit("bench_tokenizer");
  std::string path = std::string(OPD_SOURCE_DIR) +
                     "/tests/fixtures/tokenizers/qwen3/tokenizer.json";
  double mb = 8;
  int repeats = 3;
  CLI::App app{"Tokenizer throughput on generated multilingual text, after a round-trip check."};
  app.add_option("--tokenizer", path, "tokenizer.json (or its model directory)")->check(CLI::ExistingPath)
      ->capture_default_str();
  app.add_option("--mb", mb, "megabytes of text")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--repeats", repeats, "timed runs")->check(opd::bench::at_least(1))->capture_default_str();
  opd::bench::one_line_errors(app, "bench_tokenizer");
  CLI11_PARSE(app, argc, argv);
  std::shared_ptr<const opd::tokenizer::Tokenizer> tok;
  try {
    tok = opd::tokenizer::load_tokenizer(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  const auto docs = make_documents(static_cast<size_t>(mb * 1e6));
  double bytes = 0;
  for (const auto& d : docs) bytes += double(d.size());

  // Check: every document decodes back to its NFC form.
  size_t tokens = 0;
  for (const auto& d : docs) {
    const auto ids = tok->encode(d);
    tokens += ids.size();
    if (tok->decode(ids) != nfc(d)) {
      std::fprintf(stderr, "bench_tokenizer: a document does not round-trip\n");
      return 1;
    }
  }
  // Timed: a fresh tokenizer (cold word cache) once, then warm, one thread;
  // then encode_batch over every core.
  auto cold_tok = opd::tokenizer::load_tokenizer(path);
  const auto t_cold = opd::bench::median_seconds([&] { for (const auto& d : docs) cold_tok->encode(d); }, 1);
  const auto t_one = opd::bench::median_seconds([&] { for (const auto& d : docs) tok->encode(d); }, repeats);
  const auto t_batch = opd::bench::median_seconds([&] { tok->encode_batch(docs); }, repeats);
  std::vector<std::vector<int64_t>> all;
  for (const auto& d : docs) all.push_back(tok->encode(d));
  const auto t_decode = opd::bench::median_seconds([&] { for (const auto& ids : all) tok->decode(ids); }, repeats);
  std::printf("bench_tokenizer: %s\n  %.1f MB in %zu documents, %zu tokens (%.2f bytes/token), round trip ok\n",
              path.c_str(), bytes / 1e6, docs.size(), tokens, bytes / double(tokens));
  std::printf("  encode, 1 thread, cold cache : %7.2f MB/s\n", bytes / 1e6 / t_cold);
  std::printf("  encode, 1 thread, warm cache : %7.2f MB/s (%.0f tokens/s)\n", bytes / 1e6 / t_one,
              double(tokens) / t_one);
  std::printf("  encode_batch, all cores      : %7.2f MB/s\n", bytes / 1e6 / t_batch);
  std::printf("  decode, 1 thread             : %7.2f MB/s\n", bytes / 1e6 / t_decode);
  return 0;
}
