// Shared by the model tests: two name -> tensor maps hold the same tensors
// (names, dtypes, shapes and every element), read back onto the CPU.
#pragma once

#include "opd/model/safetensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace opd::model {

inline void expect_same_tensors(const TensorMap& expected, const TensorMap& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& [name, want] : expected) {
    const auto it = actual.find(name);
    ASSERT_NE(it, actual.end()) << "missing tensor " << name;
    const at::Tensor& got = it->second;
    EXPECT_EQ(got.scalar_type(), want.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), want.sizes()) << name;
    EXPECT_TRUE(got.device().is_cpu()) << name;
    EXPECT_TRUE(at::equal(got, want)) << name;
  }
}

}  // namespace opd::model
