// Which trajectories a step trains on: the objective asks for one
// (ObjectiveNeeds::trajectory), the rollout layer writes it.
#pragma once

namespace opd {

enum class Trajectory {
  kStudent,  // on-policy rollouts (source = kStudent)
  kTeacher,  // the teacher writes the whole response (SeqKD; source = kTeacherPrefix)
  kDataset,  // the dataset's reference solutions (source = kTeacherPrefix)
  kRefined,  // TRD: the refiner rewrites the student's attempt (source = kRefined)
};

}  // namespace opd
