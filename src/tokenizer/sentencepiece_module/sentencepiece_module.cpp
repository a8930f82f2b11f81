// libopd_sentencepiece.so: libsentencepiece behind a small C interface.
// Debian's libsentencepiece carries its own copy of protobuf-lite and exports
// it; LibTorch loads the full libprotobuf, and the two clash at start-up when
// both are linked into one program. SentencePieceTokenizer therefore loads
// this module with dlopen(RTLD_LOCAL | RTLD_DEEPBIND), so that
// libsentencepiece binds to its own protobuf and nothing else sees it.
#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Processor = sentencepiece::SentencePieceProcessor;

int64_t copy_out(const std::string& s, char* out, int64_t capacity) {
  if (static_cast<int64_t>(s.size()) <= capacity) std::memcpy(out, s.data(), s.size());
  return static_cast<int64_t>(s.size());
}

}  // namespace

extern "C" {

// A loaded model, or nullptr with the reason in `error`.
void* opd_spm_load(const char* path, char* error, int64_t error_capacity) {
  auto* p = new Processor();
  const auto status = p->Load(path);
  if (status.ok()) return p;
  const std::string message = status.ToString();
  std::strncpy(error, message.c_str(), static_cast<size_t>(error_capacity - 1));
  error[error_capacity - 1] = '\0';
  delete p;
  return nullptr;
}

void opd_spm_free(void* model) { delete static_cast<Processor*>(model); }

// Ids of text[0, length) into ids (capacity >= length + 8 always suffices);
// returns their number, or -1 on failure.
int64_t opd_spm_encode(void* model, const char* text, int64_t length, int32_t* ids, int64_t capacity) {
  std::vector<int> pieces;
  if (!static_cast<Processor*>(model)->Encode(std::string(text, static_cast<size_t>(length)), &pieces).ok()) {
    return -1;
  }
  for (size_t i = 0; i < pieces.size() && static_cast<int64_t>(i) < capacity; ++i) ids[i] = pieces[i];
  return static_cast<int64_t>(pieces.size());
}

// The text of ids into out; returns its length (call again with a larger
// buffer when it exceeds capacity), or -1 on failure.
int64_t opd_spm_decode(void* model, const int32_t* ids, int64_t n, char* out, int64_t capacity) {
  std::string text;
  if (!static_cast<Processor*>(model)->Decode(std::vector<int>(ids, ids + n), &text).ok()) return -1;
  return copy_out(text, out, capacity);
}

int32_t opd_spm_piece_size(void* model) { return static_cast<Processor*>(model)->GetPieceSize(); }

// The id of a piece, or -1 when the model does not have it.
int32_t opd_spm_piece_to_id(void* model, const char* piece, int64_t length) {
  auto* p = static_cast<Processor*>(model);
  const std::string s(piece, static_cast<size_t>(length));
  const int id = p->PieceToId(s);
  return id == p->unk_id() && p->IdToPiece(id) != s ? -1 : id;
}

int64_t opd_spm_id_to_piece(void* model, int32_t id, char* out, int64_t capacity) {
  return copy_out(static_cast<Processor*>(model)->IdToPiece(id), out, capacity);
}

int32_t opd_spm_is_special(void* model, int32_t id) {
  auto* p = static_cast<Processor*>(model);
  return p->IsControl(id) || p->IsUnknown(id);
}

int32_t opd_spm_bos_id(void* model) { return static_cast<Processor*>(model)->bos_id(); }

}  // extern "C"
