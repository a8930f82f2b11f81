#include "opd/tokenizer/tokenizer.h"

#include "check.h"
#include "opd/tokenizer/hf_tokenizer.h"
#include "opd/tokenizer/sentencepiece_tokenizer.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

namespace opd::tokenizer {

std::vector<std::vector<int64_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          bool add_special_tokens) const {
  std::vector<std::vector<int64_t>> out(texts.size());
  const size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()),
                                          (texts.size() + 63) / 64);
  auto work = [&](size_t part) {
    for (size_t i = part; i < texts.size(); i += threads) out[i] = encode(texts[i], add_special_tokens);
  };
  if (threads <= 1) {
    work(0);
    return out;
  }
  std::vector<std::thread> pool;
  std::exception_ptr error;
  std::mutex error_mutex;
  for (size_t p = 0; p < threads; ++p) {
    pool.emplace_back([&, p] {
      try {
        work(p);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return out;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  if (fs::is_regular_file(p)) {
    if (p.extension() == ".json") return HfTokenizer::from_file(path);
    return SentencePieceTokenizer::from_file(path);
  }
  check(fs::is_directory(p), "no tokenizer at '", path, "' (neither a model directory nor a file)");
  if (fs::is_regular_file(p / "tokenizer.json")) return HfTokenizer::from_file((p / "tokenizer.json").string());
  if (fs::is_regular_file(p / "tokenizer.model")) {
    return SentencePieceTokenizer::from_file((p / "tokenizer.model").string());
  }
  fail("model directory '", path, "' has neither tokenizer.json nor tokenizer.model");
}

}  // namespace opd::tokenizer
