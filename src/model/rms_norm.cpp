#include "opd/model/rms_norm.h"

#include "opd/model/weight_init.h"

namespace opd::model {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", new_weight({dim}).fill_(1.0));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  auto x32 = x.to(at::kFloat);
  auto normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * normed.to(x.scalar_type());
}

}  // namespace opd::model
