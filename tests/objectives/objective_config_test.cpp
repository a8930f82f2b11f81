// Objective names, defaults, option keys, validation, and what each objective
// asks the scoring passes for.
#include "objectives/objective_reference.h"

#include "opd/objectives/objective_config.h"
#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace opd::objtest {
namespace {

using opd::testing::error_message;
using opd::testing::expect_error;

const std::vector<std::string> kNames = {"sft",     "opd",  "gopd",  "fkl", "jsd",      "entropy_opd", "eopd",
                                         "reopold", "mask", "tropd", "trd", "fkl_full", "rkl_full",    "sum"};

// The same, in enum order.
const ObjectiveKind kKinds[] = {ObjectiveKind::kSft,     ObjectiveKind::kOpd,     ObjectiveKind::kGopd,
                                ObjectiveKind::kFkl,     ObjectiveKind::kJsd,     ObjectiveKind::kEntropyOpd,
                                ObjectiveKind::kEopd,    ObjectiveKind::kReopold, ObjectiveKind::kMask,
                                ObjectiveKind::kTropd,   ObjectiveKind::kTrd,     ObjectiveKind::kFklFull,
                                ObjectiveKind::kRklFull, ObjectiveKind::kSum};

bool contains(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

ObjectiveConfig valid_sum() {
  ObjectiveConfig sum = default_objective_config(ObjectiveKind::kSum);
  WeightedObjective w;
  w.weight = 1.0;
  w.objective = default_objective_config(ObjectiveKind::kOpd);
  sum.terms = {w};
  return sum;
}

TEST(ObjectiveConfigTest, EveryNameRoundTrips) {
  EXPECT_EQ(objective_names(), kNames);
  for (size_t i = 0; i < kNames.size(); ++i) {
    EXPECT_EQ(objective_kind_from_name(kNames[i], "objective.name"), kKinds[i]) << kNames[i];
    EXPECT_EQ(std::string(objective_name(kKinds[i])), kNames[i]);
  }
  expect_error([] { objective_kind_from_name("tropdd", "objective.name"); }, {"objective.name", "tropd"});
}

TEST(ObjectiveConfigTest, EnumNames) {
  EXPECT_STREQ(outlier_variant_name(OutlierVariant::kFkl), "fkl");
  EXPECT_STREQ(outlier_variant_name(OutlierVariant::kMask), "mask");
  EXPECT_STREQ(outlier_variant_name(OutlierVariant::kClip), "clip");
  EXPECT_STREQ(loss_normalization_name(LossNormalization::kToken), "token");
  EXPECT_STREQ(loss_normalization_name(LossNormalization::kSequence), "sequence");
  EXPECT_STREQ(sft_targets_name(SftTargets::kTeacher), "teacher");
  EXPECT_STREQ(sft_targets_name(SftTargets::kDataset), "dataset");
}

TEST(ObjectiveConfigTest, DefaultsValidateAndBuildTheNamedObjective) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    auto config = kKinds[i] == ObjectiveKind::kSum ? valid_sum() : default_objective_config(kKinds[i]);
    EXPECT_EQ(config.kind, kKinds[i]) << kNames[i];
    EXPECT_EQ(error_message([&] { validate_objective_config(config, "objective"); }), "<no exception>")
        << kNames[i];
    EXPECT_EQ(std::string(make_objective(config)->name()), kNames[i]);
  }
  EXPECT_DOUBLE_EQ(default_objective_config(ObjectiveKind::kGopd).lambda, 1.25);
  EXPECT_DOUBLE_EQ(default_objective_config(ObjectiveKind::kOpd).lambda, 1.0);
  EXPECT_DOUBLE_EQ(default_objective_config(ObjectiveKind::kEntropyOpd).entropy_rho, 0.2);
  EXPECT_DOUBLE_EQ(default_objective_config(ObjectiveKind::kOpd).entropy_rho, 0.0);
  EXPECT_EQ(default_objective_config(ObjectiveKind::kFkl).top_k, 64);
}

TEST(ObjectiveConfigTest, OptionKeysArePerObjective) {
  const auto& opd = objective_option_keys(ObjectiveKind::kOpd);
  EXPECT_TRUE(contains(opd, "lambda"));
  EXPECT_TRUE(contains(opd, "entropy_rho"));
  EXPECT_FALSE(contains(opd, "beta"));
  EXPECT_FALSE(contains(opd, "top_k"));
  const auto& jsd = objective_option_keys(ObjectiveKind::kJsd);
  EXPECT_TRUE(contains(jsd, "beta"));
  EXPECT_TRUE(contains(jsd, "top_k"));
  const auto& tropd = objective_option_keys(ObjectiveKind::kTropd);
  EXPECT_TRUE(contains(tropd, "outlier"));
  EXPECT_TRUE(contains(tropd, "prefix_beta"));
  EXPECT_TRUE(contains(tropd, "top_k"));
  const auto& trd = objective_option_keys(ObjectiveKind::kTrd);
  EXPECT_TRUE(contains(trd, "kl_clip"));
  EXPECT_TRUE(contains(trd, "support_k"));
  EXPECT_TRUE(contains(objective_option_keys(ObjectiveKind::kSum), "terms"));
  EXPECT_TRUE(contains(objective_option_keys(ObjectiveKind::kEopd), "entropy_threshold"));
  EXPECT_TRUE(contains(objective_option_keys(ObjectiveKind::kReopold), "reward_floor"));
  EXPECT_TRUE(contains(objective_option_keys(ObjectiveKind::kMask), "mask_threshold"));
}

void expect_rejected(const ObjectiveConfig& config, const std::string& key) {
  expect_error([&] { validate_objective_config(config, "recipe.yaml: objective"); },
               {"recipe.yaml: objective." + key});
}

TEST(ObjectiveConfigTest, ValidationRejectsBadLambda) {
  for (double lambda : {0.0, -1.0}) {
    expect_rejected(config_of(ObjectiveKind::kGopd, [&](auto& k) { k.lambda = lambda; }), "lambda");
    expect_rejected(config_of(ObjectiveKind::kOpd, [&](auto& k) { k.lambda = lambda; }), "lambda");
  }
}

TEST(ObjectiveConfigTest, ValidationRejectsBadTopK) {
  for (auto kind : {ObjectiveKind::kFkl, ObjectiveKind::kJsd, ObjectiveKind::kEopd, ObjectiveKind::kTropd}) {
    for (int64_t k : {0, -3}) {
      expect_rejected(config_of(kind, [&](auto& c) { c.top_k = k; }), "top_k");
    }
  }
}

TEST(ObjectiveConfigTest, ValidationRejectsBetaOutsideOpenUnitInterval) {
  for (double beta : {0.0, 1.0, -0.5, 1.5}) {
    expect_rejected(config_of(ObjectiveKind::kJsd, [&](auto& k) { k.beta = beta; }), "beta");
  }
  for (double beta : {0.01, 0.5, 0.99}) {
    auto config = config_of(ObjectiveKind::kJsd, [&](auto& k) { k.beta = beta; });
    EXPECT_EQ(error_message([&] { validate_objective_config(config, "objective"); }), "<no exception>");
  }
}

TEST(ObjectiveConfigTest, ValidationRejectsEntropyRhoOutOfRange) {
  for (auto kind : {ObjectiveKind::kEntropyOpd, ObjectiveKind::kOpd, ObjectiveKind::kReopold}) {
    for (double rho : {-0.1, 1.5}) {
      expect_rejected(config_of(kind, [&](auto& k) { k.entropy_rho = rho; }), "entropy_rho");
    }
    auto all = config_of(kind, [](auto& k) { k.entropy_rho = 1.0; });
    EXPECT_EQ(error_message([&] { validate_objective_config(all, "objective"); }), "<no exception>");
  }
}

TEST(ObjectiveConfigTest, ValidationRejectsAReferenceModelWithLambdaOne) {
  auto config = config_of(ObjectiveKind::kGopd, [](auto& k) {
    k.lambda = 1.0;
    k.reference = "/models/base";
  });
  expect_rejected(config, "reference");
  config.lambda = 1.25;
  EXPECT_EQ(error_message([&] { validate_objective_config(config, "objective"); }), "<no exception>");
}

TEST(ObjectiveConfigTest, ValidationRejectsEmptyAndNestedSums) {
  auto empty = default_objective_config(ObjectiveKind::kSum);
  empty.terms.clear();
  expect_rejected(empty, "terms");
  auto nested = valid_sum();
  WeightedObjective inner;
  inner.objective = valid_sum();
  nested.terms.push_back(inner);
  expect_rejected(nested, "terms");
  // A bad option inside a term names the term's key.
  auto bad_term = valid_sum();
  bad_term.terms[0].objective.lambda = -2;
  expect_error([&] { validate_objective_config(bad_term, "recipe.yaml: objective"); },
               {"recipe.yaml: objective.terms", "lambda"});
}

// What each objective asks the rollout and the scoring passes for.
TEST(ObjectiveNeedsTest, FollowTheMath) {
  auto needs = [](ObjectiveConfig c) { return make_objective(c)->needs(); };
  auto opd = needs(default_objective_config(ObjectiveKind::kOpd));
  EXPECT_TRUE(opd.teacher_logprobs);
  EXPECT_FALSE(opd.reference_logprobs);
  EXPECT_EQ(opd.teacher_topk, 0);
  EXPECT_FALSE(opd.teacher_logits);
  EXPECT_EQ(opd.trajectory, Trajectory::kStudent);
  auto gopd = needs(default_objective_config(ObjectiveKind::kGopd));
  EXPECT_TRUE(gopd.teacher_logprobs);
  EXPECT_TRUE(gopd.reference_logprobs);
  EXPECT_FALSE(needs(config_of(ObjectiveKind::kGopd, [](auto& k) { k.lambda = 1.0; })).reference_logprobs);
  EXPECT_EQ(needs(config_of(ObjectiveKind::kFkl, [](auto& k) { k.top_k = 12; })).teacher_topk, 12);
  auto jsd = needs(config_of(ObjectiveKind::kJsd, [](auto& k) { k.top_k = 5; }));
  EXPECT_EQ(jsd.teacher_topk, 5);
  EXPECT_TRUE(jsd.teacher_logprobs);
  EXPECT_TRUE(needs(default_objective_config(ObjectiveKind::kReopold)).teacher_logprobs);
  EXPECT_TRUE(needs(default_objective_config(ObjectiveKind::kMask)).teacher_logprobs);
  EXPECT_TRUE(needs(default_objective_config(ObjectiveKind::kEntropyOpd)).teacher_logprobs);
}

}  // namespace
}  // namespace opd::objtest
