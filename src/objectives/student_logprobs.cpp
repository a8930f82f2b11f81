#include "opd/objectives/student_logprobs.h"

#include "opd/ops/row_logprobs.h"

namespace opd::objectives {

StudentLogprobs student_logprobs(const ObjectiveInputs& in, bool topk, const char* objective) {
  TORCH_CHECK(!topk || in.teacher_topk_ids.defined(), objective,
              ": the teacher's top-k was not scored");
  auto targets = in.targets.to(in.student_logits.device()).unsqueeze(-1);
  auto ids = topk ? at::cat({targets, in.teacher_topk_ids.to(targets.device())}, -1) : targets;
  auto rows = ops::row_logprobs(in.student_logits, ids, /*entropy=*/true);
  StudentLogprobs out;
  out.s = rows.logp.select(-1, 0);
  if (topk) out.topk_logp = rows.logp.narrow(-1, 1, ids.size(-1) - 1);
  out.entropy = rows.entropy;
  return out;
}

}  // namespace opd::objectives
