// tokenizer.json (tokenizer/hf_tokenizer.h). Every refusal must be a
// std::runtime_error naming the problem (the tokenizer layer's error type);
// an accepted tokenizer must encode and decode text without failing, and
// every id it produces must be inside its vocabulary.
#include "fuzz_support.h"

#include "opd/tokenizer/hf_tokenizer.h"

#include <cstdint>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  opd::fuzz::expect_refusal_or_success<std::runtime_error>([&] {
    const auto t = opd::tokenizer::HfTokenizer::from_json_text(text, "tokenizer.json");
    for (const char* sample : {"Hello, world! 12 + 30 = 42", "  tabs\tand\nnewlines ", "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd",
                               "<|im_start|>user\nhi<|im_end|>", "\xff\xfe invalid utf-8 \xc3"}) {
      for (bool special : {false, true}) {
        const auto ids = t->encode(sample, special);
        for (int64_t id : ids) opd::fuzz::require(id >= 0 && id < t->vocab_size(), "encoded ids are in the vocabulary");
        (void)t->decode(ids, special);
      }
    }
    const int64_t probe[] = {0, 1, t->vocab_size() - 1};
    for (int64_t id : probe) {
      if (id >= 0 && id < t->vocab_size()) {
        (void)t->id_to_token(id);
        (void)t->is_special(id);
      }
    }
  });
  return 0;
}
