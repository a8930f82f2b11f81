#include "opd/core/text_file.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace opd {
namespace {

TEST(TextFile, WritesAtomicallyAndReadsBack) {
  opd::testing::ScratchDir dir;
  const std::string path = dir / "a/b/f.txt";
  write_text_file_atomically(path, "one\n");
  write_text_file_atomically(path, std::string("two\0three", 9));
  EXPECT_EQ(read_text_file(path), std::string("two\0three", 9)) << "replaced, bytes kept";
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  opd::testing::expect_error([&] { read_text_file(dir / "missing.txt"); }, {"missing.txt: cannot read"});
  // A path that is a directory cannot be written: an error, nothing left behind.
  std::filesystem::create_directories(dir / "d.tmp");
  opd::testing::expect_error([&] { write_text_file_atomically(dir / "d", "x"); }, {"d: cannot write"});
  EXPECT_FALSE(std::filesystem::exists(dir / "d"));
}

}  // namespace
}  // namespace opd
