// Whole text files: read one, or write one atomically (a temporary sibling,
// then a rename), so a reader never sees half a file and an interrupted
// write leaves the old one (or none) behind.
#pragma once

#include <string>

namespace opd {

// The file's bytes; throws "<path>: cannot read" when it cannot be opened.
std::string read_text_file(const std::string& path);

// Writes `text` to `path` through `path`.tmp, creating the parent directory;
// throws naming the path when the write fails (the temporary is removed).
void write_text_file_atomically(const std::string& path, const std::string& text);

}  // namespace opd
