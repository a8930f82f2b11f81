// Private to src/tokenizer: GPT-2's reversible map between the 256 byte
// values and printable code points, which byte-level BPE vocabularies are
// written in (a space is "Ġ", a newline "Ċ").
#pragma once

#include <string>
#include <string_view>

namespace opd::tokenizer {

// Each byte of `bytes` as the UTF-8 of its code point.
std::string bytes_to_unicode(std::string_view bytes);
// The inverse for one token; a token holding any code point outside the map
// (an added token such as "<think>" can) is kept whole as its UTF-8 bytes,
// as tokenizers' ByteLevel decoder does.
std::string unicode_to_bytes(std::string_view mapped);

}  // namespace opd::tokenizer
