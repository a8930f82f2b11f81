#include "opd/core/atomic_file.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

namespace opd {
namespace {

namespace fs = std::filesystem;
using opd::testing::ScratchDir;
using opd::testing::expect_error;
using opd::testing::read_file_bytes;

size_t entries(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFile, ReplacesTheTargetAndKeepsEveryByte) {
  ScratchDir dir("opd-atomic");
  const std::string path = dir / "f.bin";
  write_file_atomically(path, "one\n");
  EXPECT_EQ(read_file_bytes(path), "one\n");
  const std::string binary("two\0three\xff", 10);
  write_file_atomically(path, binary);
  EXPECT_EQ(read_file_bytes(path), binary);
  write_file_atomically(path, "");
  EXPECT_EQ(read_file_bytes(path), "");
  EXPECT_EQ(entries(dir.path()), 1u) << "no temporary left beside the target";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u) << "mode as a plain open(2) would give, not mkstemp's 0600";
}

TEST(AtomicFile, StreamsInPiecesAndUsesAUniqueTemporary) {
  ScratchDir dir("opd-atomic");
  const std::string path = dir / "f.txt";
  AtomicFileWriter a(path);
  AtomicFileWriter b(path);
  EXPECT_NE(a.temp_path(), b.temp_path());
  EXPECT_EQ(fs::path(a.temp_path()).parent_path(), dir.path()) << "same directory: the rename stays on one file system";
  a.write("he");
  a.write("llo");
  EXPECT_FALSE(fs::exists(path)) << "nothing is visible before commit()";
  a.commit();
  b.write("other");
  b.commit();
  EXPECT_EQ(read_file_bytes(path), "other") << "the last commit wins, whole";
  EXPECT_EQ(entries(dir.path()), 1u);
  expect_error([&] { a.write("x"); }, {path, "already committed"});
}

TEST(AtomicFile, AnAbandonedWriteLeavesTheTargetUntouched) {
  ScratchDir dir("opd-atomic");
  const std::string path = dir / "f.txt";
  write_file_atomically(path, "old");
  try {
    AtomicFileWriter file(path);
    file.write("half of the new ");
    throw std::runtime_error("the producer failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_file_bytes(path), "old");
  EXPECT_EQ(entries(dir.path()), 1u) << "the temporary is removed";
}

// A write that fails half way (here: the file size limit) throws naming the
// target, removes its temporary, and leaves the old file in place.
TEST(AtomicFile, AFailingWriteThrowsAndLeavesTheTargetUntouched) {
  ScratchDir dir("opd-atomic");
  const std::string path = dir / "f.bin";
  write_file_atomically(path, "old");
  const std::string message =
      opd::testing::error_under_file_size_limit([&] { write_file_atomically(path, std::string(1 << 16, 'x')); });
  EXPECT_NE(message.find(path + ": cannot write (writing "), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_EQ(read_file_bytes(path), "old");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, AMissingDirectoryOrADirectoryTargetIsAClearError) {
  ScratchDir dir("opd-atomic");
  const std::string nowhere = dir / "no/such/dir/f.txt";
  expect_error([&] { write_file_atomically(nowhere, "x"); },
               {nowhere, "cannot write", "creating a temporary file beside it", "No such file or directory"});
  EXPECT_FALSE(fs::exists(dir / "no"));
  fs::create_directories(dir / "d");
  expect_error([&] { write_file_atomically(dir / "d", "x"); }, {dir / "d", "cannot write", "renaming"});
  EXPECT_TRUE(fs::is_directory(dir / "d"));
  EXPECT_EQ(entries(dir.path()), 1u) << "the temporary is removed";
}

}  // namespace
}  // namespace opd
