// Shared by the objective tests: random rollout-like inputs (padding, every
// source mixed in, a random teacher and reference model) and independent
// double-precision references of the per-token math of DESIGN §4, written as
// the plain formula over full [B, T, V] log-softmax tensors and differentiated
// by autograd. Nothing here calls the objectives' primitives (only
// ops::trust_mask, for TrOPD's draws): the point is a second, independent
// derivation of every loss and gradient.
#pragma once

#include "opd/core/metrics.h"
#include "opd/objectives/objective.h"
#include "opd/objectives/objective_config.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

namespace opd::objtest {

inline constexpr int64_t kTopK = 8;  // the teacher top-k of the objective tests

struct CaseOptions {
  int64_t B = 4;               // rows
  int64_t L = 8;               // aligned positions per row (T - 1)
  int64_t V = 37;              // vocabulary
  int64_t top_k = 8;           // columns of teacher_topk_ids / teacher_topk_logp
  double student_scale = 3.0;  // student logits ~ N(0, scale^2)
  double teacher_scale = 2.0;  // teacher noise scale (times a per-position temperature)
  // 0: the teacher's logits are independent of the student's; > 0: the
  // student's logits plus N(0, noise^2) (a teacher close to the student, for limits).
  double teacher_noise = 0.0;
  bool sequence_weights = false;  // token_weight as a sequence mean instead of a token mean
  uint64_t trust_seed = 1234;     // ObjectiveInputs::seed
  int64_t step = 7;               // ObjectiveInputs::step
};

struct RandomCase {
  at::Tensor logits;          // [B, L, V] student logits in the test's dtype (no grad)
  at::Tensor teacher_logits;  // [B, L, V] fp32
  ObjectiveInputs in;         // student_logits left undefined: run() fills a fresh leaf
  bool sequence_weights = false;
};

// Random inputs: targets sampled from the student, source 0..3 mixed (every
// source present, a student token with loss_mask 0), the teacher's tau, top-k
// (k = options.top_k, from the full teacher log-softmax), entropy and logits,
// reference log-probs from a third random model, token_index = arange(B*L).
RandomCase make_case(at::ScalarType dtype, uint64_t seed, const CaseOptions& options = {});

// The rows [begin, end) of a case (token_weight and token_index sliced, not recomputed).
RandomCase slice_rows(const RandomCase& c, int64_t begin, int64_t end);

// Loss-token masks of one source (bool [B, L]).
at::Tensor source_tokens(const RandomCase& c, int source);

// Drops student loss tokens (loss_mask -> 0, weights recomputed) until
// rho * n is not within 1e-6 of an integer, so ceil(rho * n) is unambiguous.
void avoid_integral_cut(RandomCase& c, double rho);

// ---- the objective under test -------------------------------------------------------

struct RunResult {
  double loss = 0;
  at::Tensor grad;  // [B, L, V] double, d loss / d student logits
  Metrics metrics;
};

// make_objective(config)->compute on a fresh leaf copy of c.logits, then backward.
RunResult run(const ObjectiveConfig& config, const RandomCase& c);
// The same, with the student given as the trainer's chunked head gives it
// (hidden states and an lm_head, ObjectiveInputs::student_hidden): hidden =
// a leaf copy of c.logits and the head the [V, V] identity, so the projected
// logits are c.logits exactly and grad is d loss / d logits again.
RunResult run_chunked(const ObjectiveConfig& config, const RandomCase& c, int64_t chunk_rows);

// ---- the reference -----------------------------------------------------------------

// Everything in double; z is a fresh leaf, every other tensor a constant.
struct Ref {
  at::Tensor z;                         // [B, L, V] student logits, requires grad
  at::Tensor logp;                      // [B, L, V] log_softmax(z)
  at::Tensor s;                         // [B, L] log pi_S(y_t), differentiable
  at::Tensor tau;                       // [B, L] teacher log-prob of the target (the inputs' values)
  at::Tensor r;                         // [B, L] reference log-prob
  at::Tensor teacher_logp;              // [B, L, V] log_softmax(teacher logits)
  at::Tensor topk_ids;                  // [B, L, K] from the inputs
  at::Tensor topk_logp;                 // [B, L, K] from the inputs
  at::Tensor teacher_entropy;           // [B, L] from the inputs
  at::Tensor student_entropy;           // [B, L] detached
  at::Tensor weight;                    // [B, L] token_weight
  at::Tensor student, prefix, refined;  // [B, L] 1.0 on loss tokens of source 2 / 1 / 3
  const RandomCase* c = nullptr;
};

struct Term {
  at::Tensor loss;     // [B, L] per-token loss, already multiplied by its selection masks
  at::Tensor trained;  // bool [B, L]: tokens that may receive gradient
};

struct RefResult {
  double loss = 0;
  at::Tensor grad;     // [B, L, V] double
  at::Tensor trained;  // bool [B, L]
};

using RefFn = std::function<Term(const Ref&)>;

Ref make_ref(const RandomCase& c);
// loss = sum_t l_t * token_weight_t, its gradient by autograd.
RefResult reference(const RandomCase& c, const RefFn& fn);

// Building blocks, each the textbook formula on full tensors.
at::Tensor pg(const Ref& r, const at::Tensor& advantage);  // -sg(A) * s
at::Tensor opd_advantage(const Ref& r, double lambda);     // (tau - s) + (lambda - 1)(tau - r)
// sum_{v in top-k} p_T,v (log p_T,v - log pi_S,v) with the inputs' top-k;
// renormalize: both distributions restricted to the k tokens and renormalised.
at::Tensor topk_fkl(const Ref& r, bool renormalize);
// Exact KL over the vocabulary (support_k > 0: on the teacher's top support_k
// tokens, both renormalised). forward: KL(p_T || pi_S), else KL(pi_S || p_T).
at::Tensor full_kl(const Ref& r, bool forward, int64_t support_k);
// TrOPD Eq. 4 with the inputs' top-k: beta * sum p_T log(p_T / m) - sg(A) s.
at::Tensor jsd(const Ref& r, double beta);
// bool [B, L]: the ceil(rho * n) highest student-entropy tokens among candidates.
at::Tensor top_entropy(const Ref& r, const at::Tensor& candidates, double rho);
// bool [B, L]: ops::trust_mask(tau - s) on every position (callers mask it).
at::Tensor trust(const Ref& r);

// ---- comparisons -------------------------------------------------------------------

double loss_tol(at::ScalarType dtype);  // relative: 1e-5 fp32, 1e-2 bf16
double grad_tol(at::ScalarType dtype);
// Two objectives that must agree (limits, compositions): 1e-5 relative in
// fp32 (summation order), 1e-2 in bf16 (each gradient is rounded to bf16).
double same_tol(at::ScalarType dtype);

// Loss and gradient of `config` on `c` against the reference, and exactly zero
// gradient on every position the reference does not train.
void expect_matches_reference(const ObjectiveConfig& config, const RandomCase& c, const RefFn& fn,
                              at::ScalarType dtype, const std::string& what);

// max |grad| over the positions of `mask` (bool [B, L]); 0 when it is empty.
double max_abs_grad(const at::Tensor& grad, const at::Tensor& mask);

// Mean of values over a bool/float mask, in double.
double masked_mean(const at::Tensor& values, const at::Tensor& mask);
double count(const at::Tensor& mask);

// GoogleTest parameter names for the dtype-parametrised suites.
std::string dtype_name(const ::testing::TestParamInfo<at::ScalarType>& info);

// A config: default_objective_config(kind), then `edit`.
ObjectiveConfig config_of(ObjectiveKind kind, const std::function<void(ObjectiveConfig&)>& edit = nullptr);

}  // namespace opd::objtest
