// A pre-tokenized prompt dataset in one HDF5 file (what opd-prepare writes
// from JSONL, so large corpora are tokenized once): per problem the student's
// and the teacher's prompt ids, the reference solution ids, answer, solution,
// domain and source line. Ids are concatenated int64 arrays with offsets.
#pragma once

#include "opd/data/prompt_dataset.h"

#include <string>

namespace opd::data {

// Writes atomically (core/atomic_file.h), so a failed write leaves no file
// (and an older one intact). Throws naming the file.
void write_prompt_store(const PromptDataset& dataset, const std::string& path);

// Throws naming the file and the dataset inside it that is missing or malformed.
PromptDataset read_prompt_store(const std::string& path);

}  // namespace opd::data
