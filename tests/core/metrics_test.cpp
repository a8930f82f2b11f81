// Metrics added as tensors (an objective's diagnostics, computed where the
// model runs) read back the values the same additions as doubles give.
#include "opd/core/metrics.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace opd::metrics_test {
namespace {

at::Tensor scalar(double v) { return at::full({}, v, at::kFloat); }

TEST(Metrics, TensorAdditionsReadAsTheirDoubleSums) {
  Metrics tensors, doubles;
  for (const double x : {0.5, 1.25, -2.0}) {
    tensors.add("kl_k1", scalar(x), scalar(2));
    doubles.add("kl_k1", x, 2);
    tensors.add_total("tokens_student", scalar(3));
    doubles.add_total("tokens_student", 3);
  }
  tensors.add("kl_k1", 10.0, 4.0);  // a double addition to a metric that also has tensor ones
  doubles.add("kl_k1", 10.0, 4.0);
  EXPECT_TRUE(tensors.has("kl_k1"));
  EXPECT_TRUE(tensors.has("tokens_student"));
  EXPECT_FALSE(tensors.has("nope"));
  EXPECT_DOUBLE_EQ(tensors.value("kl_k1"), doubles.value("kl_k1"));
  EXPECT_DOUBLE_EQ(tensors.value("kl_k1"), (0.5 + 1.25 - 2.0 + 10.0) / 10.0);
  EXPECT_DOUBLE_EQ(tensors.value("tokens_student"), 9.0);
  EXPECT_TRUE(tensors.entries().at("tokens_student").total);
  EXPECT_EQ(tensors.entries().size(), 2u);
}

TEST(Metrics, MergeKeepsTensorsUnreadAndPrefixesNames) {
  Metrics term;
  term.add("kl_k1", scalar(1.0), scalar(4));
  term.add_total("tokens_student", scalar(4));
  Metrics step;
  step.merge(term, "opd.");
  step.merge(term, "opd.");
  step.add("opd.kl_k1", 2.0, 0.0);
  EXPECT_DOUBLE_EQ(step.value("opd.kl_k1"), 4.0 / 8.0);
  EXPECT_DOUBLE_EQ(step.value("opd.tokens_student"), 8.0);
  EXPECT_DOUBLE_EQ(term.value("kl_k1"), 0.25) << "merging leaves the source as it was";
  // A copy made before a read reads the same, and later additions to one are not the other's.
  Metrics a;
  a.add("x", scalar(1), scalar(1));
  Metrics b = a;
  a.add("x", scalar(3), scalar(1));
  EXPECT_DOUBLE_EQ(a.value("x"), 2.0);
  EXPECT_DOUBLE_EQ(b.value("x"), 1.0);
}

TEST(Metrics, SetReplacesPendingAdditions) {
  Metrics m;
  m.add("lr", scalar(5), scalar(1));
  m.set("lr", 0.1);
  EXPECT_DOUBLE_EQ(m.value("lr"), 0.1);
  EXPECT_THROW(m.value("missing"), c10::Error);
  EXPECT_THROW(m.add("v", at::ones({2}), scalar(1)), c10::Error) << "one element only";
}

}  // namespace
}  // namespace opd::metrics_test
