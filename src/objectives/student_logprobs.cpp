#include "opd/objectives/student_logprobs.h"

#include "opd/ops/linear_row_logprobs.h"
#include "opd/ops/row_logprobs.h"

namespace opd::objectives {

StudentLogprobs student_logprobs(const ObjectiveInputs& in, bool topk, const char* objective) {
  TORCH_CHECK(!topk || in.teacher_topk_ids.defined(), objective,
              ": the teacher's top-k was not scored");
  const bool whole = in.student_logits.defined();
  TORCH_CHECK(whole || (in.student_hidden.defined() && in.student_head.defined()), objective,
              ": neither the student's logits nor its hidden states and lm_head were given");
  const auto device = whole ? in.student_logits.device() : in.student_hidden.device();
  auto targets = in.targets.to(device).unsqueeze(-1);
  auto ids = topk ? at::cat({targets, in.teacher_topk_ids.to(device)}, -1) : targets;
  auto rows = whole ? ops::row_logprobs(in.student_logits, ids, /*entropy=*/true)
                    : ops::linear_row_logprobs(in.student_hidden, in.student_head, ids, /*entropy=*/true,
                                               in.logits_chunk_rows);
  StudentLogprobs out;
  out.s = rows.logp.select(-1, 0);
  if (topk) out.topk_logp = rows.logp.narrow(-1, 1, ids.size(-1) - 1);
  out.entropy = rows.entropy;
  return out;
}

}  // namespace opd::objectives
