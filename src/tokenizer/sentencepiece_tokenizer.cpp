#include "opd/tokenizer/sentencepiece_tokenizer.h"

#include "check.h"
#include "opd/core/install_paths.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace opd::tokenizer {
namespace {

// The C interface of libopd_sentencepiece.so (src/tokenizer/sentencepiece_module).
struct SentencePieceModule {
  void* (*load)(const char*, char*, int64_t);
  void (*free)(void*);
  int64_t (*encode)(void*, const char*, int64_t, int32_t*, int64_t);
  int64_t (*decode)(void*, const int32_t*, int64_t, char*, int64_t);
  int32_t (*piece_size)(void*);
  int32_t (*piece_to_id)(void*, const char*, int64_t);
  int64_t (*id_to_piece)(void*, int32_t, char*, int64_t);
  int32_t (*is_special)(void*, int32_t);
  int32_t (*bos_id)(void*);
};

template <typename Fn>
void resolve(void* lib, const char* name, Fn*& fn, const std::string& path) {
  fn = reinterpret_cast<Fn*>(dlsym(lib, name));
  check(fn != nullptr, path, " lacks ", name);
}

// Loaded once: $OPD_SENTENCEPIECE_MODULE, else where shipped files are
// (core/install_paths.h: the build tree's, or the binary's prefix's lib/opd). RTLD_DEEPBIND keeps libsentencepiece's bundled
// protobuf away from LibTorch's.
const SentencePieceModule& module() {
  static const SentencePieceModule m = [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("OPD_SENTENCEPIECE_MODULE")) candidates.push_back(env);
    for (auto& path : shipped_paths(OPD_SENTENCEPIECE_MODULE_BUILD, OPD_SENTENCEPIECE_MODULE_REL,
                                    OPD_SENTENCEPIECE_MODULE_INSTALL)) {
      candidates.push_back(std::move(path));
    }
    std::string tried;
    for (const auto& path : candidates) {
      if (!std::filesystem::exists(path)) {
        tried += " " + path;
        continue;
      }
      void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      check(lib != nullptr, "cannot load ", path, ": ", dlerror());
      SentencePieceModule s{};
      resolve(lib, "opd_spm_load", s.load, path);
      resolve(lib, "opd_spm_free", s.free, path);
      resolve(lib, "opd_spm_encode", s.encode, path);
      resolve(lib, "opd_spm_decode", s.decode, path);
      resolve(lib, "opd_spm_piece_size", s.piece_size, path);
      resolve(lib, "opd_spm_piece_to_id", s.piece_to_id, path);
      resolve(lib, "opd_spm_id_to_piece", s.id_to_piece, path);
      resolve(lib, "opd_spm_is_special", s.is_special, path);
      resolve(lib, "opd_spm_bos_id", s.bos_id, path);
      return s;
    }
    fail("SentencePiece support needs libopd_sentencepiece.so; not found at:", tried,
         " (set OPD_SENTENCEPIECE_MODULE)");
  }();
  return m;
}

}  // namespace

struct SentencePieceTokenizer::Impl {
  void* model = nullptr;
  ~Impl() {
    if (model) module().free(model);
  }
};

SentencePieceTokenizer::SentencePieceTokenizer() : impl_(std::make_unique<Impl>()) {}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_file(const std::string& path) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  char error[512] = {};
  t->impl_->model = module().load(path.c_str(), error, sizeof error);
  check(t->impl_->model != nullptr, "SentencePiece model '", path, "' cannot be loaded: ", error);
  return t;
}

std::vector<int64_t> SentencePieceTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> pieces(text.size() + 8);
  const int64_t n = module().encode(impl_->model, text.data(), static_cast<int64_t>(text.size()),
                                    pieces.data(), static_cast<int64_t>(pieces.size()));
  check(n >= 0 && n <= static_cast<int64_t>(pieces.size()), "SentencePiece encode failed");
  std::vector<int64_t> ids;
  const int32_t bos = module().bos_id(impl_->model);
  if (add_special_tokens && bos >= 0) ids.push_back(bos);
  ids.insert(ids.end(), pieces.begin(), pieces.begin() + n);
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::vector<int32_t> pieces;
  for (int64_t id : ids) {
    check(id >= 0, "token id ", id, " is outside the vocabulary [0, ", vocab_size(), ")");
    if (id >= vocab_size()) continue;  // as Hugging Face's tokenizers does
    if (!(skip_special && is_special(id))) pieces.push_back(static_cast<int32_t>(id));
  }
  std::string text(64 + 16 * pieces.size(), '\0');
  for (;;) {
    const int64_t n = module().decode(impl_->model, pieces.data(), static_cast<int64_t>(pieces.size()),
                                      text.data(), static_cast<int64_t>(text.size()));
    check(n >= 0, "SentencePiece decode failed");
    if (n <= static_cast<int64_t>(text.size())) {
      text.resize(static_cast<size_t>(n));
      return text;
    }
    text.assign(static_cast<size_t>(n), '\0');
  }
}

int64_t SentencePieceTokenizer::vocab_size() const { return module().piece_size(impl_->model); }

std::optional<int64_t> SentencePieceTokenizer::token_to_id(std::string_view token) const {
  const int32_t id = module().piece_to_id(impl_->model, token.data(), static_cast<int64_t>(token.size()));
  if (id < 0) return std::nullopt;
  return id;
}

std::string SentencePieceTokenizer::id_to_token(int64_t id) const {
  check(id >= 0 && id < vocab_size(), "token id ", id, " is outside the vocabulary [0, ", vocab_size(), ")");
  std::string piece(64, '\0');
  for (;;) {
    const int64_t n = module().id_to_piece(impl_->model, static_cast<int32_t>(id), piece.data(),
                                           static_cast<int64_t>(piece.size()));
    if (n <= static_cast<int64_t>(piece.size())) {
      piece.resize(static_cast<size_t>(n));
      return piece;
    }
    piece.assign(static_cast<size_t>(n), '\0');
  }
}

bool SentencePieceTokenizer::is_special(int64_t id) const {
  return module().is_special(impl_->model, static_cast<int32_t>(id)) != 0;
}

}  // namespace opd::tokenizer
