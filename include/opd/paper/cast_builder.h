// Builds what a synthetic suite trains and evaluates on: the task files
// (train, test and each domain's train split) and every cast member, each a
// tiny char-tokenizer model from `init` or an earlier member, fine-tuned by
// sft on the worked solutions. Both are skipped when already built, and each
// lands atomically, so an interrupted build resumes cleanly.
#pragma once

#include "opd/paper/suite.h"

namespace opd::paper {

// Writes <shared_dir>/tasks/{train,test,train.<domain>}.jsonl unless present.
void write_tasks(const Suite& suite);

struct CastBuild {
  int64_t built = 0;     // members built by this call
  bool stopped = false;  // a stop request (SIGTERM) ended a member's sft: checkpointed, not built
};

// Writes the tasks, then builds each cast member not yet in
// <shared_dir>/cast/<name>. A member's sft run (metrics, config, checkpoints)
// stays in <out_dir>/cast/<name>.sft; one a stop interrupted resumes there
// on the next call.
CastBuild build_cast(const Suite& suite);

}  // namespace opd::paper
