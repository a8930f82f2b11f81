#include "opd/eval/verifier.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

namespace opd::eval {
namespace {

struct Case {
  const char* response;
  const char* reference;
  bool correct;
};

TEST(MathBoxed, TrickyAnswers) {
  auto v = make_verifier("math_boxed");
  for (const Case& c : std::vector<Case>{
           {"so \\boxed{\\frac{1}{2}}", "0.5", true},
           {"\\boxed{\\dfrac12}", "1/2", true},
           {"\\boxed{\\tfrac{3}{6}}", "\\frac{1}{2}", true},
           {"\\boxed{-\\frac{3}{4}}", "-0.75", true},
           {"\\boxed{ 1,000 }", "1000", true},
           {"\\boxed{1,2}", "12", false},  // a pair, not a thousands separator
           {"\\boxed{90^\\circ}", "90", true},
           {"\\boxed{90^{\\circ}}", "90°", true},
           {"\\boxed{5\\text{ cm}}", "5", true},
           {"\\boxed{12 \\mbox{ dollars}}", "12", true},
           {"\\boxed{10\\%}", "10", true},
           {"\\boxed{x = 3}", "3", true},
           {"\\boxed{\\left( 2, 3 \\right)}", "(2,3)", true},
           {"\\boxed{(2, 3)}", "(3,2)", false},
           {"first \\boxed{1}, then \\boxed{2}", "2", true},
           {"first \\boxed{1}, then \\boxed{2}", "1", false},
           {"The answer is $\\boxed{7}$.", "7.", true},
           {"\\boxed{0.50}", "\\frac{1}{2}", true},
           {"\\boxed{3.0}", "3", true},
           {"\\boxed{+4}", "4", true},
           {"\\boxed{\\sqrt{2}}", "\\sqrt{2}", true},
           {"\\boxed{\\sqrt{2}}", "\\sqrt{3}", false},
           {"\\boxed{\\frac{\\sqrt{3}}{2}}", "\\dfrac{\\sqrt{3}}{2}", true},
           {"\\fbox{8}", "8", true},
           {"\\boxed{2}", "3", false},
           {"no box at all: 5", "5", false},
           {"\\boxed{7", "7", false},
           {"\\boxed{}", "0", false},
           // Issue 18 (15): an escaped dollar, a root without braces, a lettered choice.
           {"\\boxed{\\$5}", "5", true},
           {"\\boxed{\\$5}", "6", false},
           {"\\boxed{\\sqrt2}", "\\sqrt{2}", true},
           {"\\boxed{\\frac{\\sqrt3}{2}}", "\\frac{\\sqrt{3}}{2}", true},
           {"\\boxed{\\sqrt2}", "\\sqrt{3}", false},
           {"\\boxed{\\text{(B)}}", "B", true},
           {"\\boxed{(B)}", "B", true},
           {"\\boxed{\\text{(B)}}", "C", false},
       }) {
    EXPECT_EQ(v->correct(c.response, c.reference), c.correct) << c.response << " vs " << c.reference;
  }
  EXPECT_EQ(last_boxed("a \\boxed{\\frac{1}{\\sqrt{2}}} b"), "\\frac{1}{\\sqrt{2}}");
  EXPECT_FALSE(last_boxed("plain").has_value());
  EXPECT_EQ(normalize_math_answer("  x = \\dfrac{1}{2}\\text{ m} "), "(1)/(2)");
}

TEST(ExactMatch, TrimmedWholeResponse) {
  auto v = make_verifier("exact_match");
  EXPECT_TRUE(v->correct("  42\n", "42"));
  EXPECT_FALSE(v->correct("42 ", "43"));
  EXPECT_FALSE(v->correct("the answer is 42", "42"));
  EXPECT_EQ(v->extract(" a b \n"), "a b");
}

TEST(Verifier, UnknownNameListsTheKnownOnes) {
  opd::testing::expect_error([] { make_verifier("regex"); }, {"regex", "math_boxed", "exact_match"});
  EXPECT_EQ(verifier_names().size(), 2u);
}

}  // namespace
}  // namespace opd::eval
