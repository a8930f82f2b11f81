#include "opd/objectives/diagnostics.h"

#include "opd/core/rollout_batch.h"
#include "opd/objectives/estimators.h"
#include "opd/objectives/token_selection.h"

namespace opd::objectives {

void add_masked_mean(Metrics& m, const std::string& name, const at::Tensor& values,
                     const at::Tensor& mask) {
  auto w = mask.to(at::kDouble);
  auto v = values.detach().to(at::kDouble);
  // where(): values at unselected positions may be inf (a -inf log-prob at padding).
  m.add(name, at::where(w != 0, v * w, at::zeros_like(w)).sum(), w.sum());
}

void add_source_counts(Metrics& m, const ObjectiveInputs& in) {
  m.add_total("tokens_teacher_prefix", tokens_from(in, TokenSource::kTeacherPrefix).sum());
  m.add_total("tokens_student", tokens_from(in, TokenSource::kStudent).sum());
  m.add_total("tokens_refined", tokens_from(in, TokenSource::kRefined).sum());
}

void add_kl_estimates(Metrics& m, const at::Tensor& s, const at::Tensor& tau,
                      const at::Tensor& mask) {
  auto student_minus_teacher = (s - tau).detach();
  add_masked_mean(m, "kl_k1", kl_k1(student_minus_teacher), mask);
  add_masked_mean(m, "kl_k3", kl_k3(student_minus_teacher), mask);
  add_masked_mean(m, "student_logprob", s, mask);
  add_masked_mean(m, "teacher_logprob", tau, mask);
}

void add_student_entropy(Metrics& m, const at::Tensor& entropy, const at::Tensor& mask) {
  add_masked_mean(m, "student_entropy", entropy, mask);
}

void add_fraction(Metrics& m, const std::string& name, const at::Tensor& selected,
                  const at::Tensor& of) {
  m.add(name, (selected.to(at::kDouble) * of.to(at::kDouble)).sum(), of.to(at::kDouble).sum());
}

void add_valid_fraction(Metrics& m, const std::string& name, const at::Tensor& of, const ObjectiveInputs& in) {
  if (in.valid_tokens.defined()) add_fraction(m, name, in.valid_tokens.to(of.device()), of);
}

}  // namespace opd::objectives
