// The run's random streams. Every draw of a run (rollout sampling, the
// teacher-prefix lengths, LoRA's initialisation and dropout, ...) takes its
// seed from (run seed, stream, step), so streams never share draws and a
// resumed or re-sharded run draws the same numbers at the same step.
#pragma once

#include <cstdint>

namespace opd {

// The numbers are part of a run's reproducibility (a checkpoint resumes on
// the same streams), so a value never changes meaning; 6 has never been used.
enum class SeedStream : uint64_t {
  kStudentRollout = 1,  // the student's samples of a step (and its continuation after a teacher prefix)
  kEvaluation = 2,      // evaluate(): the fixed-prompt rollouts
  kTeacherRollout = 3,  // teacher-written responses: SeqKD targets, TRD refinements
  kPrefixLengths = 4,   // TrOPD's per-row teacher-prefix lengths
  kTeacherPrefix = 5,   // the teacher-prefix tokens themselves
  kLoraInit = 7,        // the adapters' initial A matrices
  kLoraDropout = 8,     // adapter dropout in the student's training forward
  kAnswerEvaluation = 9,  // data.eval's sampled answers (the same draws at every evaluation)
};

// A distinct, reproducible seed for (seed, stream, step).
uint64_t draw_seed(uint64_t seed, SeedStream stream, int64_t step);

}  // namespace opd
