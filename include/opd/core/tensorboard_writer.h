// Scalars in TensorBoard's event-file format (TFRecord-framed Event protos),
// written by hand so logging needs neither protobuf nor TensorFlow.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace opd {

// One events.out.tfevents.* file per writer. Not thread-safe: one writer per
// process (rank 0), called from the training loop.
class TensorBoardWriter {
 public:
  // Creates log_dir and opens events.out.tfevents.<unix seconds>.<hostname> in it
  // for appending, then writes the file-version record; throws std::runtime_error
  // naming the path when the directory or file cannot be created or written.
  explicit TensorBoardWriter(const std::string& log_dir);
  // Flushes; a failure here is swallowed (destructors must not throw).
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Writes one event at `step` holding every (tag, value) pair as a float scalar;
  // throws std::runtime_error naming the file when the write fails.
  void add_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values,
                   double wall_time_s = now_seconds());
  // Marks a restart at `step` (a SessionLog START event): TensorBoard then
  // drops what earlier files logged at and after `step`, so a resumed run's
  // replayed steps are not shown twice.
  void mark_restart(int64_t step, double wall_time_s = now_seconds());
  // Pushes buffered records to the file; throws std::runtime_error naming the file on failure.
  void flush();
  // The event file being written.
  const std::string& path() const { return path_; }

  // Seconds since the Unix epoch, with sub-second precision (TensorBoard's wall_time).
  static double now_seconds();

 private:
  void write_record(const std::string& data);

  std::string path_;
  std::ofstream out_;
};

}  // namespace opd
