#include "opd/core/text_file.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

namespace opd {
namespace {

TEST(TextFile, ReadsEveryByte) {
  opd::testing::ScratchDir dir;
  const std::string path = dir / "f.txt";
  std::string big(200000, 'a');  // more than one read(2)
  big[123457] = '\0';
  opd::testing::write_file_bytes(path, big);
  EXPECT_EQ(read_text_file(path), big);
  opd::testing::write_file_bytes(path, "");
  EXPECT_EQ(read_text_file(path), "");
}

TEST(TextFile, AMissingFileOrADirectoryIsAClearError) {
  opd::testing::ScratchDir dir;
  opd::testing::expect_error([&] { read_text_file(dir / "missing.txt"); },
                             {"missing.txt: cannot read", "No such file or directory"});
  opd::testing::expect_error([&] { read_text_file(dir.path().string()); },
                             {dir.path().string(), "cannot read", "Is a directory"});
}

}  // namespace
}  // namespace opd
