// The run's process group. Rank 0 hosts a c10d TCPStore at MASTER_ADDR:
// MASTER_PORT that every rank joins; collectives go over Gloo (CPU tensors) or
// NCCL (CUDA, in builds whose LibTorch has it). Every collective is bounded by
// the timeout: a rank that died or stalls makes the others throw an error that
// names the collective and the rank (its heartbeat stopped, or the step it is
// stuck at), never a silent hang.
#pragma once

#include "opd/dist/launch_env.h"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace opd::dist {

class Communicator {
 public:
  // Joins the group `env` describes; throws naming MASTER_ADDR:MASTER_PORT
  // when the store cannot be reached or not every rank joins in `timeout`.
  Communicator(const LaunchEnv& env, at::Device device, std::chrono::seconds timeout);
  ~Communicator();

  int64_t rank() const { return env_.rank; }
  int64_t world_size() const { return env_.world_size; }
  const LaunchEnv& env() const { return env_; }
  // Where its collectives run: a CUDA device (NCCL) or the CPU (Gloo).
  at::Device device() const;

  // An all-reduce (sum) started without waiting: `flat` (one contiguous
  // tensor) holds the sum once wait() returns.
  class Pending;
  std::shared_ptr<Pending> start_all_reduce_sum(const at::Tensor& flat);
  void wait(Pending& pending, const std::string& what);
  // Rank `root`'s values into every rank's tensors, in place.
  void broadcast(const std::vector<at::Tensor>& tensors, int64_t root, const std::string& what);
  double sum(double value, const std::string& what);
  std::vector<double> sum(std::vector<double> values, const std::string& what);
  double max(double value, const std::string& what);
  // Returns on each rank once every rank has called it (`what` names it in errors).
  void barrier(const std::string& what);
  // Records that this rank reached `step`, so a failure can name who is behind.
  void mark_progress(int64_t step);

 private:
  struct Impl;
  void start_heartbeat();
  // Throws the one-line error of a failed collective.
  [[noreturn]] void fail(const std::string& what, const std::string& cause);

  LaunchEnv env_;
  std::chrono::seconds timeout_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opd::dist
