// Advantage transforms of the policy-gradient objectives (DESIGN §4). All
// take and return detached fp32 [B, T-1] tensors; the PG surrogate turns an
// advantage into a loss (estimators.h).
#pragma once

#include <ATen/ATen.h>

namespace opd::objectives {

// G-OPD: A = (tau - s) + (lambda - 1)(tau - r). lambda = 1 is OPD's K1
// advantage and ignores `r` (which may then be undefined); lambda > 1 is
// ExOPD's reward extrapolation, lambda < 1 interpolates towards the reference.
at::Tensor distillation_advantage(const at::Tensor& tau, const at::Tensor& s,
                                  const at::Tensor& r, double lambda);

// REOPOLD / Clip Outlier: max(A, floor).
at::Tensor floor_advantage(const at::Tensor& advantage, double floor);

// Mask Outlier: A where log_ratio = tau - s exceeds `threshold`, else 0.
at::Tensor mask_advantage(const at::Tensor& advantage, const at::Tensor& log_ratio,
                          double threshold);

}  // namespace opd::objectives
