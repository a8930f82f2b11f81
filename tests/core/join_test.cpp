#include "opd/core/join.h"

#include <gtest/gtest.h>

namespace opd {
namespace {

TEST(Join, SeparatesItems) {
  EXPECT_EQ(join({}), "");
  EXPECT_EQ(join({"a"}), "a");
  EXPECT_EQ(join({"a", "", "c"}), "a, , c");
  EXPECT_EQ(join({"x", "y"}, " | "), "x | y");
}

}  // namespace
}  // namespace opd
