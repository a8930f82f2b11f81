#include "opd/objectives/objective.h"

#include <c10/util/Exception.h>

#include <algorithm>

namespace opd {

ObjectiveNeeds ObjectiveNeeds::merged(const ObjectiveNeeds& o) const {
  TORCH_CHECK(trajectory == o.trajectory,
              "objective terms disagree on who writes the trained tokens (one needs the student's "
              "rollouts, another the teacher's, the dataset's or refined ones); a sum can only "
              "combine objectives over the same trajectory");
  ObjectiveNeeds n = *this;
  n.teacher_logprobs |= o.teacher_logprobs;
  n.teacher_topk = std::max(teacher_topk, o.teacher_topk);
  n.teacher_entropy |= o.teacher_entropy;
  n.teacher_logits |= o.teacher_logits;
  n.reference_logprobs |= o.reference_logprobs;
  n.student_logits |= o.student_logits;
  for (double rho : o.entropy_fractions) {
    if (std::find(n.entropy_fractions.begin(), n.entropy_fractions.end(), rho) == n.entropy_fractions.end()) {
      n.entropy_fractions.push_back(rho);
    }
  }
  return n;
}

}  // namespace opd
