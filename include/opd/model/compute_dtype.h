// The dtypes a model may compute in, by the one list of names recipes and
// the CLI tools accept (float32, bfloat16, float16).
#pragma once

#include "opd/core/config_schema.h"

#include <c10/core/ScalarType.h>

namespace opd::model {

enum class ComputeDtype { kFloat32, kBfloat16, kFloat16 };

inline config::Choices<ComputeDtype> choices(ComputeDtype) {
  return {{ComputeDtype::kFloat32, "float32"}, {ComputeDtype::kBfloat16, "bfloat16"}, {ComputeDtype::kFloat16, "float16"}};
}

inline c10::ScalarType scalar_type(ComputeDtype d) {
  switch (d) {
    case ComputeDtype::kFloat32: return c10::ScalarType::Float;
    case ComputeDtype::kBfloat16: return c10::ScalarType::BFloat16;
    case ComputeDtype::kFloat16: return c10::ScalarType::Half;
  }
  return c10::ScalarType::Float;
}

}  // namespace opd::model
