// The plain ATen compositions that the fused ops replace, written the way a
// user of LibTorch would write them: an fp32 log-softmax over the whole
// [..., V] tensor, then gather / topk / sums, differentiated by autograd. The
// op tests check the fused ops against these, and the benchmarks report
// speed and memory as ratios to them, measured in the same run.
#pragma once

#include "opd/ops/full_vocab_kl.h"
#include "opd/ops/sample_tokens.h"
#include "opd/ops/teacher_topk.h"

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops::aten_composition {

// log_softmax(logits.float()).gather(ids): [..., K] float32.
at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& ids);

// -sum p log p per row of logits.float(): [...] float32.
at::Tensor softmax_entropy(const at::Tensor& logits);

// As ops::topk_forward_kl, through the full fp32 log-softmax.
at::Tensor topk_forward_kl(const at::Tensor& student_logits, const at::Tensor& topk_ids,
                           const at::Tensor& topk_logp, bool renormalize);

// As ops::full_vocab_kl, through two full fp32 log-softmaxes.
at::Tensor full_vocab_kl(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                         KlDirection direction, int64_t support_k = 0);

// As ops::teacher_topk: at::topk over the fp32 log-softmax, and its entropy.
TeacherTopk teacher_topk(const at::Tensor& logits, int64_t k);

// As ops::sample_tokens, from [B, V] ATen operations without sorting the
// vocabulary (top-p by bisection on the threshold, the draw by a cumulative
// sum): on the CPU the fused path's cross-check, on CUDA greedy decoding's
// argmax and a reference for the fused kernel.
SampledTokens sample_tokens(const at::Tensor& logits, const SamplingParams& params, const at::Tensor& uniforms);

}  // namespace opd::ops::aten_composition
