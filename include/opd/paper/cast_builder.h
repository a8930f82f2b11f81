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

// Writes the tasks, then builds each cast member not yet in
// <shared_dir>/cast/<name>; returns how many members it built. Its sft run (metrics, config) stays in <out_dir>/cast/<name>.sft.
int64_t build_cast(const Suite& suite);

}  // namespace opd::paper
